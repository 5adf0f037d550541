package backup

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LastArchived is when the newest WAL segment reached c's repository, read from the
// repository's directory (three listings, no pgBackRest run, as Borealis runs as root);
// false for an S3 repository, one with no WAL yet, or one Borealis cannot list. Every
// record written before then that belongs to that segment or an earlier one is archived.
func (m *Manager) LastArchived(c Cluster) (time.Time, bool) {
	if m.o.S3 != nil || c.check() != nil {
		return time.Time{}, false
	}
	// archive/STANZA/ARCHIVE-ID/TIMELINE+LOG/SEGMENT-HASH.EXT; the archive id is
	// "VERSION-N", N growing with each stanza upgrade.
	dir := filepath.Join(m.repoPath(c.ResourceID), "archive", c.ResourceID)
	id := newestName(dir, func(n string) (int, bool) {
		_, seq, ok := strings.Cut(n, "-")
		v, err := strconv.Atoi(seq)
		return v, ok && err == nil
	})
	if id == "" {
		return time.Time{}, false
	}
	dir = filepath.Join(dir, id)
	logs, err := os.ReadDir(dir)
	if err != nil {
		return time.Time{}, false
	}
	newest := ""
	for _, e := range logs {
		if n := e.Name(); e.IsDir() && len(n) == 16 && n > newest {
			newest = n
		}
	}
	if newest == "" {
		return time.Time{}, false
	}
	files, err := os.ReadDir(filepath.Join(dir, newest))
	if err != nil {
		return time.Time{}, false
	}
	var t time.Time
	for _, e := range files {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.ModTime().After(t) {
			t = fi.ModTime()
		}
	}
	return t.UTC(), !t.IsZero()
}

// newestName is the directory entry of dir whose number (by num) is the greatest.
func newestName(dir string, num func(string) (int, bool)) string {
	entries, err := os.ReadDir(dir)
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
