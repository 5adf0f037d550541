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
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock file %s: %w", path, err)
	}
	return f, nil
}
