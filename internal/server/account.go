package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/borealis-db/borealis/internal/pki"
	"github.com/borealis-db/borealis/internal/store"
)

// account is what the first start creates once and every later start reuses.
type account struct {
	ID             string
	EndpointSuffix string
	RootKey        store.AccessKey
}

// ensureAccount creates the account id, the root user's access key and the CA on the first
// start in a data directory, and loads them on every later start. Each value is written to
// the store with insert-if-absent, so a crash half-way leaves nothing that a restart redoes
// differently.
func ensureAccount(ctx context.Context, st *store.Store, dataDir string, now time.Time) (*account, error) {
	a := &account{}
	var err error
	if a.ID, err = st.InitMeta(ctx, "account_id", randomDigits(12)); err != nil {
		return nil, err
	}
	if a.EndpointSuffix, err = st.InitMeta(ctx, "endpoint_suffix", randomString(12, "abcdefghijklmnopqrstuvwxyz0123456789")); err != nil {
		return nil, err
	}
	rootKeyID, err := st.InitMeta(ctx, "root_access_key_id", "AKIA"+randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
	if err != nil {
		return nil, err
	}
	a.RootKey, err = st.AccessKey(ctx, rootKeyID)
	if errors.Is(err, store.ErrNotFound) {
		a.RootKey = store.AccessKey{
			ID:        rootKeyID,
			Secret:    randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
			Principal: "root",
			Status:    "Active",
			CreatedAt: now.UTC(),
		}
		err = st.PutAccessKey(ctx, a.RootKey)
	}
	if err != nil {
		return nil, err
	}
	if _, err = ensureCA(ctx, st, now); err != nil {
		return nil, err
	}
	creds := fmt.Sprintf("# Borealis root user of account %s. Keep this file secret.\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		a.ID, a.RootKey.ID, a.RootKey.Secret)
	if err := writeFileAtomic(filepath.Join(dataDir, credentialsFileName), []byte(creds), 0o600); err != nil {
		return nil, err
	}
	if err := writeBundle(ctx, st, dataDir); err != nil {
		return nil, err
	}
	return a, nil
}

// ensureCA makes the first CA (rds-ca-rsa2048-g1) and keeps it in the store (0600) so
// that it and the keys move together. Later CAs come from `borealis ca add` (cas.go).
func ensureCA(ctx context.Context, st *store.Store, now time.Time) (*pki.CA, error) {
	certPEM, err := st.Meta(ctx, "ca_cert")
	if errors.Is(err, store.ErrNotFound) {
		ca, keyPEM, err := pki.NewCA(pki.DefaultCAIdentifier, "Borealis", now)
		if err != nil {
			return nil, err
		}
		// The key goes in first: a cert without its key would be useless after a crash.
		if _, err := st.InitMeta(ctx, "ca_key", string(keyPEM)); err != nil {
			return nil, err
		}
		if certPEM, err = st.InitMeta(ctx, "ca_cert", string(ca.CertPEM)); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	keyPEM, err := st.Meta(ctx, "ca_key")
	if err != nil {
		return nil, err
	}
	return pki.ParseCA(pki.DefaultCAIdentifier, []byte(certPEM), []byte(keyPEM))
}

// writeFileAtomic replaces path with data so that a reader never sees half a file, and
// durably (fsync of the file, then of the directory). A file that already holds data with
// perm is left alone: serve writes these on every start, and must start on a full volume.
// The temporary file has a name of its own, since `borealis ca add` may rewrite the bundle
// while serve starts.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm() == perm && fi.Size() == int64(len(data)) {
		if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, data) {
			return nil
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	return err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on Linux
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

func randomDigits(n int) string {
	return randomString(1, "123456789") + randomString(n-1, "0123456789")
}
