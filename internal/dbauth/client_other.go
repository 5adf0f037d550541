//go:build !linux

package dbauth

import "net/netip"

// clientOf cannot tell a backend's client without Linux's /proc.
func clientOf(backend, responder netip.AddrPort, isBackend func(string) bool) (source, endpoint netip.AddrPort, ok bool) {
	return source, endpoint, false
}
