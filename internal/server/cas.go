package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/borealis-db/borealis/internal/pki"
	"github.com/borealis-db/borealis/internal/store"
)

// Bundle is the trust bundle clients download: every CA's certificate, in the store's
// (identifier) order. It is read from the store each time, because `borealis ca
// add` adds CAs from another process while serve runs.
func Bundle(ctx context.Context, st *store.Store) ([]byte, error) {
	cas, err := st.CertificateAuthorities(ctx)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, ca := range cas {
		out = append(out, ca.CertPEM...)
	}
	return out, nil
}

// writeBundle rewrites DIR/global-bundle.pem from the store.
func writeBundle(ctx context.Context, st *store.Store, dataDir string) error {
	b, err := Bundle(ctx, st)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dataDir, bundleFileName), b, 0o644)
}

// AddCA creates a new CA of type kt in the data directory's store, next to the ones there,
// optionally makes it the default for new instances, and rewrites global-bundle.pem so that
// it carries every CA. Serve may be running: the store is SQLite, which serialises the two
// processes' writes, and serve reads CAs from the store whenever it needs one, so it needs
// no signal. Existing instances keep their CA until ModifyDBInstance changes it.
func AddCA(ctx context.Context, dataDir string, kt pki.KeyType, makeDefault bool, now time.Time) (*pki.CA, error) {
	path := filepath.Join(dataDir, "borealis.db")
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a Borealis data directory (no borealis.db): start `borealis serve --data-dir %s` once first", dataDir, dataDir)
		}
		return nil, err
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	existing, err := st.CertificateAuthorities(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(existing))
	for i, ca := range existing {
		ids[i] = ca.ID
	}
	ca, keyPEM, err := pki.NewCAOf(kt, pki.NextIdentifier(kt, ids), "Borealis", now)
	if err != nil {
		return nil, err
	}
	rec := store.CertificateAuthority{ID: ca.Identifier, CertPEM: string(ca.CertPEM), KeyPEM: string(keyPEM), CreatedAt: now.UTC()}
	if err := st.AddCertificateAuthority(ctx, rec, makeDefault); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("CA %s was added meanwhile by another command; run again", ca.Identifier)
		}
		return nil, err
	}
	if err := writeBundle(ctx, st, dataDir); err != nil {
		return nil, fmt.Errorf("CA %s added, but global-bundle.pem was not rewritten: %w", ca.Identifier, err)
	}
	return ca, nil
}
