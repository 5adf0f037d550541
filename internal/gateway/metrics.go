package gateway

import "github.com/prometheus/client_golang/prometheus"

// Reasons a connection is refused before it reaches a server, as the refused metric
// labels them; the kernel refuses for the first two at the SYN, where it steers.
const (
	reasonSecurityGroups = "security-group"
	reasonNoServer       = "no-server"
)

// Metrics counts what the endpoints do, per endpoint.
type Metrics struct {
	accepted *prometheus.CounterVec
	refused  *prometheus.CounterVec
	open     *prometheus.GaugeVec
	bytes    *prometheus.CounterVec

	privateRefused      *prometheus.CounterVec
	privateBindsRefused *prometheus.CounterVec

	// beforeCollect brings in what was counted elsewhere (the kernel) before a scrape.
	beforeCollect func()
}

// Describe and Collect make Metrics one collector, so that beforeCollect runs before the
// values are read, not beside it.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.accepted.Describe(ch)
	m.refused.Describe(ch)
	m.open.Describe(ch)
	m.bytes.Describe(ch)
	m.privateRefused.Describe(ch)
	m.privateBindsRefused.Describe(ch)
}

func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	if m.beforeCollect != nil {
		m.beforeCollect()
	}
	m.accepted.Collect(ch)
	m.refused.Collect(ch)
	m.open.Collect(ch)
	m.bytes.Collect(ch)
	m.privateRefused.Collect(ch)
	m.privateBindsRefused.Collect(ch)
}

// NewMetrics registers the gateway's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "borealis_endpoint_connections_accepted_total",
			Help: "Connections accepted at an endpoint: by the gateway, or handed to the server by the kernel."}, []string{"endpoint"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "borealis_endpoint_connections_refused_total",
			Help: "Connections refused before reaching a server, by reason: at their SYN by the kernel where it steers, else accepted and reset by the gateway."}, []string{"endpoint", "reason"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "borealis_endpoint_connections_open",
			Help: "Connections open to a server now, relayed or steered."}, []string{"endpoint"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "borealis_endpoint_bytes_total",
			Help: "Bytes carried, counted when a connection ends (steered ones by the kernel's TCP counters, where a FIN counts as one byte)."}, []string{"endpoint", "direction"}),
		privateRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "borealis_private_port_connections_refused_total",
			Help: "Connects to a server's private port refused by the fence: from a local process, or a database server, other than the gateway's relay and root."}, []string{"cluster", "instance"}),
		privateBindsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "borealis_private_port_binds_refused_total",
			Help: "Binds of a server's private port refused by the fence: from a local process other than the server's own account and root."}, []string{"cluster", "instance"}),
	}
	reg.MustRegister(m)
	return m
}
