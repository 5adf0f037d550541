package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrPortTaken is what every *PortTakenError is: a port that someone else holds, so that
// the server or endpoint on it cannot be had (RDS's incompatible-network).
var ErrPortTaken = errors.New("port taken")

// PortTakenError says which port is held, and by whom as far as Borealis can tell.
type PortTakenError struct {
	Port   int
	Holder string // "another program", or the claim of another cluster or Borealis
	Err    error  // the bind error, if any
}

func (e *PortTakenError) Error() string {
	s := fmt.Sprintf("port %d is taken by %s", e.Port, e.Holder)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *PortTakenError) Is(target error) bool { return target == ErrPortTaken }

// Taken tells callers that cannot import this package (rds) what the error is.
func (e *PortTakenError) Taken() bool   { return true }
func (e *PortTakenError) Unwrap() error { return e.Err }

// AsPortTaken turns err, from binding port, into a *PortTakenError when the address was in
// use; other errors are returned as they are.
func AsPortTaken(port int, err error) error {
	var pt *PortTakenError
	if err == nil || errors.As(err, &pt) || !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	return &PortTakenError{Port: port, Holder: "another program", Err: err}
}

// checkPortFree fails with a *PortTakenError when port is bound on addr. Other errors (a
// fence that lets only the server's account bind its port, say) are not taken for it.
func checkPortFree(addr string, port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return AsPortTaken(port, err)
		}
		return nil
	}
	return ln.Close()
}

// Ports is the host's registry of the ports Borealis clusters hold: one claim file per
// port in a directory every serve on the host shares, changed under an flock of the
// directory's lock file. A claim holds from the reservation (CreateDBCluster) until it is
// released (the cluster deleted), across restarts of serve and while it is down, against
// every other serve; a port bound by another program is refused when reserved. A claim
// whose owner (Options.Owner: a serve's data directory) no longer exists is stale and may
// be taken.
type Ports struct {
	dir   string
	owner string
	addrs []string // where a new reservation must be bindable
}

// portClaim is one claim file.
type portClaim struct {
	Owner string `json:"owner"`
	Name  string `json:"name"`
}

// DefaultPortDir is the registry every serve on the host shares: root's, kept across
// reboots so that a serve starting first cannot take a port another's cluster has.
func DefaultPortDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/borealis/ports"
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("borealis-ports-%d", os.Geteuid()))
}

// OpenPorts opens (making it when missing) the registry in dir for owner, whose new
// reservations must be bindable on addrs.
func OpenPorts(dir, owner string, addrs []string) (*Ports, error) {
	if err := checkPath("port registry", dir); err != nil {
		return nil, err
	}
	if owner == "" {
		return nil, errors.New("engine: a port registry needs an owner")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("engine: port registry: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("engine: port registry: %w", err)
	}
	if st := fi.Sys().(*syscall.Stat_t); !fi.IsDir() || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("engine: port registry %s must be a directory of uid %d that no one else may write", dir, os.Geteuid())
	}
	return &Ports{dir: dir, owner: owner, addrs: addrs}, nil
}

// Reserve claims port for the cluster name: it must be unclaimed (or claimed stale) and
// bindable on every address. Reserving a port the same cluster holds is a no-op. A port
// that cannot be had fails with a *PortTakenError saying why.
func (r *Ports) Reserve(port int, name string) error {
	return r.claim(port, name, true)
}

// Hold keeps the claim of an existing cluster on port, making it again when it is missing
// or stale (a registry that is new, or was wiped). A port another cluster or Borealis
// claims fails with a *PortTakenError; whether the port can be bound is for the caller to
// find out by binding it (see AsPortTaken).
func (r *Ports) Hold(port int, name string) error {
	return r.claim(port, name, false)
}

// Release drops the claim of name on port, if it has it.
func (r *Ports) Release(port int, name string) error {
	if err := checkPort(port); err != nil {
		return err
	}
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	c, ok, err := r.read(port)
	if err != nil || !ok || c.Owner != r.owner || c.Name != name {
		return err
	}
	if err := os.Remove(r.path(port)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("engine: port registry: %w", err)
	}
	return nil
}

// ReleaseName drops every claim of this owner for name (a cluster deleted).
func (r *Ports) ReleaseName(name string) error {
	held, err := r.Held()
	if err != nil {
		return err
	}
	for port, n := range held {
		if n == name {
			if err := r.Release(port, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// Held lists the claims of this owner: port → cluster name. The caller releases those of
// clusters it no longer has, so that no claim outlives its cluster.
func (r *Ports) Held() (map[int]string, error) {
	unlock, err := r.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("engine: port registry: %w", err)
	}
	out := map[int]string{}
	for _, e := range ents {
		port, err := strconv.Atoi(e.Name())
		if err != nil || checkPort(port) != nil {
			continue
		}
		if c, ok, err := r.read(port); err == nil && ok && c.Owner == r.owner {
			out[port] = c.Name
		}
	}
	return out, nil
}

func checkPort(port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("engine: port %d out of range", port)
	}
	return nil
}

func (r *Ports) claim(port int, name string, bind bool) error {
	if err := checkPort(port); err != nil {
		return err
	}
	if name == "" {
		return errors.New("engine: a port claim needs a name")
	}
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	c, ok, err := r.read(port)
	if err != nil {
		return err
	}
	switch {
	case ok && c.Owner == r.owner && c.Name == name:
		return nil
	case ok && c.Owner == r.owner:
		return &PortTakenError{Port: port, Holder: fmt.Sprintf("cluster %s of this Borealis", c.Name)}
	case ok && !stale(c):
		// Not naming its data directory: the error reaches API callers.
		return &PortTakenError{Port: port, Holder: "a cluster of another Borealis on this host"}
	}
	if bind {
		for _, a := range r.addrs {
			if err := checkPortFree(a, port); err != nil {
				return err
			}
		}
	}
	b, err := json.Marshal(portClaim{Owner: r.owner, Name: name})
	if err != nil {
		return err
	}
	return writeAtomic(r.path(port), append(b, '\n'))
}

// stale is true of a claim whose owner is gone: its data directory no longer exists.
func stale(c portClaim) bool {
	_, err := os.Stat(c.Owner)
	return c.Owner == "" || errors.Is(err, fs.ErrNotExist)
}

func (r *Ports) path(port int) string { return filepath.Join(r.dir, strconv.Itoa(port)) }

func (r *Ports) read(port int) (portClaim, bool, error) {
	b, err := readPlain(r.path(port))
	if errors.Is(err, fs.ErrNotExist) {
		return portClaim{}, false, nil
	}
	if err != nil {
		return portClaim{}, false, fmt.Errorf("engine: port registry: %w", err)
	}
	var c portClaim
	if err := json.Unmarshal(b, &c); err != nil {
		// A torn or foreign file claims nothing; the next claim replaces it.
		return portClaim{}, false, nil
	}
	return c, true, nil
}

// lock takes the registry's flock, which every serve's changes go under.
func (r *Ports) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(r.dir, ".lock"), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("engine: port registry: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("engine: port registry: %w", err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// writeAtomic replaces path with data, durably.
func writeAtomic(path string, data []byte) error {
	if b, err := readPlain(path); err == nil && bytes.Equal(b, data) {
		return nil // unchanged: nothing to write on a full volume
	}
	err := replaceFile(path, data, 0o600, nil)
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("engine: port registry: %w", err)
	}
	return nil
}
