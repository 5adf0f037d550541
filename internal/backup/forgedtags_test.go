package backup

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"
)

// A cluster's account writes its own repository: with pgBackRest's annotate command it can
// give its automated backups any tags. Those tags decide IAM (rds:cluster-snapshot-tag on
// the automated snapshot), so a set whose tags Borealis did not write itself has none.
func TestTenantCannotForgeBackupTags(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst := newInstallation(t)
	cl := inst.cluster(t, "forged")
	inst.create(t, ctx, cl)
	inst.archived(t, ctx, cl)
	tagged := cl.c
	tagged.Tags = []Tag{{Key: "team", Value: "blue"}}
	set, err := inst.m.Backup(ctx, tagged)
	if err != nil {
		t.Fatal(err)
	}
	// The tenant, as its own account, re-annotates the set the way Borealis encodes tags.
	b, _ := json.Marshal([]Tag{{Key: "team", Value: "admins"}})
	forged := base64.RawURLEncoding.EncodeToString(b)
	a, err := lookupAccount(cl.c.OSUser)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inst.m.run(ctx, invocation{as: a, conf: confPath(cl.c), stanza: cl.c.ResourceID, command: "annotate",
		args: []string{"--set=" + set.Label, "--annotation=" + tagsAnnotation + "=" + forged}}); err != nil {
		t.Fatal(err)
	}
	info, err := inst.m.Info(ctx, cl.c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range info.Sets {
		if s.Label == set.Label && len(s.Tags) != 0 {
			t.Errorf("set %s has the tags its cluster's account wrote: %v", s.Label, s.Tags)
		}
	}
}
