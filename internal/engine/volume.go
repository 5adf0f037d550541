package engine

import (
	"context"
	"path/filepath"
)

// PrepareVolume makes what a volume needs before its data directory exists, as Create does
// before initdb: the server's account and the volume directory (DataDir's parent, root's,
// searchable by the account's group). For a volume filled by other means, a restore, which
// then puts a complete DataDir (holding Marker) in place for Create to find. Idempotent.
func (l *Local) PrepareVolume(ctx context.Context, s Spec) error {
	if err := s.validatePaths(); err != nil {
		return err
	}
	inst, err := l.lock(s.Name)
	if err != nil {
		return err
	}
	defer inst.op.Unlock()
	a, err := l.account(ctx, s)
	if err != nil {
		return err
	}
	if err := mkdirParents(s.DataDir); err != nil {
		return err
	}
	if !l.tenant(s) {
		return nil
	}
	if err := checkNotSwappable(s.DataDir); err != nil {
		return err
	}
	return prepareVolumeDir(a, filepath.Dir(s.DataDir))
}
