package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"
)

// LegacyCAIdentifier names the CA the first start of a data directory makes. It is kept
// in the meta keys ca_cert and ca_key, where it has been since Borealis had only one CA,
// so that existing data directories need no migration of their key.
const LegacyCAIdentifier = "rds-ca-rsa2048-g1"

// CertificateAuthority is a CA that can sign server certificates. Its key is a secret: the
// state file is 0600 and the key is never rendered in an API response.
type CertificateAuthority struct {
	ID        string    `json:"id"` // lower-case, e.g. borealis-ca-ecc384-g1
	CertPEM   string    `json:"cert_pem"`
	KeyPEM    string    `json:"key_pem"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Store) cas() table[CertificateAuthority] {
	return table[CertificateAuthority]{s.db, "certificate_authorities"}
}

// CertificateAuthorities returns every CA, the legacy one included, ordered by identifier.
// Another process (`borealis ca add`) may add CAs while serve runs, so callers read this
// when they need it rather than keeping a copy.
func (s *Store) CertificateAuthorities(ctx context.Context) ([]CertificateAuthority, error) {
	out, err := s.cas().list(ctx, "")
	if err != nil {
		return nil, err
	}
	legacy, err := s.legacyCA(ctx)
	if errors.Is(err, ErrNotFound) {
		return out, nil
	} else if err != nil {
		return nil, err
	}
	out = append(out, legacy)
	slices.SortFunc(out, func(a, b CertificateAuthority) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// CertificateAuthority returns one CA by its (lower-case) identifier.
func (s *Store) CertificateAuthority(ctx context.Context, id string) (CertificateAuthority, error) {
	if id == LegacyCAIdentifier {
		return s.legacyCA(ctx)
	}
	return s.cas().get(ctx, id)
}

func (s *Store) legacyCA(ctx context.Context) (CertificateAuthority, error) {
	cert, err := s.Meta(ctx, "ca_cert")
	if err != nil {
		return CertificateAuthority{}, err
	}
	key, err := s.Meta(ctx, "ca_key")
	if err != nil {
		return CertificateAuthority{}, err
	}
	return CertificateAuthority{ID: LegacyCAIdentifier, CertPEM: cert, KeyPEM: key}, nil
}

// AddCertificateAuthority stores a new CA (ErrExists when its identifier is taken) and,
// with makeDefault, makes it the default for new instances in the same transaction.
func (s *Store) AddCertificateAuthority(ctx context.Context, ca CertificateAuthority, makeDefault bool) error {
	if ca.ID == LegacyCAIdentifier {
		return ErrExists
	}
	doc, err := marshal(ca)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO certificate_authorities (id, doc) VALUES (?, ?)`, ca.ID, doc); err != nil {
			return insertErr(err)
		}
		if !makeDefault {
			return nil
		}
		return setDefaultCA(ctx, tx, ca.ID)
	})
}

// DefaultCA returns the CA new instances use: the override set with SetDefaultCA, or else
// the legacy CA (override false).
func (s *Store) DefaultCA(ctx context.Context) (id string, override bool, err error) {
	id, err = s.Meta(ctx, "default_ca")
	if errors.Is(err, ErrNotFound) {
		return LegacyCAIdentifier, false, nil
	}
	return id, err == nil, err
}

// SetDefaultCA makes CA id the default for new instances; "" removes the override. It
// returns ErrNotFound for a CA that does not exist.
func (s *Store) SetDefaultCA(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if id == "" {
			_, err := tx.ExecContext(ctx, `DELETE FROM meta WHERE key = 'default_ca'`)
			return err
		}
		return setDefaultCA(ctx, tx, id)
	})
}

func setDefaultCA(ctx context.Context, tx *sql.Tx, id string) error {
	var n int
	q := `SELECT count(*) FROM certificate_authorities WHERE id = ?`
	if id == LegacyCAIdentifier {
		q = `SELECT count(*) FROM meta WHERE key = 'ca_cert' AND ? != ''`
	}
	if err := tx.QueryRowContext(ctx, q, id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('default_ca', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, id)
	return err
}
