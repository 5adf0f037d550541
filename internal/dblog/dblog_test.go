package dblog

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)

// logDir makes a log directory with files named for the hours given (hours before now),
// each last written at the end of its hour.
func logDir(t *testing.T, hoursAgo ...int) string {
	t.Helper()
	dir := t.TempDir()
	for _, h := range hoursAgo {
		hour := now.Add(-time.Duration(h) * time.Hour).Truncate(time.Hour)
		writeLog(t, dir, hourName(hour), hour.Add(time.Hour-time.Second))
	}
	return dir
}

func hourName(hour time.Time) string { return "postgresql.log." + hour.Format("2006-01-02-15") }

func writeLog(t *testing.T, dir, name string, mod time.Time) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("2026-12-05 09:00:00.000 UTC [1] LOG:  x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mod, mod); err != nil {
		t.Fatal(err)
	}
	return p
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	files, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// TestTrimRemovesFilesWrittenBeforeTheCutoff: a file last written before the cutoff goes,
// one written at it or after stays, and the newest stays whatever its age (the collector
// writes it).
func TestTrimRemovesFilesWrittenBeforeTheCutoff(t *testing.T) {
	dir := logDir(t, 80, 73, 72, 2, 0)
	cutoff := now.Add(-72 * time.Hour).Truncate(time.Hour).Add(time.Hour - time.Second) // the 72h file's last write
	removed, err := Trim(dir, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	h := func(n int) string { return hourName(now.Add(-time.Duration(n) * time.Hour).Truncate(time.Hour)) }
	if want := []string{h(80), h(73)}; !reflect.DeepEqual(removed, want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	if got, want := names(t, dir), []string{h(72), h(2), h(0)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	// Every file old: the newest still stays.
	if removed, err := Trim(dir, now.Add(24*time.Hour)); err != nil || len(removed) != 2 || !reflect.DeepEqual(names(t, dir), []string{h(0)}) {
		t.Fatalf("removed %v (%v), left %v", removed, err, names(t, dir))
	}
}

// TestTrimNeverFollowsLinksNorLeavesTheDirectory: entries the server's account could plant
// (a link named like an old log to a file outside, a hard link, a directory, a FIFO, a
// file of another owner, other names) are neither listed nor removed, and nothing they
// point at is touched.
func TestTrimNeverFollowsLinksNorLeavesTheDirectory(t *testing.T) {
	dir := logDir(t, 100, 0)
	outside := t.TempDir()
	old := now.Add(-200 * time.Hour)
	target := writeLog(t, outside, "precious", old)
	link := filepath.Join(dir, hourName(now.Add(-150*time.Hour).Truncate(time.Hour)))
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, hourName(now.Add(-140*time.Hour).Truncate(time.Hour)))
	hardTarget := writeLog(t, outside, "hard", old)
	if err := os.Link(hardTarget, hard); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, hourName(now.Add(-130*time.Hour).Truncate(time.Hour)))
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	writeLog(t, sub, "inside", old)
	fifo := filepath.Join(dir, hourName(now.Add(-120*time.Hour).Truncate(time.Hour)))
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := writeLog(t, dir, hourName(now.Add(-110*time.Hour).Truncate(time.Hour)), old)
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	other := writeLog(t, dir, "postgresql.log.old", old)
	dotdot := writeLog(t, dir, "postgresql.log.2026-01-01-00.tmp", old)

	want := []string{hourName(now.Add(-100 * time.Hour).Truncate(time.Hour)), hourName(now.Truncate(time.Hour))}
	if got := names(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	removed, err := Trim(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(removed, want[:1]) {
		t.Fatalf("removed %v, want %v", removed, want[:1])
	}
	for _, p := range []string{target, link, hard, hardTarget, filepath.Join(sub, "inside"), fifo, foreign, other, dotdot} {
		if !exists(p) {
			t.Errorf("%s was removed", p)
		}
	}
	for _, name := range []string{filepath.Base(link), filepath.Base(hard), filepath.Base(fifo), filepath.Base(foreign), filepath.Base(sub), "../" + filepath.Base(outside) + "/precious", "postgresql.log.old"} {
		if f, _, err := Open(dir, name); err != ErrNotFound {
			if f != nil {
				f.Close()
			}
			t.Errorf("Open(%q): %v, want ErrNotFound", name, err)
		}
	}
}

// TestALinkedLogDirectoryIsRefused: the directory itself is opened without following a
// link, so a log directory replaced by a link to elsewhere is neither listed nor trimmed.
func TestALinkedLogDirectoryIsRefused(t *testing.T) {
	real := logDir(t, 100, 0)
	link := filepath.Join(t.TempDir(), "log")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if _, err := List(link); err == nil {
		t.Error("a linked directory was listed")
	}
	if _, err := Trim(link, now); err == nil {
		t.Error("a linked directory was trimmed")
	}
	if len(names(t, real)) != 2 {
		t.Error("the link's target lost files")
	}
	if files, err := List(filepath.Join(t.TempDir(), "none")); err != nil || files != nil {
		t.Errorf("no directory yet: %v %v", files, err)
	}
}

// TestOpenReadsWhatListShows: a listed file opens with the size and time List gave.
func TestOpenReadsWhatListShows(t *testing.T) {
	dir := logDir(t, 3, 0)
	files, err := List(dir)
	if err != nil || len(files) != 2 {
		t.Fatal(files, err)
	}
	f, got, err := Open(dir, files[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got != files[0] || got.Size == 0 {
		t.Errorf("Open says %+v, List %+v", got, files[0])
	}
}

// BenchmarkTrimWeekOfHours: the per-pass cost of trimming a log directory holding the
// most retention keeps (7 days of hours) when nothing is due, against reading the
// directory alone (os.ReadDir, the baseline).
func BenchmarkTrimWeekOfHours(b *testing.B) {
	dir := b.TempDir()
	for h := range 7 * 24 {
		hour := now.Add(-time.Duration(h) * time.Hour).Truncate(time.Hour)
		p := filepath.Join(dir, hourName(hour))
		if err := os.WriteFile(p, []byte("x\n"), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("trim", func(b *testing.B) {
		for b.Loop() {
			if _, err := Trim(dir, time.Unix(0, 0)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("readdir", func(b *testing.B) {
		for b.Loop() {
			if _, err := os.ReadDir(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestTrimLooksOnlyAtHoursBeforeTheCutoff: a file whose name's hour is not before the
// cutoff was opened after it, so it stays whatever its modification time says (a time
// the server's account set back does not make it go early).
func TestTrimLooksOnlyAtHoursBeforeTheCutoff(t *testing.T) {
	dir := logDir(t, 0)
	backdated := writeLog(t, dir, hourName(now.Add(-time.Hour).Truncate(time.Hour)), now.Add(-100*time.Hour))
	if removed, err := Trim(dir, now.Add(-2*time.Hour)); err != nil || len(removed) != 0 || !exists(backdated) {
		t.Fatalf("removed %v (%v)", removed, err)
	}
	if removed, err := Trim(dir, now); err != nil || len(removed) != 1 || exists(backdated) {
		t.Fatalf("once its hour is before the cutoff: removed %v (%v)", removed, err)
	}
}

// TestANameThatIsNoHourStopsNoTrim: a name of the pattern's shape whose date is none (the
// server's account can make any name) is neither listed nor in the way: the files due
// after it in the directory's order still go.
func TestANameThatIsNoHourStopsNoTrim(t *testing.T) {
	dir := logDir(t, 100, 0)
	old := now.Add(-200 * time.Hour)
	for _, n := range []string{"postgresql.log.0000-00-00-00", "postgresql.log.2026-02-30-00", "postgresql.log.2026-12-01-99"} {
		writeLog(t, dir, n, old)
	}
	want := []string{hourName(now.Add(-100 * time.Hour).Truncate(time.Hour)), hourName(now.Truncate(time.Hour))}
	if got := names(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	if f, _, err := Open(dir, "postgresql.log.2026-02-30-00"); err != ErrNotFound {
		if f != nil {
			f.Close()
		}
		t.Errorf("Open of a name that is no hour: %v", err)
	}
	if removed, err := Trim(dir, now.Add(-time.Hour)); err != nil || !reflect.DeepEqual(removed, want[:1]) {
		t.Errorf("removed %v (%v), want %v", removed, err, want[:1])
	}
}

// TestAFloodedDirectoryIsNotReadWhole: a directory holding more entries than the collector
// makes in a year (empty files cost the account no storage) is refused after a bounded
// read, by List and Trim alike, rather than read, sorted and statted whole on every pass
// and every API call; Open of one name still works.
func TestAFloodedDirectoryIsNotReadWhole(t *testing.T) {
	dir := logDir(t, 0)
	for i := range maxEntries {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("x%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if files, err := List(dir); !errors.Is(err, ErrTooMany) {
		t.Errorf("List: %d files, %v", len(files), err)
	}
	if removed, err := Trim(dir, now); !errors.Is(err, ErrTooMany) {
		t.Errorf("Trim: %v, %v", removed, err)
	}
	f, _, err := Open(dir, hourName(now.Truncate(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestASocketUnderAnHoursNameIsNotFound: a unix socket the account binds under a log
// file's name is no log file, as a FIFO is not (opening one fails with ENXIO).
func TestASocketUnderAnHoursNameIsNotFound(t *testing.T) {
	dir := logDir(t, 0)
	name := hourName(now.Add(-time.Hour).Truncate(time.Hour))
	ln, err := net.Listen("unix", filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if f, _, err := Open(dir, name); err != ErrNotFound {
		if f != nil {
			f.Close()
		}
		t.Errorf("Open of a socket: %v, want ErrNotFound", err)
	}
}
