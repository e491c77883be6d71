package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// RepoRoot returns the root of the gce-ccm module.
func RepoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/gce-ccm/gce-ccm").Output()
	if err != nil {
		return "", fmt.Errorf("find the gce-ccm module root with go list: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// BuildManager builds cmd/gce-cloud-controller-manager into dir and returns
// the binary's path. Go's build cache makes a rebuild with no change cheap.
func BuildManager(ctx context.Context, dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "gce-cloud-controller-manager")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/gce-cloud-controller-manager")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the manager: %w", err)
	}
	return out, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
