package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
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
	// The source's account owns its repository and may swap a directory in it for a
	// link to root's files while root copies: the file is opened through no link.
	rel = filepath.FromSlash(rel)
	d, err := openBelow(l.dir, filepath.Dir(rel), nil)
	if err != nil {
		return err
	}
	defer d.Close()
	return copyFile(filepath.Join("/proc/self/fd", strconv.Itoa(int(d.Fd())), filepath.Base(rel)), dst)
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
		// The name as listed, not only joined (which would resolve a "..": pgBackRest puts
		// a name from a forged PostgreSQL-side remote in a key as it is).
		r := path.Join(rel, name)
		if err := errors.Join(cleanRepoPath(name), cleanRepoPath(r)); err != nil {
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

// stageFiles copies files from src into dir (same relative paths), the account's. The
// account owns the staging directory and may swap any directory in it for a link while
// root writes (a process of the new account left from a failed attempt, when a restore is
// retried): root reaches each directory through no link, from the first directory above
// dir the account does not own, and writes through the descriptor it opened.
func (m *Manager) stageFiles(ctx context.Context, src repoSource, dir string, files []repoFile, a account) error {
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel := filepath.FromSlash(f.rel)
		d, err := openStageDir(dir, filepath.Dir(rel), a)
		if err != nil {
			return err
		}
		name := filepath.Base(rel)
		// /proc/self/fd/N is the directory d opened, wherever it is now.
		err = src.fetch(ctx, f.rel, filepath.Join("/proc/self/fd", strconv.Itoa(int(d.Fd())), name))
		if err == nil {
			err = unix.Fchownat(int(d.Fd()), name, a.uid, a.gid, unix.AT_SYMLINK_NOFOLLOW)
		}
		d.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f.rel, err)
		}
	}
	return nil
}

// openStageDir opens dir/rel, making what is missing as a's (openBelow).
func openStageDir(dir, rel string, a account) (*os.File, error) { return openBelow(dir, rel, &a) }

// openBelow opens the directory dir/rel through no link below the longest leading part
// of its path that root owns (the volume directory, the repository root): below that, an
// account may swap a directory for a link while root reads or writes. With mk, what is
// missing is made as mk's.
func openBelow(dir, rel string, mk *account) (*os.File, error) {
	full := filepath.Join(dir, rel)
	if !filepath.IsAbs(full) {
		return nil, fmt.Errorf("backup: %s is not absolute", full)
	}
	top := "/"
	var below []string
	for _, c := range strings.Split(strings.TrimPrefix(full, "/"), "/") {
		if len(below) == 0 {
			fi, err := os.Lstat(filepath.Join(top, c))
			if err == nil && ownerOf(fi) == os.Geteuid() {
				top = filepath.Join(top, c)
				continue
			}
		}
		below = append(below, c)
	}
	fd, err := unix.Open(top, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("backup: %s: %w", top, err)
	}
	for _, c := range below {
		made := false
		if mk != nil {
			if err := unix.Mkdirat(fd, c, 0o700); err == nil {
				made = true
			} else if !errors.Is(err, unix.EEXIST) {
				unix.Close(fd)
				return nil, fmt.Errorf("backup: %s: %s: %w", full, c, err)
			}
		}
		next, err := unix.Openat(fd, c, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == nil && made {
			if err = unix.Fchown(next, mk.uid, mk.gid); err != nil {
				unix.Close(next)
			}
		}
		unix.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("backup: %s: %s: %w", full, c, err)
		}
		fd = next
	}
	return os.NewFile(uintptr(fd), full), nil
}

// After staging, the new account has run PostgreSQL on the restored data (whose settings
// came from the source: code of the tenant's may run as the account then), so root acts
// on the staging directory only through descriptors opened through no link.

// removeBelow removes the files names from dir, following no link to another directory.
func removeBelow(dir string, names []string) error {
	d, err := openBelow(dir, ".", nil)
	if err != nil {
		return err
	}
	defer d.Close()
	for _, n := range names {
		if err := unix.Unlinkat(int(d.Fd()), n, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("backup: removing %s: %w", filepath.Join(dir, n), err)
		}
	}
	return nil
}

// rewriteBelow replaces the regular file dir/name with edit(its content), a's, 0600,
// reading and writing through no link.
func rewriteBelow(dir, name string, a account, edit func([]byte) []byte) error {
	d, err := openBelow(dir, ".", nil)
	if err != nil {
		return err
	}
	defer d.Close()
	dfd := int(d.Fd())
	in, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("backup: %s: %w", filepath.Join(dir, name), err)
	}
	f := os.NewFile(uintptr(in), filepath.Join(dir, name))
	fi, err := f.Stat()
	var b []byte
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("not a regular file")
	}
	if err == nil {
		b, err = io.ReadAll(f)
	}
	f.Close()
	if err != nil {
		return fmt.Errorf("backup: %s: %w", filepath.Join(dir, name), err)
	}
	tmp := name + ".tmp"
	unix.Unlinkat(dfd, tmp, 0)
	out, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %s: %w", filepath.Join(dir, tmp), err)
	}
	w := os.NewFile(uintptr(out), filepath.Join(dir, tmp))
	_, err = w.Write(edit(b))
	if err == nil && os.Geteuid() == 0 {
		err = w.Chown(a.uid, a.gid)
	}
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, name)
	}
	if err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("backup: %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}

// placeRestored moves the restored data directory from the account's staging directory to
// dataDir (in the volume directory, root's), refusing what is not a directory of a's: a
// link the account put there could make dataDir another cluster's data directory.
func placeRestored(data, dataDir string, a account) error {
	hold := dataDir + ".placing" // root's directory: the account cannot change it
	if err := os.RemoveAll(hold); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(data, hold); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fi, err := os.Lstat(hold)
	if err != nil || !fi.IsDir() || ownerOf(fi) != a.uid {
		os.RemoveAll(hold) // a link: removes the link alone
		return fmt.Errorf("backup: the restored data directory %s is not a directory of the cluster's account", data)
	}
	if err := os.Rename(hold, dataDir); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// createBelow makes dir/name anew, root's, 0600, through no link (openBelow): a link or
// a file the account put there is replaced, never written through.
func createBelow(dir, name string) (*os.File, error) {
	d, err := openBelow(dir, ".", nil)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if err := unix.Unlinkat(int(d.Fd()), name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("backup: %s: %w", filepath.Join(dir, name), err)
	}
	fd, err := unix.Openat(int(d.Fd()), name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("backup: %s: %w", filepath.Join(dir, name), err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, name)), nil
}

// tailOf is the end of f, read from the descriptor (its name may lead elsewhere by now).
func tailOf(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := fi.Size() - 3000
	if off < 0 {
		off = 0
	}
	b := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(b, off)
	return string(b[:n])
}
