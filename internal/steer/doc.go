// Package steer holds Borealis' kernel programs for the endpoints, written with
// cilium/ebpf's asm package and loaded by borealis serve (nothing is pinned: they live as
// long as serve does).
//
// Steering hands connections that an endpoint's security groups admit straight to the
// PostgreSQL server's listening socket, inside the kernel: a BPF sk_lookup program looks
// up the endpoint address and the source's prefix and assigns the server's socket, so an
// admitted connection costs no second hop, no copy and no wake-up of borealis serve.
// Whatever it does not steer (a source not admitted, an endpoint with no server, a kernel
// or process without BPF) reaches the gateway's own listener as before, where it is
// refused, counted and logged, or relayed. A sock_ops program counts what steered
// connections carry, for the endpoint metrics.
//
// The fence makes the endpoint the only door: cgroup connect programs refuse a connect
// to a server's private port from every local process but root and the gateway's relay
// (whose sockets carry RelayMark), database servers included; cgroup bind programs and
// the kernel's reserved ports keep the port for its server while it is down. It works
// with steering on or off.
package steer
