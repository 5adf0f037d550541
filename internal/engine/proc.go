package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/dblog"
)

// pgProc is a live PostgreSQL process found in /proc.
type pgProc struct {
	pid, ppid int
}

// procStat returns the state letter and parent PID from /proc/PID/stat.
func procStat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// "pid (comm) S ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0][0], ppid, err == nil
}

// alive is true for a process that exists and is not a zombie: a zombie has
// released its shared memory and sockets, and its reaper may never come (PID
// 1 in a container).
func alive(pid int) bool {
	st, _, ok := procStat(pid)
	return ok && st != 'Z' && st != 'X'
}

// isPostgres tells whether pid runs a postgres binary. A postmaster and its
// children keep the executable (they fork without exec).
func isPostgres(pid int) bool {
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return err == nil && filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == "postgres"
}

// serverProcs lists the live postgres processes working on dataDir. The
// postmaster chdirs to its data directory and its children inherit that, so
// the cwd identifies them whatever their process titles say.
func serverProcs(dataDir string) []pgProc {
	want := dataDir
	if r, err := filepath.EvalSymlinks(dataDir); err == nil {
		want = r
	} else if r, err := filepath.EvalSymlinks(filepath.Dir(dataDir)); err == nil {
		want = filepath.Join(r, filepath.Base(dataDir))
	}
	// A server whose directory was removed under it still runs on the files it holds
	// open, and still takes writes: the kernel then reads its cwd "DIR (deleted)".
	gone := want + " (deleted)"
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []pgProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd")
		if err != nil || (cwd != want && cwd != gone) || !isPostgres(pid) {
			continue
		}
		st, ppid, ok := procStat(pid)
		if ok && st != 'Z' && st != 'X' {
			out = append(out, pgProc{pid: pid, ppid: ppid})
		}
	}
	return out
}

// postmasters are the processes among ps whose parent is not among them.
func postmasters(ps []pgProc) []int {
	in := make(map[int]bool, len(ps))
	for _, p := range ps {
		in[p.pid] = true
	}
	var out []int
	for _, p := range ps {
		if !in[p.ppid] {
			out = append(out, p.pid)
		}
	}
	return out
}

// readPidFile returns the PID and status (line 8: "starting", "ready",
// "stopping", ...) from a postmaster.pid or socket lock file.
func readPidFile(path string) (pid int, status string) {
	b, err := readPlain(path)
	if err != nil {
		return 0, ""
	}
	lines := strings.Split(string(b), "\n")
	pid, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	if len(lines) >= 8 {
		status = strings.TrimSpace(lines[7])
	}
	return pid, status
}

// statementLine matches server log lines that quote what a client sent
// (log_statement, log_min_duration_statement, an error's STATEMENT, QUERY,
// CONTEXT, bind parameters). The guard hides passwords in them, but
// log_statement writes a statement before anything knows it will run a
// password command, so errors of serve's never copy such lines.
var statementLine = regexp.MustCompile(`(?i)(statement: |QUERY: |CONTEXT: |DETAIL: +(parameters|prepare):|(LOG: +|ms +)(execute|parse|bind) [^:]*: )`)

// withoutStatements drops the lines statementLine matches, with their
// continuation lines (PostgreSQL starts those with a tab).
func withoutStatements(lines []string) []string {
	out := lines[:0]
	dropping := false
	for _, l := range lines {
		if strings.HasPrefix(l, "\t") && dropping {
			continue
		}
		dropping = statementLine.MatchString(l)
		if !dropping {
			out = append(out, l)
		}
	}
	return out
}

// logTails is what error messages quote of s's logs: the end of its stderr file and,
// when the logging collector writes (Spec.LogDir), the end of its newest file, opened as
// the API opens it (dblog: never through a link the server's account put there).
func (s Spec) logTails() string {
	out := logTail(s.LogFile)
	if s.LogDir == "" {
		return out
	}
	files, err := dblog.List(s.LogDir)
	if err != nil || len(files) == 0 {
		return out
	}
	name := files[len(files)-1].Name
	f, _, err := dblog.Open(s.LogDir, name)
	if err != nil {
		return out
	}
	defer f.Close()
	return out + "\n" + name + " ends:\n" + fileTail(f)
}

// logTail returns the last lines of the log file for error messages, never
// one that quotes a statement.
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	return fileTail(f)
}

func fileTail(f *os.File) string {
	const max = 2048
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := fi.Size() - max
	if off < 0 {
		off = 0
	}
	b := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(b, off)
	s := string(b[:n])
	if off > 0 {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	lines := withoutStatements(strings.Split(strings.TrimRight(s, "\n"), "\n"))
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// procStartTime is when pid started, from /proc/PID/stat (field 22, clock ticks after
// boot) and the boot time in /proc/stat. A PID the kernel gave to another process since
// has another start time.
func procStartTime(pid int) (time.Time, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return time.Time{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return time.Time{}, false
	}
	// Fields after comm start with field 3 (state); starttime is field 22.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	boot, ok := bootTime()
	if !ok {
		return time.Time{}, false
	}
	const hz = 100 // USER_HZ: fixed at 100 for /proc on Linux
	return boot.Add(time.Duration(ticks) * time.Second / hz), true
}

func bootTime() (time.Time, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(s, 0), err == nil
		}
	}
	return time.Time{}, false
}

// procEnv reads one variable of pid's initial environment (root, or the same account,
// may read it).
func procEnv(pid int, name string) (string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return "", false
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(name+"=")); ok {
			return string(v), true
		}
	}
	return "", false
}

// procUIDOf is the real uid of pid.
func procUIDOf(pid int) (uint32, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Uid:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				return 0, false
			}
			u, err := strconv.ParseUint(f[0], 10, 32)
			return uint32(u), err == nil
		}
	}
	return 0, false
}

// sameDir tells whether pid's working directory is dir itself (same device and inode): a
// data directory removed and made again under the same name is another directory.
func sameDir(pid int, dir string) bool {
	a, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/cwd")
	if err != nil {
		return false
	}
	b, err := os.Stat(dir)
	return err == nil && os.SameFile(a, b)
}

// pidFileInfo is what a postmaster writes to postmaster.pid.
type pidFileInfo struct {
	pid       int
	dataDir   string
	start     time.Time
	port      int
	socketDir string
	listen    string
	status    string
}

// readPidFileInfo parses postmaster.pid (see PostgreSQL's LOCK_FILE_LINE_*).
func readPidFileInfo(path string) (pidFileInfo, bool) {
	b, err := readPlain(path)
	if err != nil {
		return pidFileInfo{}, false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 8 {
		return pidFileInfo{}, false
	}
	var pf pidFileInfo
	var e1, e2, e3 error
	pf.pid, e1 = strconv.Atoi(strings.TrimSpace(lines[0]))
	pf.dataDir = strings.TrimSpace(lines[1])
	start, e2 := strconv.ParseInt(strings.TrimSpace(lines[2]), 10, 64)
	pf.start = time.Unix(start, 0)
	pf.port, e3 = strconv.Atoi(strings.TrimSpace(lines[3]))
	pf.socketDir = strings.TrimSpace(lines[4])
	pf.listen = strings.TrimSpace(lines[5])
	pf.status = strings.TrimSpace(lines[7])
	return pf, e1 == nil && e2 == nil && e3 == nil && pf.pid > 0
}
