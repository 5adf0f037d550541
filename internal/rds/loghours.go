package rds

import (
	"bytes"
	"io"
	"time"
)

// PostgreSQL writes each instance's log to one file (its stderr, which serve's own checks
// read); RDS lists PostgreSQL's log by the hour, as error/postgresql.log.YYYY-MM-DD-HH.
// The API shows the one file as those hourly files: each is the part of the file whose
// lines carry a time stamp in that hour (log_line_prefix starts with %m, in UTC), with the
// lines that continue them. The hours are found by bisection, so a long log costs a few
// small reads per hour listed, not a read of the whole file.

const (
	logNamePrefix = "error/postgresql.log."
	logHourFormat = "2006-01-02-15"
	stampLayout   = "2006-01-02 15:04:05" // the start of %m, "2026-12-05 06:27:09.867 UTC"
	scanWindow    = 4 << 10
	// maxLogHours bounds the files one log is listed as: any session can write lines that
	// look stamped (a statement's text is logged), so the stamps may be forged, and each
	// hour costs a bisection. The last file then holds the rest.
	maxLogHours = 500
)

// logHour is one hourly file: bytes [start, end) of the log.
type logHour struct {
	hour       time.Time
	start, end int64
}

func (h logHour) name() string { return logNamePrefix + h.hour.Format(logHourFormat) }

// stampHour is the hour of a line that starts with a time stamp.
func stampHour(line []byte) (time.Time, bool) {
	if len(line) < len(stampLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(stampLayout, string(line[:len(stampLayout)]))
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC().Truncate(time.Hour), true
}

// stampAfter finds the first line starting at or after off that carries a time stamp: its
// hour and where it starts; ok is false when none does.
func stampAfter(r io.ReaderAt, size, off int64) (hour time.Time, at int64, ok bool) {
	// Mid-line: from the byte before off, skip to the next line's start (off itself when
	// that byte ends a line).
	midLine := off > 0
	if midLine {
		off--
	}
	buf := make([]byte, scanWindow)
	for off < size {
		n, _ := r.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if n == 0 {
			return time.Time{}, 0, false
		}
		chunk, pos := buf[:n], 0
		more := off+int64(n) < size
		if midLine {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				off += int64(n)
				continue
			}
			pos, midLine = i+1, false
		}
		for pos < len(chunk) {
			rest := chunk[pos:]
			end := bytes.IndexByte(rest, '\n')
			if end < 0 && more && pos > 0 {
				break // the line goes on past the window: read it from its start
			}
			line := rest
			if end >= 0 {
				line = rest[:end]
			}
			if h, ok := stampHour(line); ok {
				return h, off + int64(pos), true
			}
			if end < 0 {
				// The line runs to the window's end: the file's last, or one longer than
				// a window, whose next line starts after its end.
				pos, midLine = len(chunk), more
				break
			}
			pos += end + 1
		}
		off += int64(pos)
	}
	return time.Time{}, 0, false
}

// firstFrom is where the first stamped line of hour h or later starts (size when none).
func firstFrom(r io.ReaderAt, size int64, h time.Time) int64 {
	lo, hi := int64(0), size
	for lo < hi {
		mid := lo + (hi-lo)/2
		if t, _, ok := stampAfter(r, size, mid); !ok || !t.Before(h) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if _, at, ok := stampAfter(r, size, lo); ok {
		return at
	}
	return size
}

// logHours splits a log of size bytes, last written at mod, into its hours, oldest first:
// whatever the stamps say (forged ones out of order too), the hours cover the whole log, in
// order, each byte once. A log without a stamped line is one hour: mod's.
func logHours(r io.ReaderAt, size int64, mod time.Time) []logHour {
	h, _, ok := stampAfter(r, size, 0)
	if !ok {
		if size == 0 {
			return nil
		}
		return []logHour{{hour: mod.UTC().Truncate(time.Hour), start: 0, end: size}}
	}
	var out []logHour
	start := int64(0)
	for {
		next := firstFrom(r, size, h.Add(time.Hour))
		if next <= start || next >= size || len(out) == maxLogHours-1 {
			out = append(out, logHour{hour: h, start: start, end: size})
			return out
		}
		out = append(out, logHour{hour: h, start: start, end: next})
		nh, _, ok := stampAfter(r, size, next)
		if !ok || !nh.After(h) {
			out[len(out)-1].end = size
			return out
		}
		start, h = next, nh
	}
}
