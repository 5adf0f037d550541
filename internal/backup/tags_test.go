package backup

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

// An automated backup keeps the tags it was taken with, in the repository with the set
// (passed in pgBackRest's environment: a process's command line is any host user's to read):
// the most a cluster can have (50 tags, keys of 128 and values of 256 characters, some
// needing four bytes, '=' and ',' among them) goes through pgBackRest's command line and
// comes back exactly; a set taken without tags has none.
func TestBackupKeepsItsTags(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst := newInstallation(t)
	cl := inst.cluster(t, "tags")
	inst.create(t, ctx, cl)
	inst.archived(t, ctx, cl)
	plain, err := inst.m.Backup(ctx, cl.c)
	if err != nil {
		t.Fatal(err)
	}
	var tags []Tag
	for i := 0; i < 50; i++ {
		k := string(rune('a'+i%26)) + strings.Repeat("𝔨", 126) + string(rune('a'+i/26))
		tags = append(tags, Tag{Key: k, Value: "v=1,team:" + strings.Repeat("𝔳", 247)})
	}
	tagged := cl.c
	tagged.Tags = tags
	set, err := inst.m.Backup(ctx, tagged)
	if err != nil {
		t.Fatal(err)
	}
	info, err := inst.m.Info(ctx, cl.c)
	if err != nil {
		t.Fatal(err)
	}
	// Both carry their kind too: annotations are set together (pgBackRest's environment
	// option, off the command line any host user may read).
	a, err := lookupAccount(cl.c.OSUser)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := inst.m.readInfo(ctx, confPath(cl.c), cl.c.ResourceID, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range raw.Backup {
		if b.Annotation[kindAnnotation] != string(KindAutomated) {
			t.Errorf("set %s annotations %v: no kind", b.Label, b.Annotation)
		}
	}
	for _, s := range info.Sets {
		switch s.Label {
		case plain.Label:
			if len(s.Tags) != 0 {
				t.Errorf("untagged set has tags %v", s.Tags)
			}
		case set.Label:
			if !reflect.DeepEqual(s.Tags, tags) {
				t.Errorf("tagged set came back with %d tags, want the 50 it was taken with", len(s.Tags))
			}
		}
	}
}
