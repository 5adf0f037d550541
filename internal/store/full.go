package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// IsFull reports whether err is the store failing for lack of space: SQLite's SQLITE_FULL
// (the volume holding the state file, or a quota, is full), or ENOSPC from the file
// system. SQLite rolled the transaction back: nothing of it was stored.
func IsFull(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// persistentWAL opens connections that keep the -wal and -shm files when they close
// (SQLITE_FCNTL_PERSIST_WAL), so that the next open finds them made and need not grow
// a file on a volume that may be full by then.
func persistentWAL(dsn string) driver.Connector {
	d := &sqlite.Driver{}
	d.RegisterConnectionHook(func(c sqlite.ExecQuerierContext, _ string) error {
		fc, ok := c.(sqlite.FileControl)
		if !ok {
			return fmt.Errorf("store: the SQLite driver offers no file control")
		}
		_, err := fc.FileControlPersistWAL("main", 1)
		return err
	})
	return connector{d, dsn}
}

type connector struct {
	d   *sqlite.Driver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.d }
