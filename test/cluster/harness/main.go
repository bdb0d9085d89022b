// kubelived-cluster: the test-only control plane of the cluster test tier (test/cluster).
// One binary so the tests need nothing but Go to build it:
//
//	kubelived-cluster apiserver --dir DIR --address IP [--port 6443]
//	kubelived-cluster kubectl ARGS...
//
// The API server subcommand runs embedded etcd and a real kube-apiserver in this process;
// kubectl is the real kubectl, built from the same Kubernetes release.
package main

import (
	"fmt"
	"os"
)

const usage = `usage:
  kubelived-cluster apiserver --dir DIR --address IP [--port 6443]
  kubelived-cluster kubectl ARGS...`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "apiserver":
		os.Exit(runAPIServer(os.Args[2:]))
	case "kubectl":
		runKubectl(os.Args[2:])
	default:
		fmt.Fprintf(os.Stderr, "kubelived-cluster: unknown subcommand %q\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
}
