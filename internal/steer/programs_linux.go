package steer

import (
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// The kernel's context structures, at the offsets of the stable UAPI (linux/bpf.h);
// programs_linux_test.go checks them against the running kernel's BTF.
const (
	// struct bpf_sk_lookup
	lookupFamily     = 8
	lookupProtocol   = 12
	lookupRemoteIP4  = 16
	lookupRemoteIP6  = 20
	lookupRemotePort = 36 // __be16
	lookupLocalIP4   = 40
	lookupLocalIP6   = 44
	lookupLocalPort  = 60 // host order

	// struct bpf_sock_ops
	opsOp            = 0
	opsArgs          = 4
	opsFamily        = 20
	opsRemoteIP4     = 24
	opsRemoteIP6     = 32
	opsRemotePort    = 64 // network order, in the upper half on little-endian machines
	opsLocalPort     = 68 // host order
	opsBytesReceived = 168
	opsBytesAcked    = 176
)

const (
	afInet  = 2
	afInet6 = 10

	ipprotoTCP = 6
	skDrop     = 0
	skPass     = 1

	sockOpsPassiveEstablished = 5  // BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB
	sockOpsState              = 10 // BPF_SOCK_OPS_STATE_CB
	sockOpsStateFlag          = 4  // BPF_SOCK_OPS_STATE_CB_FLAG
	tcpClose                  = 7  // BPF_TCP_CLOSE
)

// Stack layout shared by both programs (offsets from the frame pointer R10).
const (
	stackEndpoint = -24  // endpointKey, 24 bytes
	stackAdmit    = -56  // admitKey, 28 bytes (32 reserved)
	stackSlot     = -60  // uint32
	stackConn     = -88  // connKey, 24 bytes
	stackConnVal  = -96  // connValue, 8 bytes
	stackRecord   = -144 // refusalRecord of the sk_lookup program, 48 bytes
)

// What an endpoint's slot says besides a listening socket.
const (
	slotRelay    = maxSlots     // admitted connections reach the gateway's listener
	slotNoServer = maxSlots + 1 // no server runs: admitted connections are refused too
	slotSpread   = maxSlots + 2 // several servers: the spread map lists their slots
)

// A refused connection is reported at most once in this long per endpoint: a client
// retrying in a loop, or a SYN flood, costs the ring and its reader nothing more. The
// counts stay exact.
const reportGap = 100_000_000 // ns

// A refusal of the sk_lookup program, as it writes it to the ring buffer. The middle
// (Family, Ports, Remote) is laid out as connKey.
type refusedRecord struct {
	Route  uint32
	Reason uint32
	Family uint32
	Ports  uint32 // the remote port (network order) | the local port << 16
	Remote [16]byte
	Local  [16]byte
}

const refusedSize = 48

func mapPtr(dst asm.Register, m *ebpf.Map) asm.Instruction {
	ins := asm.LoadMapPtr(dst, 0)
	if err := ins.AssociateMap(m); err != nil {
		panic(err) // only for a nil map: a bug here
	}
	return ins
}

// zero clears n bytes (a multiple of 4) of the stack from off: the verifier wants every
// byte of a map key written, and the keys' unused address bytes must compare equal.
func zero(off int16, n int) asm.Instructions {
	var out asm.Instructions
	for i := 0; i < n; i += 4 {
		out = append(out, asm.StoreImm(asm.RFP, off+int16(i), 0, asm.Word))
	}
	return out
}

// copyWords copies n 32-bit words of the context (R6) from src to the stack at each of
// dsts, through R2. Addresses stay in network byte order, as the Go side writes them.
func copyWords(src int16, n int, dsts ...int16) asm.Instructions {
	var out asm.Instructions
	for i := range int16(n) {
		out = append(out, asm.LoadMem(asm.R2, asm.R6, src+4*i, asm.Word))
		for _, d := range dsts {
			out = append(out, asm.StoreMem(asm.RFP, d+4*i, asm.R2, asm.Word))
		}
	}
	return out
}

// labelled names the first instruction of ins as a jump target.
func labelled(name string, ins asm.Instructions) asm.Instructions {
	ins[0] = ins[0].WithSymbol(name)
	return ins
}

// lookupElem calls bpf_map_lookup_elem(m, fp+key); R0 is the value or NULL.
func lookupElem(m *ebpf.Map, key int16) asm.Instructions {
	return asm.Instructions{
		mapPtr(asm.R1, m),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.FnMapLookupElem.Call(),
	}
}

// lookupProgram is the sk_lookup program. For a TCP connection to one of the endpoint
// addresses it is told about (or to the wildcard address it is told about, on that port)
// it decides at the SYN: a source the endpoint's ruleset does not admit is refused
// (SK_DROP, which the kernel answers with a reset: the client's connect fails with
// ECONNREFUSED), and so is every source while no server runs; an admitted one is assigned
// the server's listening socket and noted for the accounting, or passed on to the
// gateway's own listener where the endpoint is relayed. Refusals are counted per
// endpoint and reported on the ring buffer. Anything else it passes on untouched.
//
// Registers: R6 the context, R7 the family, R8 the endpoint's slot, R9 its ruleset.
func lookupProgram(m *maps) asm.Instructions {
	return slices.Concat(
		asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1),
			asm.LoadMem(asm.R2, asm.R6, lookupProtocol, asm.Word),
			asm.JNE.Imm(asm.R2, ipprotoTCP, "pass"),
		},
		// endpointKey{Port, Family, Addr} of the local side, and the refusal report.
		zero(stackEndpoint, 24),
		zero(stackRecord, refusedSize),
		asm.Instructions{
			asm.LoadMem(asm.R2, asm.R6, lookupLocalPort, asm.Word),
			asm.StoreMem(asm.RFP, stackEndpoint, asm.R2, asm.Word),
			asm.LoadMem(asm.R7, asm.R6, lookupFamily, asm.Word),
			asm.StoreMem(asm.RFP, stackEndpoint+4, asm.R7, asm.Word),
			asm.StoreMem(asm.RFP, stackRecord+8, asm.R7, asm.Word),
			asm.JEq.Imm(asm.R7, afInet6, "local6"),
			asm.JNE.Imm(asm.R7, afInet, "pass"),
		},
		copyWords(lookupLocalIP4, 1, stackEndpoint+8, stackRecord+32),
		asm.Instructions{asm.Ja.Label("endpoint")},
		labelled("local6", copyWords(lookupLocalIP6, 4, stackEndpoint+8, stackRecord+32)),
		labelled("endpoint", lookupElem(m.endpoints, stackEndpoint)),
		asm.Instructions{asm.JNE.Imm(asm.R0, 0, "found")},
		// An endpoint listening on the wildcard address of its family.
		zero(stackEndpoint+8, 16),
		lookupElem(m.endpoints, stackEndpoint),
		asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "pass"),
			asm.LoadMem(asm.R8, asm.R0, 0, asm.Word).WithSymbol("found"),
			asm.LoadMem(asm.R9, asm.R0, 4, asm.Word),
			asm.LoadMem(asm.R2, asm.R0, 8, asm.Word),
			asm.StoreMem(asm.RFP, stackRecord, asm.R2, asm.Word),
			// admitKey{Prefixlen: all 192 bits, Ruleset, Family, Addr} and
			// connKey{Family, Ports, Remote} of the remote side; Ports is the remote port
			// (network order) | the local port << 16.
			asm.StoreImm(asm.RFP, stackAdmit, 192, asm.Word),
			asm.StoreMem(asm.RFP, stackAdmit+4, asm.R9, asm.Word),
			asm.StoreMem(asm.RFP, stackAdmit+8, asm.R7, asm.Word),
			asm.StoreMem(asm.RFP, stackConn, asm.R7, asm.Word),
			asm.LoadMem(asm.R2, asm.R6, lookupRemotePort, asm.Half),
			asm.LoadMem(asm.R3, asm.R6, lookupLocalPort, asm.Word),
			asm.LSh.Imm32(asm.R3, 16),
			asm.Or.Reg32(asm.R2, asm.R3),
			asm.StoreMem(asm.RFP, stackConn+4, asm.R2, asm.Word),
			asm.StoreMem(asm.RFP, stackRecord+12, asm.R2, asm.Word),
		},
		zero(stackAdmit+12, 16),
		zero(stackConn+8, 16),
		asm.Instructions{asm.JEq.Imm(asm.R7, afInet6, "remote6")},
		copyWords(lookupRemoteIP4, 1, stackAdmit+12, stackConn+8, stackRecord+16),
		asm.Instructions{asm.Ja.Label("admit")},
		labelled("remote6", copyWords(lookupRemoteIP6, 4, stackAdmit+12, stackConn+8, stackRecord+16)),
		labelled("admit", lookupElem(m.admit, stackAdmit)),
		asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "refuse_sg"),
			asm.JEq.Imm(asm.R8, slotRelay, "pass"),
			asm.JEq.Imm(asm.R8, slotNoServer, "refuse_none"),
			asm.JEq.Imm(asm.R8, slotSpread, "spread"),
			// The server's listening socket in the endpoint's slot; none once the server
			// has exited.
			asm.StoreMem(asm.RFP, stackSlot, asm.R8, asm.Word),
		},
		lookupElem(m.listeners, stackSlot),
		asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "refuse_none"),
			asm.Mov.Reg(asm.R7, asm.R0).WithSymbol("assign"),
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Mov.Reg(asm.R2, asm.R7),
			asm.Mov.Imm(asm.R3, 0),
			asm.FnSkAssign.Call(),
			asm.Mov.Reg(asm.R9, asm.R0),
			asm.Mov.Reg(asm.R1, asm.R7),
			asm.FnSkRelease.Call(),
			asm.JNE.Imm(asm.R9, 0, "pass"),

			// Note the connection: the sock_ops program counts it once it is established.
			asm.StoreMem(asm.RFP, stackConnVal, asm.R8, asm.Word),
			asm.StoreImm(asm.RFP, stackConnVal+4, 0, asm.Word),
			mapPtr(asm.R1, m.conns),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, stackConn),
			asm.Mov.Reg(asm.R3, asm.RFP),
			asm.Add.Imm(asm.R3, stackConnVal),
			asm.Mov.Imm(asm.R4, 0), // BPF_ANY
			asm.FnMapUpdateElem.Call(),

			asm.Mov.Imm(asm.R0, skPass).WithSymbol("pass"),
			asm.Return(),

			// Refused: count it under the endpoint's route and the reason, report it
			// unless the endpoint reported one a moment ago, and drop it.
			asm.StoreImm(asm.RFP, stackRecord+4, int64(RefusedBySecurityGroups), asm.Word).WithSymbol("refuse_sg"),
			asm.Ja.Label("refuse"),
			asm.StoreImm(asm.RFP, stackRecord+4, int64(RefusedNoServer), asm.Word).WithSymbol("refuse_none"),
		},
		labelled("refuse", append(countSource(&m.sourceMaps), lookupElem(m.refusals, stackRecord)...)),
		asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "drop"),
			asm.Mov.Reg(asm.R7, asm.R0),
			asm.Mov.Reg(asm.R1, asm.R7),
			asm.LoadMem(asm.R2, asm.RFP, stackRecord+4, asm.Word),
			asm.JNE.Imm(asm.R2, int32(RefusedNoServer), "count"),
			asm.Add.Imm(asm.R1, 8),
			asm.Mov.Imm(asm.R2, 1).WithSymbol("count"),
			asm.AddAtomic.Mem(asm.R1, asm.R2, asm.DWord, 0),
			asm.FnKtimeGetNs.Call(),
			asm.LoadMem(asm.R2, asm.R7, 16, asm.DWord),
			asm.Mov.Reg(asm.R3, asm.R0),
			asm.Sub.Reg(asm.R3, asm.R2),
			asm.JLT.Imm(asm.R3, reportGap, "drop"),
			asm.StoreMem(asm.R7, 16, asm.R0, asm.DWord),
			mapPtr(asm.R1, m.refusedLog),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, stackRecord),
			asm.Mov.Imm(asm.R3, refusedSize),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnRingbufOutput.Call(), // a full ring loses the report, never the count

			asm.Mov.Imm(asm.R0, skDrop).WithSymbol("drop"),
			asm.Return(),
		},
		spreadProgram(m),
	)
}

// spreadProgram is the sk_lookup program's part for an endpoint that spreads its
// connections (slotSpread): it finds the endpoint's slots for the connection's family,
// starts at the one whose turn it is (round robin: the turn moves on by one per
// connection; two SYNs at the same moment on two CPUs may take the same turn, which costs
// balance, never correctness) and takes the first that holds a listening socket, as the
// chosen slot (R8) and the socket (R0), at "assign"; none: refused for want of a server.
//
// Registers on entry: R7 the family; the route id is in the refusal record.
func spreadProgram(m *maps) asm.Instructions {
	out := asm.Instructions{
		asm.LoadMem(asm.R2, asm.RFP, stackRecord, asm.Word).WithSymbol("spread"),
		asm.LSh.Imm32(asm.R2, 1),
		asm.JNE.Imm(asm.R7, afInet6, "spread_key"),
		asm.Or.Imm32(asm.R2, 1),
		asm.StoreMem(asm.RFP, stackSlot, asm.R2, asm.Word).WithSymbol("spread_key"),
	}
	out = append(out, lookupElem(m.spread, stackSlot)...)
	out = append(out,
		asm.JEq.Imm(asm.R0, 0, "refuse_none"),
		asm.Mov.Reg(asm.R9, asm.R0),
		asm.LoadMem(asm.R8, asm.R9, 4, asm.Word), // Next
		asm.Mov.Reg32(asm.R2, asm.R8),
		asm.Add.Imm32(asm.R2, 1),
		asm.StoreMem(asm.R9, 4, asm.R2, asm.Word),
	)
	for i := range int32(maxSpread) {
		out = append(out,
			asm.LoadMem(asm.R2, asm.R9, 0, asm.Word), // Count
			asm.JLE.Imm(asm.R2, i, "refuse_none"),
			asm.Mov.Reg32(asm.R3, asm.R8),
			asm.Add.Imm32(asm.R3, i),
			asm.Mod.Reg32(asm.R3, asm.R2),
			asm.JGT.Imm(asm.R3, maxSpread-1, "refuse_none"), // bounds for the verifier
			asm.LSh.Imm(asm.R3, 2),
			asm.Mov.Reg(asm.R1, asm.R9),
			asm.Add.Reg(asm.R1, asm.R3),
			asm.LoadMem(asm.R7, asm.R1, 8, asm.Word), // Slots[(Next+i) % Count]
			asm.StoreMem(asm.RFP, stackSlot, asm.R7, asm.Word),
		)
		out = append(out, lookupElem(m.listeners, stackSlot)...)
		out = append(out, asm.JNE.Imm(asm.R0, 0, "spread_found"))
	}
	return append(out,
		asm.Ja.Label("refuse_none"),
		asm.Mov.Reg(asm.R8, asm.R7).WithSymbol("spread_found"),
		asm.Ja.Label("assign"),
	)
}

// opsProgram is the sock_ops program: it counts a steered connection when the server's
// side is established and adds its bytes when it closes, so that the endpoint metrics
// cover connections that never pass through borealis serve.
//
// Registers: R6 the context, R7 the operation, R8 the connection's entry, R9 its counters.
func opsProgram(m *maps) asm.Instructions {
	return slices.Concat(
		asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1),
			asm.LoadMem(asm.R7, asm.R6, opsOp, asm.Word),
			asm.JEq.Imm(asm.R7, sockOpsPassiveEstablished, "key"),
			asm.JNE.Imm(asm.R7, sockOpsState, "out"),
			asm.LoadMem(asm.R2, asm.R6, opsArgs+4, asm.Word), // the new state
			asm.JNE.Imm(asm.R2, tcpClose, "out"),

			// connKey{Family, Ports, Remote}, as the sk_lookup program builds it.
			asm.LoadMem(asm.R2, asm.R6, opsFamily, asm.Word).WithSymbol("key"),
			asm.StoreMem(asm.RFP, stackConn, asm.R2, asm.Word),
			asm.LoadMem(asm.R3, asm.R6, opsRemotePort, asm.Word),
			asm.RSh.Imm32(asm.R3, 16),
			asm.LoadMem(asm.R4, asm.R6, opsLocalPort, asm.Word),
			asm.LSh.Imm32(asm.R4, 16),
			asm.Or.Reg32(asm.R3, asm.R4),
			asm.StoreMem(asm.RFP, stackConn+4, asm.R3, asm.Word),
		},
		zero(stackConn+8, 16),
		asm.Instructions{
			asm.JEq.Imm(asm.R2, afInet6, "remote6"),
			asm.JNE.Imm(asm.R2, afInet, "out"),
		},
		copyWords(opsRemoteIP4, 1, stackConn+8),
		asm.Instructions{asm.Ja.Label("find")},
		labelled("remote6", copyWords(opsRemoteIP6, 4, stackConn+8)),
		labelled("find", lookupElem(m.conns, stackConn)),
		asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.Mov.Reg(asm.R8, asm.R0),
			asm.LoadMem(asm.R2, asm.R8, 0, asm.Word),
			asm.StoreMem(asm.RFP, stackSlot, asm.R2, asm.Word),
		},
		lookupElem(m.counters, stackSlot),
		asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.Mov.Reg(asm.R9, asm.R0),
			asm.JEq.Imm(asm.R7, sockOpsState, "closed"),

			// Established: count it once, and ask for its state changes.
			asm.LoadMem(asm.R2, asm.R8, 4, asm.Word),
			asm.JNE.Imm(asm.R2, 0, "out"),
			asm.StoreImm(asm.R8, 4, 1, asm.Word),
			asm.Mov.Imm(asm.R2, 1),
			asm.AddAtomic.Mem(asm.R9, asm.R2, asm.DWord, 0),
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Mov.Imm(asm.R2, sockOpsStateFlag),
			asm.FnSockOpsCbFlagsSet.Call(),
			asm.Ja.Label("out"),

			// Closed: count it and its bytes, and forget it.
			asm.LoadMem(asm.R2, asm.R8, 4, asm.Word).WithSymbol("closed"),
			asm.JEq.Imm(asm.R2, 0, "forget"),
			asm.Mov.Imm(asm.R2, 1),
			asm.AddAtomic.Mem(asm.R9, asm.R2, asm.DWord, 8),
			asm.LoadMem(asm.R2, asm.R6, opsBytesReceived, asm.DWord),
			asm.AddAtomic.Mem(asm.R9, asm.R2, asm.DWord, 16),
			asm.LoadMem(asm.R2, asm.R6, opsBytesAcked, asm.DWord),
			asm.AddAtomic.Mem(asm.R9, asm.R2, asm.DWord, 24),
		},
		labelled("forget", asm.Instructions{mapPtr(asm.R1, m.conns)}),
		asm.Instructions{
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, stackConn),
			asm.FnMapDeleteElem.Call(),

			asm.Mov.Imm(asm.R0, 1).WithSymbol("out"),
			asm.Return(),
		},
	)
}
