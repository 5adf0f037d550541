// Package dblog reads and trims the log directory of one PostgreSQL server: the hourly
// files its logging collector writes (log_filename postgresql.log.%Y-%m-%d-%H, as RDS
// names PostgreSQL's logs). The directory belongs to the server's OS account, which may
// put anything there (links, other files, names swapped under us): every operation works
// relative to one descriptor of the directory, opened without following a link, and
// never follows a link inside it or leaves it.
package dblog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// Pattern is the server's log_filename: filePrefix, then the hour (UTC: the server's
// log_timezone), which Go reads with hourLayout. NamePrefix names its files in the RDS API.
const (
	filePrefix = "postgresql.log."
	Pattern    = filePrefix + "%Y-%m-%d-%H"
	hourLayout = "2006-01-02-15"
	NamePrefix = "error/"
)

// nameRE matches the names Pattern makes, and nothing with a path in it.
var nameRE = regexp.MustCompile(`^` + regexp.QuoteMeta(filePrefix) + `\d{4}-\d{2}-\d{2}-\d{2}$`)

// ErrNotFound: no such log file (or not one a server wrote: see File).
var ErrNotFound = errors.New("dblog: no such log file")

// maxEntries bounds what one look at a directory reads. The collector makes a file an
// hour: under 200 within the longest retention, under maxEntries unless serve was away
// for more than a year. More is the account's doing (empty files cost it no storage), and
// reading them all, sorted and statted, on every pass and API call would cost serve the
// time and memory (seconds and 150 MB for 300,000) that the tenant does not pay for.
const maxEntries = 10000

// ErrTooMany: the directory holds more than maxEntries entries; none is listed or trimmed.
var ErrTooMany = fmt.Errorf("dblog: the log directory holds more than %d entries", maxEntries)

// hourOf is the hour of a file the collector names name, false for any other name (a
// path, another name, a date that is none: the account can make any).
func hourOf(name string) (time.Time, bool) {
	if !nameRE.MatchString(name) {
		return time.Time{}, false
	}
	h, err := time.Parse(hourLayout, name[len(filePrefix):])
	return h, err == nil
}

// File is one hourly log file.
type File struct {
	Name string // as in the directory: postgresql.log.2026-12-05-09
	Size int64
	Mod  time.Time
}

// dir is an open log directory.
type dir struct {
	fd  int
	uid uint32 // its owner: the server's account
}

func openDir(path string) (dir, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return dir{}, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return dir{}, err
	}
	return dir{fd: fd, uid: st.Uid}, nil
}

func (d dir) close() { unix.Close(d.fd) }

// names are the entries whose names the server's files have, sorted (oldest hour first);
// ErrTooMany after reading maxEntries entries.
func (d dir) names() ([]string, error) {
	// A second descriptor for reading entries: the first stays for *at calls.
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "log directory")
	defer f.Close()
	var out []string
	for seen := 0; ; {
		batch, err := f.Readdirnames(1024)
		if seen += len(batch); seen > maxEntries {
			return nil, ErrTooMany
		}
		for _, n := range batch {
			if _, ok := hourOf(n); ok {
				out = append(out, n)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// served reports whether st is a file the server wrote: a regular file of the
// directory's owner with no other name (no hard link to somebody else's file).
func (d dir) served(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink == 1 && st.Uid == d.uid
}

func (d dir) stat(name string) (unix.Stat_t, bool) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return st, false
	}
	return st, d.served(&st)
}

func fileOf(name string, st *unix.Stat_t) File {
	return File{Name: name, Size: st.Size, Mod: time.Unix(st.Mtim.Unix()).UTC()}
}

// List returns the log files in the directory at path, oldest first: nil when there is
// no directory yet. Links, other files and names the server does not write are left out.
func List(path string) ([]File, error) {
	var out []File
	err := withNames(path, func(d dir, names []string) error {
		for _, n := range names {
			if st, ok := d.stat(n); ok {
				out = append(out, fileOf(n, &st))
			}
		}
		return nil
	})
	return out, err
}

// withNames calls f with the directory at path, open, and its log file names, sorted;
// it does nothing when there is no directory yet.
func withNames(path string, f func(d dir, names []string) error) error {
	d, err := openDir(path)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.close()
	names, err := d.names()
	if err != nil {
		return err
	}
	return f(d, names)
}

// Open opens log file name of the directory at path for reading, with what List says of
// it: only a name List would list, only such a file (never through a link).
func Open(path, name string) (*os.File, File, error) {
	if _, ok := hourOf(name); !ok {
		return nil, File{}, ErrNotFound
	}
	d, err := openDir(path)
	if errors.Is(err, unix.ENOENT) {
		return nil, File{}, ErrNotFound
	}
	if err != nil {
		return nil, File{}, err
	}
	defer d.close()
	// O_NONBLOCK: a FIFO put there must not hang the caller before fstat refuses it.
	fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENXIO) {
		return nil, File{}, ErrNotFound // none, a link, a socket
	}
	if err != nil {
		return nil, File{}, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || !d.served(&st) {
		unix.Close(fd)
		if err != nil {
			return nil, File{}, err
		}
		return nil, File{}, ErrNotFound
	}
	return os.NewFile(uintptr(fd), name), fileOf(name, &st), nil
}

// Trim removes the log files of the directory at path last written before cutoff, but
// the newest (the one the collector writes), and returns their names. It removes only
// names it lists, by unlinkat in the directory it opened: a link's target, a file
// outside, another kind of entry are never touched. A name swapped for another file of
// the server's between the check and the removal loses that file, the server's own.
//
// Only files whose name's hour is before cutoff are looked at: the collector opens the
// file of hour H at H and writes it after, so a later name was written after cutoff. A
// pass thus costs a directory read and a stat per file due, not per file kept.
func Trim(path string, cutoff time.Time) ([]string, error) {
	var removed []string
	err := withNames(path, func(d dir, names []string) error {
		due := 0 // names are sorted, and so by hour: the due ones come first
		for due < len(names) {
			if h, _ := hourOf(names[due]); !h.Before(cutoff) {
				break
			}
			due++
		}
		keep := ""
		if due == len(names) {
			// Every hour is old (the server has been down that long): the newest file stays.
			for i := len(names) - 1; i >= 0 && keep == ""; i-- {
				if _, ok := d.stat(names[i]); ok {
					keep = names[i]
				}
			}
		}
		var errs []error
		for _, n := range names[:due] {
			st, ok := d.stat(n)
			if !ok || n == keep || !fileOf(n, &st).Mod.Before(cutoff) {
				continue
			}
			if err := unix.Unlinkat(d.fd, n, 0); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("dblog: remove %s: %w", n, err))
				continue
			}
			removed = append(removed, n)
		}
		return errors.Join(errs...)
	})
	return removed, err
}
