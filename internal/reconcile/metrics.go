package reconcile

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/borealis-db/borealis/internal/store"
)

// metrics count the starts of each instance's server. The last error is the status and
// the fixed reason classifyStart gave it, never the driver's text (which quotes the log).
type metrics struct {
	attempts *prometheus.CounterVec
	failures *prometheus.GaugeVec
	lastErr  *prometheus.GaugeVec
	lag      *prometheus.GaugeVec
	bk       backupMetrics
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "borealis_instance_start_attempts_total",
			Help: "Starts (and restarts) of an instance's server, by result (ok, failed)."}, []string{"cluster", "instance", "result"}),
		failures: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "borealis_instance_start_failures",
			Help: "Failed starts of an instance's server in a row; 0 once one succeeds. The next start waits 1s doubling to 5m."}, []string{"cluster", "instance"}),
		lastErr: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "borealis_instance_last_start_error_timestamp_seconds",
			Help: "When the last failed start of an instance's server happened, with the status and reason it gave the instance."}, []string{"cluster", "instance", "status", "reason"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "borealis_replica_lag_bytes",
			Help: "WAL a reader has still to replay: the writer's current WAL position less the reader's replay position, at the last reconciler pass."}, []string{"cluster", "instance"}),
	}
	m.bk = newBackupMetrics()
	if reg != nil {
		reg.MustRegister(m.attempts, m.failures, m.lastErr, m.lag, m.bk.lastBackup, m.bk.archiveLag, m.bk.failing)
	}
	return m
}

func (m *metrics) started(cluster, instance string) {
	m.attempts.WithLabelValues(cluster, instance, "ok").Inc()
	m.failures.WithLabelValues(cluster, instance).Set(0)
}

func (m *metrics) failed(cluster, instance string, b backoff, status store.Status, reason string, at time.Time) {
	m.attempts.WithLabelValues(cluster, instance, "failed").Inc()
	m.failures.WithLabelValues(cluster, instance).Set(float64(b.Failures))
	m.lastErr.DeletePartialMatch(prometheus.Labels{"cluster": cluster, "instance": instance})
	m.lastErr.WithLabelValues(cluster, instance, string(status), reason).Set(float64(at.UnixNano()) / 1e9)
}

// forget drops a deleted instance's series.
func (m *metrics) forget(cluster, instance string) {
	l := prometheus.Labels{"cluster": cluster, "instance": instance}
	m.attempts.DeletePartialMatch(l)
	m.failures.DeletePartialMatch(l)
	m.lastErr.DeletePartialMatch(l)
	m.lag.DeletePartialMatch(l)
}
