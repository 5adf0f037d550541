package rds

import "testing"

// Backup windows as RDS checks them: hh24:mi-hh24:mi, at least 30 minutes, clear of the
// maintenance window (Sunday 05:00-05:30, UTC), possibly across midnight.
func TestBackupWindow(t *testing.T) {
	for w, ok := range map[string]bool{
		"02:00-02:30": true, "23:45-00:15": true, "05:30-06:00": true, "04:00-05:00": true,
		"02:00-02:29": false, "04:45-05:15": false, "05:10-05:40": false, "23:00-06:00": false,
		"2:00-2:30": false, "02:00": false, "24:00-00:30": false, "": false,
	} {
		if err := checkBackupWindow(w); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", w, err, ok)
		}
	}
	for _, id := range []string{"a", "b", "prod", "c1", "some-long-cluster-name"} {
		if w := defaultBackupWindow(id); checkBackupWindow(w) != nil || w != defaultBackupWindow(id) {
			t.Errorf("default window %q of %s", w, id)
		}
	}
}
