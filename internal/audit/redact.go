package audit

import (
	"net/url"
	"sort"
	"strings"
	"unicode"
)

// Hidden replaces a secret's value, as CloudTrail does.
const Hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

// IsSecret reports whether a request parameter named name (a Query-protocol name such as
// "MasterUserPassword" or "Tags.member.1.Value"; only its last part counts) carries a
// secret: a password, a secret or private key, a session token, an MFA code. Policy
// documents and paging tokens are not secrets.
func IsSecret(name string) bool {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	n := strings.ToLower(name)
	switch n {
	case "nexttoken", "marker", "policydocument", "assumerolepolicydocument", "policy":
		return false
	}
	for _, s := range []string{"password", "secret", "token", "privatekey", "authenticationcode", "totp", "mfacode", "seed"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// Redact turns Query-protocol parameters into CloudTrail's requestParameters: member names
// with a lower-case first letter, each secret's value replaced by Hidden, and the protocol's
// own Action and Version left out. A parameter given several times keeps every value.
func Redact(v url.Values) map[string]any {
	if len(v) == 0 {
		return nil
	}
	out := make(map[string]any, len(v))
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		// the protocol's own members, and a presigned request's signature members (its
		// signature would let the request be replayed until it expires)
		if k == "Action" || k == "Version" || len(k) > 6 && strings.EqualFold(k[:6], "X-Amz-") {
			continue
		}
		vals := v[k]
		name := lowerFirst(k)
		if IsSecret(k) {
			out[name] = Hidden
			continue
		}
		if len(vals) == 1 {
			out[name] = vals[0]
		} else {
			out[name] = append([]string(nil), vals...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func lowerFirst(s string) string {
	for i, r := range s {
		return string(unicode.ToLower(r)) + s[i+len(string(r)):]
	}
	return s
}
