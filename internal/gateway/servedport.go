package gateway

import "errors"

// GuardServePort has the fence refuse binds of port, one serve listens on for its servers
// (the IAM authentication responder), to every local process but root, pinned with the
// rest: while serve is away its servers still ask there, and whoever took the port would
// answer them in serve's place. name must be no endpoint's. An error says it is not
// guarded.
func (g *Gateway) GuardServePort(name string, port int) error {
	if g == nil || g.fence == nil {
		return errors.New("no fence (needs root, BPF and cgroup v2)")
	}
	if port <= 0 || port > 0xffff {
		return errors.New("no such port")
	}
	return g.fence.GuardEndpoint(name, uint16(port))
}
