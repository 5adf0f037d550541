//go:build !linux

package dbauth

import (
	"errors"
	"net/netip"
)

// clientOf cannot tell a backend's client without Linux's /proc.
func clientOf(backend, responder netip.AddrPort, isBackend func(string) bool) (source, endpoint netip.AddrPort, ok bool) {
	return source, endpoint, false
}

// peerUID cannot tell a connection's account without Linux's sock_diag.
func peerUID(backend, responder netip.AddrPort) (uint32, error) {
	return 0, errors.New("dbauth: a connection's account needs Linux")
}
