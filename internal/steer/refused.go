package steer

import (
	"errors"
	"net/netip"
)

// Reason is why the sk_lookup program refused a connection.
type Reason uint32

const (
	RefusedBySecurityGroups Reason = 1 // no rule of the endpoint's security groups admits the source
	RefusedNoServer         Reason = 2 // no server runs behind the endpoint
)

// Refused is a connection the sk_lookup program refused at its SYN, as reported.
type Refused struct {
	Name     string // the endpoint ("" if forgotten meanwhile)
	Reason   Reason
	Source   netip.AddrPort
	Endpoint netip.AddrPort // the address the client connected to
}

// ErrSteeringClosed is what Read returns once the steering is closed.
var ErrSteeringClosed = errors.New("steer: closed")
