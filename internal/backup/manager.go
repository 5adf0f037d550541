package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

const defaultArchiveTimeout = 60 * time.Second

// pgBackRest's exit code when another process holds the stanza's lock.
const lockAcquireError = 50

// New opens the installation's backups: the key (made on the first start) and the root.
func New(log *slog.Logger, o Options) (*Manager, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Root == "" || !filepath.IsAbs(o.Root) {
		return nil, fmt.Errorf("backup: repository root %q must be an absolute path", o.Root)
	}
	if o.KeyFile == "" {
		return nil, errors.New("backup: no installation key file")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.S3 != nil {
		if _, err := readS3Keys(o.S3); err != nil {
			return nil, err
		}
	}
	bin := o.Binary
	if bin == "" {
		bin = "pgbackrest"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("backup: pgBackRest (Debian's pgbackrest package) is needed: %w", err)
	}
	key, err := loadKey(o.KeyFile)
	if err != nil {
		return nil, err
	}
	m := &Manager{log: log, o: o, key: key, bin: path, ops: &opTable{}, locks: &keyedMutex{}, pushes: &tryLocks{}, relayConns: &uidCounts{}}
	// Root is traversed by every cluster's account (each to its own repository), listed
	// by root alone.
	for _, d := range []string{o.Root, filepath.Join(o.Root, snapshotsName)} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		if err := os.Chmod(d, 0o711); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	if m.asRoot() {
		if err := m.setupRoot(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Manager) now() time.Time { return m.o.Now() }

func (c Cluster) check() error {
	if err := checkID("cluster resource id", c.ResourceID); err != nil {
		return err
	}
	if c.VolumeDir == "" || !filepath.IsAbs(c.VolumeDir) {
		return fmt.Errorf("backup: %s: volume directory %q must be absolute", c.ResourceID, c.VolumeDir)
	}
	return nil
}

// prepare: see Prepare.
func (m *Manager) prepare(ctx context.Context, c Cluster) error {
	if err := c.check(); err != nil {
		return err
	}
	defer m.locks.lock(c.ResourceID)()
	a, err := lookupAccount(c.OSUser)
	if err != nil {
		return err
	}
	if m.o.S3 == nil {
		if err := ownedDir(m.repoPath(c.ResourceID), a, 0o700); err != nil {
			return err
		}
	}
	if err := m.writeConf(c, a, nil); err != nil {
		return err
	}
	conf, as, pgRemote := m.repoConf(c, a)
	_, err = m.run(ctx, invocation{as: as, conf: conf, stanza: c.ResourceID, command: "stanza-create",
		args: append(pgRemote, "--no-online", "--pg1-path="+c.DataDir)})
	return err
}

// writeConf writes c's configuration (and its working directory), with extra
// repositories after its own (a snapshot being taken).
func (m *Manager) writeConf(c Cluster, a account, extra []repo) error {
	if m.asRoot() {
		return m.writeRootConf(c, a, extra)
	}
	if err := ownedDir(workPath(c), a, 0o700); err != nil {
		return err
	}
	own, err := m.clusterRepo(c.ResourceID)
	if err != nil {
		return err
	}
	body := renderConf(workPath(c), append([]repo{own}, extra...))
	return writeFileAs(confPath(c), []byte(body), 0, a.gid, 0o640)
}

// ownedDir makes dir (its parent must exist) owned by a with perm; an existing one owned
// by someone else is refused, never taken over.
func ownedDir(dir string, a account, perm fs.FileMode) error {
	if err := os.Mkdir(dir, perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("backup: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("backup: %s is not a directory", dir)
	}
	if uid := ownerOf(fi); uid != a.uid {
		if uid != os.Geteuid() || !a.setuid {
			return fmt.Errorf("backup: %s belongs to uid %d, not %d", dir, uid, a.uid)
		}
		if err := os.Lchown(dir, a.uid, a.gid); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return os.Chmod(dir, perm)
}

// writeFileAs replaces path atomically with data, owned by uid:gid with perm.
func writeFileAs(path string, data []byte, uid, gid int, perm fs.FileMode) error {
	tmp := path + ".tmp"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	_, err = f.Write(data)
	if err == nil && os.Geteuid() == 0 {
		err = f.Chown(uid, gid)
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// connArgs are the options naming c's running writer.
func connArgs(c Cluster) []string {
	return []string{"--pg1-path=" + c.DataDir, "--pg1-socket-path=" + c.SocketDir,
		"--pg1-port=" + strconv.Itoa(c.Port), "--pg1-user=rdsadmin", "--pg1-database=postgres"}
}

// backup: see Backup.
func (m *Manager) backup(ctx context.Context, c Cluster) (Set, error) {
	if err := c.check(); err != nil {
		return Set{}, err
	}
	defer m.locks.lock(c.ResourceID)()
	a, err := lookupAccount(c.OSUser)
	if err != nil {
		return Set{}, err
	}
	conf, as, pgRemote := m.repoConf(c, a)
	args := append(append(pgRemote, connArgs(c)...), "--type=full")
	_, err = m.run(ctx, invocation{as: as, conf: conf, stanza: c.ResourceID, command: "backup",
		args: args, password: c.AdminPassword, env: []string{m.annotationEnv(KindAutomated, c.ResourceID, c.Tags)}})
	if err != nil {
		var re *runError
		if errors.As(err, &re) && re.code() == lockAcquireError {
			return Set{}, ErrBusy
		}
		return Set{}, err
	}
	info, err := m.infoLocked(ctx, c, a)
	if err != nil {
		return Set{}, err
	}
	if len(info.Sets) == 0 {
		return Set{}, errors.New("backup: the backup ended but the repository lists no set")
	}
	set := info.Sets[len(info.Sets)-1]
	m.log.Info("backup taken", "cluster", c.ResourceID, "set", set.Label, "size", set.Size)
	return set, nil
}

// pgBackRest's info output, the parts Borealis reads.
type infoJSON struct {
	Name    string `json:"name"`
	Archive []struct {
		ID  string `json:"id"`
		Max string `json:"max"`
		Min string `json:"min"`
	} `json:"archive"`
	Backup []struct {
		Label      string            `json:"label"`
		Type       string            `json:"type"`
		Error      bool              `json:"error"`
		Annotation map[string]string `json:"annotation"`
		Archive    struct {
			Start string `json:"start"`
			Stop  string `json:"stop"`
		} `json:"archive"`
		Info struct {
			Size       int64 `json:"size"`
			Repository struct {
				Size int64 `json:"size"`
			} `json:"repository"`
		} `json:"info"`
		Timestamp struct {
			Start int64 `json:"start"`
			Stop  int64 `json:"stop"`
		} `json:"timestamp"`
	} `json:"backup"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Lock    struct {
			Backup struct {
				Held     bool   `json:"held"`
				Size     *int64 `json:"size"`
				SizeCplt *int64 `json:"size-cplt"`
				// pgBackRest 2.45 says progress in hundredths of a percent.
				PctCplt *float64 `json:"pct-cplt"`
			} `json:"backup"`
		} `json:"lock"`
	} `json:"status"`
}

func (m *Manager) readInfo(ctx context.Context, conf, stanza string, a account, extra ...string) (infoJSON, error) {
	out, err := m.run(ctx, invocation{as: a, conf: conf, stanza: stanza, command: "info",
		args: append([]string{"--output=json"}, extra...)})
	if err != nil {
		return infoJSON{}, err
	}
	var all []infoJSON
	if err := json.Unmarshal(out, &all); err != nil {
		return infoJSON{}, fmt.Errorf("backup: pgbackrest info: %w", err)
	}
	for _, s := range all {
		if s.Name == stanza {
			return s, nil
		}
	}
	return infoJSON{}, fmt.Errorf("backup: pgbackrest info lists no stanza %s", stanza)
}

// percent is a running backup's progress, 0-99, from whichever form pgBackRest gives it.
func (in infoJSON) percent() int {
	l := in.Status.Lock.Backup
	p := 0
	switch {
	case l.PctCplt != nil:
		p = int(*l.PctCplt / 100)
	case l.Size != nil && l.SizeCplt != nil && *l.Size > 0:
		p = int(*l.SizeCplt * 100 / *l.Size)
	}
	return max(0, min(p, 99))
}

// setLabel is a pgBackRest backup label (full, or a differential or incremental on one);
// walName a WAL segment's name.
var (
	setLabel = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}F(_[0-9]{8}-[0-9]{6}[DI])?$`)
	walName  = regexp.MustCompile(`^[0-9A-F]{24}$`)
)

// setsOf are the finished sets of a repository's info; tags, when not nil, reads a set's
// tags from its annotations.
func setsOf(in infoJSON, tags func(map[string]string) []Tag) []Set {
	var sets []Set
	for _, b := range in.Backup {
		// The catalogue is the cluster's account's to write: a label joins paths when a
		// restore stages the set, and its WAL range is sliced there.
		if b.Error || !setLabel.MatchString(b.Label) || !walName.MatchString(b.Archive.Start) || !walName.MatchString(b.Archive.Stop) {
			continue
		}
		k := KindAutomated
		if b.Annotation[kindAnnotation] == string(KindSnapshot) {
			k = KindSnapshot
		}
		sets = append(sets, Set{
			Label: b.Label, Kind: k,
			Start: time.Unix(b.Timestamp.Start, 0).UTC(), Stop: time.Unix(b.Timestamp.Stop, 0).UTC(),
			Size: b.Info.Size, RepoSize: b.Info.Repository.Size,
			ArchiveStart: b.Archive.Start, ArchiveStop: b.Archive.Stop,
		})
		if tags != nil {
			sets[len(sets)-1].Tags = tags(b.Annotation)
		}
	}
	sort.SliceStable(sets, func(i, j int) bool { return sets[i].Stop.Before(sets[j].Stop) })
	return sets
}

// info: see Info.
func (m *Manager) info(ctx context.Context, c Cluster) (Info, error) {
	if err := c.check(); err != nil {
		return Info{}, err
	}
	a, err := lookupAccount(c.OSUser)
	if err != nil {
		return Info{}, err
	}
	return m.infoLocked(ctx, c, a)
}

func (m *Manager) infoLocked(ctx context.Context, c Cluster, a account) (Info, error) {
	conf, as, _ := m.repoConf(c, a)
	in, err := m.readInfo(ctx, conf, c.ResourceID, as)
	if err != nil {
		return Info{}, err
	}
	// pgBackRest says a repository it cannot read in the status, and exits 0: 0 is ok,
	// 2 "no valid backups" (a new stanza); anything else is a broken repository.
	if code := in.Status.Code; code != 0 && code != 2 {
		return Info{}, fmt.Errorf("backup: repository of %s: %s (status %d)", c.ResourceID, in.Status.Message, code)
	}
	var info Info
	info.Sets = setsOf(in, func(a map[string]string) []Tag { return m.setTags(c.ResourceID, a) })
	if l := in.Status.Lock.Backup; l.Held {
		info.Running, info.Percent = true, in.percent()
	}
	if n := len(info.Sets); n > 0 {
		info.EarliestRestorable = info.Sets[0].Stop
		info.LastBackup = info.Sets[n-1].Stop
	}
	if len(in.Archive) > 0 {
		last := in.Archive[len(in.Archive)-1]
		if t, ok := m.archivedAt(c.ResourceID, last.ID, last.Max); ok {
			info.LastArchived = t
		}
	}
	// Restorable up to the newest archived WAL, from the oldest backup's end on.
	if !info.EarliestRestorable.IsZero() {
		info.LatestRestorable = info.LastBackup
		if info.LastArchived.After(info.LatestRestorable) {
			info.LatestRestorable = info.LastArchived
		}
	}
	return info, nil
}

// archivedAt is when segment reached the repository (its file's time): every record
// written before then that belongs to it or an earlier segment is archived. With S3, the
// archive relay's record of its last push.
func (m *Manager) archivedAt(resourceID, archiveID, segment string) (time.Time, bool) {
	if len(segment) != 24 {
		return time.Time{}, false
	}
	if m.asRoot() {
		return m.pushedAt(resourceID, segment)
	}
	dir := filepath.Join(m.repoPath(resourceID), "archive", resourceID, archiveID, segment[:16])
	matches, _ := filepath.Glob(filepath.Join(dir, segment+"*"))
	var t time.Time
	for _, p := range matches {
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && fi.ModTime().After(t) {
			t = fi.ModTime()
		}
	}
	return t.UTC(), !t.IsZero()
}

// expire: see Expire.
func (m *Manager) expire(ctx context.Context, c Cluster, days int) ([]string, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if days < 1 {
		return nil, fmt.Errorf("backup: retention of %d days", days)
	}
	defer m.locks.lock(c.ResourceID)()
	a, err := lookupAccount(c.OSUser)
	if err != nil {
		return nil, err
	}
	conf, as, _ := m.repoConf(c, a)
	in, err := m.readInfo(ctx, conf, c.ResourceID, as)
	if err != nil {
		return nil, err
	}
	cutoff := m.now().Add(-time.Duration(days) * 24 * time.Hour)
	var old []Set
	for _, s := range setsOf(in, nil) {
		if s.Kind == KindAutomated && s.Stop.Before(cutoff) {
			old = append(old, s)
		}
	}
	var gone []string
	// The newest set older than the window stays: restores to the window's first
	// minutes start from it.
	for i := 0; i+1 < len(old); i++ {
		s := old[i]
		if _, err := m.run(ctx, invocation{as: as, conf: conf, stanza: c.ResourceID, command: "expire",
			args: []string{"--set=" + s.Label}}); err != nil {
			return gone, err
		}
		gone = append(gone, s.Label)
		m.log.Info("backup expired", "cluster", c.ResourceID, "set", s.Label, "retention_days", days)
	}
	// Then the WAL before the oldest set kept: pgBackRest keeps the WAL of as many full
	// backups as retention-archive says, and every set left is one Borealis keeps.
	if kept := len(setsOf(in, nil)) - len(gone); kept > 0 {
		if _, err := m.run(ctx, invocation{as: as, conf: conf, stanza: c.ResourceID, command: "expire",
			args: []string{"--repo1-retention-archive=" + strconv.Itoa(kept)}}); err != nil {
			return gone, err
		}
	}
	return gone, nil
}

// due: see Due.
func (m *Manager) due(last time.Time, window string) bool {
	now := m.now().UTC()
	if last.IsZero() {
		return true
	}
	age := now.Sub(last)
	if age >= 48*time.Hour { // a window was missed (serve was down): do not wait for the next
		return true
	}
	return age >= 23*time.Hour && inWindow(now, window)
}

// inWindow reports whether now (UTC) lies in "hh:mm-hh:mm", which may wrap midnight.
func inWindow(now time.Time, window string) bool {
	if window == "" {
		return true
	}
	from, to, ok := strings.Cut(window, "-")
	if !ok {
		return false
	}
	f, err1 := minuteOfDay(from)
	t, err2 := minuteOfDay(to)
	if err1 != nil || err2 != nil {
		return false
	}
	n := now.Hour()*60 + now.Minute()
	if f <= t {
		return n >= f && n < t
	}
	return n >= f || n < t
}

func minuteOfDay(s string) (int, error) {
	h, mm, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("backup: %q is not hh:mm", s)
	}
	hi, err1 := strconv.Atoi(h)
	mi, err2 := strconv.Atoi(mm)
	if err := errors.Join(err1, err2); err != nil || hi < 0 || hi > 23 || mi < 0 || mi > 59 {
		return 0, fmt.Errorf("backup: %q is not hh:mm", s)
	}
	return hi*60 + mi, nil
}

// retire: see Retire.
func (m *Manager) retire(ctx context.Context, c Cluster) error {
	if err := c.check(); err != nil {
		return err
	}
	defer m.locks.lock(c.ResourceID)()
	if m.asRoot() {
		// A later account given the same uid must not push WAL to this stanza.
		return m.dropOwner(c.ResourceID)
	}
	if os.Geteuid() != 0 {
		return nil
	}
	return chownTree(m.repoPath(c.ResourceID), 0, 0)
}

// chownTree gives every file under dir to uid:gid, following no link.
func chownTree(dir string, uid, gid int) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return os.Chmod(dir, 0o700)
}

// forget: see Forget.
func (m *Manager) forget(ctx context.Context, resourceID string) error {
	if err := checkID("cluster resource id", resourceID); err != nil {
		return err
	}
	defer m.locks.lock(resourceID)()
	if m.asRoot() {
		return m.forgetStanza(ctx, resourceID) // root.go
	}
	return os.RemoveAll(m.repoPath(resourceID))
}

func ownerOf(fi fs.FileInfo) int { return statUID(fi) }
