package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// An attacker who can write the trail removes the events up to a noted anchor and appends
// a cut event that claims they expired: verify cannot refute the chain, but it says that
// the anchor was not checked and which cut explains it away, rather than "ok" alone.
func TestAnAnchorExplainedAwayByACutIsReportedUnchecked(t *testing.T) {
	dir := t.TempDir()
	tr := openTest(t, dir, time.Now)
	recordN(t, tr, "A", "B", "C")
	seq, hash := tr.Head()
	recordN(t, tr, "D")
	tr.Close()

	path := segmentFile(t, dir)
	recs, err := readSegment(dir, segment{name: filepath.Base(path)})
	if err != nil || len(recs) != 4 {
		t.Fatal(recs, err)
	}
	d := recs[3].line
	cut, _ := json.Marshal(Event{EventName: CutEventName, EventType: TypeServiceEvent, EventSource: "cloudtrail.amazonaws.com",
		EventTime: time.Now().UTC(), AdditionalEventData: map[string]any{"cutSequence": seq, "cutHash": hash, "retention": "1s"}})
	forged, _ := json.Marshal(line{Seq: 5, Prev: d.Hash, Hash: chainHash(5, d.Hash, cut), Event: cut})
	dl, _ := json.Marshal(d)
	os.Remove(path)
	if err := os.WriteFile(filepath.Join(dir, segmentName(4, "20260101")), fmt.Appendf(nil, "%s\n%s\n", dl, forged), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(dir, Anchor{seq, hash})
	if err != nil || rep.Problem != "" || len(rep.Unchecked) != 1 || rep.Unchecked[0].Seq != seq || rep.Cut == nil || rep.Cut.At != 5 || rep.Cut.Retention != "1s" {
		t.Fatalf("%+v %v", rep, err)
	}
	// and an anchor at the cut itself is compared with the hash the cut names
	if rep, _ := Verify(dir, Anchor{seq, genesis}); rep.Problem == "" {
		t.Fatalf("%+v", rep)
	}
}

// A record line is exactly what the writer writes: a line with a second, differently
// cased member (which Go's decoder takes, and a case-sensitive reader of the file does
// not), or any other extra member or spacing, is reported as changed, so that the file
// cannot say one thing to verify and another to another reader.
func TestVerifyAcceptsOnlyTheWritersOwnLines(t *testing.T) {
	for name, edit := range map[string]func(l []byte) []byte{
		"cased duplicates": func(l []byte) []byte {
			var rec line
			json.Unmarshal(l, &rec)
			forged := []byte(`{"eventName":"Forged"}`)
			return append(l[:len(l)-1], fmt.Appendf(nil, `,"Event":%s,"Hash":%q}`, forged, chainHash(rec.Seq, rec.Prev, forged))...)
		},
		"extra member": func(l []byte) []byte { return append(l[:len(l)-1], []byte(`,"note":"x"}`)...) },
		"spacing":      func(l []byte) []byte { return append([]byte(" "), l...) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			tr := openTest(t, dir, time.Now)
			recordN(t, tr, "A", "B")
			tr.Close()
			editLines(t, segmentFile(t, dir), func(l [][]byte) [][]byte {
				l[1] = edit(append([]byte(nil), l[1]...))
				return l
			})
			if p := verifyProblem(t, dir); p == "" {
				t.Fatal("verify passed")
			}
		})
	}
}

// What the writer escapes (markup, line separators, invalid UTF-8) still reads back as its
// own line.
func TestVerifyAcceptsEscapedValues(t *testing.T) {
	dir := t.TempDir()
	tr := openTest(t, dir, time.Now)
	if err := tr.Record(t.Context(), Event{EventName: "A", UserAgent: "<a href='x'>&\u2028\u2029\xff\x00\"\\"}); err != nil {
		t.Fatal(err)
	}
	if p := verifyProblem(t, dir); p != "" {
		t.Fatal(p)
	}
}
