package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCertificateAuthoritiesKeepTheLegacyCAAndAddNewOnes: the first CA stays in meta (no
// migration of existing data directories), new ones sit next to it, and the default for
// new instances moves only when asked.
func TestCertificateAuthoritiesKeepTheLegacyCAAndAddNewOnes(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	if cas, err := s.CertificateAuthorities(ctx); err != nil || len(cas) != 0 {
		t.Fatalf("fresh store: %v %v", cas, err)
	}
	if _, err := s.InitMeta(ctx, "ca_key", "KEY1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InitMeta(ctx, "ca_cert", "CERT1"); err != nil {
		t.Fatal(err)
	}
	if id, override, err := s.DefaultCA(ctx); id != LegacyCAIdentifier || override || err != nil {
		t.Fatalf("default %s %v %v", id, override, err)
	}
	ecc := CertificateAuthority{ID: "borealis-ca-ecc384-g1", CertPEM: "CERT2", KeyPEM: "KEY2", CreatedAt: time.Now().UTC()}
	if err := s.AddCertificateAuthority(ctx, ecc, false); err != nil {
		t.Fatal(err)
	}
	if err := s.AddCertificateAuthority(ctx, ecc, true); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := s.AddCertificateAuthority(ctx, CertificateAuthority{ID: LegacyCAIdentifier}, false); !errors.Is(err, ErrExists) {
		t.Fatalf("legacy id: %v", err)
	}
	// The failed duplicate with makeDefault changed nothing.
	if id, _, _ := s.DefaultCA(ctx); id != LegacyCAIdentifier {
		t.Fatalf("default moved by a failed add: %s", id)
	}
	if err := s.SetDefaultCA(ctx, "no-such-ca"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown default: %v", err)
	}
	if err := s.SetDefaultCA(ctx, ecc.ID); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cas, err := s.CertificateAuthorities(ctx)
	if err != nil || len(cas) != 2 || cas[0].ID != ecc.ID || cas[1].ID != LegacyCAIdentifier || cas[1].KeyPEM != "KEY1" {
		t.Fatalf("after reopen: %+v %v", cas, err)
	}
	if got, err := s.CertificateAuthority(ctx, LegacyCAIdentifier); err != nil || got.CertPEM != "CERT1" {
		t.Fatalf("legacy: %+v %v", got, err)
	}
	if id, override, _ := s.DefaultCA(ctx); id != ecc.ID || !override {
		t.Fatalf("default %s %v", id, override)
	}
	if err := s.SetDefaultCA(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if id, override, _ := s.DefaultCA(ctx); id != LegacyCAIdentifier || override {
		t.Fatalf("after removing the override: %s %v", id, override)
	}
}
