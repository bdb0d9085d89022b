package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// identity is one static-token user. The API server adds system:authenticated to every
// authenticated user itself, so it is not listed.
type identity struct {
	kubeconfig string // DIR/<kubeconfig>.kubeconfig
	user       string
	groups     []string
}

const releaseNamespace = "kubelived-system"

// The chart's ServiceAccounts as the API server would see their tokens, a cluster admin for
// the tests' own setup, and a user that RBAC grants nothing.
var identities = []identity{
	{kubeconfig: "admin", user: "admin", groups: []string{"system:masters"}},
	serviceAccount("controller", "kubelived-controller"),
	serviceAccount("agent", "kubelived-agent"),
	{kubeconfig: "nobody", user: "nobody"},
}

func serviceAccount(kubeconfig, name string) identity {
	return identity{
		kubeconfig: kubeconfig,
		user:       "system:serviceaccount:" + releaseNamespace + ":" + name,
		groups:     []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace},
	}
}

func newToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// writeCredentials writes the --token-auth-file (token,user,uid,"groups") and one kubeconfig
// per identity with the server URL, the CA inline and that identity's token.
func writeCredentials(dir, serverURL string, caPEM []byte) error {
	var tokens strings.Builder
	for _, id := range identities {
		token, err := newToken()
		if err != nil {
			return err
		}
		fmt.Fprintf(&tokens, "%s,%s,%s,\"%s\"\n", token, id.user, id.user, strings.Join(id.groups, ","))
		if err := writeKubeconfig(filepath.Join(dir, id.kubeconfig+".kubeconfig"), serverURL, caPEM, id.kubeconfig, token); err != nil {
			return fmt.Errorf("writing %s.kubeconfig: %w", id.kubeconfig, err)
		}
	}
	return os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(tokens.String()), 0o600)
}

func writeKubeconfig(path, serverURL string, caPEM []byte, name, token string) error {
	const cluster = "kubelived-test"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: serverURL, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: name}
	cfg.CurrentContext = name
	return clientcmd.WriteToFile(*cfg, path)
}
