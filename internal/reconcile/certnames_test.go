package reconcile

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/pki"
	"github.com/borealis-db/borealis/internal/store"
)

// TestServerCertificatesNameTheEndpointsOnly: a server certificate names its endpoints and
// no address (every endpoint listens on the same ones, so an address in a certificate proves
// nothing about which cluster answered), and one issued before, naming 127.0.0.1 and ::1,
// is replaced.
func TestServerCertificatesNameTheEndpointsOnly(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ca, key, err := pki.NewCA(store.LegacyCAIdentifier, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st.InitMeta(ctx, "ca_key", string(key))
	st.InitMeta(ctx, "ca_cert", string(ca.CertPEM))
	r := New(Config{EndpointAddrs: []string{"127.0.0.1", "::1"}, CertValidity: time.Hour, CertRenewBefore: 10 * time.Minute}, st, nil, nil, slog.New(slog.DiscardHandler))
	c := store.Cluster{ID: "c1", Endpoint: "c1.cluster-x.test", ReaderEndpoint: "c1.cluster-ro-x.test"}

	for _, m := range []store.Instance{{ID: "w", Endpoint: "w.x.test", Writer: true}, {ID: "r", Endpoint: "r.x.test"}} {
		m, issued, err := r.ensureCert(ctx, c, m)
		if err != nil || !issued {
			t.Fatalf("%s: issue: %v %v", m.ID, issued, err)
		}
		leaf, err := pki.ParseCertificate(m.CertPEM)
		if err != nil {
			t.Fatal(err)
		}
		// Every instance's names the cluster, reader and its own endpoint (a reader's
		// becomes the writer's at a failover).
		want := []string{c.ReaderEndpoint, m.Endpoint, c.Endpoint}
		got := slices.Clone(leaf.DNSNames)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: names %v, want %v", m.ID, got, want)
		}
		if len(leaf.IPAddresses) != 0 {
			t.Errorf("%s: the certificate names addresses %v", m.ID, leaf.IPAddresses)
		}

		// As issued before: the same names plus the loopback addresses.
		old := r.certRequest(c, m)
		old.IPs = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		m.CertPEM, m.KeyPEM, err = ca.Issue(old, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, issued, err := r.ensureCert(ctx, c, m); err != nil || !issued {
			t.Errorf("%s: a certificate naming 127.0.0.1 and ::1 is kept (%v)", m.ID, err)
		}
		// And one naming an endpoint the instance no longer serves.
		old.IPs, old.DNSNames = nil, append(old.DNSNames, "other.cluster-x.test")
		m.CertPEM, m.KeyPEM, _ = ca.Issue(old, time.Now())
		if _, issued, _ := r.ensureCert(ctx, c, m); !issued {
			t.Errorf("%s: a certificate naming another endpoint is kept", m.ID)
		}
	}
}
