// Package steer holds Borealis' kernel programs for the endpoints, written with
// cilium/ebpf's asm package and loaded by borealis serve. Given a pin directory (PinDir)
// their maps and links are pinned in the BPF file system, so they go on deciding and
// fencing after serve is killed; the next serve adopts them and replaces the programs in
// place (link updates). Close takes them away; Leave lets go of them in force.
//
// Steering decides an endpoint's connections at their SYN, inside the kernel: a BPF
// sk_lookup program looks up the endpoint address and the source's prefix. A source the
// security groups do not admit, or any source while no server runs, is refused there
// (SK_DROP: the kernel answers with a reset, and the client sees "connection refused"),
// counted per endpoint and reported on a ring buffer for the log. An admitted one is
// assigned the server's listening socket, so it costs no second hop, no copy and no
// wake-up of borealis serve. What it does not hand over (an endpoint relayed, a kernel or
// process without BPF) reaches the gateway's own listener as before, where it is refused
// (accepted, then reset) or relayed. A sock_ops program counts what steered connections
// carry, for the endpoint metrics.
//
// The fence makes the endpoint the only door: cgroup connect programs refuse a connect
// to a server's private port from every local process but root and the gateway's relay
// (whose sockets carry RelayMark), database servers included; cgroup bind programs and
// the kernel's reserved ports keep the port for its server while it is down, and an
// endpoint's port for serve (root) while serve is away. It works with steering on or off.
package steer
