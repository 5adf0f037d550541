// Package scram computes PostgreSQL's SCRAM-SHA-256 password verifier (RFC 5802, RFC 7677),
// in the form PostgreSQL stores in pg_authid.rolpassword and accepts in
// CREATE/ALTER ROLE ... PASSWORD: with it, the server never sees the plaintext and the
// verifier alone does not log anyone in (unlike md5's).
package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
)

// Iterations and SaltLen are PostgreSQL's defaults (scram_iterations, SCRAM_DEFAULT_SALT_LEN).
const (
	Iterations = 4096
	SaltLen    = 16
)

// Verifier returns the verifier of password with a fresh random salt, so that the same
// password gives a different verifier on every cluster.
//
// PostgreSQL runs the password through SASLprep first; for printable ASCII (all that the
// RDS password rule admits) SASLprep changes nothing, and other input is refused here
// rather than hashed differently from the server.
func Verifier(password string) (string, error) {
	for i := 0; i < len(password); i++ {
		if password[i] < 0x20 || password[i] > 0x7e {
			return "", fmt.Errorf("scram: the password must be printable ASCII")
		}
	}
	salt := make([]byte, SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return WithSalt(password, salt, Iterations)
}

// WithSalt is Verifier with a given salt and iteration count, for tests and known vectors.
func WithSalt(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	clientKey := mac(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

func mac(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// b64 is one standard base64 field; keys are 32 bytes (44 characters).
const b64 = `[A-Za-z0-9+/]+={0,2}`

var verifierRE = regexp.MustCompile(`^SCRAM-SHA-256\$[1-9][0-9]{0,9}:` + b64 + `\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$`)

// IsVerifier reports whether s has the shape of a SCRAM-SHA-256 verifier (and so is safe to
// put in a SQL string literal: no quote, no backslash).
func IsVerifier(s string) bool { return verifierRE.MatchString(s) }
