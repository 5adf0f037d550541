package backup

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRepositoryReadCost is what one look at a cluster's backups costs, on a real
// writer with one backup in its repository: "info" is `pgbackrest info` (what serve ran
// every 30 s per cluster), "archiver" the pg_stat_archiver query serve runs at each pass
// (a connection to the writer and one query), "directories" what serve reads instead now
// (the repository's archive directory and the writer's archive_status). cpu-ms/op is the pgBackRest process's own
// CPU (the child's rusage); the query's server side is the writer's, so compare ns/op.
func BenchmarkRepositoryReadCost(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst := newInstallation(b)
	cl := inst.cluster(b, "cost")
	inst.create(b, ctx, cl)
	inst.archived(b, ctx, cl)
	if _, err := inst.m.Backup(ctx, cl.c); err != nil {
		b.Fatal(err)
	}
	childCPU := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.Run("info", func(b *testing.B) {
		before := childCPU()
		for i := 0; i < b.N; i++ {
			if _, err := inst.m.Info(ctx, cl.c); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(childCPU()-before)/float64(b.N)/1e6, "cpu-ms/op")
	})
	b.Run("directories", func(b *testing.B) {
		status := filepath.Join(cl.spec.DataDir, "pg_wal", "archive_status")
		for i := 0; i < b.N; i++ {
			if _, ok := inst.m.LastArchived(cl.c); !ok {
				b.Fatal("no archived WAL")
			}
			if _, err := os.ReadDir(status); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("archiver", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c, err := inst.driver.Connect(ctx, cl.spec, "postgres")
			if err != nil {
				b.Fatal(err)
			}
			var t *time.Time
			if err := c.QueryRow(ctx, "SELECT last_archived_time FROM pg_catalog.pg_stat_archiver").Scan(&t); err != nil {
				b.Fatal(err)
			}
			c.Close(ctx)
		}
	})
}
