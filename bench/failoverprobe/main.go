// Command failoverprobe measures one failover from a client's side, for bench/readers.sh:
// it runs a shell command that takes the writer away (or promotes a standby), then tries a
// new connection and a committed write every 10 ms, and prints the milliseconds from the
// command's start to the first write that committed, and how many attempts failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	conninfo := flag.String("conninfo", "", "connection string of the endpoint the writes go to")
	addr := flag.String("addr", "", "the address the host name stands for (endpoint names are not in DNS here); empty: resolve it")
	trigger := flag.String("trigger", "", "shell command that starts the failover")
	write := flag.String("write", "INSERT INTO failover_probe VALUES (now())", "the write")
	flag.Parse()
	if *conninfo == "" || *trigger == "" {
		flag.Usage()
		os.Exit(2)
	}
	cfg, err := pgx.ParseConfig(*conninfo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "failoverprobe:", err)
		os.Exit(2)
	}
	if *addr != "" {
		cfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{*addr}, nil }
	}
	start := time.Now()
	if out, err := exec.Command("sh", "-c", *trigger).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "failoverprobe: trigger: %v: %s\n", err, out)
		os.Exit(1)
	}
	failed, last := 0, error(nil)
	for deadline := start.Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err := attempt(cfg, *write); err != nil {
			failed, last = failed+1, err
			continue
		}
		fmt.Printf("first_write_ms %.1f failed_attempts %d\n", float64(time.Since(start).Microseconds())/1000, failed)
		return
	}
	fmt.Fprintln(os.Stderr, "failoverprobe: no write committed within a minute; the last error:", last)
	os.Exit(1)
}

// attempt connects, writes and closes: what a new client does.
func attempt(cfg *pgx.ConnConfig, write string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, write)
	return err
}
