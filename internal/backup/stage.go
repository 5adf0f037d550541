package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// repoSource is a repository a restore stages files from, as stored (encrypted): the new
// cluster's account then reads only the private copy, with no key to the source.
type repoSource interface {
	// files lists the regular files below the directory rel (slash-separated, from the
	// repository's root), each with the time it was written; none if rel does not exist.
	files(ctx context.Context, rel string) ([]repoFile, error)
	// fetch copies file rel to dst, a new file; fs.ErrNotExist when rel does not exist.
	fetch(ctx context.Context, rel, dst string) error
}

type repoFile struct {
	rel string
	mt  time.Time
}

// sourceRepo is where the source cluster rid's continuous backup is read from.
func (m *Manager) sourceRepo(rid string) repoSource {
	if m.asRoot() {
		return bucketRepo{m: m, conf: m.rootConfPath(rid), rid: rid}
	}
	return localRepo{dir: m.repoPath(rid)}
}

// localRepo is a repository directory; root copies its files, following no link.
type localRepo struct{ dir string }

func (l localRepo) files(ctx context.Context, rel string) ([]repoFile, error) {
	var out []repoFile
	err := filepath.WalkDir(filepath.Join(l.dir, rel), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		r, err := filepath.Rel(l.dir, p)
		if err != nil {
			return err
		}
		out = append(out, repoFile{rel: filepath.ToSlash(r), mt: fi.ModTime()})
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return out, err
}

func (l localRepo) fetch(_ context.Context, rel, dst string) error {
	return copyFile(filepath.Join(l.dir, filepath.FromSlash(rel)), dst)
}

// bucketRepo is a repository in the bucket, read by root's pgBackRest (repo-ls, repo-get
// --raw: nothing is decrypted): a source's with its root configuration, which Prepare
// wrote (a deleted source's too: Retire keeps it), or a snapshot's, at base below the
// prefix, with the bucket's.
type bucketRepo struct {
	m    *Manager
	conf string
	rid  string // the stanza of conf, "" for the bucket's
	base string // the repository below conf's, "" for conf's own
}

// repoNameRE is every name Borealis accepts from a bucket listing before using it in a
// local path: pgBackRest's own names (stanzas, labels, segments, relation files).
var repoNameRE = regexp.MustCompile(`^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$`)

func cleanRepoPath(rel string) error {
	if rel == "" || path.Clean(rel) != rel || path.IsAbs(rel) {
		return fmt.Errorf("backup: unexpected repository path %q", rel)
	}
	for _, c := range strings.Split(rel, "/") {
		if !repoNameRE.MatchString(c) || c == "." || c == ".." {
			return fmt.Errorf("backup: unexpected repository path %q", rel)
		}
	}
	return nil
}

// key is rel's path from conf's repository; rel "" is the repository itself.
func (b bucketRepo) key(rel string) (string, error) {
	k := path.Join(b.base, rel)
	if err := cleanRepoPath(k); err != nil {
		return "", err
	}
	return k, nil
}

// files lists the files below rel ("": all of the repository's).
func (b bucketRepo) files(ctx context.Context, rel string) ([]repoFile, error) {
	k, err := b.key(rel)
	if err != nil {
		return nil, err
	}
	out, err := b.m.run(ctx, invocation{as: self(), conf: b.conf, stanza: b.rid, command: "repo-ls",
		args: []string{"--recurse", "--output=json"}, operands: []string{k}})
	if err != nil {
		return nil, err
	}
	var ls map[string]struct {
		Type string `json:"type"`
		Time int64  `json:"time"`
	}
	if err := json.Unmarshal(out, &ls); err != nil {
		return nil, fmt.Errorf("backup: pgbackrest repo-ls: %w", err)
	}
	var files []repoFile
	for name, e := range ls {
		if e.Type != "file" {
			continue
		}
		r := path.Join(rel, name)
		if err := cleanRepoPath(r); err != nil {
			return nil, err
		}
		files = append(files, repoFile{rel: r, mt: time.Unix(e.Time, 0)})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	return files, nil
}

func (b bucketRepo) fetch(ctx context.Context, rel, dst string) error {
	k, err := b.key(rel)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = b.m.run(ctx, invocation{as: self(), conf: b.conf, stanza: b.rid, command: "repo-get",
		args: []string{"--raw", "--ignore-missing"}, operands: []string{k}, stdout: out})
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	var re *runError
	if errors.As(err, &re) && re.code() == 1 { // --ignore-missing: the file does not exist
		os.Remove(dst)
		return fs.ErrNotExist
	}
	if err != nil {
		os.Remove(dst)
	}
	return err
}
