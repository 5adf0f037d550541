package backup

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// LastArchived is when the newest WAL segment reached c's repository, read from the
// repository's directory (three listings, no pgBackRest run, as Borealis runs as root);
// with S3, the relay's record of the newest segment it pushed; false for a repository
// with no WAL yet, or one Borealis cannot list. Every record written before then that
// belongs to that segment or an earlier one is archived. A local repository's directory
// is c's account's: it is read through no link (openBelow), lest the account point serve
// at another cluster's archive.
func (m *Manager) LastArchived(c Cluster) (time.Time, bool) {
	if c.check() != nil {
		return time.Time{}, false
	}
	if m.o.S3 != nil {
		fi, err := os.Lstat(m.lastPushedPath(c.ResourceID))
		if err != nil || !fi.Mode().IsRegular() {
			return time.Time{}, false
		}
		return fi.ModTime().UTC(), true
	}
	// archive/STANZA/ARCHIVE-ID/TIMELINE+LOG/SEGMENT-HASH.EXT; the archive id is
	// "VERSION-N", N growing with each stanza upgrade.
	stanza, err := openBelow(m.repoPath(c.ResourceID), filepath.Join("archive", c.ResourceID), nil)
	if err != nil {
		return time.Time{}, false
	}
	defer stanza.Close()
	id := newestName(stanza, func(n string) (int, bool) {
		_, seq, ok := strings.Cut(n, "-")
		v, err := strconv.Atoi(seq)
		return v, ok && err == nil
	})
	if id == "" {
		return time.Time{}, false
	}
	dir, err := openAt(stanza, id)
	if err != nil {
		return time.Time{}, false
	}
	defer dir.Close()
	entries, err := dir.ReadDir(-1)
	if err != nil {
		return time.Time{}, false
	}
	newest := ""
	for _, e := range entries {
		if n := e.Name(); e.IsDir() && len(n) == 16 && n > newest {
			newest = n
		}
	}
	if newest == "" {
		return time.Time{}, false
	}
	logs, err := openAt(dir, newest)
	if err != nil {
		return time.Time{}, false
	}
	defer logs.Close()
	names, err := logs.Readdirnames(-1)
	if err != nil {
		return time.Time{}, false
	}
	var t time.Time
	for _, n := range names {
		var st unix.Stat_t
		if unix.Fstatat(int(logs.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		if mt := time.Unix(st.Mtim.Unix()); mt.After(t) {
			t = mt
		}
	}
	return t.UTC(), !t.IsZero()
}

// openAt opens the directory name in dir, following no link.
func openAt(dir *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir.Name(), name)), nil
}

// newestName is the directory in dir whose number (by num) is the greatest.
func newestName(dir *os.File, num func(string) (int, bool)) string {
	entries, err := dir.ReadDir(-1)
	if err != nil {
		return ""
	}
	best, bestN := "", -1
	for _, e := range entries {
		if n, ok := num(e.Name()); ok && e.IsDir() && n > bestN {
			best, bestN = e.Name(), n
		}
	}
	return best
}
