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
	Refused           Refusals
}

type Refusals struct{ SecurityGroups, NoServer uint64 }

func Open(string) (*Steering, error) { return nil, errors.New("steer: needs Linux") }

func PinDir(string) (string, error) { return "", errors.New("steer: needs Linux") }

func (*Steering) Leave()                     {}
func (*Steering) Adopted(string) bool        { return false }
func (*Steering) ReleaseUnclaimed() []string { return nil }

func (*Steering) Readmit(string, []netip.Prefix) (bool, error) { return false, nil }

func (*Steering) Route(string, []netip.AddrPort, Server, []netip.Prefix) error {
	return errors.New("steer: needs Linux")
}
func (*Steering) Spread(string, []netip.AddrPort, []Server, []netip.Prefix) error {
	return errors.New("steer: needs Linux")
}
func (*Steering) Refuse(string, []netip.AddrPort, []netip.Prefix) error {
	return errors.New("steer: needs Linux")
}
func (*Steering) Read() (Refused, error)   { return Refused{}, ErrSteeringClosed }
func (*Steering) Unroute(string)           {}
func (*Steering) Counters(string) Counters { return Counters{} }
func (*Steering) Close()                   {}

const RelayMark = 0x62726c73

// Fence needs Linux's cgroup BPF; elsewhere OpenFence fails and private ports are open.
type Fence struct{}

type FenceCounts struct{ Connects, Binds uint64 }

type Refusal struct {
	Name     string
	Endpoint bool
	Call     string
	Addr     netip.AddrPort
	UID, PID uint32
	Comm     string
}

var ErrFenceClosed = errors.New("fence: closed")

func OpenFence(string) (*Fence, error)         { return nil, errors.New("fence: needs Linux") }
func (*Fence) Leave()                          {}
func (*Fence) ReleaseUnclaimed() []uint16      { return nil }
func (*Fence) Close()                          {}
func (*Fence) Guard(string, uint16, int) error { return errors.New("fence: needs Linux") }
func (*Fence) Release(string)                  {}
func (*Fence) GuardEndpoint(string, ...uint16) error {
	return errors.New("fence: needs Linux")
}
func (*Fence) ReleaseEndpoint(string)             {}
func (*Fence) EndpointBindsRefused(string) uint64 { return 0 }
func (*Fence) Refused(string) FenceCounts         { return FenceCounts{} }
func (*Fence) Read() (Refusal, error)             { return Refusal{}, ErrFenceClosed }
