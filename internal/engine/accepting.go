package engine

import "path/filepath"

// Accepting reports whether the driver's server for s accepts connections now: it runs,
// and its postmaster.pid says "ready" (PostgreSQL writes "starting" while it recovers and
// "stopping" while it shuts down, and refuses connections then). It reads one small file,
// so the reconciler asks on every pass.
func (l *Local) Accepting(s Spec) bool {
	st := l.Status(s.Name)
	if st.State != StateRunning || st.PID == 0 || s.DataDir == "" {
		return false
	}
	pid, status := readPidFile(filepath.Join(s.DataDir, pidFile))
	return pid == st.PID && serving(status)
}
