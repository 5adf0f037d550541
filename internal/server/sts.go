package server

import (
	"context"

	"github.com/borealis-db/borealis/internal/iam"
	"github.com/borealis-db/borealis/internal/store"
)

// stsSessionKeyMeta names the key that signs STS session tokens. It is made on first start
// and kept in the state file (0600, with the other secrets), so that sessions survive a
// restart and are verified by this Borealis only.
const stsSessionKeyMeta = "sts_session_key"

func stsSessionKey(ctx context.Context, st *store.Store) (string, error) {
	return st.InitMeta(ctx, stsSessionKeyMeta, iam.NewSessionKey())
}
