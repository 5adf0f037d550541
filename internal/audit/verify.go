package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type record struct {
	line
	n   int    // line number in its segment, from 1
	raw []byte // the line as read
}

// readSegment reads a segment's whole records; a final line without its newline (being
// written, or cut short by a crash) is left out. A line that is not a record has Seq 0.
func readSegment(dir string, s segment) ([]record, error) {
	data, err := os.ReadFile(filepath.Join(dir, s.name))
	if err != nil {
		return nil, err
	}
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	var recs []record
	for i, raw := range bytes.Split(data, []byte{'\n'}) {
		if i == bytes.Count(data, []byte{'\n'}) {
			break
		}
		var l line
		if json.Unmarshal(raw, &l) != nil {
			l = line{}
		}
		recs = append(recs, record{line: l, n: i + 1, raw: raw})
	}
	return recs, nil
}

// canonical reports whether r's line is exactly what the writer writes for its record: Go's
// decoder accepts repeated and differently cased members (taking the last), which
// another reader of the file may read differently.
func canonical(r record) bool {
	b, err := json.Marshal(r.line)
	return err == nil && bytes.Equal(b, r.raw)
}

// Report is the outcome of Verify.
type Report struct {
	Events   int    // records checked
	First    uint64 // the oldest event's sequence number (after expiry cuts)
	HeadSeq  uint64
	HeadHash string
	// Problem describes the first event that was changed, removed or reordered; "" when
	// the trail is intact.
	Problem string
	// ProblemSeq is the sequence number the problem was found at.
	ProblemSeq uint64
	// Cut is the last expiry recorded in the chain (nil if none).
	Cut *Cut
	// Unchecked are the anchors older than the oldest event: expired since they were
	// noted, according to Cut, which nothing outside the trail confirms (an attacker who can
	// write the trail can record a cut too). If one was noted less than Cut.Retention
	// before Cut.Time, the trail was rewritten.
	Unchecked []Anchor
}

// Cut is an expiry recorded in the chain: at event At (time Time, under Retention), the
// events up to Seq (whose hash was Hash) were removed.
type Cut struct {
	Anchor
	At        uint64
	Time      time.Time
	Retention string
}

// Anchor is a (sequence number, hash) pair kept outside the trail.
type Anchor struct {
	Seq  uint64
	Hash string
}

// ParseAnchor reads "SEQ:HASH", as `borealis audit verify` prints the head.
func ParseAnchor(s string) (Anchor, error) {
	seq, hash, ok := strings.Cut(s, ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || len(hash) != 64 {
		return Anchor{}, fmt.Errorf("an anchor is SEQ:HASH (as verify prints the head), not %q", s)
	}
	return Anchor{Seq: n, Hash: strings.ToLower(hash)}, nil
}

// Verify checks the trail in dir: every record's hash, that each carries its
// predecessor's hash and the next sequence number, and that the oldest remaining event
// follows the last expiry cut recorded in the chain. With anchors (heads noted earlier,
// out of the trail), it also checks that each is still in the trail, which detects a
// truncated or rewritten trail. It returns an error only when the trail cannot be read.
func Verify(dir string, anchors ...Anchor) (Report, error) {
	segs, err := segments(dir)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	fail := func(seq uint64, format string, args ...any) (Report, error) {
		rep.Problem, rep.ProblemSeq = fmt.Sprintf(format, args...), seq
		return rep, nil
	}
	var (
		prevSeq    uint64
		prevHash   string
		firstPrev  string
		cut        *Cut
		hashAt     = map[uint64]string{}
		wantHashes = map[uint64]string{}
	)
	for _, a := range anchors {
		wantHashes[a.Seq] = a.Hash
	}
	for _, s := range segs {
		recs, err := readSegment(dir, s)
		if err != nil {
			return rep, err
		}
		for i, r := range recs {
			where := fmt.Sprintf("%s line %d", s.name, r.n)
			if rep.Events == 0 {
				rep.First, prevSeq, prevHash, firstPrev = r.Seq, r.Seq-1, r.Prev, r.Prev
				if r.Seq == 0 {
					return fail(0, "the first event (%s) was changed: it is not a record", where)
				}
			}
			if i == 0 && r.Seq != 0 && s.first < r.Seq {
				return fail(s.first, "event %d was removed (segment %s begins with event %d)", s.first, s.name, r.Seq)
			}
			if i == 0 && r.Seq != 0 && s.first != r.Seq {
				return fail(r.Seq, "segment %s begins with event %d: segments were renamed or reordered", s.name, r.Seq)
			}
			want := prevSeq + 1
			switch {
			case r.Seq == 0 || r.Hash == "":
				return fail(want, "event %d (%s) was changed: it is not a record", want, where)
			case r.Seq < want:
				return fail(r.Seq, "event %d (%s) is out of order: it comes after event %d", r.Seq, where, prevSeq)
			case r.Seq > want:
				for _, later := range recs[i+1:] {
					if later.Seq == want {
						return fail(want, "events were reordered at %s: event %d is found after event %d", where, want, r.Seq)
					}
				}
				return fail(want, "event %d was removed (%s holds event %d after event %d)", want, where, r.Seq, prevSeq)
			case !canonical(r):
				return fail(r.Seq, "event %d (%s) was changed: the line is not as written (an extra, repeated or differently cased member, or spacing)", r.Seq, where)
			case chainHash(r.Seq, r.Prev, r.Event) != r.Hash:
				return fail(r.Seq, "event %d (%s) was changed: its hash does not match its content", r.Seq, where)
			case r.Prev != prevHash:
				return fail(r.Seq, "event %d (%s) does not follow event %d: the chain is broken (an event was changed, removed or inserted)", r.Seq, where, prevSeq)
			}
			var e struct {
				EventSource         string    `json:"eventSource"`
				EventName           string    `json:"eventName"`
				EventType           string    `json:"eventType"`
				EventTime           time.Time `json:"eventTime"`
				AdditionalEventData struct {
					CutSequence uint64 `json:"cutSequence"`
					CutHash     string `json:"cutHash"`
					Retention   string `json:"retention"`
				} `json:"additionalEventData"`
			}
			if err := json.Unmarshal(r.Event, &e); err != nil {
				return fail(r.Seq, "event %d (%s) was changed: its record is not JSON", r.Seq, where)
			}
			if e.EventName == CutEventName && e.EventType == TypeServiceEvent && e.EventSource == "cloudtrail.amazonaws.com" {
				cut = &Cut{Anchor: Anchor{Seq: e.AdditionalEventData.CutSequence, Hash: e.AdditionalEventData.CutHash},
					At: r.Seq, Time: e.EventTime, Retention: e.AdditionalEventData.Retention}
			}
			if len(wantHashes) > 0 {
				hashAt[r.Seq] = r.Hash
			}
			prevSeq, prevHash = r.Seq, r.Hash
			rep.Events++
		}
	}
	rep.HeadSeq, rep.HeadHash, rep.Cut = prevSeq, prevHash, cut
	if rep.Events == 0 {
		rep.HeadHash = genesis
	}
	// the oldest event: the first ever, or right after the last recorded cut
	switch {
	case rep.Events == 0:
	case cut == nil && (rep.First != 1 || firstPrev != genesis):
		return fail(rep.First, "events before event %d were removed (no expiry recorded them)", rep.First)
	case cut != nil && rep.First > cut.Seq+1:
		return fail(cut.Seq+1, "events %d to %d were removed (the last expiry cut at event %d)", cut.Seq+1, rep.First-1, cut.Seq)
	case cut != nil && rep.First == cut.Seq+1 && firstPrev != cut.Hash:
		return fail(rep.First, "event %d does not follow the expiry cut recorded at event %d", rep.First, cut.Seq)
	}
	for _, a := range anchors {
		switch {
		case a.Seq > rep.HeadSeq:
			return fail(rep.HeadSeq+1, "the trail ends at event %d, but event %d was noted: events from %d on were removed", rep.HeadSeq, a.Seq, rep.HeadSeq+1)
		case a.Seq == 0: // the empty trail's head: nothing to find
		case cut != nil && a.Seq == cut.Seq && a.Hash != cut.Hash:
			return fail(a.Seq, "event %d is not the one noted (hash %s): the expiry recorded at event %d names another: the trail was rewritten", a.Seq, a.Hash, cut.At)
		case a.Seq < rep.First:
			// expired since it was noted, says the chain: reported, as nothing confirms it
			rep.Unchecked = append(rep.Unchecked, a)
		case hashAt[a.Seq] != a.Hash:
			return fail(a.Seq, "event %d is not the one noted (hash %s): the trail was rewritten", a.Seq, a.Hash)
		}
	}
	return rep, nil
}
