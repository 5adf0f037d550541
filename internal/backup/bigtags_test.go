package backup

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The tag text RDS accepts includes white space (\p{Z}): U+2028 and U+2029 among it, which
// encoding/json writes as six-byte escapes. A cluster's 50 tags made of them must still
// fit in pgBackRest's environment (the kernel refuses an environment string over 128 KiB):
// else whoever may tag the cluster stops its automated backups.
func TestBackupKeepsTagsOfLineSeparators(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst := newInstallation(t)
	cl := inst.cluster(t, "seps")
	inst.create(t, ctx, cl)
	inst.archived(t, ctx, cl)
	var tags []Tag
	for i := 0; i < 50; i++ {
		tags = append(tags, Tag{Key: strings.Repeat("\u2028", 126) + string(rune('a'+i%26)) + string(rune('a'+i/26)),
			Value: strings.Repeat("\u2029", 256)})
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
	for _, s := range info.Sets {
		if s.Label == set.Label && !reflect.DeepEqual(s.Tags, tags) {
			t.Errorf("set came back with %d tags, want the 50 it was taken with", len(s.Tags))
		}
	}
}

// Tags come back as they went, backslashes and separators alike.
func TestTagsAnnotationRoundTrips(t *testing.T) {
	m := &Manager{key: make([]byte, 32)}
	tags := []Tag{{Key: `\u2028` + "\u2028", Value: `\\u2029` + "\u2029\"<&"}, {Key: "k", Value: ""}}
	env := m.annotationEnv(KindAutomated, "cluster-x", tags)
	_, v, _ := strings.Cut(env, ":"+tagsAnnotation+"=")
	if got := m.setTags("cluster-x", map[string]string{tagsAnnotation: v}); !reflect.DeepEqual(got, tags) {
		t.Fatalf("tags %q came back as %q", tags, got)
	}
	if got := m.setTags("cluster-y", map[string]string{tagsAnnotation: v}); got != nil {
		t.Fatalf("another cluster's set read the tags %q", got)
	}
}
