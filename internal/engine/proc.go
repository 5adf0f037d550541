package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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
	}
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
		if err != nil || cwd != want || !isPostgres(pid) {
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

// logTail returns the last lines of the log file for error messages, never
// one that quotes a statement.
func logTail(path string) string {
	const max = 2048
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
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
