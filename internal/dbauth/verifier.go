package dbauth

import (
	"context"
	"time"

	"github.com/borealis-db/borealis/internal/sigv4"
)

// KeyStore answers for the keys that sign tokens: long-term access keys, and temporary
// credentials with their session token (a token signed by a role session carries it as
// X-Amz-Security-Token).
type KeyStore interface {
	LookupSecret(ctx context.Context, accessKeyID string) (secret string, ok bool, err error)
	LookupSession(ctx context.Context, accessKeyID, sessionToken string) (secret string, err error)
}

// TokenVerifier is the signature check for tokens, accepting both kinds of keys; a session
// that has expired is refused whatever the token's own lifetime. now nil means time.Now.
func TokenVerifier(keys KeyStore, now func() time.Time) *sigv4.Verifier {
	return &sigv4.Verifier{Lookup: keys.LookupSecret, Session: keys.LookupSession, Now: now}
}
