package main

import (
	"bufio"
	"io"
	"os"
	"regexp"
	"sync/atomic"
)

// kube-apiserver (klog) and etcd (zap) log a lot at info level and a few warnings on every
// normal start and stop. A test failure should show only what went wrong, so everything goes
// to the log file and only warnings and errors reach stderr, minus the known noise below.
var (
	klogHeader = regexp.MustCompile(`^([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+ `)
	zapHeader  = regexp.MustCompile(`^\S+\t(debug|info|warn|error|dpanic|panic|fatal)\t`)
	// Said on every healthy start.
	knownNoise = regexp.MustCompile(`Skipping API \S+ because it has no resources|` +
		`The manifest file is empty, ignoring|` +
		`Resetting endpoints for master service "kubernetes"|` +
		`Running http and grpc server on single port|` +
		`simple token is not cryptographically signed`)
)

// stderrFilter copies lines written to its pipe into the log file and the interesting ones to
// stderr. Go's runtime writes panics to file descriptor 2 directly, so those still reach
// stderr unfiltered even though os.Stderr points at the pipe.
type stderrFilter struct {
	w     *os.File
	muted atomic.Bool
	done  chan struct{}
}

func startStderrFilter(log io.Writer, stderr io.Writer) (*stderrFilter, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	f := &stderrFilter{w: w, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		// Lines without a header (continuations of a multi-line message) follow their
		// header's fate; output that is not a log line at all is shown.
		show := true
		for sc.Scan() {
			line := sc.Bytes()
			if m := klogHeader.FindSubmatch(line); m != nil {
				show = m[1][0] != 'I' && !knownNoise.Match(line)
			} else if m := zapHeader.FindSubmatch(line); m != nil {
				sev := string(m[1])
				show = sev != "debug" && sev != "info" && !knownNoise.Match(line)
			}
			line = append(line, '\n')
			log.Write(line) //nolint:errcheck // nowhere better to report it
			if show && !f.muted.Load() {
				stderr.Write(line) //nolint:errcheck
			}
		}
	}()
	return f, nil
}

// mute stops forwarding: once shutdown has begun, the components' complaints about each
// other going away are expected.
func (f *stderrFilter) mute() { f.muted.Store(true) }

// close flushes everything written so far.
func (f *stderrFilter) close() {
	f.w.Close()
	<-f.done
}
