package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/rdsevent"
)

// StoredEvent is an RDS event with its place in the store's order (the DescribeEvents marker).
type StoredEvent struct {
	Seq int64
	rdsevent.Event
}

// AddEvent appends e and drops the events older than rdsevent.Retention before e's date.
func (s *Store) AddEvent(ctx context.Context, e rdsevent.Event) error {
	doc, err := marshal(e)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rds_events (at, source_type, source_id, doc) VALUES (?, ?, ?, ?)`,
			e.Date.UnixNano(), e.SourceType, e.SourceID, doc); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM rds_events WHERE at < ?`, e.Date.Add(-rdsevent.Retention).UnixNano())
		return err
	})
}

// EventQuery selects events: of a source type and identifier when set, dated in
// [Start, End], after the marker After, at most Limit (0: all).
type EventQuery struct {
	SourceType, SourceID string
	Start, End           time.Time
	After                int64
	Limit                int
}

// Events returns the events q selects, oldest first, and those older than the retention
// never (they may linger until the next AddEvent).
func (s *Store) Events(ctx context.Context, q EventQuery) ([]StoredEvent, error) {
	where := []string{"seq > ?", "at >= ?", "at <= ?"}
	args := []any{q.After, q.Start.UnixNano(), q.End.UnixNano()}
	if q.SourceType != "" {
		where, args = append(where, "source_type = ?"), append(args, q.SourceType)
	}
	if q.SourceID != "" {
		where, args = append(where, "source_id = ?"), append(args, q.SourceID)
	}
	query := `SELECT seq, doc FROM rds_events WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq`
	if q.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, q.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StoredEvent
	for rows.Next() {
		var e StoredEvent
		var doc string
		if err := rows.Scan(&e.Seq, &doc); err != nil {
			return nil, err
		}
		if e.Event, err = decode[rdsevent.Event](doc); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
