package policy

import (
	"strings"
	"unicode/utf8"
)

// Patterns: the strings of Action, Resource and condition values, split into
// literal text, wildcards and policy variables.
//
// Wildcards: '*' matches any run of characters (including ':' and '/'), '?'
// exactly one character. Policy variables (Version 2012-10-17 only):
// ${key} is replaced by the single value of the context key (looked up
// case-insensitively); ${key, 'default'} falls back to default when the key
// has no single value; ${*}, ${?} and ${$} stand for a literal '*', '?' and
// '$'. Everything a variable produces is literal text: a '*' that comes from
// a context value never acts as a wildcard. A variable that cannot be
// resolved (key absent or multivalued, no default) makes the whole value
// "null": it matches nothing.

type tokKind uint8

const (
	tLit tokKind = iota
	tStar
	tQuestion
)

type tok struct {
	kind tokKind
	s    string
}

type partKind uint8

const (
	pLit partKind = iota
	pStar
	pQuestion
	pVar
)

type part struct {
	kind   partKind
	s      string // literal text
	key    string // pVar: lower-cased context key ("" = never resolves)
	def    string // pVar: default value
	hasDef bool
}

type pattern struct {
	raw     string
	hasVar  bool
	hasWild bool
	parts   []part // set when hasVar
	toks    []tok  // set when !hasVar
}

// compilePattern splits s. With vars false, "${...}" is ordinary text (2008
// policies, operators that take no variables); with wild false, '*' and '?'
// are ordinary text.
func compilePattern(s string, vars, wild bool) pattern {
	p := pattern{raw: s}
	var parts []part
	lit := func(t string) {
		if t == "" {
			return
		}
		if n := len(parts); n > 0 && parts[n-1].kind == pLit {
			parts[n-1].s += t
			return
		}
		parts = append(parts, part{kind: pLit, s: t})
	}
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case vars && c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				i++ // "${" with no closing brace stays literal
				continue
			}
			lit(s[start:i])
			body := s[i+2 : i+2+end]
			switch body {
			case "*", "?", "$":
				lit(body)
			default:
				parts = append(parts, parseVariable(body))
				p.hasVar = true
			}
			i += 2 + end + 1
			start = i
		case wild && (c == '*' || c == '?'):
			lit(s[start:i])
			if c == '*' {
				parts = append(parts, part{kind: pStar})
			} else {
				parts = append(parts, part{kind: pQuestion})
			}
			p.hasWild = true
			i++
			start = i
		default:
			i++
		}
	}
	lit(s[start:])
	if p.hasVar {
		p.parts = parts
		return p
	}
	p.toks = make([]tok, len(parts))
	for i, pt := range parts {
		p.toks[i] = tok{kind: tokKind(pt.kind), s: pt.s}
	}
	return p
}

// parseVariable parses the inside of ${...}: "key" or "key, 'default'".
func parseVariable(body string) part {
	v := part{kind: pVar}
	key := body
	if i := strings.IndexByte(body, ','); i >= 0 {
		key = body[:i]
		d := strings.TrimSpace(body[i+1:])
		if len(d) < 2 || d[0] != '\'' || d[len(d)-1] != '\'' {
			return v // malformed default: never resolves
		}
		v.def = strings.ReplaceAll(d[1:len(d)-1], "''", "'")
		v.hasDef = true
	}
	key = strings.TrimSpace(key)
	if key == "" || strings.ContainsAny(key, " \t") {
		return part{kind: pVar, def: v.def, hasDef: v.hasDef}
	}
	v.key = strings.ToLower(key)
	return v
}

// variableKeys returns the context keys the pattern's variables read, as
// written in the policy.
func variableKeys(s string) []string {
	var keys []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return keys
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return keys
		}
		body := s[i+2 : i+2+end]
		s = s[i+2+end+1:]
		switch body {
		case "*", "?", "$":
			continue
		}
		if c := strings.IndexByte(body, ','); c >= 0 {
			body = body[:c]
		}
		if k := strings.TrimSpace(body); k != "" {
			keys = append(keys, k)
		}
	}
}

// lookupVar returns the value a variable stands for.
func lookupVar(ctx map[string][]string, v *part) (string, bool) {
	if v.key != "" {
		if vals := ctx[v.key]; len(vals) == 1 {
			return vals[0], true
		}
	}
	if v.hasDef {
		return v.def, true
	}
	return "", false
}

// tokens returns the pattern with its variables substituted, appended to
// buf (which callers may allocate on their stack); ok is false when a
// variable cannot be resolved.
func (p *pattern) tokens(ctx map[string][]string, buf []tok) (toks []tok, ok bool) {
	if !p.hasVar {
		return p.toks, true
	}
	toks = buf[:0]
	for i := range p.parts {
		pt := &p.parts[i]
		switch pt.kind {
		case pVar:
			val, ok := lookupVar(ctx, pt)
			if !ok {
				return nil, false
			}
			if val != "" {
				toks = append(toks, tok{kind: tLit, s: val})
			}
		default:
			toks = append(toks, tok{kind: tokKind(pt.kind), s: pt.s})
		}
	}
	return toks, true
}

// equals reports whether s equals the pattern (compiled without wildcards)
// with its variables substituted; a variable with no value equals nothing.
func (p *pattern) equals(ctx map[string][]string, s string) bool {
	if !p.hasVar {
		switch len(p.toks) {
		case 0:
			return s == ""
		case 1:
			return p.toks[0].kind == tLit && p.toks[0].s == s
		}
		t, _ := p.text(ctx)
		return t == s
	}
	for i := range p.parts {
		pt := &p.parts[i]
		piece := pt.s
		if pt.kind == pVar {
			val, ok := lookupVar(ctx, pt)
			if !ok {
				return false
			}
			piece = val
		}
		if len(s) < len(piece) || s[:len(piece)] != piece {
			return false
		}
		s = s[len(piece):]
	}
	return s == ""
}

// text returns the pattern as a plain string with variables substituted; it
// is meant for patterns compiled without wildcards.
func (p *pattern) text(ctx map[string][]string) (string, bool) {
	if !p.hasVar {
		if len(p.toks) == 1 && p.toks[0].kind == tLit {
			return p.toks[0].s, true
		}
		if len(p.toks) == 0 {
			return "", true
		}
	} else if len(p.parts) == 1 && p.parts[0].kind == pVar {
		return lookupVar(ctx, &p.parts[0])
	}
	var buf [8]tok
	toks, ok := p.tokens(ctx, buf[:0])
	if !ok {
		return "", false
	}
	var b strings.Builder
	for _, t := range toks {
		switch t.kind {
		case tLit:
			b.WriteString(t.s)
		case tStar:
			b.WriteByte('*')
		case tQuestion:
			b.WriteByte('?')
		}
	}
	return b.String(), true
}

// isMatchAll reports whether the pattern is exactly "*".
func (p *pattern) isMatchAll() bool {
	return !p.hasVar && len(p.toks) == 1 && p.toks[0].kind == tStar
}

// matchTokens reports whether s matches the token list (case-sensitively;
// callers lower-case both sides for case-insensitive matching).
func matchTokens(toks []tok, s string) bool {
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(toks) {
			t := toks[ti]
			switch t.kind {
			case tStar:
				starTi, starSi = ti, si
				ti++
				continue
			case tQuestion:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			case tLit:
				if strings.HasPrefix(s[si:], t.s) {
					si += len(t.s)
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starTi < 0 || starSi >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		si = starSi
		ti = starTi + 1
	}
}
