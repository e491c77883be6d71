package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// errPortTaken marks a start that failed because another process bound one of
// the ports picked for it between picking and binding; such a start is retried.
var errPortTaken = errors.New("port taken")

// process is one running binary whose output goes to a log file.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and been reaped
	err     error         // result of cmd.Wait; read only after done is closed
}

func startProcess(name, path string, args []string, dir, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	// The child inherits its own copy of the descriptor, so ours can go, and
	// with an *os.File as output exec starts no copying goroutine.
	defer logFile.Close()

	// exec.Command rather than CommandContext: the context of StartControlPlane
	// bounds the start, not the life of the control plane, which Stop ends.
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// childEnv is the environment of this process without ETCD_* variables, which
// etcd would read as flags.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL if the process is still running after
// grace, and returns once the process has been reaped.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return
	case <-timer.C:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// exitError describes an unexpected exit, with the end of the log.
func (p *process) exitError() error {
	err := fmt.Errorf("%s exited: %v; see %s", p.name, p.err, p.logPath)
	return p.withLog(err)
}

// withLog appends the end of the process log to err and marks it as a port
// conflict when the log says so.
func (p *process) withLog(err error) error {
	log, _ := os.ReadFile(p.logPath)
	if bytes.Contains(log, []byte("address already in use")) {
		err = fmt.Errorf("%w (%w)", err, errPortTaken)
	}
	return fmt.Errorf("%w; last lines of the log:\n%s", err, tail(log, 30, 4096))
}

// tail returns at most the last n lines and maxBytes bytes of b.
func tail(b []byte, n, maxBytes int) string {
	b = bytes.TrimRight(b, "\n")
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
	}
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// waitReady polls ready every interval until it succeeds, the process exits,
// ctx ends or timeout passes.
func (p *process) waitReady(parent context.Context, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	const interval = 100 * time.Millisecond
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var lastErr error
	for {
		attemptCtx, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		lastErr = ready(attemptCtx)
		cancelAttempt()
		if lastErr == nil {
			return nil
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			if p.exited() {
				return p.exitError()
			}
			if err := parent.Err(); err != nil {
				return fmt.Errorf("%s not ready (last check: %v): %w", p.name, lastErr, err)
			}
			return p.withLog(fmt.Errorf("%s not ready within %s (last check: %v); see %s",
				p.name, timeout, lastErr, p.logPath))
		case <-ticker.C:
		}
	}
}
