//go:build !linux

package steer

import (
	"errors"
	"net/netip"
)

// Steering needs Linux's BPF sk_lookup; elsewhere Open fails and the gateway relays.
type Steering struct{}

type Server struct {
	PID  int
	Addr netip.AddrPort
}

type Counters struct {
	Accepted, Closed  uint64
	BytesIn, BytesOut uint64
}

func Open() (*Steering, error) { return nil, errors.New("steer: needs Linux") }

func (*Steering) Route(string, []netip.AddrPort, Server, []netip.Prefix) error {
	return errors.New("steer: needs Linux")
}
func (*Steering) Unroute(string)           {}
func (*Steering) Counters(string) Counters { return Counters{} }
func (*Steering) Close()                   {}
