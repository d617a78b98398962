//go:build !linux

package importer

// detectNetworkFS cannot tell on this system; --poll turns polling on by hand.
func detectNetworkFS(string) (string, bool) { return "", false }
