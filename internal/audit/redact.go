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
// "MasterUserPassword" or "LaunchSpecification.UserData") carries a secret: a password, a
// secret or private key, a session token or assertion, an MFA code, a presigned URL or
// signature (replayable until it expires), instance user data. Any part of a nested name
// counts, so a secret structure hides all its members. Policy documents, paging tokens
// and password settings (a policy's minimum length, the managed-password switches) are
// not secrets.
func IsSecret(name string) bool {
	var parent string
	for _, part := range strings.Split(strings.ToLower(name), ".") {
		if part == "member" || strings.Trim(part, "0123456789") == "" {
			continue
		}
		if secretPart(part) || part == "value" && parent == "optionsettings" ||
			part == "url" && (parent == "diskcontainer" || parent == "diskcontainers") {
			return true
		}
		parent = part
	}
	return false
}

// notSecret are member names that contain a secret's word but hold none.
var notSecret = map[string]bool{
	"nexttoken": true, "marker": true, "policydocument": true, "assumerolepolicydocument": true, "policy": true,
	"minimumpasswordlength": true, "maxpasswordage": true, "passwordreuseprevention": true,
	"allowuserstochangepassword": true, "passwordresetrequired": true,
	"managemasteruserpassword": true, "rotatemasteruserpassword": true, "masterusersecretkmskeyid": true,
}

// secretWords mark a member as secret wherever they occur in its name (lower case).
var secretWords = []string{"password", "secret", "token", "privatekey", "authenticationcode", "totp", "mfacode", "seed",
	"presignedurl", "samlassertion", "userdata", "presharedkey", "credentials", "signature", "manifesturl", "initquery"}

func secretPart(n string) bool {
	if notSecret[n] {
		return false
	}
	for _, s := range secretWords {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// secretIn reports a member that is secret only in one action's request.
func secretIn(action, name string) bool {
	// the attribute's new value, which is the instance's user data for Attribute=userData
	return action == "ModifyInstanceAttribute" && strings.EqualFold(name, "Value")
}

// Redact turns Query-protocol parameters into CloudTrail's requestParameters: member names
// with a lower-case first letter, each secret's value replaced by Hidden, and the protocol's
// own Action and Version left out. A parameter given several times (or under two names
// that differ only in the first letter's case) keeps every value.
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
		if IsSecret(k) || secretIn(v.Get("Action"), k) {
			out[name] = Hidden
			continue
		}
		// "DBClusterIdentifier" and "dBClusterIdentifier" (which the service ignores) have
		// one name here: keep every value, the member's first (upper case sorts first),
		// rather than let the second stand for the first
		switch prev := out[name].(type) {
		case string:
			vals = append([]string{prev}, vals...)
		case []string:
			vals = append(prev, vals...)
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
