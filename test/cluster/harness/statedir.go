package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
)

// The state dir holds everything a restart must find again:
//
//	ca.crt ca.key                 the cluster CA (also inline in every kubeconfig)
//	apiserver.crt apiserver.key   serving certificate for the address and the kubernetes names
//	sa.key sa.pub                 ServiceAccount token signing key
//	tokens.csv                    --token-auth-file
//	*.kubeconfig                  admin, controller, agent, nobody
//	etcd/                         etcd data
//	control-plane.log             everything etcd and kube-apiserver log
//	harness.json                  written last: the dir is complete and bound to this endpoint
const stateFile = "harness.json"

type endpoint struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
}

func (e endpoint) url() string {
	return "https://" + net.JoinHostPort(e.Address, fmt.Sprint(e.Port))
}

// prepareStateDir initialises dir on first use and checks on later uses that it was made for
// the same endpoint (its certificate and kubeconfigs name it).
func prepareStateDir(dir string, ep endpoint) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating state dir: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	switch {
	case err == nil:
		var prev endpoint
		if err := json.Unmarshal(raw, &prev); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
		}
		if prev != ep {
			return fmt.Errorf("state dir %s was initialised for %s, not %s: start with the same --address and --port, or use a new dir", dir, prev.url(), ep.url())
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		// First start, or an interrupted one: (re)generate every credential.
		return initStateDir(dir, ep)
	default:
		return err
	}
}

func initStateDir(dir string, ep endpoint) error {
	ca, err := newCA()
	if err != nil {
		return fmt.Errorf("generating CA: %w", err)
	}
	serving, err := newServingCert(ca, net.ParseIP(ep.Address))
	if err != nil {
		return fmt.Errorf("generating serving certificate: %w", err)
	}
	if err := writePair(dir, "ca", ca); err != nil {
		return err
	}
	if err := writePair(dir, "apiserver", serving); err != nil {
		return err
	}
	if err := writeServiceAccountKey(dir); err != nil {
		return fmt.Errorf("generating ServiceAccount key: %w", err)
	}
	if err := writeCredentials(dir, ep.url(), certPEM(ca.cert)); err != nil {
		return err
	}
	raw, err := json.Marshal(ep)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, stateFile), raw, 0o644)
}
