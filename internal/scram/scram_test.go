package scram

import (
	"encoding/base64"
	"strings"
	"testing"
)

// Vectors PostgreSQL 15 computed (SET password_encryption = 'scram-sha-256';
// CREATE ROLE v PASSWORD '...'; SELECT rolpassword FROM pg_authid): the same password and
// salt must give byte for byte the same verifier.
func TestWithSaltMatchesPostgreSQL(t *testing.T) {
	for _, v := range []struct{ password, verifier string }{
		{"pencil", "SCRAM-SHA-256$4096:C/0wG8Ec6McTVTChZscOTw==$gtbhGSaDHHRXqCY0nMoQlCq4qOHuoWNyxk2EszJG4dU=:uUiCD9w6d5T4zu2W9f5n2chyT3aZxbuhTU+WjqYmSAo="},
		{"Master-pass-1!~#", "SCRAM-SHA-256$4096:fabjoJ4GAp8mLceDRH5mKQ==$y3AAlApKK213kEB75qx+ZmP6VgIYxzE4NlYeqF+Z8Ns=:Z99IMx1/EQ/0IC12G25pgzzE49+7Va5SnhBXe5tVpuE="},
	} {
		salt, err := base64.StdEncoding.DecodeString(strings.Split(strings.Split(v.verifier, ":")[1], "$")[0])
		if err != nil {
			t.Fatal(err)
		}
		got, err := WithSalt(v.password, salt, 4096)
		if err != nil {
			t.Fatal(err)
		}
		if got != v.verifier {
			t.Errorf("WithSalt(%q)\n got %s\nwant %s", v.password, got, v.verifier)
		}
		if !IsVerifier(got) {
			t.Errorf("IsVerifier(%s) = false", got)
		}
	}
}

func TestVerifierSaltsEveryTime(t *testing.T) {
	a, err := Verifier("Master-pass-1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Verifier("Master-pass-1")
	if a == b {
		t.Fatalf("two verifiers of one password are equal: %s", a)
	}
	if !IsVerifier(a) || !strings.HasPrefix(a, "SCRAM-SHA-256$4096:") {
		t.Fatalf("verifier %s has not PostgreSQL's form", a)
	}
	if strings.Contains(a, "Master-pass-1") {
		t.Fatal("verifier holds the password")
	}
}

func TestVerifierRefusesWhatSASLprepWouldChange(t *testing.T) {
	for _, pw := range []string{"caf\u00e9-pass", "tab\tpass1", "nul\x00pass"} {
		if _, err := Verifier(pw); err == nil {
			t.Errorf("Verifier(%q) accepted", pw)
		}
	}
}

func TestIsVerifier(t *testing.T) {
	for _, s := range []string{"", "md5" + strings.Repeat("a", 32), "SCRAM-SHA-256$4096:abc$x:y",
		"SCRAM-SHA-256$4096:C/0wG8Ec6McTVTChZscOTw==$gtbhGSaDHHRXqCY0nMoQlCq4qOHuoWNyxk2EszJG4dU=:uUiCD9w6d5T4zu2W9f5n2chyT3aZxbuhTU+WjqYmSAo='",
	} {
		if IsVerifier(s) {
			t.Errorf("IsVerifier(%q) = true", s)
		}
	}
}
