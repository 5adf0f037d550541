package engine

import "context"

// RunLocal starts a server on the volume of s that listens on its unix socket only (no TCP:
// no endpoint, and no other host user, reaches it), runs fn while it runs, then stops it.
// It is for work on a volume that no instance serves, such as the final snapshot of a
// cluster whose instances are gone. Like Create's bootstrap start, the server dies with
// serve. A server already running on the volume makes it fail (PostgreSQL's own lock).
func (l *Local) RunLocal(ctx context.Context, s Spec, fn func(context.Context) error) error {
	inst, err := l.lockValid(s, s.validate)
	if err != nil {
		return err
	}
	defer inst.op.Unlock()
	a, err := l.createdAccount(ctx, s)
	if err != nil {
		return err
	}
	if err := l.prepare(a, s); err != nil {
		return err
	}
	if err := l.writeConfig(a, s); err != nil {
		return err
	}
	p, err := l.launchSocketOnly(ctx, a, s)
	if err != nil {
		return err
	}
	err = fn(ctx)
	if serr := l.stopProc(context.WithoutCancel(ctx), nil, s, p); err == nil {
		err = serr
	}
	return err
}
