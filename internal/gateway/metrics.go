package gateway

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what the endpoints do, per endpoint.
type Metrics struct {
	accepted *prometheus.CounterVec
	refused  *prometheus.CounterVec
	open     *prometheus.GaugeVec
	bytes    *prometheus.CounterVec
}

// NewMetrics registers the gateway's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "borealis_endpoint_connections_accepted_total",
			Help: "Connections accepted by an endpoint listener."}, []string{"endpoint"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "borealis_endpoint_connections_refused_total",
			Help: "Connections closed before reaching a server, by reason."}, []string{"endpoint", "reason"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "borealis_endpoint_connections_open",
			Help: "Connections spliced to a server now."}, []string{"endpoint"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "borealis_endpoint_bytes_total",
			Help: "Bytes spliced, counted when a connection ends."}, []string{"endpoint", "direction"}),
	}
	reg.MustRegister(m.accepted, m.refused, m.open, m.bytes)
	return m
}
