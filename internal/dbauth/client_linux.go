package dbauth

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// clientOf finds, for the LDAP connection a PostgreSQL backend opened (its side at
// backend, ours at responder), the client that backend serves: the remote and local
// addresses of the backend's other established TCP connection. It reads /proc: the
// socket tables, then the descriptors of the processes of the backend's account only.
// ok is false where it cannot tell (the backend gone, or no such connection), or where
// the process is not a backend (isBackend of its executable).
func clientOf(backend, responder netip.AddrPort, isBackend func(exe string) bool) (source, endpoint netip.AddrPort, ok bool) {
	socks := tcpSockets()
	var ldap *tcpSocket
	for i := range socks {
		if socks[i].local == backend && socks[i].remote == responder {
			ldap = &socks[i]
			break
		}
	}
	if ldap == nil {
		return source, endpoint, false
	}
	pid := ownerOf(ldap.inode, ldap.uid)
	if pid == "" {
		return source, endpoint, false
	}
	if exe, err := os.Readlink("/proc/" + pid + "/exe"); err != nil || !isBackend(exe) {
		return source, endpoint, false
	}
	mine := socketInodes(pid)
	for _, s := range socks {
		if s.inode != ldap.inode && s.state == tcpEstablished && mine[s.inode] {
			return s.remote, s.local, true
		}
	}
	return source, endpoint, false
}

const tcpEstablished = 1

type tcpSocket struct {
	local, remote netip.AddrPort
	state         int
	uid           uint32
	inode         string
}

// tcpSockets reads /proc/net/tcp and tcp6.
func tcpSockets() []tcpSocket {
	var out []tcpSocket
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			if len(fl) < 10 {
				continue
			}
			local, ok1 := procAddr(fl[1])
			remote, ok2 := procAddr(fl[2])
			state, err1 := strconv.ParseUint(fl[3], 16, 8)
			uid, err2 := strconv.ParseUint(fl[7], 10, 32)
			if !ok1 || !ok2 || err1 != nil || err2 != nil || fl[9] == "0" {
				continue
			}
			out = append(out, tcpSocket{local: local, remote: remote, state: int(state), uid: uint32(uid), inode: fl[9]})
		}
		f.Close()
	}
	return out
}

// procAddr parses /proc/net/tcp's "0100007F:1F90": the address in 32-bit words of host
// order, the port in hex. IPv4-mapped IPv6 addresses come back as IPv4.
func procAddr(s string) (netip.AddrPort, bool) {
	a, p, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(a)
	port, err2 := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil || err2 != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.NativeEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}

// ownerOf is the process of account uid that holds socket inode.
func ownerOf(inode string, uid uint32) string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return ""
	}
	target := "socket:[" + inode + "]"
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if st, ok := info.Sys().(*syscall.Stat_t); !ok || st.Uid != uid {
			continue
		}
		dir := "/proc/" + e.Name() + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(dir + fd.Name()); err == nil && l == target {
				return e.Name()
			}
		}
	}
	return ""
}

// socketInodes are the sockets process pid holds.
func socketInodes(pid string) map[string]bool {
	out := map[string]bool{}
	dir := "/proc/" + pid + "/fd/"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, fd := range fds {
		if l, err := os.Readlink(dir + fd.Name()); err == nil {
			if in, ok := strings.CutPrefix(l, "socket:["); ok {
				out[strings.TrimSuffix(in, "]")] = true
			}
		}
	}
	return out
}
