package audit

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// preallocate reserves the file's blocks from off for n bytes without changing its size
// (FALLOC_FL_KEEP_SIZE): appends into them need no new space, so the trail keeps recording
// for a while on a volume that fills up. Best effort: an error only means no reserve.
func preallocate(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, off, n)
}

// datasync flushes the file's data and the metadata needed to read it back (its size),
// not its times: fdatasync(2), all an appended record needs to survive.
func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// noSpace reports an error that says the volume (or the quota) is full.
func noSpace(err error) bool { return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) }

// allocatedEnd is how far f's blocks are allocated, past its end too (an earlier serve's
// reservation outlives it): what is already reserved, even on a volume now full.
func allocatedEnd(f *os.File) int64 {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0
	}
	return st.Blocks * 512
}
