package server

import (
	"context"
	"time"

	"github.com/borealis-db/borealis/internal/console"
	"github.com/borealis-db/borealis/internal/iam"
	"github.com/borealis-db/borealis/internal/principal"
)

// consoleAuth signs console users in against IAM.
type consoleAuth struct{ iam *iam.Service }

func (a consoleAuth) SignIn(ctx context.Context, account, user, password string) (console.Login, bool, error) {
	l, ok, err := a.iam.ConsoleSignIn(ctx, account, user, password)
	return console.Login{Principal: l.Principal, ResetRequired: l.ResetRequired, HardExpired: l.HardExpired, MFARequired: l.MFARequired}, ok, err
}

func (a consoleAuth) CheckMFA(ctx context.Context, user, code string) (bool, error) {
	return a.iam.CheckMFA(ctx, user, code)
}

func (a consoleAuth) ChangePassword(ctx context.Context, user, oldPassword, newPassword string) error {
	return a.iam.ChangeOwnPassword(ctx, user, oldPassword, newPassword)
}

func (a consoleAuth) Session(ctx context.Context, p principal.Principal, verified time.Time) (principal.Principal, bool, error) {
	return a.iam.ConsoleSession(ctx, p, verified)
}

func (a consoleAuth) SignInRoot(ctx context.Context, account, password string) (console.Login, bool, error) {
	p, ok, err := a.iam.RootSignIn(ctx, account, password)
	return console.Login{Principal: p}, ok, err
}

func (a consoleAuth) UserPrincipal(ctx context.Context, user string) (principal.Principal, bool, error) {
	return a.iam.UserPrincipal(ctx, user)
}

func (a consoleAuth) RootPrincipal() principal.Principal { return a.iam.RootPrincipal("") }
func (a consoleAuth) RoleSession(ctx context.Context, accessKeyID, sessionToken string) (principal.Principal, error) {
	return a.iam.Authenticate(ctx, accessKeyID, sessionToken)
}
