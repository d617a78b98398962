package testkit

import (
	"net"
)

// Fataler is what FreeAddr needs of its caller: a *testing.T, or a testscript script
// (*testscript.TestScript) in a custom command.
type Fataler interface {
	Fatalf(format string, args ...any)
}

// FreeAddr returns a loopback address ("127.0.0.1:PORT") nothing listens on: the system
// picks a free port, which is closed again before FreeAddr returns. A server under test
// can then be told to listen there (--health-listen), or a client pointed at a dead port.
func FreeAddr(t Fataler) string {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("%v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("%v", err)
	}
	return addr
}
