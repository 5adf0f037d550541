package iam

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

const (
	testAccount    = "123456789012"
	rootKeyID      = "AKIAROOTROOTROOTROOT"
	rootKeySecret  = "rootsecretrootsecretrootsecretrootsecret"
	testIterations = 1000 // production uses DefaultPasswordIterations
)

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// env is a Service on a fresh store, with the root user's access key in it.
type env struct {
	t    testing.TB
	svc  *Service
	st   *store.Store
	root context.Context // a context whose caller is the root user
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.PutAccessKey(ctx, store.AccessKey{ID: rootKeyID, Secret: rootKeySecret, Principal: "root", Status: "Active", CreatedAt: testNow}); err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{
		AccountID: testAccount, AccountCreated: testNow, PasswordIterations: testIterations,
		Now: func() time.Time { return testNow },
	}, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, svc: svc, st: st, root: principal.With(ctx, svc.RootPrincipal(rootKeyID))}
}

// params builds Query parameters from name, value pairs.
func params(kv ...string) awsquery.Params {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return awsquery.Params{Values: v}
}

// do runs an action as the root user and fails the test on error.
func (e *env) do(action string, kv ...string) any {
	e.t.Helper()
	out, err := e.svc.Do(e.root, action, params(kv...))
	if err != nil {
		e.t.Fatalf("%s %v: %v", action, kv, err)
	}
	return out
}

// fail runs an action as the root user and checks the AWS error code, HTTP status and, if
// given, a part of the message.
func (e *env) fail(code string, status int, msgPart, action string, kv ...string) *awsquery.Error {
	e.t.Helper()
	return expectError(e.t, code, status, msgPart, func() error {
		_, err := e.svc.Do(e.root, action, params(kv...))
		return err
	})
}

func expectError(t testing.TB, code string, status int, msgPart string, call func() error) *awsquery.Error {
	t.Helper()
	err := call()
	var ae *awsquery.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.Code != code || ae.Status != status || !strings.Contains(ae.Message, msgPart) {
		t.Fatalf("want %s (%d) containing %q, got %s (%d): %s", code, status, msgPart, ae.Code, ae.Status, ae.Message)
	}
	return ae
}

// user creates a user and returns it.
func (e *env) user(name string, kv ...string) xmlUser {
	e.t.Helper()
	return e.do("CreateUser", append([]string{"UserName", name}, kv...)...).(userResult).User
}

// key creates an access key for a user and returns it.
func (e *env) key(userName string) xmlAccessKey {
	e.t.Helper()
	return e.do("CreateAccessKey", "UserName", userName).(createAccessKeyResult).AccessKey
}

// as returns a context whose caller is the named user, as Authenticate makes it.
func (e *env) as(userName string) context.Context {
	e.t.Helper()
	u, err := e.st.IAMUser(context.Background(), userName)
	if err != nil {
		e.t.Fatal(err)
	}
	return principal.With(context.Background(), e.svc.userPrincipal(u))
}

func allow(action, resource string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"}]}`
}

func deny(action, resource string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"No","Effect":"Deny","Action":"` + action + `","Resource":"` + resource + `"}]}`
}
