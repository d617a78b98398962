package testkit

import (
	"errors"
	"os/user"
	"strconv"
	"syscall"
)

// serverProcAttr runs a server binary as u (nil: as this process's user), and has the kernel
// stop it (SIGQUIT: an immediate shutdown) when the test process ends without stopping it.
func serverProcAttr(u *user.User) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT}
	if u != nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	return attr
}

// processAlive reports whether a process with this id runs (on this machine).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
