package server

import (
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/backup"
	"github.com/borealis-db/borealis/internal/store"
)

// Automated snapshots are named rds:CLUSTER-YYYY-MM-DD-HH-MM by when they began. The
// reconciler never begins two in one minute; a repository that still holds two (from
// before) lists them under distinct names, in the order they began, and never a manual
// snapshot's name shape. Each keeps the tags it was taken with.
func TestAutomatedSnapshotNamesAreUnique(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	c := store.Cluster{ID: "c1"}
	sets := []backup.Set{
		{Label: "20261205-061540F", Kind: backup.KindAutomated, Start: at("2026-12-05T06:15:40Z"), Stop: at("2026-12-05T06:15:50Z")},
		{Label: "20261205-061510F", Kind: backup.KindAutomated, Start: at("2026-12-05T06:15:10Z"), Stop: at("2026-12-05T06:15:20Z"),
			Tags: []backup.Tag{{Key: "team", Value: "a"}}},
		{Label: "20261205-061600F", Kind: backup.KindAutomated, Start: at("2026-12-05T06:16:00Z"), Stop: at("2026-12-05T06:16:30Z")},
		{Label: "20261205-061550F", Kind: backup.KindSnapshot, Start: at("2026-12-05T06:15:50Z"), Stop: at("2026-12-05T06:15:55Z")},
	}
	got := automatedSnapshots(c, sets)
	want := []struct{ id, label string }{
		{"rds:c1-2026-12-05-06-15", "20261205-061510F"},
		{"rds:c1-2026-12-05-06-15-2", "20261205-061540F"},
		{"rds:c1-2026-12-05-06-16", "20261205-061600F"},
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d automated snapshots, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].ID != w.id || got[i].ResourceID != w.label || got[i].Type != store.SnapshotAutomated {
			t.Errorf("#%d: %s (%s), want %s (%s)", i, got[i].ID, got[i].ResourceID, w.id, w.label)
		}
	}
	if len(got[0].Tags) != 1 || got[0].Tags[0] != (store.Tag{Key: "team", Value: "a"}) || len(got[1].Tags) != 0 {
		t.Errorf("tags: %v, %v", got[0].Tags, got[1].Tags)
	}
}
