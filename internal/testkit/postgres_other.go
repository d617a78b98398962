//go:build !linux

package testkit

import (
	"os/user"
	"syscall"
)

// serverProcAttr runs a server binary as this process's user: elsewhere than on Linux the
// tests' server runs as root only where the system allows it (it refuses to), and it is
// not stopped by the kernel if the test process dies (StopPostgres stops it).
func serverProcAttr(*user.User) *syscall.SysProcAttr { return nil }

// processAlive is true: elsewhere than on Linux, the folders of servers left behind are not
// swept.
func processAlive(int) bool { return true }
