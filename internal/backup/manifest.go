package backup

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// A set's manifest names the files a restore writes. Its names come from the
// PostgreSQL-side remote, which runs as the source's account (that may ptrace it), and
// pgBackRest 2.45 takes a forged name with ".." as it is: a restore of the set, as the new
// cluster's account, then writes outside its data directory. So with S3 (where backups
// read the data directory through that remote) root reads the manifest from the bucket
// before the new account restores, and refuses a name that leaves the data directory or a
// second target (a tablespace, a link) it never makes: no tenant is a superuser, so no
// cluster has a tablespace. With a local repository, which the account writes itself, the
// new account reads the staged manifest and Borealis checks it the same way (restore.go).

// manifestConfPattern names checkSetManifest's configurations in ROOT/s3/work (no
// stanza's name: ids have no '.').
const manifestConfPattern = "manifest-*.conf"

// checkSetManifest refuses set label of stanza in r (a repository in the bucket, with its
// cipher pass) unless every file, path and link of it is below the data directory.
func (m *Manager) checkSetManifest(ctx context.Context, r repo, stanza, label string) error {
	if err := errorsFirst(checkID("stanza", stanza), cleanRepoPath(label)); err != nil {
		return err
	}
	work := filepath.Join(m.s3Dir(), "work")
	f, err := os.CreateTemp(work, manifestConfPattern)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	conf := f.Name()
	f.Close()
	defer os.Remove(conf)
	if err := writeFileAs(conf, []byte(renderConf(work, []repo{r})), 0, 0, 0o600); err != nil {
		return err
	}
	out, err := m.run(ctx, invocation{as: self(), conf: conf, stanza: stanza, command: "repo-get",
		operands: []string{"backup/" + stanza + "/" + label + "/backup.manifest"}})
	if err != nil {
		return err
	}
	if err := manifestNamesBelowData(out); err != nil {
		return fmt.Errorf("backup: set %s of %s: %w", label, stanza, err)
	}
	return nil
}

// manifestNamesBelowData checks a pgBackRest manifest (ini): its one target is pg_data,
// and every name in [target:file], [target:path] and [target:link] is pg_data or below it
// without "." or ".." (a link below it is what the data directory held: pgBackRest
// restores a link as a link, never writing through it as the account).
func manifestNamesBelowData(b []byte) error {
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
			section = l[1 : len(l)-1]
			continue
		}
		name, _, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		switch section {
		case "backup:target":
			if name != "pg_data" {
				return fmt.Errorf("manifest target %q: only the data directory is restored", name)
			}
		case "target:file", "target:path", "target:link":
			if name != "pg_data" && (!strings.HasPrefix(name, "pg_data/") || path.Clean(name) != name ||
				strings.Contains("/"+name+"/", "/../") || strings.Contains("/"+name+"/", "/./")) {
				return fmt.Errorf("manifest name %q leaves the data directory", name)
			}
		}
	}
	return sc.Err()
}
