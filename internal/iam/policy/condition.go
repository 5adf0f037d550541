package policy

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Condition is one key test of a statement's Condition block:
// {"Operator": {"Key": Values}}. Values keeps JSON numbers and booleans as
// their literal text.
type Condition struct {
	Operator string // as written, e.g. "ForAnyValue:StringLikeIfExists"
	Key      string // as written, e.g. "aws:PrincipalTag/team"
	Values   []string
}

type baseOp uint8

const (
	opUnknown baseOp = iota
	opStringEquals
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opArnLike // ArnEquals and ArnLike behave identically
	opNull
)

type setQualifier uint8

const (
	setNone setQualifier = iota
	setForAnyValue
	setForAllValues
)

type operator struct {
	base     baseOp
	negated  bool
	ifExists bool
	set      setQualifier
}

var baseOperators = map[string]struct {
	op      baseOp
	negated bool
}{
	"StringEquals":              {opStringEquals, false},
	"StringNotEquals":           {opStringEquals, true},
	"StringEqualsIgnoreCase":    {opStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {opStringEqualsIgnoreCase, true},
	"StringLike":                {opStringLike, false},
	"StringNotLike":             {opStringLike, true},
	"NumericEquals":             {opNumericEquals, false},
	"NumericNotEquals":          {opNumericEquals, true},
	"NumericLessThan":           {opNumericLessThan, false},
	"NumericLessThanEquals":     {opNumericLessThanEquals, false},
	"NumericGreaterThan":        {opNumericGreaterThan, false},
	"NumericGreaterThanEquals":  {opNumericGreaterThanEquals, false},
	"DateEquals":                {opDateEquals, false},
	"DateNotEquals":             {opDateEquals, true},
	"DateLessThan":              {opDateLessThan, false},
	"DateLessThanEquals":        {opDateLessThanEquals, false},
	"DateGreaterThan":           {opDateGreaterThan, false},
	"DateGreaterThanEquals":     {opDateGreaterThanEquals, false},
	"Bool":                      {opBool, false},
	"BinaryEquals":              {opBinaryEquals, false},
	"IpAddress":                 {opIPAddress, false},
	"NotIpAddress":              {opIPAddress, true},
	"ArnEquals":                 {opArnLike, false},
	"ArnLike":                   {opArnLike, false},
	"ArnNotEquals":              {opArnLike, true},
	"ArnNotLike":                {opArnLike, true},
	"Null":                      {opNull, false},
}

// parseOperator parses "[ForAnyValue:|ForAllValues:]Base[IfExists]".
func parseOperator(name string) (operator, bool) {
	var op operator
	switch {
	case strings.HasPrefix(name, "ForAnyValue:"):
		op.set, name = setForAnyValue, name[len("ForAnyValue:"):]
	case strings.HasPrefix(name, "ForAllValues:"):
		op.set, name = setForAllValues, name[len("ForAllValues:"):]
	}
	if b, ok := baseOperators[name]; ok {
		op.base, op.negated = b.op, b.negated
		return op, true
	}
	base, ok := strings.CutSuffix(name, "IfExists")
	if !ok {
		return operator{}, false
	}
	b, ok := baseOperators[base]
	if !ok || b.op == opNull { // "You can add IfExists to ... any condition operator ... except the Null condition"
		return operator{}, false
	}
	op.base, op.negated, op.ifExists = b.op, b.negated, true
	return op, true
}

func (op operator) isDate() bool {
	return op.base >= opDateEquals && op.base <= opDateGreaterThanEquals
}

// takesVariables: the operator families whose values may hold policy
// variables (string, ARN and Boolean per the condition-operator reference);
// numeric, date, binary, IP and Null values are always literal.
func (op operator) takesVariables() bool {
	switch op.base {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike, opArnLike, opBool:
		return true
	}
	return false
}

// tri is a three-valued truth value; tUnknown means the evaluator could not
// interpret something and must fail closed.
type tri int8

const (
	tFalse tri = iota
	tTrue
	tUnknown
)

func triOf(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}

func and(a, b tri) tri {
	if a == tFalse || b == tFalse {
		return tFalse
	}
	if a == tUnknown || b == tUnknown {
		return tUnknown
	}
	return tTrue
}

func not(a tri) tri {
	switch a {
	case tTrue:
		return tFalse
	case tFalse:
		return tTrue
	}
	return tUnknown
}

// condValue is one policy value, pre-parsed for its operator.
type condValue struct {
	pat   pattern      // string, ARN and Bool operators
	arn   arnPattern   // ArnLike without variables
	num   float64      // Numeric
	t     time.Time    // Date
	pfx   netip.Prefix // IpAddress
	bin   []byte       // BinaryEquals
	isNil bool         // Null: true means "the key must be absent"
}

type compiledCondition struct {
	op     operator
	known  bool
	bad    bool   // a policy value the evaluator cannot interpret
	key    string // lower-cased
	values []condValue
}

func compileCondition(c Condition, variables bool) compiledCondition {
	op, ok := parseOperator(c.Operator)
	cc := compiledCondition{op: op, known: ok, key: strings.ToLower(c.Key)}
	if !ok {
		return cc
	}
	vars := variables && op.takesVariables()
	cc.values = make([]condValue, len(c.Values))
	for i, s := range c.Values {
		v := &cc.values[i]
		ok := true
		switch op.base {
		case opStringEquals, opStringEqualsIgnoreCase, opBool:
			v.pat = compilePattern(s, vars, false)
			if op.base == opBool && !v.pat.hasVar {
				_, ok = parseBool(s)
			}
		case opStringLike:
			v.pat = compilePattern(s, vars, true)
		case opArnLike:
			v.pat = compilePattern(s, vars, true)
			if !v.pat.hasVar {
				v.arn, ok = splitARNPattern(v.pat.toks)
			}
		case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
			v.num, ok = parseNumber(s)
		case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
			v.t, ok = parseDate(s)
		case opBinaryEquals:
			v.bin, ok = parseBase64(s)
		case opIPAddress:
			v.pfx, ok = parseCIDR(s)
		case opNull:
			var b bool
			b, ok = parseBool(s)
			v.isNil = b
		}
		if !ok {
			cc.bad = true
		}
	}
	return cc
}

// eval evaluates the condition against the (lower-cased) request context.
func (c *compiledCondition) eval(ctx map[string][]string) tri {
	if !c.known || c.bad {
		return tUnknown
	}
	vals := ctx[c.key]
	present := len(vals) > 0
	if c.op.base == opNull {
		// "true": the key is absent; "false": it is present. Several values
		// are ORed like any other operator's.
		for i := range c.values {
			if c.values[i].isNil != present {
				return tTrue
			}
		}
		return tFalse
	}
	if c.op.set != setNone && len(vals) == 1 && vals[0] == "" {
		// "If the key values in the request resolve to an empty data set
		// (for example, an empty string), ... ForAllValues returns true, and
		// ... ForAnyValue returns false."
		present = false
	}
	if !present {
		switch {
		case c.op.ifExists:
			return tTrue
		case c.op.set == setForAllValues:
			return tTrue
		case c.op.set == setForAnyValue:
			return tFalse
		case c.op.negated:
			return tTrue
		default:
			return tFalse
		}
	}
	switch c.op.set {
	case setForAllValues:
		// Every request value must satisfy the operator (for a negated
		// operator: match none of the policy values).
		result := tTrue
		for _, v := range vals {
			m := c.matchAny(v, ctx)
			if c.op.negated {
				m = not(m)
			}
			if result = and(result, m); result == tFalse {
				return tFalse
			}
		}
		return result
	case setForAnyValue:
		// At least one request value must satisfy the operator.
		result := tFalse
		for _, v := range vals {
			m := c.matchAny(v, ctx)
			if c.op.negated {
				m = not(m)
			}
			switch m {
			case tTrue:
				return tTrue
			case tUnknown:
				result = tUnknown
			}
		}
		return result
	default:
		// Plain operator: values of one key are ORed; a negated operator
		// is true when no request value matches any policy value (NOR).
		result := tFalse
		for _, v := range vals {
			m := c.matchAny(v, ctx)
			if m == tTrue {
				result = tTrue
				break
			}
			if m == tUnknown {
				result = tUnknown
			}
		}
		if c.op.negated {
			return not(result)
		}
		return result
	}
}

// matchAny reports whether the request value matches at least one policy
// value under the (non-negated) base operator.
func (c *compiledCondition) matchAny(v string, ctx map[string][]string) tri {
	var (
		num  float64
		t    time.Time
		addr netip.Addr
		arn  [6]string
		b    bool
		ok   = true
	)
	switch c.op.base {
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		num, ok = parseNumber(v)
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		t, ok = parseDate(v)
	case opIPAddress:
		addr, ok = parseAddr(v)
	case opArnLike:
		arn, ok = splitARN(v)
	case opBool:
		b, ok = parseBool(v)
	}
	if !ok {
		return tUnknown
	}
	result := tFalse
	for i := range c.values {
		pv := &c.values[i]
		var m tri
		switch c.op.base {
		case opStringEquals, opStringEqualsIgnoreCase:
			if c.op.base == opStringEquals {
				m = triOf(pv.pat.equals(ctx, v))
			} else {
				s, ok := pv.pat.text(ctx)
				m = triOf(ok && strings.EqualFold(s, v))
			}
		case opStringLike:
			var buf [8]tok
			toks, ok := pv.pat.tokens(ctx, buf[:0])
			m = triOf(ok && matchTokens(toks, v))
		case opBool:
			s, ok := pv.pat.text(ctx)
			if !ok {
				m = tFalse
			} else if pb, valid := parseBool(s); !valid {
				m = tUnknown
			} else {
				m = triOf(pb == b)
			}
		case opNumericEquals:
			m = triOf(num == pv.num)
		case opNumericLessThan:
			m = triOf(num < pv.num)
		case opNumericLessThanEquals:
			m = triOf(num <= pv.num)
		case opNumericGreaterThan:
			m = triOf(num > pv.num)
		case opNumericGreaterThanEquals:
			m = triOf(num >= pv.num)
		case opDateEquals:
			m = triOf(t.Equal(pv.t))
		case opDateLessThan:
			m = triOf(t.Before(pv.t))
		case opDateLessThanEquals:
			m = triOf(!t.After(pv.t))
		case opDateGreaterThan:
			m = triOf(t.After(pv.t))
		case opDateGreaterThanEquals:
			m = triOf(!t.Before(pv.t))
		case opBinaryEquals:
			m = triOf(bytes.Equal([]byte(v), pv.bin))
		case opIPAddress:
			m = triOf(pv.pfx.Contains(addr))
		case opArnLike:
			m = matchARN(pv, arn, ctx)
		default:
			m = tUnknown
		}
		switch m {
		case tTrue:
			return tTrue
		case tUnknown:
			result = tUnknown
		}
	}
	return result
}

// --- ARN matching: each of the six colon-separated components separately.

type arnPattern struct {
	all   bool // the value "*": matches any ARN
	parts [6][]tok
}

// splitARNPattern splits a token list at its first five literal colons.
func splitARNPattern(toks []tok) (arnPattern, bool) {
	if len(toks) == 1 && toks[0].kind == tStar {
		return arnPattern{all: true}, true
	}
	var ap arnPattern
	n := 0
	for _, t := range toks {
		if t.kind != tLit || n == 5 {
			ap.parts[n] = append(ap.parts[n], t)
			continue
		}
		s := t.s
		for n < 5 {
			i := strings.IndexByte(s, ':')
			if i < 0 {
				break
			}
			if i > 0 {
				ap.parts[n] = append(ap.parts[n], tok{kind: tLit, s: s[:i]})
			}
			n++
			s = s[i+1:]
		}
		if s != "" {
			ap.parts[n] = append(ap.parts[n], tok{kind: tLit, s: s})
		}
	}
	return ap, n == 5
}

func splitARN(s string) ([6]string, bool) {
	var parts [6]string
	for i := 0; i < 5; i++ {
		j := strings.IndexByte(s, ':')
		if j < 0 {
			return parts, false
		}
		parts[i], s = s[:j], s[j+1:]
	}
	parts[5] = s
	return parts, true
}

func matchARN(pv *condValue, arn [6]string, ctx map[string][]string) tri {
	ap := pv.arn
	if pv.pat.hasVar {
		var buf [8]tok
		toks, ok := pv.pat.tokens(ctx, buf[:0])
		if !ok {
			return tFalse // a variable with no value matches nothing
		}
		if ap, ok = splitARNPattern(toks); !ok {
			return tUnknown
		}
	}
	if ap.all {
		return tTrue
	}
	for i := range arn {
		if !matchTokens(ap.parts[i], arn[i]) {
			return tFalse
		}
	}
	return tTrue
}

// --- value parsers

func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// parseNumber accepts decimal integers and decimals with an optional
// exponent; no hex, infinities, NaN or digit separators.
func parseNumber(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && isDigit(s[i]); i++ {
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for ; i < len(s) && isDigit(s[i]); i++ {
			exp++
		}
		if exp == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func parseBase64(s string) ([]byte, bool) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
}

// parseCIDR parses an IpAddress policy value: CIDR, or a bare address which
// stands for /32 (IPv4) or /128 (IPv6). IPv4-mapped IPv6 prefixes are
// turned into IPv4 prefixes so that they compare with unmapped addresses.
func parseCIDR(s string) (netip.Prefix, bool) {
	var p netip.Prefix
	if strings.IndexByte(s, '/') >= 0 {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, false
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return p, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return p.Masked(), true
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

// parseAddr parses a request IP address; IPv4-mapped IPv6 addresses are
// unmapped.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, false
	}
	return a.WithZone("").Unmap(), true
}

// parseDate accepts the two forms of the Date operators: epoch (UNIX) time in
// seconds, and the W3C profile of ISO 8601 (YYYY, YYYY-MM, YYYY-MM-DD,
// optionally followed by T and hh:mm, hh:mm:ss or hh:mm:ss.fraction and a
// zone designator Z, ±hh or ±hh:mm; no zone means UTC). 'T' and 'Z' may be
// lower case. As in IAM, a value with neither 'T' nor '-' is epoch time.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if !strings.ContainsAny(s, "Tt-") {
		for i := 0; i < len(s); i++ {
			if !isDigit(s[i]) {
				return time.Time{}, false
			}
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	datePart, timePart, hasTime := strings.Cut(s, "T")
	if !hasTime {
		datePart, timePart, hasTime = strings.Cut(s, "t")
	}
	neg := strings.HasPrefix(datePart, "-")
	if neg {
		datePart = datePart[1:]
	}
	fields, nf, ok := splitN3(datePart, '-')
	if !ok {
		return time.Time{}, false
	}
	year, ok := atoiRange(fields[0], 1, 9, 0, 292278993)
	if !ok {
		return time.Time{}, false
	}
	if neg {
		year = -year
	}
	month, day := 1, 1
	if nf > 1 {
		if month, ok = atoiRange(fields[1], 1, 2, 1, 12); !ok {
			return time.Time{}, false
		}
	}
	if nf > 2 {
		if day, ok = atoiRange(fields[2], 1, 2, 1, 31); !ok {
			return time.Time{}, false
		}
	}
	var hour, minute, sec, nsec int
	loc := time.UTC
	if hasTime && timePart != "" {
		// Zone designator.
		switch {
		case strings.HasSuffix(timePart, "Z") || strings.HasSuffix(timePart, "z"):
			timePart = timePart[:len(timePart)-1]
		default:
			if i := strings.LastIndexAny(timePart, "+-"); i > 0 {
				zone := timePart[i+1:]
				zh, zm := zone, "0"
				if h, m, found := strings.Cut(zone, ":"); found {
					zh, zm = h, m
					if len(zm) != 2 {
						return time.Time{}, false
					}
				}
				if len(zh) != 2 {
					return time.Time{}, false
				}
				oh, ok1 := atoiRange(zh, 2, 2, 0, 23)
				om, ok2 := atoiRange(zm, 1, 2, 0, 59)
				if !ok1 || !ok2 {
					return time.Time{}, false
				}
				off := oh*3600 + om*60
				if timePart[i] == '-' {
					off = -off
				}
				loc = time.FixedZone("", off)
				timePart = timePart[:i]
			}
		}
		tf, nt, ok := splitN3(timePart, ':')
		if !ok || tf[0] == "" {
			return time.Time{}, false
		}
		if hour, ok = atoiRange(tf[0], 1, 2, 0, 23); !ok {
			return time.Time{}, false
		}
		if nt > 1 {
			if minute, ok = atoiRange(tf[1], 1, 2, 0, 59); !ok {
				return time.Time{}, false
			}
		}
		if nt > 2 {
			secs, frac, hasFrac := strings.Cut(tf[2], ".")
			if sec, ok = atoiRange(secs, 1, 2, 0, 59); !ok {
				return time.Time{}, false
			}
			if hasFrac {
				if len(frac) == 0 || len(frac) > 9 {
					return time.Time{}, false
				}
				f, ok := atoiRange(frac, 1, 9, 0, 999999999)
				if !ok {
					return time.Time{}, false
				}
				for i := len(frac); i < 9; i++ {
					f *= 10
				}
				nsec = f
			}
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), true
}

// splitN3 splits s at sep into at most three fields; ok is false when there
// are more.
func splitN3(s string, sep byte) (f [3]string, n int, ok bool) {
	for n < 3 {
		i := strings.IndexByte(s, sep)
		if i < 0 {
			f[n] = s
			return f, n + 1, true
		}
		f[n], s = s[:i], s[i+1:]
		n++
	}
	return f, n, false
}

// atoiRange parses an unsigned decimal of minLen..maxLen digits within
// [lo, hi].
func atoiRange(s string, minLen, maxLen, lo, hi int) (int, bool) {
	if len(s) < minLen || len(s) > maxLen {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	if n < lo || n > hi {
		return 0, false
	}
	return n, true
}
