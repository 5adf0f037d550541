package backup

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// loadKey reads the installation key, making it (0600) on the first start. A key file
// readable by anyone but its owner is refused: it opens every repository.
func loadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var k [32]byte
		if _, err := rand.Read(k[:]); err != nil {
			return nil, err
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(hex.EncodeToString(k[:])+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("backup: writing the installation key: %w", err)
		}
		if err := syncFile(tmp); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, fmt.Errorf("backup: writing the installation key: %w", err)
		}
		if err := syncFile(filepath.Dir(path)); err != nil {
			return nil, err
		}
		return k[:], nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup: reading the installation key: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("backup: installation key %s is mode %v: want 0600", path, fi.Mode().Perm())
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("backup: installation key %s is not 64 hex digits", path)
	}
	return k, nil
}

// cipherPass is the repository cipher pass of the cluster with resource id: a secret of
// its own per cluster, so that one cluster's account, which reads its own pass, learns
// nothing of another's.
func (m *Manager) cipherPass(resourceID string) string {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte("borealis backup " + resourceID))
	return hex.EncodeToString(h.Sum(nil))
}

func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
