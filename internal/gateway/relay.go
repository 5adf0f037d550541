package gateway

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// The relay carries the bytes of every spliced connection on one goroutine around one
// edge-triggered epoll set, as pgbouncer does: a message costs one wake-up and
// epoll_wait + read + write. A goroutine per direction costs more on a small machine: a
// read that fails with EAGAIN, a park, the netpoller's wake-up, often a second thread woken
// to spin, and sysmon woken from its sleep (measured in BENCHMARKS.md).
//
// The relay owns duplicates of the two sockets and the originals are closed, so Go's
// netpoller no longer sees their events. Semantics follow io.Copy + CloseWrite per
// direction: a direction ends when its source reads EOF or fails, or its destination fails
// to take bytes; it then shuts down the destination's write side. When both directions
// have ended both sockets close.
type relay struct {
	epfd int
	wake [2]int // a pipe whose read end is in the epoll set: close writes to it
	buf  []byte // the read buffer, used by the loop goroutine only

	mu      sync.Mutex
	pairs   map[int32]*pair // by either socket
	closing bool
	stopped chan struct{}
}

type pair struct {
	fd   [2]int       // client, server
	dir  [2]direction // dir[i] reads fd[i] and writes fd[1-i]
	done chan struct{}
}

type direction struct {
	readable bool   // the source may have bytes or EOF: an event said so and no read has found it empty since
	hangup   bool   // the source reported its end: read until EOF, as no further event will come
	writable bool   // the destination may take bytes
	eof      bool   // the source ended: end once pending is written
	ended    bool   // the destination is shut for writing: nothing more moves
	pending  []byte // read but not yet written
	own      []byte // pending's storage once it must outlive the shared buffer
	n        int64  // bytes written
}

// newRelay starts a relay and its goroutine; close stops them. An error (no epoll) leaves
// the gateway on the io.Copy path.
func newRelay() (*relay, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	r := &relay{epfd: epfd, buf: make([]byte, 64<<10), pairs: map[int32]*pair{}, stopped: make(chan struct{})}
	if err := syscall.Pipe2(r.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(r.wake[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, r.wake[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(r.wake[0])
		syscall.Close(r.wake[1])
		return nil, err
	}
	go r.loop()
	return r, nil
}

// close ends every connection the relay carries and stops its goroutine. It is what the
// gateway's Close does at shutdown; a second call does nothing.
func (r *relay) close() {
	r.mu.Lock()
	already := r.closing
	r.closing = true
	r.mu.Unlock()
	if !already {
		_, _ = syscall.Write(r.wake[1], []byte{0})
	}
	<-r.stopped
}

// stop runs on the loop goroutine once close asked: every pair ends, then the relay's
// own descriptors close.
func (r *relay) stop() {
	r.mu.Lock()
	pairs := map[*pair]bool{}
	for _, p := range r.pairs {
		pairs[p] = true
	}
	r.mu.Unlock()
	for p := range pairs {
		r.finish(p)
	}
	syscall.Close(r.epfd)
	syscall.Close(r.wake[0])
	syscall.Close(r.wake[1])
	close(r.stopped)
}

// splice carries client <-> server until both directions end, then closes both. ok is
// false, with nothing done, when the sockets cannot be handed to the relay.
func (r *relay) splice(client, server net.Conn) (in, out int64, ok bool) {
	cfd, err1 := dupSocket(client)
	sfd, err2 := dupSocket(server)
	if err1 != nil || err2 != nil {
		for _, fd := range []int{cfd, sfd} {
			if fd >= 0 {
				syscall.Close(fd)
			}
		}
		return 0, 0, false
	}
	p := &pair{fd: [2]int{cfd, sfd}, done: make(chan struct{})}
	// Both directions start as if told they could move: a wasted read at worst.
	p.dir[0] = direction{readable: true, writable: true}
	p.dir[1] = p.dir[0]
	// The loop finds a pair under mu, so it sees both sockets of the pair or neither:
	// if epoll refuses one, the connection goes back untouched. Adding a socket reports
	// what is already readable, so no byte is missed.
	r.mu.Lock()
	var err error = errRelayClosed
	if !r.closing {
		err = r.add(cfd)
	}
	if err == nil {
		if err = r.add(sfd); err != nil {
			_ = syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_DEL, cfd, nil)
		}
	}
	if err == nil {
		r.pairs[int32(cfd)], r.pairs[int32(sfd)] = p, p
	}
	r.mu.Unlock()
	if err != nil {
		syscall.Close(cfd)
		syscall.Close(sfd)
		return 0, 0, false
	}
	// Closing the originals takes them out of Go's netpoller; the duplicates keep the
	// connections open.
	client.Close()
	server.Close()
	<-p.done
	return p.dir[0].n, p.dir[1].n, true
}

var errRelayClosed = errors.New("gateway relay: closed")

// EPOLLET does not fit syscall's signed constant type.
const epollET = 1 << 31

func (r *relay) add(fd int) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | epollET, Fd: int32(fd)}
	return syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
}

func dupSocket(c net.Conn) (int, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return -1, errors.New("not TCP")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd, derr := -1, error(nil)
	err = rc.Control(func(fd uintptr) {
		// The duplicate shares O_NONBLOCK with the original.
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			derr = e
			return
		}
		nfd = int(r)
	})
	if err == nil {
		err = derr
	}
	return nfd, err
}

func (r *relay) loop() {
	events := make([]syscall.EpollEvent, 128)
	yielded := time.Now()
	for {
		// A goroutine that never passes through the scheduler looks stuck to sysmon, which
		// then takes its P at every tick (20µs) and keeps itself awake doing so. Its limit is 10ms.
		if time.Since(yielded) > 5*time.Millisecond {
			runtime.Gosched()
			yielded = time.Now()
		}
		n, err := syscall.EpollWait(r.epfd, events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			panic("gateway relay: epoll_wait: " + err.Error())
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(r.wake[0]) {
				r.stop()
				return
			}
			r.mu.Lock()
			p := r.pairs[ev.Fd]
			r.mu.Unlock()
			if p == nil {
				continue // a pair finished earlier in this batch
			}
			// Events are hints: a stale one costs a read that finds EAGAIN.
			side := 0
			if p.fd[1] == int(ev.Fd) {
				side = 1
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				p.dir[side].readable = true
			}
			if ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				p.dir[side].hangup = true
			}
			if ev.Events&(syscall.EPOLLOUT|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				p.dir[1-side].writable = true
			}
			r.move(p, 0)
			r.move(p, 1)
			if p.dir[0].ended && p.dir[1].ended {
				r.finish(p)
			}
		}
	}
}

// move carries direction d as far as its source and destination allow without blocking.
func (r *relay) move(p *pair, d int) {
	dir, src, dst := &p.dir[d], p.fd[d], p.fd[1-d]
	for !dir.ended {
		if len(dir.pending) > 0 {
			if !dir.writable || !dir.write(dst, dir.pending) {
				return
			}
			continue
		}
		if dir.eof {
			dir.end(dst)
			return
		}
		if !dir.readable {
			return
		}
		n, err := syscall.Read(src, r.buf)
		switch {
		case err == syscall.EAGAIN:
			dir.readable = false
			return
		case err == syscall.EINTR:
			continue
		case err != nil || n == 0:
			dir.eof = true
			continue
		}
		// A short read emptied the socket; new bytes will raise a new edge. The end may
		// already be queued behind them, though, and raises none.
		if n < len(r.buf) && !dir.hangup {
			dir.readable = false
		}
		if !dir.write(dst, r.buf[:n]) {
			return
		}
	}
}

// write writes b to dst and reports whether all of it went. What dst does not take yet is
// kept in dir.pending, copied out of the shared buffer that the next read reuses.
func (dir *direction) write(dst int, b []byte) bool {
	for len(b) > 0 && dir.writable {
		n, err := syscall.Write(dst, b)
		if n > 0 {
			dir.n += int64(n)
			b = b[n:]
		}
		switch {
		case err == syscall.EAGAIN:
			dir.writable = false
		case err == syscall.EINTR, err == nil:
		default:
			dir.end(dst)
			return false
		}
	}
	if len(b) == 0 {
		dir.pending = nil
		return true
	}
	dir.own = append(dir.own[:0], b...) // b may lie in own: append moves it to the front
	dir.pending = dir.own
	return false
}

func (dir *direction) end(dst int) {
	dir.ended = true
	dir.pending, dir.own = nil, nil
	_ = syscall.Shutdown(dst, syscall.SHUT_WR)
}

func (r *relay) finish(p *pair) {
	r.mu.Lock()
	delete(r.pairs, int32(p.fd[0]))
	delete(r.pairs, int32(p.fd[1]))
	r.mu.Unlock()
	for _, fd := range p.fd {
		// Deleted explicitly: a forked child may briefly hold the socket open.
		_ = syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
		syscall.Close(fd)
	}
	close(p.done)
}
