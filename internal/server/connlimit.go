package server

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limitTotal caps the connections ln has open at once, whatever their source, as
// golang.org/x/net/netutil.LimitListener does: at the cap, Accept waits until one closes.
// A daemon waits rather than refuses here: a burst of clients above the cap is served a
// moment later instead of failing, those waiting cost the kernel's accept queue and not
// serve's descriptors (once the queue is full the kernel turns new ones away), and every
// connection held is bounded by the HTTP timeouts. The per-source cap, inside this one,
// keeps a single client from filling it. Reaching the cap is logged, at most once a
// minute, so that an operator seeing clients wait finds the cause.
func limitTotal(ln net.Listener, max int, log *slog.Logger) *totalListener {
	return &totalListener{Listener: ln, sem: make(chan struct{}, max), done: make(chan struct{}), log: log}
}

type totalListener struct {
	net.Listener
	sem       chan struct{} // one token per open connection
	done      chan struct{} // closed by Close, to end a waiting Accept
	closeOnce sync.Once
	log       *slog.Logger
	warned    atomic.Int64 // unix seconds of the last "cap reached" warning
	// onFull, if set, runs when a new connection has to wait for a place, and every
	// fullRecheck while it waits (yieldIdle).
	onFull func()
}

// nearCap reports whether the places taken (the connections open, and the one a waiting
// Accept holds for the next) reach the cap's last eighth, or the cap itself when it is
// small.
func (l *totalListener) nearCap() bool {
	return len(l.sem) >= cap(l.sem)-cap(l.sem)/8
}

// fullWarnEvery spaces the "cap reached" warnings.
const fullWarnEvery = time.Minute

func (l *totalListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	default:
		if now, last := time.Now().Unix(), l.warned.Load(); now-last >= int64(fullWarnEvery/time.Second) && l.warned.CompareAndSwap(last, now) {
			l.log.Warn("connection cap reached: new connections wait until one closes", "max", cap(l.sem))
		}
		if err := l.waitForPlace(); err != nil {
			return nil, err
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &releaseConn{Conn: c, release: sync.OnceFunc(func() { <-l.sem })}, nil
}

// fullRecheck is how often onFull runs again while Accept waits for a place: connections
// may have become idle or stalled since.
const fullRecheck = time.Second

// waitForPlace takes a place once one is free, running onFull meanwhile.
func (l *totalListener) waitForPlace() error {
	var tick <-chan time.Time
	if l.onFull != nil {
		l.onFull()
		t := time.NewTicker(fullRecheck)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case l.sem <- struct{}{}:
			return nil
		case <-l.done:
			return net.ErrClosed
		case <-tick:
			l.onFull()
		}
	}
}

func (l *totalListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}
