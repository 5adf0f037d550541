package policy

import (
	"errors"
	"testing"
)

func mustParse(t testing.TB, doc string) *Policy {
	t.Helper()
	p, err := Parse(doc)
	if err != nil {
		t.Fatalf("Parse: %v (%s)\n%s", err, detail(err), doc)
	}
	return p
}

func detail(err error) string {
	var me *MalformedError
	if errors.As(err, &me) {
		return me.Detail
	}
	return ""
}

// kv builds a single-valued request context from key/value pairs.
func kv(pairs ...string) map[string][]string {
	m := map[string][]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = append(m[pairs[i]], pairs[i+1])
	}
	return m
}

// withCondition returns a 2012-10-17 policy with one statement of the given
// effect on every action and resource, guarded by the Condition block cond
// (JSON).
func withCondition(effect, cond string) string {
	return `{"Version":"2012-10-17","Statement":{"Effect":"` + effect +
		`","Action":"*","Resource":"*","Condition":` + cond + `}}`
}

const allowAll = `{"Version":"2012-10-17","Statement":[{"Sid":"AllowAll","Effect":"Allow","Action":"*","Resource":"*"}]}`

func decide(t testing.TB, req Request, docs ...string) Decision {
	t.Helper()
	ps := make([]*Policy, len(docs))
	for i, d := range docs {
		ps[i] = mustParse(t, d)
	}
	return Evaluate(req, ps).Decision
}
