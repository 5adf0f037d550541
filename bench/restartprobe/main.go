// Command restartprobe measures one restart of `borealis serve` from a client's side, for
// bench/restart.sh: it opens sessions through a cluster endpoint, kills serve (SIGKILL),
// starts it again with a shell command, and reports how long new connections failed (from
// the kill to the first connection that logged in and ran a query) and how many of the
// sessions opened before the kill still answer.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	conninfo := flag.String("conninfo", "", "connection string of the endpoint (verify-full), its host the endpoint's name")
	addr := flag.String("addr", "127.0.0.1", "the address the endpoint's name stands for (endpoint names are not in DNS here)")
	sessions := flag.Int("sessions", 8, "sessions opened before the kill")
	pid := flag.Int("kill", 0, "serve's pid")
	restart := flag.String("restart", "", "shell command that starts serve again in the background")
	flag.Parse()
	if *conninfo == "" || *pid == 0 || *restart == "" {
		flag.Usage()
		os.Exit(2)
	}
	cfg, err := pgx.ParseConfig(*conninfo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "restartprobe:", err)
		os.Exit(2)
	}
	cfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{*addr}, nil }
	if err := run(cfg, *sessions, *pid, *restart); err != nil {
		fmt.Fprintln(os.Stderr, "restartprobe:", err)
		os.Exit(1)
	}
}

// attempt connects, runs a query and closes: what a new client does.
func attempt(ctx context.Context, cfg *pgx.ConnConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	var one int
	return c.QueryRow(ctx, "SELECT 1").Scan(&one)
}

func run(cfg *pgx.ConnConfig, n, pid int, restart string) error {
	ctx := context.Background()
	// What a connection costs when nothing is wrong: the floor of "time to first success".
	var connect []time.Duration
	for range 5 {
		t := time.Now()
		if err := attempt(ctx, cfg); err != nil {
			return fmt.Errorf("before the kill: %w", err)
		}
		connect = append(connect, time.Since(t))
	}
	slices.Sort(connect)
	var open []*pgx.Conn
	for range n {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return fmt.Errorf("session before the kill: %w", err)
		}
		defer c.Close(context.Background())
		open = append(open, c)
	}

	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill serve: %w", err)
	}
	// The killed serve's sockets are gone once it is: wait for that, as a supervisor would.
	for syscall.Kill(pid, 0) == nil && !zombie(pid) && time.Since(killed) < 5*time.Second {
		time.Sleep(time.Millisecond)
	}
	if err := exec.Command("sh", "-c", restart).Run(); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	failed := 0
	var lastErr error
	for {
		if time.Since(killed) > time.Minute {
			return fmt.Errorf("no connection within a minute of the kill (%d failed; last: %v)", failed, lastErr)
		}
		if lastErr = attempt(ctx, cfg); lastErr == nil {
			break
		}
		failed++
		time.Sleep(5 * time.Millisecond)
	}
	outage := time.Since(killed)
	alive := 0
	for _, c := range open {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var one int
		if c.QueryRow(qctx, "SELECT 1").Scan(&one) == nil {
			alive++
		}
		cancel()
	}
	fmt.Printf("first_success_ms %.1f failed_attempts %d sessions_alive %d sessions %d connect_ms %.1f\n",
		float64(outage.Microseconds())/1000, failed, alive, n, float64(connect[len(connect)/2].Microseconds())/1000)
	return nil
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
		}
	}
	return false
}
