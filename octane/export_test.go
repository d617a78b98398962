package octane

import (
	"context"
	"net"
)

// WithDialer returns c with dial as the dialer of the transport New builds:
// tests reach a local server under a host name that is not loopback (a
// loopback address never goes through a proxy).
func WithDialer(c Config, dial func(ctx context.Context, network, addr string) (net.Conn, error)) Config {
	c.dial = dial
	return c
}
