package server

import (
	"context"
	"crypto/subtle"
	"net/http"

	"github.com/borealis-db/borealis/internal/awsquery"

	"github.com/borealis-db/borealis/internal/console"
	"github.com/borealis-db/borealis/internal/iam"
)

// consoleAuth signs console users in against IAM.
type consoleAuth struct {
	iam       *iam.Service
	accountID string
}

func (a consoleAuth) SignIn(ctx context.Context, account, user, password string) (console.Login, bool, error) {
	p, ok, err := a.iam.CheckPassword(ctx, user, password)
	if err != nil || !ok {
		return console.Login{}, false, err
	}
	if subtle.ConstantTimeCompare([]byte(account), []byte(a.accountID)) != 1 {
		return console.Login{}, false, nil
	}
	return console.Login{Principal: p}, true, nil
}

func (a consoleAuth) CheckMFA(ctx context.Context, user, code string) (bool, error) {
	return false, nil
}

func (a consoleAuth) ChangePassword(ctx context.Context, user, oldPassword, newPassword string) error {
	return errNotYet
}

var errNotYet = awsquery.Errorf(http.StatusBadRequest, "InvalidAction", "Changing a password from the console is not available yet.")
