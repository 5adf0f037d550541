package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Options configure a Trail.
type Options struct {
	// Retention is how long events are kept, counted in whole UTC days of their segment;
	// 0 keeps them forever.
	Retention time.Duration
	// SegmentBytes starts a new segment file once the current one is this large (it also
	// starts one at each UTC day). 0 means DefaultSegmentBytes.
	SegmentBytes int64
	// Region and AccountID are put in the trail's own events (expiry cuts).
	Region, AccountID string
	Now               func() time.Time // nil means time.Now
	Log               *slog.Logger
}

// DefaultRetention is CloudTrail's event history: 90 days.
const DefaultRetention = 90 * 24 * time.Hour

// DefaultSegmentBytes bounds one segment file, and so what Lookup reads at once.
const DefaultSegmentBytes = 64 << 20

// reserveBytes is the space kept allocated ahead of the current segment's end (about 4,000
// events), so that the trail still records, and serve still answers, for a while on a
// full volume; it is renewed when less than half is left.
const reserveBytes = 4 << 20

// Dir is the trail's directory inside serve's data directory.
func Dir(dataDir string) string { return filepath.Join(dataDir, "audit") }

// Trail is an open, append-only, hash-chained trail. Its methods are safe for concurrent use.
type Trail struct {
	dir  string
	opts Options

	// syncMu serialises fsyncs (and segment switches); lock order: syncMu, then mu.
	syncMu sync.Mutex
	synced uint64 // every event up to this seq is durable

	mu     sync.Mutex
	f      *os.File
	segDay string // UTC day of the current segment, 20060102
	size   int64  // bytes of the current segment that hold whole records
	room   int64  // the reservation is renewed when this is near (see reserve)
	// reserved is where the current segment's blocks are really reserved up to (room is
	// only a retry mark after a failed reservation)
	reserved int64
	// unreservable: the volume cannot reserve space at all (not a full one); Ready then
	// does not try at every call
	unreservable bool
	prealloc     func(f *os.File, off, n int64) error
	seq          uint64 // the last appended event's sequence number
	head         string // and its hash
	broken       error  // a failed write that could not be undone: no more appends
	expired      string // the day whose expiry was last done
}

// genesis is the previous hash of the first event.
var genesis = strings.Repeat("0", 64)

// line is one record of a segment file.
type line struct {
	Seq   uint64          `json:"seq"`
	Prev  string          `json:"prev"`
	Hash  string          `json:"hash"`
	Event json.RawMessage `json:"event"`
}

// chainHash is the hash an event carries: of its place, its predecessor's hash and its
// exact record bytes.
func chainHash(seq uint64, prev string, event []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "borealis-audit-v1\n%d\n%s\n", seq, prev)
	h.Write(event)
	return hex.EncodeToString(h.Sum(nil))
}

// segment file names: <first seq, 20 digits>-<UTC day>.jsonl
func segmentName(first uint64, day string) string {
	return fmt.Sprintf("%020d-%s.jsonl", first, day)
}

type segment struct {
	name  string
	first uint64
	day   string
}

// segments lists dir's segment files, oldest first.
func segments(dir string) ([]segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []segment
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".jsonl") || len(n) != len("00000000000000000001-20060102.jsonl") {
			continue
		}
		first, err := strconv.ParseUint(n[:20], 10, 64)
		if err != nil || n[20] != '-' {
			continue
		}
		segs = append(segs, segment{name: n, first: first, day: n[21:29]})
	}
	sort.Slice(segs, func(i, j int) bool {
		return segs[i].first < segs[j].first || segs[i].first == segs[j].first && segs[i].name < segs[j].name
	})
	return segs, nil
}

// Open opens (creating if needed) the trail in dir and runs the retention once. A final
// record cut short by a crash (no newline: it was never acknowledged) is removed; any
// other damage at the tail makes Open fail, so that nothing is appended after it
// unnoticed: `borealis audit verify` says where.
func Open(ctx context.Context, dir string, opts Options) (*Trail, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SegmentBytes == 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := private(dir); err != nil {
		return nil, err
	}
	t := &Trail{dir: dir, opts: opts, head: genesis, prealloc: preallocate}
	segs, err := segments(dir)
	if err != nil {
		return nil, err
	}
	for _, sg := range segs {
		if err := private(filepath.Join(dir, sg.name)); err != nil {
			return nil, err
		}
	}
	// a segment created just before a crash holds nothing: remove it, so that the next one
	// (of another day, with the same first sequence number) is the only one to continue
	for len(segs) > 1 {
		last := filepath.Join(dir, segs[len(segs)-1].name)
		if fi, err := os.Stat(last); err != nil || fi.Size() != 0 {
			break
		}
		if err := os.Remove(last); err != nil {
			return nil, err
		}
		if err := syncDir(dir); err != nil {
			return nil, err
		}
		segs = segs[:len(segs)-1]
	}
	if len(segs) > 0 {
		if err := t.openTail(segs[len(segs)-1]); err != nil {
			return nil, err
		}
	}
	t.synced = t.seq
	if err := t.expire(ctx); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// private makes the trail's directory or a segment readable by its owner only (it names
// every user's calls, for IAM to grant), and refuses a symbolic link in its place: the
// trail is not written, nor its permissions changed, where a link points.
func private(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("audit trail: %s is a symbolic link", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return os.Chmod(path, perm&0o700)
	}
	return nil
}

// openTail reopens the newest segment for appending, after checking its records.
func (t *Trail) openTail(s segment) error {
	path := filepath.Join(t.dir, s.name)
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return err
	}
	good := bytes.LastIndexByte(data, '\n') + 1
	if good < len(data) {
		t.opts.Log.Warn("audit: removing a record cut short by a crash", "segment", s.name, "bytes", len(data)-good)
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	seq, head := s.first-1, ""
	for i, raw := range bytes.Split(data[:good], []byte{'\n'}) {
		if len(raw) == 0 {
			continue
		}
		var l line
		if err := json.Unmarshal(raw, &l); err != nil || l.Seq != seq+1 || (head != "" && l.Prev != head) ||
			chainHash(l.Seq, l.Prev, l.Event) != l.Hash || !canonical(record{line: l, raw: raw}) {
			f.Close()
			return fmt.Errorf("audit trail %s is damaged at line %d: run `borealis audit verify`", path, i+1)
		}
		seq, head = l.Seq, l.Hash
	}
	if head == "" { // an empty segment: its predecessor's head
		prev, err := lastOf(t.dir, s)
		if err != nil {
			f.Close()
			return err
		}
		seq, head = prev.Seq, prev.Hash
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return err
	}
	t.f, t.segDay, t.size, t.seq, t.head = f, s.day, int64(good), seq, head
	t.reserve()
	return nil
}

// lastOf returns the last record before segment s (genesis if there is none).
func lastOf(dir string, s segment) (line, error) {
	segs, err := segments(dir)
	if err != nil {
		return line{}, err
	}
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i].first >= s.first {
			continue
		}
		recs, err := readSegment(dir, segs[i])
		if err != nil {
			return line{}, err
		}
		if len(recs) > 0 {
			return recs[len(recs)-1].line, nil
		}
	}
	return line{Seq: s.first - 1, Hash: genesis}, nil
}

// Record appends e and returns once it is durable (see the package comment).
func (t *Trail) Record(ctx context.Context, e Event) error {
	now := t.opts.Now().UTC()
	if e.EventTime.IsZero() {
		e.EventTime = now.Truncate(time.Second)
	}
	e.EventTime = e.EventTime.UTC()
	e.EventVersion = EventVersion
	if e.EventID == "" {
		e.EventID = uuid.NewString()
	}
	if e.EventCategory == "" {
		e.EventCategory = "Management"
	}
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	seq, f, err := t.append(now, body)
	if err != nil {
		return err
	}
	if err := t.syncTo(seq, f); err != nil {
		return err
	}
	if day := now.Format("20060102"); t.opts.Retention > 0 && t.expiredDay() != day {
		if err := t.expire(ctx); err != nil {
			t.opts.Log.Error("audit: expiry", "err", err)
		}
	}
	return nil
}

// append writes one record to the current segment (starting a new one at a new day or
// size) and returns its sequence number and file.
func (t *Trail) append(now time.Time, body []byte) (uint64, *os.File, error) {
	day := now.Format("20060102")
	t.mu.Lock()
	if t.broken == nil && (t.f == nil || t.segDay != day || t.size >= t.opts.SegmentBytes) {
		// switching files needs syncMu, taken before mu
		t.mu.Unlock()
		t.syncMu.Lock()
		t.mu.Lock()
		if t.broken == nil && (t.f == nil || t.segDay != day || t.size >= t.opts.SegmentBytes) {
			if err := t.startSegment(day); err != nil {
				if t.f == nil {
					t.broken = err
				} else { // keep appending to the current segment; try again at the next event
					t.opts.Log.Error("audit: cannot start a new segment", "err", err)
				}
			}
		}
		t.syncMu.Unlock()
	}
	defer t.mu.Unlock()
	if t.broken != nil {
		return 0, nil, fmt.Errorf("audit trail unavailable: %w", t.broken)
	}
	seq := t.seq + 1
	hash := chainHash(seq, t.head, body)
	rec, err := json.Marshal(line{Seq: seq, Prev: t.head, Hash: hash, Event: body})
	if err != nil {
		return 0, nil, err
	}
	rec = append(rec, '\n')
	if n, err := t.f.Write(rec); err != nil {
		if n > 0 {
			// undo the partial record, or stop appending after it
			if terr := t.f.Truncate(t.size); terr != nil {
				t.broken = terr
			} else if _, serr := t.f.Seek(t.size, io.SeekStart); serr != nil {
				t.broken = serr
			}
		}
		return 0, nil, err
	}
	t.size += int64(len(rec))
	t.seq, t.head = seq, hash
	if t.room-t.size < reserveBytes/2 {
		t.reserve()
	}
	return seq, t.f, nil
}

// startSegment syncs and closes the current segment and starts a new one. Holds syncMu and mu.
func (t *Trail) startSegment(day string) error {
	if t.f != nil {
		if err := t.f.Sync(); err != nil {
			return err
		}
		t.synced = t.seq
	}
	path := filepath.Join(t.dir, segmentName(t.seq+1, day))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	// on a full volume, keep writing into the current segment's reserved space rather than
	// start one that cannot be written
	if err := t.prealloc(f, 0, reserveBytes); err != nil && noSpace(err) && t.f != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := syncDir(t.dir); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if t.f != nil {
		t.f.Close()
	}
	t.f, t.segDay, t.size, t.room, t.reserved = f, day, 0, 0, 0
	t.reserve()
	return nil
}

// reserve keeps reserveBytes allocated past the current segment's end. Holds mu.
func (t *Trail) reserve() error {
	if err := t.prealloc(t.f, t.size, reserveBytes); err != nil {
		// What is allocated already still holds events: after a restart on a full
		// volume, the earlier serve's reservation (segments are written in order, so it
		// runs from the start of the file).
		t.reserved = max(t.reserved, allocatedEnd(t.f))
		if t.reserved-t.size >= reserveBytes/4 {
			t.opts.Log.Warn("audit: the trail's reservation cannot grow; recording into what is left of it", "left_bytes", t.reserved-t.size, "err", err)
		} else {
			t.opts.Log.Warn("audit: no space reserved ahead of the trail", "err", err)
		}
		t.room = t.size + reserveBytes/2 // try again after a while, not at every event
		return err
	}
	t.room, t.reserved, t.unreservable = t.size+reserveBytes, t.size+reserveBytes, false
	return nil
}

// Ready reports whether an event of up to need bytes can be recorded now: the trail is
// open and, on a volume where space can be reserved, that much is reserved ahead of the
// current segment (reserving more now if it is not). A caller that acts and then records
// the outcome asks first, so that on a full volume the call is refused rather than carried
// out without its event.
func (t *Trail) Ready(need int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken != nil {
		return fmt.Errorf("audit trail unavailable: %w", t.broken)
	}
	if t.f == nil || t.unreservable || t.reserved-t.size >= need {
		return nil
	}
	if err := t.reserve(); err != nil {
		if noSpace(err) && t.reserved-t.size >= need {
			return nil // recorded into the reservation that is left
		}
		if noSpace(err) {
			return fmt.Errorf("audit trail: no space to record an event: %w", err)
		}
		t.unreservable = true // best effort, as before
	}
	return nil
}

// syncTo makes every record up to seq durable; concurrent callers share one fsync.
func (t *Trail) syncTo(seq uint64, f *os.File) error {
	t.syncMu.Lock()
	defer t.syncMu.Unlock()
	if t.synced >= seq {
		return nil
	}
	t.mu.Lock()
	upto, cur := t.seq, t.f
	t.mu.Unlock()
	if cur != f { // a segment switch synced f (it holds syncMu, so it is over)
		if t.synced >= seq {
			return nil
		}
		return errors.New("audit: segment switched before its records were synced")
	}
	if err := datasync(cur); err != nil {
		return err
	}
	t.synced = upto
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Head returns the last event's sequence number and hash (0 and the genesis hash for an
// empty trail): an operator who keeps them elsewhere can later detect a truncated or
// rewritten trail (`borealis audit verify --expect SEQ:HASH`).
func (t *Trail) Head() (uint64, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seq, t.head
}

// Close closes the current segment; its records are already durable.
func (t *Trail) Close() error {
	t.syncMu.Lock()
	defer t.syncMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	if t.broken == nil {
		t.broken = errors.New("closed")
	}
	return err
}

func (t *Trail) expiredDay() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.expired
}

// CutEventName is the trail's own event recording an expiry cut: its additionalEventData
// holds the sequence number and hash of the last removed event, which Verify checks the
// oldest remaining event against.
const CutEventName = "TrailExpired"

// expire removes the segments whose day is entirely older than the retention: first it
// records the cut in the chain (durably), then removes the files, oldest first, so that a
// crash in between leaves at most extra old segments, which verify accepts.
func (t *Trail) expire(ctx context.Context) error {
	now := t.opts.Now().UTC()
	t.mu.Lock()
	day := now.Format("20060102")
	if t.expired == day {
		t.mu.Unlock()
		return nil // done today, or being done by a concurrent Record
	}
	t.expired = day
	t.mu.Unlock()
	if t.opts.Retention <= 0 {
		return nil
	}
	cutoff := now.Add(-t.opts.Retention)
	segs, err := segments(t.dir)
	if err != nil {
		return err
	}
	var drop []segment
	for i, s := range segs {
		if i == len(segs)-1 {
			break // the current segment stays: the cut event goes there
		}
		// a segment goes once its last event is older than the retention
		last, err := lastOf(t.dir, segs[i+1])
		if err != nil {
			return err
		}
		var e struct {
			EventTime time.Time `json:"eventTime"`
		}
		if json.Unmarshal(last.Event, &e) != nil || !e.EventTime.Before(cutoff) {
			break
		}
		drop = append(drop, s)
	}
	if len(drop) == 0 {
		return nil
	}
	last, err := lastOf(t.dir, segs[len(drop)])
	if err != nil {
		return err
	}
	if last.Seq > 0 {
		err = t.Record(ctx, Event{
			UserIdentity:       UserIdentity{Type: "AWSService", InvokedBy: "borealis"},
			EventSource:        "cloudtrail.amazonaws.com",
			EventName:          CutEventName,
			AWSRegion:          t.opts.Region,
			EventType:          TypeServiceEvent,
			ReadOnly:           false,
			ManagementEvent:    true,
			RecipientAccountID: t.opts.AccountID,
			AdditionalEventData: map[string]any{
				"cutSequence": last.Seq,
				"cutHash":     last.Hash,
				"retention":   t.opts.Retention.String(),
			},
		})
		if err != nil {
			return err
		}
	}
	for _, s := range drop {
		if err := os.Remove(filepath.Join(t.dir, s.name)); err != nil {
			return err
		}
	}
	return syncDir(t.dir)
}
