package engine

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// portsHelperEnv makes the test binary reserve ports as a serve would: "DIR OWNER N FIRST"
// reserves N ports, each the first it can have from FIRST up, and prints them.
const portsHelperEnv = "BOREALIS_ENGINE_TEST_PORTS"

func portsHelperMain(args string) {
	f := strings.Fields(args)
	n, _ := strconv.Atoi(f[2])
	first, _ := strconv.Atoi(f[3])
	r, err := OpenPorts(f[0], f[1], []string{"127.0.0.1"})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	for i := 0; i < n; i++ {
		for p := first; ; p++ {
			if p > first+1000 {
				fmt.Println("ERR no port")
				os.Exit(2)
			}
			if err := r.Reserve(p, fmt.Sprintf("cluster-%d", i)); err == nil {
				fmt.Println(p)
				break
			}
		}
	}
}

// firstFreeRange finds n consecutive loopback ports nobody listens on, so that the test
// does not race with other programs for them.
func firstFreeRange(t *testing.T, n int) int {
	t.Helper()
	for base := 20000; base < 60000; base += n {
		ok := true
		for p := base; p < base+n && ok; p++ {
			ok = checkPortFree("127.0.0.1", p) == nil
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

func ownerDir(t *testing.T) string {
	d := t.TempDir()
	return d
}

// TestTwoServesNeverShareAPort: two processes, each a serve with a data directory of its
// own, reserve ports at once from the same first port up; no port goes to both.
func TestTwoServesNeverShareAPort(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ports")
	const n = 15
	first := firstFreeRange(t, 4*n)
	var cmds []*exec.Cmd
	var outs []*bufio.Scanner
	for i := 0; i < 2; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d %d", portsHelperEnv, dir, ownerDir(t), n, first))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		cmds = append(cmds, cmd)
		outs = append(outs, bufio.NewScanner(out))
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int{}
	for i, sc := range outs {
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "ERR") {
				t.Fatalf("serve %d: %s", i, line)
			}
			if j, dup := got[line]; dup {
				t.Errorf("port %s went to serve %d and serve %d", line, j, i)
			}
			got[line] = i
		}
		if err := cmds[i].Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2*n {
		t.Errorf("%d ports reserved, want %d", len(got), 2*n)
	}
}

// TestTakenPortIsRefused: a port another program listens on, or another serve's cluster
// holds, cannot be reserved or held; the error says so and is ErrPortTaken.
func TestTakenPortIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ports")
	ownA, ownB := ownerDir(t), ownerDir(t)
	a, err := OpenPorts(dir, ownA, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenPorts(dir, ownB, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	busy := ln.Addr().(*net.TCPAddr).Port
	err = a.Reserve(busy, "c1")
	if !errors.Is(err, ErrPortTaken) || !strings.Contains(err.Error(), "another program") {
		t.Errorf("Reserve of a listening port: %v", err)
	}
	ln.Close()

	p := firstFreeRange(t, 1)
	if err := a.Reserve(p, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Reserve(p, "c1"); err != nil {
		t.Errorf("Reserve again by its cluster: %v", err)
	}
	for what, err := range map[string]error{
		"another serve's Reserve": b.Reserve(p, "c1"),
		"another serve's Hold":    b.Hold(p, "c9"),
		"another cluster's Hold":  a.Hold(p, "c2"),
	} {
		var pt *PortTakenError
		if !errors.As(err, &pt) || pt.Port != p {
			t.Errorf("%s of a claimed port: %v", what, err)
		}
	}
	if held, err := a.Held(); err != nil || len(held) != 1 || held[p] != "c1" {
		t.Errorf("Held = %v, %v", held, err)
	}
	if held, err := b.Held(); err != nil || len(held) != 0 {
		t.Errorf("other serve's Held = %v, %v", held, err)
	}
	// Held while the port is bound (by the cluster's own endpoint, say).
	ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Hold(p, "c1"); err != nil {
		t.Errorf("Hold of its own bound port: %v", err)
	}
	ln.Close()

	// Only the holder releases.
	if err := b.Release(p, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Hold(p, "c1"); !errors.Is(err, ErrPortTaken) {
		t.Errorf("claim released by another serve: %v", err)
	}
	if err := a.Release(p, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Reserve(p, "c1"); err != nil {
		t.Errorf("Reserve of a released port: %v", err)
	}

	// A serve whose data directory is gone holds nothing.
	if err := os.RemoveAll(ownB); err != nil {
		t.Fatal(err)
	}
	if err := a.Hold(p, "c3"); err != nil {
		t.Errorf("Hold of a stale claim: %v", err)
	}
}

// TestStartOnATakenPortSaysSo: a server whose port another program holds fails to start
// with a *PortTakenError.
func TestStartOnATakenPortSaysSo(t *testing.T) {
	f := sharedFixture(t)
	f.stopped(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := f.spec
	s.Port = ln.Addr().(*net.TCPAddr).Port
	err = f.l.Start(ctxT(t), s)
	var pt *PortTakenError
	if !errors.As(err, &pt) || pt.Port != s.Port {
		t.Fatalf("Start on a taken port: %v", err)
	}
	if st := f.l.Status(s.Name); st.State == StateRunning {
		t.Errorf("status %+v", st)
	}
	f.running(t)
}

// TestDestroyReleasesTheClustersPorts: a deleted cluster's port claims go with its volume,
// so the port can be had again at once.
func TestDestroyReleasesTheClustersPorts(t *testing.T) {
	root := testRoot(t)
	owner := ownerDir(t)
	ports, err := OpenPorts(filepath.Join(root, "ports"), owner, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLocal(testLogger(), Options{Owner: owner, Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctxT(t))
	p := firstFreeRange(t, 2)
	if err := ports.Reserve(p, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := ports.Reserve(p+1, "stays"); err != nil {
		t.Fatal(err)
	}
	s := Spec{Name: "gone", DataDir: filepath.Join(root, "gone", "data"), SocketDir: filepath.Join(root, "gone", "sock"), LogFile: filepath.Join(root, "gone", "log")}
	if err := l.Destroy(ctxT(t), s); err != nil {
		t.Fatal(err)
	}
	if held, err := ports.Held(); err != nil || len(held) != 1 || held[p+1] != "stays" {
		t.Errorf("Held after Destroy = %v, %v", held, err)
	}
}
