package backup

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"
)

// Snapshots in an S3 bucket: a snapshot's repository is PREFIX/snapshots/<id>, made where
// it stays (repo2 of the cluster's root configuration while it is taken: root.go), removed
// and copied by root with the bucket's configuration. Root never decrypts what it moves
// (repo-get and repo-put --raw). A snapshot is complete once its local record is sealed
// (snapshot.go); what an interrupted attempt left in the bucket goes before the next.

// snapshotKey is where snapshot id's repository lives in the bucket, relative to the
// configured prefix: its stanza is the snapshotted cluster's, as in a local snapshot.
func snapshotKey(id string) string { return snapshotsName + "/" + id }

// s3Prefix is the configured path in the bucket, "/" for none.
func (m *Manager) s3Prefix() string {
	return "/" + strings.Trim(path.Clean("/"+m.o.S3.Prefix), "/")
}

// s3SnapshotRepo is snapshot id's repository in the bucket, with stanza's cipher pass.
func (m *Manager) s3SnapshotRepo(stanza, id string) (repo, error) {
	r, err := m.clusterRepo(stanza)
	if err != nil {
		return repo{}, err
	}
	r.path = path.Join(m.s3Prefix(), snapshotKey(id))
	return r, nil
}

// snapshotObjects is snapshot id's repository in the bucket, as a restore stages it.
func (m *Manager) snapshotObjects(id string) bucketRepo {
	return bucketRepo{m: m, conf: m.bucketConfPath(), base: snapshotKey(id)}
}

// s3Remove removes everything below key (relative to the prefix) in the bucket.
func (m *Manager) s3Remove(ctx context.Context, key string) error {
	if err := cleanRepoPath(key); err != nil {
		return err
	}
	_, err := m.run(ctx, invocation{as: self(), conf: m.bucketConfPath(), command: "repo-rm",
		args: []string{"--recurse"}, operands: []string{key}})
	return err
}

// s3Copy copies every file below from to the same name below to (keys relative to the
// prefix), byte for byte: repo-get --raw piped into repo-put --raw.
func (m *Manager) s3Copy(ctx context.Context, from, to string) error {
	src, dst := bucketRepo{m: m, conf: m.bucketConfPath(), base: from}, bucketRepo{m: m, conf: m.bucketConfPath(), base: to}
	files, err := src.files(ctx, "")
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("backup: %s holds no file", from)
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := dst.put(ctx, f.rel, src); err != nil {
			return err
		}
	}
	return nil
}

// put writes file rel of src to rel below b, as stored. A copy cut short (repo-get failed)
// may leave a truncated object: the caller's error then leaves the snapshot unsealed.
func (b bucketRepo) put(ctx context.Context, rel string, src bucketRepo) error {
	from, err := src.key(rel)
	if err != nil {
		return err
	}
	to, err := b.key(rel)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	got := make(chan error, 1)
	go func() {
		_, err := b.m.run(ctx, invocation{as: self(), conf: src.conf, command: "repo-get", args: []string{"--raw"},
			operands: []string{from}, stdout: pw})
		pw.CloseWithError(err)
		got <- err
	}()
	_, err = b.m.run(ctx, invocation{as: self(), conf: b.conf, command: "repo-put", args: []string{"--raw"},
		operands: []string{to}, stdin: pr})
	pr.CloseWithError(io.ErrClosedPipe) // a failed put: the get stops
	return errorsFirst(<-got, err)
}

// errorsFirst is the first error that is not nil.
func errorsFirst(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// dropUnsealed removes what a failed attempt at snapshot id left in the bucket, unless it
// was sealed. A failure here is logged: taking or deleting the snapshot removes it again.
func (m *Manager) dropUnsealed(ctx context.Context, id string) {
	if _, err := m.readRecord(id); err == nil || ctx.Err() != nil {
		return
	}
	if err := m.s3Remove(ctx, snapshotKey(id)); err != nil {
		m.log.Warn("removing an unfinished snapshot from the bucket", "snapshot", id, "err", err)
	}
}
