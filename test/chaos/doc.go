// Package chaos measures what gce-ccm promises under faults: the manager
// binary against a real kube-apiserver and etcd and the fake Compute API,
// with injected errors, dropped connections, failed operations, a write rate
// limit, kill -9 of the manager, a Compute outage, a control plane restart
// and bad input at scale. Each case prints one line of figures beginning
// with "CHAOS".
//
// `go test ./test/chaos/` runs a short version of each case (well under a
// minute each); `make chaos` (GCE_CCM_CHAOS=full) runs the full sizes. The
// tests live in _test.go files; this file only names the package.
package chaos
