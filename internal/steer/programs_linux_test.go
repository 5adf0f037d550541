package steer

import (
	"testing"

	"github.com/cilium/ebpf/btf"
)

// The programs read the kernel's context structures at fixed offsets (the stable UAPI);
// this checks each one against the running kernel's own description of them.
func TestContextOffsetsMatchTheKernel(t *testing.T) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Skipf("no kernel BTF: %v", err)
	}
	check := func(structName string, want map[string]uint32) {
		var s *btf.Struct
		if err := spec.TypeByName(structName, &s); err != nil {
			t.Fatalf("%s: %v", structName, err)
		}
		got := map[string]uint32{}
		for _, m := range s.Members {
			if _, seen := got[m.Name]; !seen { // "" is the first anonymous union
				got[m.Name] = m.Offset.Bytes()
			}
		}
		for name, off := range want {
			if o, ok := got[name]; !ok || o != off {
				t.Errorf("%s.%s at %d (present %v); the program reads %d", structName, name, o, ok, off)
			}
		}
	}
	check("bpf_sk_lookup", map[string]uint32{
		"family": lookupFamily, "protocol": lookupProtocol,
		"remote_ip4": lookupRemoteIP4, "remote_ip6": lookupRemoteIP6, "remote_port": lookupRemotePort,
		"local_ip4": lookupLocalIP4, "local_ip6": lookupLocalIP6, "local_port": lookupLocalPort,
	})
	check("bpf_sock_ops", map[string]uint32{
		"op": opsOp, "": opsArgs, // args is in the first anonymous union
		"family": opsFamily, "remote_ip4": opsRemoteIP4, "remote_ip6": opsRemoteIP6,
		"remote_port": opsRemotePort, "local_port": opsLocalPort,
		"bytes_received": opsBytesReceived, "bytes_acked": opsBytesAcked,
	})
	check("bpf_sock_addr", map[string]uint32{
		"user_ip4": addrUserIP4, "user_ip6": addrUserIP6, "user_port": addrUserPort, "type": addrType, "": addrSk,
	})
	check("bpf_sock", map[string]uint32{"mark": sockMark})
}
