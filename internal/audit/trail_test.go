package audit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T, dir string, now func() time.Time) *Trail {
	t.Helper()
	tr, err := Open(context.Background(), dir, Options{Retention: 2 * 24 * time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func recordN(t *testing.T, tr *Trail, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := tr.Record(context.Background(), Event{EventName: n, EventSource: "rds.amazonaws.com", EventType: TypeAPICall,
			UserIdentity: UserIdentity{Type: "IAMUser", UserName: "alice", AccessKeyID: "AKIAEXAMPLE"}}); err != nil {
			t.Fatal(err)
		}
	}
}

func segmentFile(t *testing.T, dir string) string {
	t.Helper()
	segs, err := segments(dir)
	if err != nil || len(segs) == 0 {
		t.Fatal(segs, err)
	}
	return filepath.Join(dir, segs[len(segs)-1].name)
}

func verifyProblem(t *testing.T, dir string) string {
	t.Helper()
	rep, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	return rep.Problem
}

func editLines(t *testing.T, path string, edit func([][]byte) [][]byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	lines = edit(lines)
	if err := os.WriteFile(path, append(bytes.Join(lines, []byte("\n")), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyPassesOnAnIntactTrailAndNamesTheFirstTamperedEvent(t *testing.T) {
	cases := map[string]struct {
		edit func([][]byte) [][]byte
		want string
	}{
		"one byte changed": {func(l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte("CreateDBCluster"), []byte("CreateDBClustes"), 1)
			return l
		}, "event 3 "},
		"one byte of the last event changed": {func(l [][]byte) [][]byte {
			l[4] = bytes.Replace(l[4], []byte("alice"), []byte("alicf"), 1)
			return l
		}, "event 5 "},
		"an event deleted":  {func(l [][]byte) [][]byte { return append(l[:1], l[2:]...) }, "event 2 was removed"},
		"two swapped":       {func(l [][]byte) [][]byte { l[1], l[2] = l[2], l[1]; return l }, "reordered"},
		"the first deleted": {func(l [][]byte) [][]byte { return l[1:] }, "event 1 was removed"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			tr := openTest(t, dir, time.Now)
			recordN(t, tr, "A", "B", "CreateDBCluster", "D", "E")
			if p := verifyProblem(t, dir); p != "" {
				t.Fatalf("intact trail: %s", p)
			}
			editLines(t, segmentFile(t, dir), c.edit)
			if p := verifyProblem(t, dir); !strings.Contains(p, c.want) {
				t.Fatalf("problem %q, want %q", p, c.want)
			}
		})
	}
}

func TestAnchorDetectsATruncatedOrRewrittenTrail(t *testing.T) {
	dir := t.TempDir()
	tr := openTest(t, dir, time.Now)
	recordN(t, tr, "A", "B", "C")
	seq, hash := tr.Head()
	tr.Close()
	editLines(t, segmentFile(t, dir), func(l [][]byte) [][]byte { return l[:2] })
	if p := verifyProblem(t, dir); p != "" {
		t.Fatalf("without an anchor a cut tail is invisible, but got %q", p)
	}
	rep, err := Verify(dir, Anchor{seq, hash})
	if err != nil || !strings.Contains(rep.Problem, "removed") {
		t.Fatalf("%+v %v", rep, err)
	}
}

func TestACrashCutRecordIsDroppedAndTheChainGoesOn(t *testing.T) {
	dir := t.TempDir()
	tr := openTest(t, dir, time.Now)
	recordN(t, tr, "A", "B")
	tr.Close()
	f, _ := os.OpenFile(segmentFile(t, dir), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":3,"prev":"ab`)
	f.Close()
	tr = openTest(t, dir, time.Now)
	recordN(t, tr, "C")
	rep, err := Verify(dir)
	if err != nil || rep.Problem != "" || rep.HeadSeq != 3 {
		t.Fatalf("%+v %v", rep, err)
	}
}

func TestExpiryKeepsTheTrailVerifiable(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tr := openTest(t, dir, clock)
	recordN(t, tr, "day1a", "day1b")
	now = now.AddDate(0, 0, 1)
	recordN(t, tr, "day2")
	now = now.AddDate(0, 0, 3) // day 1 and 2 are now older than 2 days
	recordN(t, tr, "day5")
	rep, err := Verify(dir)
	if err != nil || rep.Problem != "" {
		t.Fatalf("%+v %v", rep, err)
	}
	got, _, err := tr.Lookup(Query{Max: 50})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Event.EventName)
	}
	if strings.Join(names, " ") != CutEventName+" day5" {
		t.Fatalf("after expiry: %v", names)
	}
	// removing what is left of the old end is still detected
	segs, _ := segments(dir)
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	editLines(t, segmentFile(t, dir), func(l [][]byte) [][]byte { return l[1:] })
	if p := verifyProblem(t, dir); !strings.Contains(p, "removed") {
		t.Fatalf("problem %q", p)
	}
}

func TestRedactHidesSecretsAndKeepsPolicies(t *testing.T) {
	got := Redact(map[string][]string{
		"Action": {"CreateDBCluster"}, "MasterUserPassword": {"hunter2hunter2"}, "Password": {"p"},
		"AuthenticationCode1": {"123456"}, "PolicyDocument": {`{"Statement":[]}`}, "DBClusterIdentifier": {"db1"},
		"X-Amz-Signature": {"abcdef"}, "X-Amz-Credential": {"AKIA/x"}, "TokenCode": {"654321"}, "OldPassword": {"o"}, "NewPassword": {"n"},
	})
	if got["masterUserPassword"] != Hidden || got["password"] != Hidden || got["authenticationCode1"] != Hidden ||
		got["policyDocument"] != `{"Statement":[]}` || got["dBClusterIdentifier"] != "db1" || got["action"] != nil ||
		got["x-Amz-Signature"] != nil || got["x-Amz-Credential"] != nil || got["tokenCode"] != Hidden || got["oldPassword"] != Hidden || got["newPassword"] != Hidden {
		t.Fatalf("%v", got)
	}
}

// A value with a newline or a forged record in it stays inside its own line.
func TestAnInjectedLineStaysInsideItsEvent(t *testing.T) {
	dir := t.TempDir()
	tr := openTest(t, dir, time.Now)
	forged := "x\n{\"seq\":2,\"prev\":\"" + genesis + "\",\"hash\":\"00\",\"event\":{}}\n"
	if err := tr.Record(context.Background(), Event{EventName: "A", UserAgent: forged}); err != nil {
		t.Fatal(err)
	}
	recordN(t, tr, "B")
	rep, err := Verify(dir)
	if err != nil || rep.Problem != "" || rep.Events != 2 {
		t.Fatalf("%+v %v", rep, err)
	}
	got, _, _ := tr.Lookup(Query{Max: 5, Attribute: AttrEventName, Value: "A"})
	if len(got) != 1 || got[0].Event.UserAgent != forged {
		t.Fatalf("%+v", got)
	}
}

// Concurrent Records (sharing fsyncs, across a segment switch) form one intact chain.
func TestConcurrentRecordsFormOneChain(t *testing.T) {
	dir := t.TempDir()
	tr, err := Open(context.Background(), dir, Options{SegmentBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				if err := tr.Record(context.Background(), Event{EventName: fmt.Sprintf("G%dE%d", g, i)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	rep, err := Verify(dir)
	if err != nil || rep.Problem != "" || rep.Events != 200 {
		t.Fatalf("%+v %v", rep, err)
	}
	if segs, _ := segments(dir); len(segs) < 2 {
		t.Fatalf("no segment switch happened: %v", segs)
	}
}
