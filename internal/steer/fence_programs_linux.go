package steer

import (
	"slices"

	"github.com/cilium/ebpf/asm"
)

// struct bpf_sock_addr and struct bpf_sock (linux/bpf.h); programs_linux_test.go checks
// them against the running kernel's BTF.
const (
	addrUserIP4  = 4
	addrUserIP6  = 8
	addrUserPort = 24 // __be16 in the low half
	addrType     = 32
	addrSk       = 64

	sockMark = 16

	sockStream = 1
)

// RelayMark is the socket mark (SO_MARK) of the gateway's dials to a private port: the
// one door to a server besides root. Setting a mark needs CAP_NET_ADMIN, which no
// database server nor ordinary local process has.
const RelayMark = 0x62726c73 // "brls"

// What a refusal refused.
const (
	callConnect = 1
	callBind    = 2
)

// A refusal as the programs write it to the ring buffer.
type refusalRecord struct {
	Port   uint32 // network order, as the context has it
	Family uint32
	UID    uint32
	PID    uint32 // the thread group: the process
	Call   uint32
	_      uint32
	Addr   [16]byte
	Comm   [16]byte
}

const refusalSize = 56

// Stack layout of the fence's programs.
const (
	stackRefusal = -56 // refusalRecord
	stackPort    = -64 // uint32, the ports map key
)

// fenceProgram is the cgroup connect4 or bind4 (family afInet), connect6 or bind6
// (afInet6) program, for call.
//
// A stream socket's connect to a guarded port, at any address, is refused (EPERM) unless
// the socket carries RelayMark or the caller's uid is 0. The address is not looked at:
// 127.0.0.1, the rest of 127/8, 0.0.0.0, ::1, ::, v4-mapped forms and whatever else the
// kernel may route to the server are all the same port.
//
// A bind of a guarded port is refused unless the caller's uid is 0 or the server's own
// (its entry in owners; with none, anyone may bind): no local process takes the port
// while the server is down, to answer the relay's dial in its place. A bind of an
// endpoint's port (in endpoints; connects there are the clients') is refused unless the
// caller's uid is 0: no local process takes it while serve is away, to answer the
// endpoint's clients in its place.
//
// A refusal is counted in the port's entry and reported on the ring buffer with who
// tried.
//
// Registers: R6 the context, R7 the port's counters, R8 the uid.
func fenceProgram(m *fenceMaps, family int32, call int32) asm.Instructions {
	var addr asm.Instructions
	if family == afInet {
		addr = slices.Concat(zero(stackRefusal+24, 16), copyWords(addrUserIP4, 1, stackRefusal+24))
	} else {
		addr = copyWords(addrUserIP6, 4, stackRefusal+24)
	}
	var relay, owner, endpoint asm.Instructions
	counter := int16(0)
	notGuarded := "allow"
	if call == callConnect {
		relay = asm.Instructions{
			asm.LoadMem(asm.R2, asm.R6, addrSk, asm.DWord),
			asm.LoadMem(asm.R3, asm.R2, sockMark, asm.Word),
			asm.JEq.Imm(asm.R3, RelayMark, "allow"),
		}
	} else {
		counter = 8
		notGuarded = "endpoint"
		owner = slices.Concat(
			lookupElem(m.owners, stackPort),
			asm.Instructions{
				asm.JEq.Imm(asm.R0, 0, "allow"),
				asm.LoadMem(asm.R2, asm.R0, 0, asm.Word),
				asm.JEq.Reg(asm.R2, asm.R8, "allow"),
				asm.Ja.Label("refuse"),
			},
		)
		// Not a private port: an endpoint's, which root alone binds.
		endpoint = slices.Concat(
			lookupElem(m.endpoints, stackPort),
			asm.Instructions{
				asm.JEq.Imm(asm.R0, 0, "allow"),
				asm.Mov.Reg(asm.R7, asm.R0),
				asm.FnGetCurrentUidGid.Call(),
				asm.Mov.Reg32(asm.R8, asm.R0),
				asm.JEq.Imm(asm.R8, 0, "allow"),
			},
		)
		endpoint[0] = endpoint[0].WithSymbol("endpoint")
	}
	return slices.Concat(
		asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1),
			asm.LoadMem(asm.R2, asm.R6, addrType, asm.Word),
			asm.JNE.Imm(asm.R2, sockStream, "allow"),
			asm.LoadMem(asm.R2, asm.R6, addrUserPort, asm.Word),
			asm.StoreMem(asm.RFP, stackPort, asm.R2, asm.Word),
			asm.StoreMem(asm.RFP, stackRefusal, asm.R2, asm.Word),
		},
		lookupElem(m.ports, stackPort),
		asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, notGuarded),
			asm.Mov.Reg(asm.R7, asm.R0),
		},
		relay,
		asm.Instructions{
			asm.FnGetCurrentUidGid.Call(),
			asm.Mov.Reg32(asm.R8, asm.R0), // the low half: the real uid, as the initial user namespace sees it
			asm.JEq.Imm(asm.R8, 0, "allow"),
		},
		owner,
		endpoint,
		asm.Instructions{
			// Refused: count it, then tell who it was.
			asm.Mov.Imm(asm.R2, 1).WithSymbol("refuse"),
			asm.AddAtomic.Mem(asm.R7, asm.R2, asm.DWord, counter),
			asm.StoreImm(asm.RFP, stackRefusal+4, int64(family), asm.Word),
			asm.StoreMem(asm.RFP, stackRefusal+8, asm.R8, asm.Word),
			asm.StoreImm(asm.RFP, stackRefusal+16, int64(call), asm.Word),
			asm.StoreImm(asm.RFP, stackRefusal+20, 0, asm.Word),
			asm.FnGetCurrentPidTgid.Call(),
			asm.RSh.Imm(asm.R0, 32),
			asm.StoreMem(asm.RFP, stackRefusal+12, asm.R0, asm.Word),
		},
		addr,
		asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, stackRefusal+40),
			asm.Mov.Imm(asm.R2, 16),
			asm.FnGetCurrentComm.Call(),
			mapPtr(asm.R1, m.refusals),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, stackRefusal),
			asm.Mov.Imm(asm.R3, refusalSize),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnRingbufOutput.Call(), // a full ring loses the report, never the count
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),

			asm.Mov.Imm(asm.R0, 1).WithSymbol("allow"),
			asm.Return(),
		},
	)
}
