package framework

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// BinDirEnv names the environment variable that points at the directory
// holding the kube-apiserver and etcd binaries.
const BinDirEnv = "GCE_CCM_TEST_BIN"

const (
	apiserverBinary = "kube-apiserver"
	etcdBinary      = "etcd"
)

const buildHint = `build kube-apiserver and etcd with "make tools" (or test/tools/build.sh) and set ` +
	BinDirEnv + ` to the directory it prints, e.g. ` + BinDirEnv + `="$(test/tools/build.sh)" go test ./...`

// BinDir returns the directory named by GCE_CCM_TEST_BIN after checking that
// it holds the kube-apiserver and etcd binaries.
func BinDir() (string, error) {
	dir := os.Getenv(BinDirEnv)
	if dir == "" {
		return "", fmt.Errorf("%s is not set: %s", BinDirEnv, buildHint)
	}
	if err := checkBinDir(dir); err != nil {
		return "", fmt.Errorf("%s=%s: %w; %s", BinDirEnv, dir, err, buildHint)
	}
	return dir, nil
}

func checkBinDir(dir string) error {
	var missing []string
	for _, name := range []string{apiserverBinary, etcdBinary} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no executable %s in it", strings.Join(missing, " or "))
	}
	return nil
}
