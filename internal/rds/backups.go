package rds

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// BackupView is what serve knows of a cluster's backups (the reconciler's view): the
// restorable window, zero when unknown, and what fails, if anything.
type BackupView struct {
	Earliest, Latest time.Time
	Failures         []string
}

// Backups reads a cluster's backups by cluster id; false when serve has not read them yet
// (or runs without backups).
type Backups func(clusterID string) (BackupView, bool)

// The backup retention period's bounds, as on Aurora.
const (
	minRetention = 1
	maxRetention = 35
)

// maintenanceWindow is every cluster's PreferredMaintenanceWindow (weekly, UTC); a backup
// window may not overlap it.
const maintenanceWindow = "sun:05:00-sun:05:30"

// backupMembers reads BackupRetentionPeriod and PreferredBackupWindow; set* tell whether
// the request carries them.
func backupMembers(p awsquery.Params) (days int, setDays bool, window string, setWindow bool, err error) {
	days, setDays, err = p.Int("BackupRetentionPeriod")
	if err != nil {
		return
	}
	if setDays && (days < minRetention || days > maxRetention) {
		err = awsquery.InvalidParameterValue("Invalid backup retention period: %d. The backup retention period must be between %d and %d days.", days, minRetention, maxRetention)
		return
	}
	if setWindow = p.Has("PreferredBackupWindow"); setWindow {
		window = p.String("PreferredBackupWindow")
		err = checkBackupWindow(window)
	}
	return
}

// checkBackupWindow checks "hh24:mi-hh24:mi" (UTC): at least 30 minutes, not overlapping
// the maintenance window.
func checkBackupWindow(w string) error {
	from, to, ok := strings.Cut(w, "-")
	f, err1 := windowMinute(from)
	t, err2 := windowMinute(to)
	if !ok || err1 != nil || err2 != nil {
		return awsquery.InvalidParameterValue("The parameter PreferredBackupWindow must be provided in the format hh24:mi-hh24:mi: %s", awsquery.Clip(w))
	}
	length := (t - f + 24*60) % (24 * 60)
	if length < 30 {
		return awsquery.InvalidParameterValue("The backup window must be at least 30 minutes.")
	}
	// The maintenance window, Sunday 05:00-05:30, against a daily window.
	if overlaps(f, length, 5*60, 30) {
		return awsquery.InvalidParameterValue("The backup window and maintenance window must not overlap.")
	}
	return nil
}

func windowMinute(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("not hh24:mi")
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("not hh24:mi")
	}
	return h*60 + m, nil
}

// overlaps reports whether two daily spans [a, a+al) and [b, b+bl) (minutes) meet.
func overlaps(a, al, b, bl int) bool {
	for _, shift := range []int{-24 * 60, 0, 24 * 60} {
		if a < b+bl+shift && b+shift < a+al {
			return true
		}
	}
	return false
}

// defaultBackupWindow is a 30-minute window chosen, as RDS does, within an 8-hour block
// (00:00-08:00 UTC here), from the cluster id so that it does not move, and never meeting
// the maintenance window.
func defaultBackupWindow(id string) string {
	sum := sha256.Sum256([]byte(id))
	slot := int(sum[0]) % 15 // 00:00 .. 07:00, half-hours
	if slot >= 10 {
		slot++ // skip 05:00, the maintenance window
	}
	start := slot * 30
	return fmt.Sprintf("%02d:%02d-%02d:%02d", start/60, start%60, (start+30)/60, (start+30)%60)
}

// backupXML fills the cluster's backup members: the retention period, the window, the
// restorable times when known (omitted otherwise), and a backup failure as a status info.
func (s *Service) backupXML(x *xmlCluster, c store.Cluster) {
	x.BackupRetentionPeriod = c.RetentionDays()
	if s.cfg.Backups == nil {
		return // no window: nothing would happen in it
	}
	x.PreferredBackupWindow = c.PreferredBackupWindow
	if x.PreferredBackupWindow == "" {
		x.PreferredBackupWindow = defaultBackupWindow(c.ID)
	}
	v, ok := s.cfg.Backups(c.ID)
	if !ok {
		return
	}
	if !v.Earliest.IsZero() {
		e, l := v.Earliest.UTC(), v.Latest.UTC()
		x.EarliestRestorableTime, x.LatestRestorableTime = &e, &l
	}
	for _, f := range v.Failures {
		if x.StatusInfos == nil {
			x.StatusInfos = &xmlClusterStatusInfos{}
		}
		x.StatusInfos.Items = append(x.StatusInfos.Items, xmlStatusInfo{StatusType: "backup", Normal: false, Status: "failing", Message: f})
	}
}

// restorable checks t against source's restorable window.
func (s *Service) restorable(c store.Cluster, t time.Time, latest bool) (time.Time, error) {
	var v BackupView
	ok := false
	if s.cfg.Backups != nil {
		v, ok = s.cfg.Backups(c.ID)
	}
	if !ok || v.Earliest.IsZero() {
		return time.Time{}, awsquery.Errorf(400, "InvalidRestoreFault", "DB cluster %s has no restorable backup yet.", c.ID)
	}
	if latest {
		return v.Latest, nil
	}
	if t.Before(v.Earliest) || t.After(v.Latest) {
		return time.Time{}, awsquery.Errorf(400, "InvalidRestoreFault",
			"The restore time %s is outside the restorable window of DB cluster %s: %s to %s.",
			t.UTC().Format(time.RFC3339), c.ID, v.Earliest.UTC().Format(time.RFC3339), v.Latest.UTC().Format(time.RFC3339))
	}
	return t, nil
}
