package backup

import (
	"io/fs"
	"syscall"
)

func statUID(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

const syscallNoFollow = syscall.O_NOFOLLOW
