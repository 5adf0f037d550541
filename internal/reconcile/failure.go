package reconcile

import (
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/store"
)

// lowSpace is the free space under which a volume counts as full when a start fails for a
// reason the log does not name: less than one WAL segment.
const lowSpace = 16 << 20

// Reasons for a server that cannot start. The parameter's name is the only variable part,
// and it is checked against paramName: nothing else from a log reaches the API.
const (
	reasonStorageFull = "The database server cannot start: its storage volume is full."
	reasonParameters  = "The database server cannot start with the values of its parameter groups"
	reasonFailed      = "The database server cannot start; the server log says why."
	reasonServerPort  = "The database server cannot start: its port is taken by another program or server."
	reasonEndpoint    = "The cluster endpoint cannot listen: its port is taken by another program or server."
	reasonUnreachable = "The database server cannot start: its account cannot reach its data directory (a directory above it is not traversable, or the files are not readable by it)."
)

var (
	paramName = regexp.MustCompile(`^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$`)
	// paramQuoted finds the parameter PostgreSQL names in its complaint ("invalid value
	// for parameter \"work_mem\"", "... outside the valid range for parameter ...").
	paramQuoted = regexp.MustCompile(`parameter "([A-Za-z0-9_.]+)"`)
)

// parameterFailures are what PostgreSQL 15 says, at start, about a setting it cannot run
// with, and the parameters each points at ("" when the line names it).
var parameterFailures = []struct{ text, params string }{
	{`invalid value for parameter "`, ""},
	{`outside the valid range for parameter "`, ""},
	{`unrecognized configuration parameter "`, ""},
	{`could not set the cipher list`, "ssl_ciphers"},
	{`ssl_min_protocol_version`, "ssl_min_protocol_version"},
	{`ssl_max_protocol_version`, "ssl_max_protocol_version"},
	{`could not set SSL protocol version range`, "ssl_min_protocol_version, ssl_max_protocol_version"},
	{`could not set minimum SSL protocol version`, "ssl_min_protocol_version"},
	{`could not set maximum SSL protocol version`, "ssl_max_protocol_version"},
	{`could not map anonymous shared memory`, "shared_buffers, max_connections"},
	{`could not create shared memory segment`, "shared_buffers, max_connections"},
	{`must be less than max_connections`, "max_connections"},
	{`contains errors`, ""}, // configuration file "…" contains errors: the line before names it
}

// classifyStart says what a failed start means: err is the driver's error, log what the
// server wrote during the attempt, free the bytes left on the volume (-1: unknown).
func classifyStart(err error, log string, free int64) (store.Status, string) {
	if portTaken(err) {
		return store.StatusIncompatibleNetwork, reasonServerPort
	}
	if errors.Is(err, engine.ErrUnreachable) || errors.Is(err, syscall.EACCES) || strings.Contains(log, "Permission denied") {
		return store.StatusFailed, reasonUnreachable
	}
	// err's text is not searched: it quotes the log's tail, older lines included.
	if errors.Is(err, syscall.ENOSPC) || strings.Contains(log, "No space left on device") {
		return store.StatusStorageFull, reasonStorageFull
	}
	for _, f := range parameterFailures {
		if !strings.Contains(log, f.text) {
			continue
		}
		names := f.params
		if m := paramQuoted.FindStringSubmatch(log); m != nil && paramName.MatchString(strings.ToLower(m[1])) {
			names = strings.ToLower(m[1])
		}
		if names == "" {
			return store.StatusIncompatibleParameters, reasonParameters + "."
		}
		return store.StatusIncompatibleParameters, reasonParameters + " (" + names + ")."
	}
	if free >= 0 && free < lowSpace {
		return store.StatusStorageFull, reasonStorageFull
	}
	return store.StatusFailed, reasonFailed
}

// portTaken reports whether err is a port someone else holds.
func portTaken(err error) bool {
	return errors.Is(err, engine.ErrPortTaken) || errors.Is(err, syscall.EADDRINUSE)
}

// maxLogRead bounds what logSince reads: a start writes a few lines.
const maxLogRead = 64 << 10

// logSize is the size of the server log before a start, so that logSince reads only what
// that start wrote (a tenant cannot plant words for classifyStart in an earlier run's log).
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince returns what was appended to the log at path from offset off (its last
// maxLogRead bytes).
func logSince(path string, off int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() < off {
		return "" // rotated or truncated: nothing known
	}
	off = max(off, fi.Size()-maxLogRead)
	b, _ := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	return string(b)
}

// volumeFree is the space the volume at dir has left for an unprivileged account, or -1.
func volumeFree(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
