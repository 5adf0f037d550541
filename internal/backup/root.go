package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// With an S3 repository no cluster's account may hold the bucket's keys (they reach every
// cluster's repository), so pgBackRest runs as root against the bucket, with a root-only
// configuration per cluster:
//
//   - archive_command hands each WAL segment to serve over a unix socket (relay.go); serve
//     knows the caller by its uid (SO_PEERCRED) and pushes the segment to that cluster's
//     stanza alone.
//   - backup and stanza-create run as root and read the data directory through
//     pgBackRest's own PostgreSQL-side remote, started as the cluster's account by a
//     cmd-ssh wrapper that never leaves the host (root never reads a tenant's files, so a
//     link in a data directory reaches nothing of root's).
//   - info, expire and verify run as root.
//   - a restore stages the set and WAL it needs (or a snapshot's repository, whole) from
//     the bucket into the new cluster's staging directory (raw, still encrypted:
//     restore.go), and pgBackRest restores as that account from there, as with a local
//     repository.
//   - a snapshot is taken like a backup, into a second repository (repo2) of root's
//     configuration for the cluster, so the relay's archive-push reaches it too; snapshots
//     are copied and removed with root's configuration for the bucket (s3repo.go).
//   - Forget removes the stanza from the bucket, then root's files for it.
//
// Local repositories keep running as each cluster's account (per-account directories).

// Under Root, root's alone (0700).
const (
	s3DirName      = "s3"           // <resource id>.conf, <resource id>.owner, work/, push/
	ownerSuffix    = ".owner"       // "account uid": who may push WAL to the stanza
	relaySockName  = "relay.sock"   // in Root (0711 root: nobody else can place a socket there)
	sshName        = "pg-remote"    // pgBackRest's cmd-ssh: its PostgreSQL-side remote as the account
	bucketConfName = "_bucket.conf" // the bucket's as a whole ('_' is in no id: no stanza's)
)

// asRoot tells whether pgBackRest commands against the repositories run as root with
// rootConfPath (an S3 bucket) rather than as each cluster's account with confPath. Snapshot
// code asks it too: see repoConf.
func (m *Manager) asRoot() bool { return m.o.S3 != nil }

func (m *Manager) s3Dir() string                  { return filepath.Join(m.o.Root, s3DirName) }
func (m *Manager) rootConfPath(rid string) string { return filepath.Join(m.s3Dir(), rid+".conf") }
func (m *Manager) bucketConfPath() string         { return filepath.Join(m.s3Dir(), bucketConfName) }
func (m *Manager) ownerPath(rid string) string    { return filepath.Join(m.s3Dir(), rid+ownerSuffix) }
func (m *Manager) rootWorkPath(rid string) string { return filepath.Join(m.s3Dir(), "work", rid) }
func (m *Manager) pushPath(rid string) string     { return filepath.Join(m.s3Dir(), "push", rid) }
func (m *Manager) sshPath() string                { return filepath.Join(m.s3Dir(), sshName) }

// RelaySocket is where archive_command reaches serve (S3 repositories only).
func (m *Manager) RelaySocket() string { return filepath.Join(m.o.Root, relaySockName) }

// self is the account Borealis runs as (root in production).
func self() account { return account{uid: os.Geteuid(), gid: os.Getegid()} }

// repoConf is the configuration and account pgBackRest commands on c's repository run
// with, and the options that make a command needing the data directory (backup,
// stanza-create) read it as a, the cluster's account.
func (m *Manager) repoConf(c Cluster, a account) (conf string, as account, pgRemote []string) {
	if !m.asRoot() {
		return confPath(c), a, nil
	}
	if a.setuid {
		pgRemote = []string{"--pg1-host=localhost", "--pg1-host-user=" + a.name, "--pg1-host-config=" + confPath(c),
			"--pg1-host-cmd=" + m.bin, "--cmd-ssh=" + m.sshPath()}
	}
	return m.rootConfPath(c.ResourceID), self(), pgRemote
}

// setupRoot makes root's directories and the cmd-ssh wrapper (New, S3 only).
func (m *Manager) setupRoot() error {
	for _, d := range []string{m.s3Dir(), filepath.Join(m.s3Dir(), "work"), filepath.Join(m.s3Dir(), "push")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	// What a kill -9 in checkSetManifest left (manifest.go): root's, but no use to keep.
	left, _ := filepath.Glob(filepath.Join(m.s3Dir(), "work", manifestConfPattern+"*"))
	for _, p := range left {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	if len(m.RelaySocket()) > maxSocketPath {
		return fmt.Errorf("backup: the relay socket %s is longer than a socket address may be: choose a shorter --backup-repo or data directory", m.RelaySocket())
	}
	if os.Geteuid() == 0 {
		if len(m.o.RelayCommand) == 0 {
			return errors.New("backup: an S3 repository needs Options.RelayCommand (archive_command's way to serve)")
		}
	}
	if err := m.writeBucketConf(); err != nil {
		return err
	}
	return writeFileAs(m.sshPath(), []byte(sshWrapper), 0, 0, 0o700)
}

// sshWrapper is pgBackRest's cmd-ssh: called as `ssh -o ... ACCOUNT@HOST 'pgbackrest ...
// remote'`, it runs that remote here as ACCOUNT (never root), with nothing of root's but
// PATH and PGPASSWORD (the remote connects to the account's own server). The command line
// is pgBackRest's, built from root's own options.
const sshWrapper = `#!/bin/bash
# Written by Borealis (internal/backup): pgBackRest's PostgreSQL-side remote, as the cluster's account.
set -eu
# Root's descriptors stay root's (pgBackRest leaves its lock files open to its children;
# the account may take any descriptor of its own processes): all but 0-2 and this script.
for fd in /proc/$$/fd/*; do
	fd=${fd##*/}
	if [ "$fd" -gt 2 ] && [ "$(readlink "/proc/$$/fd/$fd")" != "$(readlink -f "$0")" ]; then
		eval "exec $fd>&-"
	fi
done
dest= cmd=
for a; do dest=$cmd; cmd=$a; done
user=${dest%@*}
case $user in
''|root|*[!A-Za-z0-9_-]*) echo "borealis pg-remote: refused account" >&2; exit 1 ;;
esac
uid=$(id -u -- "$user") gid=$(id -g -- "$user")
[ "$uid" -ne 0 ] || { echo "borealis pg-remote: refused account" >&2; exit 1; }
exec /usr/bin/setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all \
	/usr/bin/env -i PATH="$PATH" LANG=C.UTF-8 ${PGPASSWORD+PGPASSWORD="$PGPASSWORD"} /bin/sh -c "cd / && exec $cmd"
`

// writeRootConf writes c's root-only configuration (repositories own then extra) and the
// record of which account may push WAL to its stanza, and the account's keyless one.
func (m *Manager) writeRootConf(c Cluster, a account, extra []repo) error {
	if err := m.writeStanzaConf(c.ResourceID, extra); err != nil {
		return err
	}
	owner := a.name + " " + strconv.Itoa(a.uid) + "\n"
	if err := writeFileAs(m.ownerPath(c.ResourceID), []byte(owner), 0, 0, 0o600); err != nil {
		return err
	}
	// The account's own configuration has no repository (nor key): only where its
	// PostgreSQL-side remote keeps locks. It replaces one an older Borealis wrote with keys.
	if err := ownedDir(workPath(c), a, 0o700); err != nil {
		return err
	}
	return writeFileAs(confPath(c), []byte(renderConf(workPath(c), nil)), 0, a.gid, 0o640)
}

// writeStanzaConf writes root's configuration for stanza rid: its own repository, then
// extra (a snapshot's, while it is taken).
func (m *Manager) writeStanzaConf(rid string, extra []repo) error {
	if err := ownedDir(m.rootWorkPath(rid), self(), 0o700); err != nil {
		return err
	}
	own, err := m.clusterRepo(rid)
	if err != nil {
		return err
	}
	body := renderConf(m.rootWorkPath(rid), append([]repo{own}, extra...))
	return writeFileAs(m.rootConfPath(rid), []byte(body), 0, 0, 0o600)
}

// writeBucketConf writes root's configuration for the bucket as a whole: its repository is
// the prefix, without a cipher pass, for the commands that move objects as they are
// (repo-ls, repo-get --raw, repo-put --raw, repo-rm: snapshots, s3repo.go).
func (m *Manager) writeBucketConf() error {
	r, err := m.clusterRepo("")
	if err != nil {
		return err
	}
	r.path, r.pass = m.s3Prefix(), ""
	return writeFileAs(m.bucketConfPath(), []byte(renderConf(filepath.Join(m.s3Dir(), "work"), []repo{r})), 0, 0, 0o600)
}

// forgetStanza removes stanza rid from the bucket and then root's files for it: the
// configuration last, rewritten first (with its own repository alone: stanza-delete must
// not reach a snapshot's repository an interrupted snapshot left in it), so that a retry
// after a failure or a kill -9 does it all again.
func (m *Manager) forgetStanza(ctx context.Context, rid string) error {
	// No push may begin any more, and one begun before ends first: it would put the
	// deleted cluster's WAL back in the bucket once its stanza is gone.
	if err := m.dropOwner(rid); err != nil {
		return err
	}
	if err := m.pushes.waitHolder(ctx, rid); err != nil {
		return err
	}
	if err := m.writeStanzaConf(rid, nil); err != nil {
		return err
	}
	inv := invocation{as: self(), conf: m.rootConfPath(rid), stanza: rid, command: "stop"}
	if _, err := m.run(ctx, inv); err != nil {
		return err
	}
	// --force: no server of it runs (pg1-path names none); a stanza already gone is a success.
	inv.command, inv.args = "stanza-delete", []string{"--force", "--pg1-path=" + filepath.Join(m.rootWorkPath(rid), "no-server")}
	if _, err := m.run(ctx, inv); err != nil {
		return err
	}
	// (.tmp: what a kill -9 in writeFileAs leaves.)
	for _, p := range []string{m.ownerPath(rid), m.ownerPath(rid) + ".tmp", m.pushPath(rid), m.rootWorkPath(rid),
		m.rootConfPath(rid) + ".tmp", m.rootConfPath(rid)} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return nil
}

// ownerOfStanza is the uid allowed to push WAL to stanza rid: the one recorded by Prepare,
// if its account still has it (Retire removes the record before the account goes).
func (m *Manager) ownerOfStanza(rid string) (int, error) {
	if err := checkID("cluster resource id", rid); err != nil {
		return 0, err
	}
	b, err := os.ReadFile(m.ownerPath(rid))
	if err != nil {
		return 0, err
	}
	name, uidText, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
	uid, err := strconv.Atoi(uidText)
	if !ok || err != nil {
		return 0, fmt.Errorf("backup: %s: malformed", m.ownerPath(rid))
	}
	if name == "" { // Borealis is not root: its own account
		if uid != os.Geteuid() {
			return 0, fmt.Errorf("backup: %s: malformed", m.ownerPath(rid))
		}
		return uid, nil
	}
	a, err := lookupAccount(name)
	if err != nil {
		return 0, err
	}
	if a.uid != uid || uid == 0 {
		return 0, fmt.Errorf("backup: account %s no longer has uid %d", name, uid)
	}
	return uid, nil
}

// dropOwner forgets who may push to rid's stanza (the cluster is being deleted).
func (m *Manager) dropOwner(rid string) error {
	if err := os.Remove(m.ownerPath(rid)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// CheckRelayProgram checks that every cluster's account can run program, the relay's
// client (archive_command runs it as the account): others may execute it and search every
// directory above it. serve checks it before it touches its data directory; ListenRelay
// again.
func CheckRelayProgram(program string) error {
	p, err := filepath.Abs(program)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for q := p; ; q = filepath.Dir(q) {
		fi, err := os.Stat(q)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("backup: archive_command runs %s as each cluster's account, but %s is mode %v: others need x", p, q, fi.Mode().Perm())
		}
		if q == "/" {
			return nil
		}
	}
}
