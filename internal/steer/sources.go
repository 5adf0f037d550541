package steer

import (
	"net/netip"
	"time"
)

// SourceRefusals are the connections from one source to one endpoint that the kernel
// refused for one reason, between First and Last. An invalid Source stands for every
// source past the per-source table's capacity ("not itemized").
type SourceRefusals struct {
	Name        string // the endpoint ("" if forgotten meanwhile)
	Reason      Reason
	Source      netip.Addr
	Count       uint64
	First, Last time.Time
}
