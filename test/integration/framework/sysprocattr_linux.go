package framework

import "syscall"

// sysProcAttr has the kernel kill the child when this process dies, so that a
// test binary killed by its timeout or a signal, which runs no cleanup, leaves
// no kube-apiserver or etcd behind. Pdeathsig is tied to the thread that
// started the child, and the Go runtime ends a thread only when a goroutine
// exits while locked to it (runtime.LockOSThread), which callers do not do.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
