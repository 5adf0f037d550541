package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// A clock stepped back across midnight starts a segment of an earlier day after a later
// one: a lookup from the later day still finds that day's events.
func TestLookupFindsEventsAfterTheClockWentBack(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Date(2026, 3, 2, 0, 0, 5, 0, time.UTC)}
	tr := openTest(t, dir, c.now)
	recordN(t, tr, "AfterMidnight")
	c.t = time.Date(2026, 3, 1, 23, 59, 58, 0, time.UTC)
	recordN(t, tr, "BeforeMidnight")
	got, _, err := tr.Lookup(Query{Max: 10, Start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(got) != 1 || got[0].Event.EventName != "AfterMidnight" {
		t.Fatalf("%v %v", got, err)
	}
}

// kill -9 right after a new segment was created (before its first record): the empty
// file does not make the next start continue the chain from the wrong place.
func TestAnEmptySegmentLeftByACrashDoesNotForkTheChain(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	tr := openTest(t, dir, c.now)
	recordN(t, tr, "A", "B")
	tr.Close()
	// the crash: day 3's segment created, nothing in it
	if err := os.WriteFile(filepath.Join(dir, segmentName(3, "20260303")), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, day := range []int{2, 2} { // started again (clock back to day 2), then once more
		c.t = time.Date(2026, 3, day, 12, 0, 0, 0, time.UTC)
		tr = openTest(t, dir, c.now)
		recordN(t, tr, "C")
		tr.Close()
	}
	if rep, err := Verify(dir); err != nil || rep.Problem != "" || rep.Events != 4 {
		t.Fatalf("%+v %v", rep, err)
	}
}

// A lookup for something rare examines at most Scan records a page, and pages on from
// where it stopped, so that one call does not read the whole trail.
func TestLookupPageBoundsTheRecordsExamined(t *testing.T) {
	dir := t.TempDir()
	tr := openTest(t, dir, time.Now)
	recordN(t, tr, "A", "B", "C", "D", "E", "F")
	q := Query{Max: 10, Attribute: AttrEventName, Value: "A", Scan: 2}
	var pages []string
	for {
		p, err := tr.LookupPage(q)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, fmt.Sprintf("%d/%d", len(p.Events), p.Next))
		if p.Next == 0 {
			break
		}
		q.Before = p.Next
	}
	if got := fmt.Sprint(pages); got != "[0/5 0/3 1/0]" {
		t.Fatalf("pages %s", got)
	}
}
