package steer

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// Refusals counted per source, for the audit trail: the sk_lookup program adds each
// refused connection to a hash map keyed by (endpoint, reason, source address), with the
// times of the first and the last, and serve drains it now and then (DrainRefused). The
// map is bounded: once it is full, further sources are only counted per endpoint and
// reason ("not itemized"), as are an endpoint's sources past its share
// (maxSourcesPerRoute), so a scan from many sources costs a fixed amount of memory and
// the trail a fixed number of events. Only refused connections run this code; the
// admitted path is unchanged.
//
// Draining is exact without locks: the key carries an epoch (0 or 1) that the program
// reads from a one-element array. DrainRefused flips the epoch, waits for programs still
// writing under the old one, then reads and deletes the old epoch's entries, which
// nothing writes any more. Pinned, the maps outlive serve: what was counted while serve
// was down is drained by the next one.
const (
	maxSources = 1 << 14
	// maxSourcesPerRoute is the most sources one endpoint itemizes per drain: a flood at
	// one endpoint (SYNs from spoofed sources cost nothing) cannot fill the table and
	// leave every other endpoint's sources unnamed.
	maxSourcesPerRoute = maxSources / 16
	// drainSettle is how long programs that read the old epoch may still be writing: an
	// sk_lookup program runs for microseconds, in softirq, without sleeping.
	drainSettle = 20 * time.Millisecond
)

// Stack of the sk_lookup program's refusal path (below stackRecord).
const (
	stackSource    = -176 // sourceKey, 28 bytes (32 reserved)
	stackSourceVal = -200 // sourceCount, 24 bytes
)

type sourceKey struct {
	Route  uint32
	Tag    uint32 // Reason | epoch << 8
	Family uint32
	Addr   [16]byte
}

type sourceCount struct {
	Count       uint64
	First, Last uint64 // ns since boot (CLOCK_MONOTONIC)
}

// sourceMaps are the maps of per-source refusal counts.
type sourceMaps struct {
	sources  *ebpf.Map // hash: sourceKey → sourceCount
	epoch    *ebpf.Map // array[1]: the epoch the program counts under
	overflow *ebpf.Map // array: route<<2 | epoch<<1 | reason-1 → sourceCount, past a full hash or share
	shares   *ebpf.Map // array: route<<1 | epoch → uint64, the sources the route itemized
}

func (m *sourceMaps) close() {
	for _, x := range []*ebpf.Map{m.sources, m.epoch, m.overflow, m.shares} {
		if x != nil {
			x.Close()
		}
	}
}

func (m *sourceMaps) specs() []struct {
	m    **ebpf.Map
	spec *ebpf.MapSpec
} {
	return []struct {
		m    **ebpf.Map
		spec *ebpf.MapSpec
	}{
		{&m.sources, &ebpf.MapSpec{Name: "borealis_rsrc", Type: ebpf.Hash, KeySize: 28, ValueSize: 24, MaxEntries: maxSources}},
		{&m.epoch, &ebpf.MapSpec{Name: "borealis_repoch", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}},
		{&m.overflow, &ebpf.MapSpec{Name: "borealis_rover", Type: ebpf.Array, KeySize: 4, ValueSize: 24, MaxEntries: maxRoutes * 4}},
		{&m.shares, &ebpf.MapSpec{Name: "borealis_rshare", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: maxRoutes * 2}},
	}
}

// countSource is the sk_lookup program's count of a refused connection by source, at
// the refusal path's start (stackRecord filled in). It falls through to what follows and
// keeps R6; with no maps (a benchmark's baseline) it is empty.
//
// Registers: R8 the time, R9 the epoch.
func countSource(m *sourceMaps) asm.Instructions {
	if m.sources == nil {
		return nil
	}
	copyRemote := asm.Instructions{}
	for i := int16(0); i < 4; i++ {
		copyRemote = append(copyRemote,
			asm.LoadMem(asm.R2, asm.RFP, stackRecord+16+4*i, asm.Word),
			asm.StoreMem(asm.RFP, stackSource+12+4*i, asm.R2, asm.Word))
	}
	return concat(
		asm.Instructions{
			asm.StoreImm(asm.RFP, stackSlot, 0, asm.Word),
			mapPtr(asm.R1, m.epoch),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, stackSlot),
			asm.FnMapLookupElem.Call(),
			asm.Mov.Imm(asm.R9, 0),
			asm.JEq.Imm(asm.R0, 0, "src_key"),
			asm.LoadMem(asm.R9, asm.R0, 0, asm.Word),
			asm.And.Imm(asm.R9, 1),

			// sourceKey{Route, Reason | epoch << 8, Family, Addr}
			asm.LoadMem(asm.R2, asm.RFP, stackRecord, asm.Word).WithSymbol("src_key"),
			asm.StoreMem(asm.RFP, stackSource, asm.R2, asm.Word),
			asm.LoadMem(asm.R2, asm.RFP, stackRecord+4, asm.Word),
			asm.Mov.Reg(asm.R3, asm.R9),
			asm.LSh.Imm(asm.R3, 8),
			asm.Or.Reg(asm.R2, asm.R3),
			asm.StoreMem(asm.RFP, stackSource+4, asm.R2, asm.Word),
			asm.LoadMem(asm.R2, asm.RFP, stackRecord+8, asm.Word),
			asm.StoreMem(asm.RFP, stackSource+8, asm.R2, asm.Word),
		},
		copyRemote,
		asm.Instructions{
			asm.FnKtimeGetNs.Call(),
			asm.Mov.Reg(asm.R8, asm.R0),
		},
		lookupElem(m.sources, stackSource),
		asm.Instructions{
			asm.JNE.Imm(asm.R0, 0, "src_add"),
			// A new source: itemized while the endpoint's share lasts (a few more where
			// CPUs race: the share is a bound, not an exact count).
			asm.LoadMem(asm.R2, asm.RFP, stackRecord, asm.Word),
			asm.LSh.Imm(asm.R2, 1),
			asm.Or.Reg(asm.R2, asm.R9),
			asm.StoreMem(asm.RFP, stackSlot, asm.R2, asm.Word),
		},
		lookupElem(m.shares, stackSlot),
		asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "src_full"),
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
			asm.JGE.Imm(asm.R2, maxSourcesPerRoute, "src_full"),
			asm.Mov.Imm(asm.R2, 1),
			asm.AddAtomic.Mem(asm.R0, asm.R2, asm.DWord, 0),
			// {1, now, now}, unless another CPU made it meanwhile.
			asm.Mov.Imm(asm.R2, 1),
			asm.StoreMem(asm.RFP, stackSourceVal, asm.R2, asm.DWord),
			asm.StoreMem(asm.RFP, stackSourceVal+8, asm.R8, asm.DWord),
			asm.StoreMem(asm.RFP, stackSourceVal+16, asm.R8, asm.DWord),
			mapPtr(asm.R1, m.sources),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, stackSource),
			asm.Mov.Reg(asm.R3, asm.RFP),
			asm.Add.Imm(asm.R3, stackSourceVal),
			asm.Mov.Imm(asm.R4, 1), // BPF_NOEXIST
			asm.FnMapUpdateElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "src_done"),
		},
		lookupElem(m.sources, stackSource),
		asm.Instructions{
			asm.JNE.Imm(asm.R0, 0, "src_add"),
			// The hash is full, or the endpoint's share used: count it under the
			// endpoint, reason and epoch.
			asm.LoadMem(asm.R2, asm.RFP, stackRecord, asm.Word).WithSymbol("src_full"),
			asm.LSh.Imm(asm.R2, 1),
			asm.Or.Reg(asm.R2, asm.R9),
			asm.LSh.Imm(asm.R2, 1),
			asm.LoadMem(asm.R3, asm.RFP, stackRecord+4, asm.Word),
			asm.Sub.Imm(asm.R3, 1),
			asm.And.Imm(asm.R3, 1),
			asm.Or.Reg(asm.R2, asm.R3),
			asm.StoreMem(asm.RFP, stackSlot, asm.R2, asm.Word),
		},
		lookupElem(m.overflow, stackSlot),
		asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "src_done"),
			asm.Mov.Imm(asm.R2, 1).WithSymbol("src_add"),
			asm.AddAtomic.Mem(asm.R0, asm.R2, asm.DWord, 0),
			asm.StoreMem(asm.R0, 16, asm.R8, asm.DWord),
			asm.LoadMem(asm.R2, asm.R0, 8, asm.DWord),
			asm.JNE.Imm(asm.R2, 0, "src_done"),
			asm.StoreMem(asm.R0, 8, asm.R8, asm.DWord),
		},
		// The label on a no-op: what follows is the caller's.
		asm.Instructions{asm.Mov.Reg(asm.R0, asm.R0).WithSymbol("src_done")},
	)
}

func concat(parts ...asm.Instructions) asm.Instructions {
	var out asm.Instructions
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// DrainRefused returns what the kernel counted per source since the last drain, by this
// serve or an earlier one, and starts the counts afresh; it loses no refusal, whether
// counted meanwhile or while serve was away.
func (s *Steering) DrainRefused() ([]SourceRefusals, error) {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	var epoch uint32
	if err := s.maps.sourceMaps.epoch.Lookup(uint32(0), &epoch); err != nil {
		return nil, fmt.Errorf("steer: refusal epoch: %w", err)
	}
	epoch &= 1
	// What a serve killed in the middle of a drain left under the other epoch first: no
	// program writes there now.
	out, err := s.drainEpoch(epoch ^ 1)
	if err != nil {
		return out, err
	}
	if err := s.maps.sourceMaps.epoch.Put(uint32(0), epoch^1); err != nil {
		return out, fmt.Errorf("steer: refusal epoch: %w", err)
	}
	time.Sleep(drainSettle)
	more, err := s.drainEpoch(epoch)
	return append(out, more...), err
}

func (s *Steering) drainEpoch(epoch uint32) ([]SourceRefusals, error) {
	m := &s.maps.sourceMaps
	var keys []sourceKey
	var k sourceKey
	var v sourceCount
	it := m.sources.Iterate()
	for it.Next(&k, &v) {
		if k.Tag>>8 == epoch {
			keys = append(keys, k)
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("steer: refusals by source: %w", err)
	}
	clock := newClock()
	s.mu.Lock()
	names := make(map[uint32]string, len(s.names))
	for id, n := range s.names {
		names[id] = n
	}
	routes := s.nextRoute
	s.mu.Unlock()
	var out []SourceRefusals
	for _, k := range keys {
		if err := m.sources.LookupAndDelete(k, &v); err != nil {
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				continue
			}
			// Kernels before 5.14 cannot do both at once for a hash; nothing writes
			// this epoch, so one after the other is as good.
			if err = m.sources.Lookup(k, &v); err != nil {
				continue
			}
			_ = m.sources.Delete(k)
		}
		src := netip.AddrFrom16(k.Addr)
		if k.Family == afInet {
			src = netip.AddrFrom4([4]byte(k.Addr[:4]))
		}
		out = append(out, SourceRefusals{Name: names[k.Route], Reason: Reason(k.Tag & 0xff), Source: src,
			Count: v.Count, First: clock.wall(v.First), Last: clock.wall(v.Last)})
	}
	for route := uint32(0); route < routes; route++ {
		// The epoch's entries are gone: its shares start afresh.
		if err := m.shares.Put(route<<1|epoch, uint64(0)); err != nil {
			return out, fmt.Errorf("steer: refusal shares: %w", err)
		}
		for reason := uint32(0); reason < 2; reason++ {
			idx := route<<2 | epoch<<1 | reason
			if err := m.overflow.Lookup(idx, &v); err != nil || v.Count == 0 {
				continue
			}
			if err := m.overflow.Put(idx, sourceCount{}); err != nil {
				return out, fmt.Errorf("steer: refusals not itemized: %w", err)
			}
			out = append(out, SourceRefusals{Name: names[route], Reason: Reason(reason + 1),
				Count: v.Count, First: clock.wall(v.First), Last: clock.wall(v.Last)})
		}
	}
	return out, nil
}

// clock turns the kernel's CLOCK_MONOTONIC nanoseconds into wall-clock times.
type clock struct {
	now  time.Time
	mono int64
}

func newClock() clock {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return clock{now: time.Now(), mono: ts.Nano()}
}

func (c clock) wall(ns uint64) time.Time {
	return c.now.Add(-time.Duration(c.mono - int64(ns))).Round(time.Millisecond)
}
