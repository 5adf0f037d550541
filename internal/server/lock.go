package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockFileName is the file in the data directory that one running serve holds locked.
const lockFileName = "serve.lock"

// lockDataDir takes an exclusive lock on dataDir for this process, so a second serve cannot
// start on it and fight the first. The lock is a flock on a file holding the holder's pid:
// the kernel drops it when the process dies, kill -9 included, so a restart is never
// blocked by a stale file. The descriptor is close-on-exec, so PostgreSQL servers started
// by serve do not keep it. Close the returned file to release the lock.
func lockDataDir(dataDir string) (*os.File, error) {
	path := filepath.Join(dataDir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				return nil, fmt.Errorf("data directory %s is in use by another borealis serve (pid %d)", dataDir, pid)
			}
			return nil, fmt.Errorf("data directory %s is in use by another borealis serve", dataDir)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The pid only names the holder in the error above: on a full volume, where it may
	// not be written, the lock holds all the same.
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if _, err := f.WriteAt(pid, 0); err == nil {
		err = f.Truncate(int64(len(pid)))
	} else if !errors.Is(err, unix.ENOSPC) && !errors.Is(err, unix.EDQUOT) {
		f.Close()
		return nil, fmt.Errorf("lock file %s: %w", path, err)
	}
	return f, nil
}
