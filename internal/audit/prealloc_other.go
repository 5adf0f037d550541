//go:build !linux

package audit

import "os"

func preallocate(*os.File, int64, int64) error { return nil }

func datasync(f *os.File) error { return f.Sync() }

func noSpace(error) bool { return false }

func allocatedEnd(*os.File) int64 { return 0 }
