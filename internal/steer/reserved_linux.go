package steer

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The kernel hands out no port in this list as an ephemeral one (bind to port 0, listen
// or connect on an unbound socket), so no local process can come by a guarded port that
// way while its server is down: the bind programs see only explicit ports.
const reservedPortsPath = "/proc/sys/net/ipv4/ip_local_reserved_ports"

// reservedPorts adds ports to the kernel's list and takes them back. A guarded port found
// reserved already is taken as Borealis' own, left by a serve killed before it could
// take it back: the port was the kernel's free choice when the server got it, which a
// reserved port never is.
type reservedPorts struct {
	path string
}

func (r *reservedPorts) reserve(port uint16) error {
	return r.edit(func(set *[1 << 16]bool) { set[port] = true })
}

func (r *reservedPorts) release(port uint16) error {
	return r.edit(func(set *[1 << 16]bool) { set[port] = false })
}

// edit rewrites the list under an exclusive lock on it, which other Borealis processes
// on the host take too (other writers of the sysctl do not).
func (r *reservedPorts) edit(change func(*[1 << 16]bool)) error {
	f, err := os.OpenFile(r.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	n, err := f.Read(buf)
	if err != nil {
		return err
	}
	set, err := parsePortList(string(buf[:n]))
	if err != nil {
		return err
	}
	before := *set
	change(set)
	if *set == before {
		return nil
	}
	_, err = f.WriteAt([]byte(formatPortList(set)+"\n"), 0)
	return err
}

// parsePortList reads the sysctl's syntax: "8080,9000-9100".
func parsePortList(s string) (*[1 << 16]bool, error) {
	var set [1 << 16]bool
	for _, item := range strings.Split(strings.TrimSpace(s), ",") {
		if item == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(item, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := strconv.ParseUint(hi, 10, 16)
		if err1 != nil || err2 != nil || a > b {
			return nil, fmt.Errorf("reserved ports: unreadable %q", item)
		}
		for p := a; p <= b; p++ {
			set[p] = true
		}
	}
	return &set, nil
}

func formatPortList(set *[1 << 16]bool) string {
	var items []string
	for p := 0; p < len(set); p++ {
		if !set[p] {
			continue
		}
		q := p
		for q+1 < len(set) && set[q+1] {
			q++
		}
		if q == p {
			items = append(items, strconv.Itoa(p))
		} else {
			items = append(items, fmt.Sprintf("%d-%d", p, q))
		}
		p = q
	}
	return strings.Join(items, ",")
}
