package dbauth

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// clientOf finds, for the LDAP connection a PostgreSQL backend opened (its side at
// backend, ours at responder), the client that backend serves: the remote and local
// addresses of the backend's other connected TCP socket. The kernel names the backend's
// socket (sock_diag: its inode and account), /proc the process holding it (among that
// account's only), and the process's own descriptors its other connection.
// ok is false where it cannot tell (the backend gone, or no such connection), or where
// the process is not a backend (isBackend of its executable).
func clientOf(backend, responder netip.AddrPort, isBackend func(exe string) bool) (source, endpoint netip.AddrPort, ok bool) {
	inode, uid, err := diagLookup(backend, responder)
	if err != nil {
		return source, endpoint, false
	}
	if uid == 0 {
		return source, endpoint, false // PostgreSQL never runs as root
	}
	pid := ownerOf(inode, uid)
	if pid == 0 {
		return source, endpoint, false
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return source, endpoint, false
	}
	defer unix.Close(pidfd)
	// The pid may have gone to another process since the walk (another account's, with
	// another client): the one the pidfd holds must still hold the socket.
	if !holds(pid, inode, uid) {
		return source, endpoint, false
	}
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err != nil || !isBackend(exe) {
		return source, endpoint, false
	}
	return otherConnection(pid, pidfd, inode)
}

// peerUID is the account that owns the socket backend → responder: the process at the
// other end of a responder connection (sockets keep their creator's uid).
func peerUID(backend, responder netip.AddrPort) (uint32, error) {
	_, uid, err := diagLookup(backend, responder)
	return uid, err
}

// diagLookup asks the kernel (NETLINK_SOCK_DIAG) for the TCP socket local → remote: its
// inode and its owner's uid. One exact request, not a walk of every socket.
func diagLookup(local, remote netip.AddrPort) (inode, uid uint32, err error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_INET_DIAG)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Close(fd)
	family := byte(unix.AF_INET)
	if !local.Addr().Unmap().Is4() {
		family = unix.AF_INET6
	}
	// struct nlmsghdr, then struct inet_diag_req_v2 with its inet_diag_sockid.
	req := make([]byte, 16+56)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST)
	r := req[16:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(r[4:], 0xffffffff) // every state
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], local.Port())
	binary.BigEndian.PutUint16(id[2:], remote.Port())
	putAddr(id[4:20], local.Addr(), family)
	putAddr(id[20:36], remote.Addr(), family)
	binary.NativeEndian.PutUint32(id[40:], 0xffffffff) // INET_DIAG_NOCOOKIE
	binary.NativeEndian.PutUint32(id[44:], 0xffffffff)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, 0, err
	}
	buf := make([]byte, 8192)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, 0, err
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return 0, 0, err
	}
	for _, m := range msgs {
		// struct inet_diag_msg: family, state, timer, retrans, the sockid (48), expires,
		// rqueue, wqueue, uid, inode.
		if m.Header.Type == unix.SOCK_DIAG_BY_FAMILY && len(m.Data) >= 72 {
			return binary.NativeEndian.Uint32(m.Data[68:]), binary.NativeEndian.Uint32(m.Data[64:]), nil
		}
	}
	return 0, 0, errors.New("dbauth: no such socket")
}

func putAddr(dst []byte, a netip.Addr, family byte) {
	if family == unix.AF_INET {
		b := a.Unmap().As4()
		copy(dst, b[:])
		return
	}
	b := a.As16()
	copy(dst, b[:])
}

// ownerOf is the process of account uid that holds socket inode.
func ownerOf(inode, uid uint32) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if holds(pid, inode, uid) {
			return pid
		}
	}
	return 0
}

// holds says whether process pid, of account uid, has socket inode open.
func holds(pid int, inode, uid uint32) bool {
	var st unix.Stat_t
	if unix.Stat("/proc/"+strconv.Itoa(pid), &st) != nil || st.Uid != uid {
		return false
	}
	target := "socket:[" + strconv.FormatUint(uint64(inode), 10) + "]"
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(dir + fd.Name()); err == nil && l == target {
			return true
		}
	}
	return false
}

// otherConnection is the first connected TCP socket of process pid (held by pidfd) other
// than inode: its peer and its own address, read from a duplicate (pidfd_getfd) of the
// descriptor.
func otherConnection(pid, pidfd int, inode uint32) (peer, self netip.AddrPort, ok bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return peer, self, false
	}
	skip := "socket:[" + strconv.FormatUint(uint64(inode), 10) + "]"
	for _, e := range fds {
		l, err := os.Readlink(dir + e.Name())
		if err != nil || l == skip || !strings.HasPrefix(l, "socket:[") {
			continue
		}
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fd, err := unix.PidfdGetfd(pidfd, n, 0)
		if err != nil {
			continue
		}
		peer, self, ok = connectedTCP(fd)
		unix.Close(fd)
		if ok {
			return peer, self, true
		}
	}
	return peer, self, false
}

func connectedTCP(fd int) (peer, self netip.AddrPort, ok bool) {
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || v != unix.IPPROTO_TCP {
		return peer, self, false
	}
	rsa, err := unix.Getpeername(fd)
	if err != nil {
		return peer, self, false
	}
	lsa, err := unix.Getsockname(fd)
	if err != nil {
		return peer, self, false
	}
	peer, ok1 := sockaddr(rsa)
	self, ok2 := sockaddr(lsa)
	return peer, self, ok1 && ok2
}

func sockaddr(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port)), true
	}
	return netip.AddrPort{}, false
}
