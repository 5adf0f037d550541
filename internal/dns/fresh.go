package dns

import (
	"context"
	"sync"

	"github.com/borealis-db/borealis/internal/store"
)

// fresh reads Names for many queries at once without ever answering from a read that began
// before the query arrived: a query waits for the next read, and every query that arrives
// before that read starts shares it. At most one read runs at a time, so a flood of
// queries cannot take the store from the API and the reconciler.
type fresh struct {
	src Names

	mu      sync.Mutex
	next    *round // the read queries now wait for; it has not started
	running bool   // a goroutine is reading rounds
}

type round struct {
	done  chan struct{}
	names []store.EndpointName
	err   error
}

func (f *fresh) EndpointNames(ctx context.Context) ([]store.EndpointName, error) {
	f.mu.Lock()
	if f.next == nil {
		f.next = &round{done: make(chan struct{})}
	}
	r := f.next
	if !f.running {
		f.running = true
		go f.read()
	}
	f.mu.Unlock()
	select {
	case <-r.done:
		return r.names, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// read runs rounds until no query waits.
func (f *fresh) read() {
	for {
		f.mu.Lock()
		r := f.next
		f.next = nil
		if r == nil {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
		r.names, r.err = f.src.EndpointNames(ctx)
		cancel()
		close(r.done)
	}
}
