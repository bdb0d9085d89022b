package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

// Service ClusterIPs come from the lab's spare /16 (198.18.0.0/15 is the lab's), so nothing
// the API server allocates can point outside the lab.
const serviceClusterIPRange = "198.19.0.0/24"

const readyTimeout = 120 * time.Second

// Everything etcd and kube-apiserver log, in the state dir; stderr gets only what matters.
const logName = "control-plane.log"

func runAPIServer(args []string) int {
	fs := flag.NewFlagSet("apiserver", flag.ContinueOnError)
	dir := fs.String("dir", "", "state dir: certificates, tokens, kubeconfigs, etcd data (reused by later starts)")
	address := fs.String("address", "", "IPv4 or IPv6 address to serve on")
	port := fs.Int("port", 6443, "port to serve on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ip := net.ParseIP(*address)
	switch {
	case *dir == "":
		return fail(errors.New("--dir is required"))
	case ip == nil:
		return fail(fmt.Errorf("--address %q is not an IP address", *address))
	case *port < 1 || *port > 65535:
		return fail(fmt.Errorf("--port %d is not a port", *port))
	case fs.NArg() > 0:
		return fail(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return fail(err)
	}
	ep := endpoint{Address: ip.String(), Port: *port}
	if err := prepareStateDir(abs, ep); err != nil {
		return fail(err)
	}
	if err := serve(abs, ep); err != nil {
		return fail(err)
	}
	return 0
}

func fail(err error) int {
	fmt.Fprintf(os.Stderr, "kubelived-cluster apiserver: %v\n", err)
	return 1
}

// serve runs etcd and kube-apiserver until SIGTERM or SIGINT, announcing readiness on stdout.
func serve(dir string, ep endpoint) error {
	logFile, err := os.OpenFile(filepath.Join(dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	realStderr := os.Stderr
	filter, err := startStderrFilter(logFile, realStderr)
	if err != nil {
		return err
	}
	// Both components log to os.Stderr; from here on that is the filter.
	os.Stderr = filter.w
	defer func() {
		os.Stderr = realStderr
		filter.close()
	}()

	// The command installs the SIGTERM/SIGINT handler; its context ends on the first signal
	// (a second one exits at once), so create it before anything that must be stopped.
	cmd := app.NewAPIServerCommand()
	cmd.SilenceErrors = true
	ctx := cmd.Context()
	go func() {
		<-ctx.Done()
		filter.mute()
	}()

	etcd, etcdURL, err := startEtcd(ctx, dir)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	if err != nil {
		return err
	}
	defer func() {
		filter.mute()
		etcd.Close()
	}()

	cmd.SetArgs(apiserverArgs(dir, ep, etcdURL))
	done := make(chan error, 1)
	go func() { done <- cmd.Execute() }()

	ready := make(chan error, 1)
	go func() { ready <- waitReady(ctx, dir, ep) }()
	select {
	case err := <-ready:
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil {
			line, _ := json.Marshal(map[string]any{"ready": true, "url": ep.url()})
			fmt.Println(string(line))
		}
		return apiserverResult(<-done)
	case err := <-done:
		return apiserverResult(err)
	}
}

func apiserverResult(err error) error {
	if err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	return nil
}

func apiserverArgs(dir string, ep endpoint, etcdURL string) []string {
	f := func(name string) string { return filepath.Join(dir, name) }
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + ep.Address,
		"--advertise-address=" + ep.Address,
		fmt.Sprintf("--secure-port=%d", ep.Port),
		"--cert-dir=" + dir,
		"--tls-cert-file=" + f("apiserver.crt"),
		"--tls-private-key-file=" + f("apiserver.key"),
		"--token-auth-file=" + f("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + f("sa.pub"),
		"--service-account-signing-key-file=" + f("sa.key"),
		"--service-cluster-ip-range=" + serviceClusterIPRange,
		"--profiling=false",
		// Without a bound, a graceful stop waits for every open watch (agents hold several)
		// until the test's stop deadline; a real apiserver behind a load balancer has the
		// same grace, clients re-watch elsewhere.
		"--shutdown-watch-termination-grace-period=5s",
	}
}

// waitReady polls /readyz as admin until it answers ok: then every API, RBAC's bootstrap
// roles and the CRD machinery are up.
func waitReady(ctx context.Context, dir string, ep endpoint) error {
	client, token, err := adminClient(dir)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(readyTimeout)
	last := "no answer yet"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.url()+"/readyz", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "ok" {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/readyz not ok within %s (last: %s; see %s)", readyTimeout, last, filepath.Join(dir, logName))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// adminClient trusts only the harness CA and carries the admin token from tokens.csv.
func adminClient(dir string) (*http.Client, string, error) {
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, "", err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, "", fmt.Errorf("%s: no certificate", filepath.Join(dir, "ca.crt"))
	}
	tokens, err := os.ReadFile(filepath.Join(dir, "tokens.csv"))
	if err != nil {
		return nil, "", err
	}
	for _, line := range strings.Split(string(tokens), "\n") {
		fields := strings.SplitN(line, ",", 3)
		if len(fields) == 3 && fields[1] == "admin" {
			client := &http.Client{
				Timeout:   5 * time.Second,
				Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
			}
			return client, fields[0], nil
		}
	}
	return nil, "", errors.New("tokens.csv has no admin token")
}
