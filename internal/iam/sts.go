package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

// STS is the STS Query API (2011-06-15): AssumeRole, GetSessionToken, GetCallerIdentity.
type STS struct{ iam *Service }

// STS returns the STS service sharing this IAM service's account.
func (s *Service) STS() *STS { return &STS{iam: s} }

// stsAction is one STS API action: how it runs and what it touches.
type stsAction struct {
	run       func(*STS, context.Context, awsquery.Params) (any, error)
	resources resourcesFunc
	members   awsquery.Members
}

// stsActions is every STS action Borealis serves, by its IAM action name.
var stsActions = map[string]stsAction{
	"GetCallerIdentity": {(*STS).getCallerIdentity, onAny, carries()},
	"GetSessionToken":   {(*STS).getSessionToken, onAny, carries("DurationSeconds", "SerialNumber", "TokenCode")},
	"AssumeRole": {(*STS).assumeRole, withRequestTags(onAssumedRole), carries("RoleArn", "RoleSessionName", "DurationSeconds", "Policy",
		"PolicyArns", "Tags", "TransitiveTagKeys", "ExternalId", "SerialNumber", "TokenCode", "SourceIdentity")},
}

// Session durations, as STS has them (seconds).
const (
	minSessionDuration       = 900
	defaultRoleSession       = 3600
	maxChainedSession        = 3600
	defaultUserSession       = 43200
	maxUserSession           = 129600
	maxRootSession           = 3600
	maxSessionPolicyChars    = 2048
	maxSessionPolicyARNs     = 10
	maxPackedPolicyBytes     = 2048 // the compressed session policies and tags
	maxTransitiveTagKeyCount = 50
)

var (
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]*$`)
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
)

// Do runs one STS action and returns the value to encode as its Result element.
func (t *STS) Do(ctx context.Context, action string, p awsquery.Params) (any, error) {
	a, ok := stsActions[action]
	if !ok {
		return nil, awsquery.InvalidAction(action)
	}
	if err := memberRules.Check(action, p, a.members); err != nil {
		return nil, err
	}
	return a.run(t, ctx, p)
}

// Authorization names the resources of each STS action ("*" if unknown).
func (t *STS) Authorization(ctx context.Context, action string, p awsquery.Params) ([]authz.Resource, map[string][]string) {
	keys := map[string][]string{}
	a, ok := stsActions[action]
	if !ok {
		return onAny(t.iam, ctx, p, keys), keys
	}
	return a.resources(t.iam, ctx, p, keys), keys
}

// onAssumedRole is the role AssumeRole names, with the request's STS condition keys.
func onAssumedRole(_ *Service, _ context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	for member, key := range map[string]string{"ExternalId": "sts:ExternalId", "RoleSessionName": "sts:RoleSessionName", "SourceIdentity": "sts:SourceIdentity"} {
		if v := p.String(member); v != "" {
			keys[key] = []string{v}
		}
	}
	if tt := p.List("TransitiveTagKeys", "member"); len(tt) > 0 {
		keys["sts:TransitiveTagKeys"] = tt
	}
	return []authz.Resource{authz.On(orStar(p.String("RoleArn")))}
}

type xmlCredentials struct {
	AccessKeyID     string    `xml:"AccessKeyId"`
	SecretAccessKey string    `xml:"SecretAccessKey"`
	SessionToken    string    `xml:"SessionToken"`
	Expiration      time.Time `xml:"Expiration"`
}

type assumeRoleResult struct {
	Credentials     xmlCredentials `xml:"Credentials"`
	AssumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string `xml:"Arn"`
	} `xml:"AssumedRoleUser"`
	PackedPolicySize *int   `xml:"PackedPolicySize,omitempty"`
	SourceIdentity   string `xml:"SourceIdentity,omitempty"`
}

type getSessionTokenResult struct {
	Credentials xmlCredentials `xml:"Credentials"`
}

func (t *STS) getCallerIdentity(ctx context.Context, _ awsquery.Params) (any, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return callerIdentityResult{UserID: c.UserID, Account: c.AccountID, Arn: c.ARN}, nil
}

// durationParam reads DurationSeconds: absent is def; outside min..max is ValidationError.
func durationParam(p awsquery.Params, def, max int) (int, error) {
	n, ok, err := p.Int("DurationSeconds")
	if err != nil {
		return 0, err
	}
	if !ok {
		return def, nil
	}
	switch {
	case n < minSessionDuration:
		return 0, validationError("durationSeconds", p.String("DurationSeconds"), fmt.Sprintf("Member must have value greater than or equal to %d", minSessionDuration))
	case n > max:
		return 0, validationError("durationSeconds", p.String("DurationSeconds"), fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
	return n, nil
}

// patterned checks an optional string member's length and pattern.
func patterned(p awsquery.Params, member string, min, max int, re *regexp.Regexp) (string, error) {
	v := p.String(member)
	field := lowerFirst(member)
	switch {
	case !p.Has(member):
		return "", nil
	case len(v) < min:
		return "", validationError(field, v, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	case len(v) > max:
		return "", validationError(field, v, fmt.Sprintf("Member must have length less than or equal to %d", max))
	case !re.MatchString(v):
		return "", validationError(field, v, "Member must satisfy regular expression pattern: "+strings.Trim(re.String(), "^$"))
	}
	return v, nil
}

// mfaParams reads SerialNumber and TokenCode, which come together.
func mfaParams(p awsquery.Params) (serial, code string, err error) {
	if serial, err = patterned(p, "SerialNumber", 9, 256, serialPattern); err != nil {
		return "", "", err
	}
	if code, err = patterned(p, "TokenCode", 6, 6, digitsPattern); err != nil {
		return "", "", err
	}
	if (serial == "") != (code == "") {
		return "", "", accessDenied("MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code.")
	}
	return serial, code, nil
}

// checkMFA verifies the caller's own MFA device's code (once only); AccessDenied otherwise.
func (s *Service) checkMFA(ctx context.Context, c principal.Principal, serial, code string) error {
	switch {
	case c.Type != principal.User:
	case !s.mfaCodes.take(c.UserID, s.cfg.Now()):
		s.log.Info("sts MFA code refused unchecked: too many codes tried", "caller", c.ARN, "serial", serial)
		return accessDenied("MultiFactorAuthentication failed with invalid MFA one time pass code. ")
	default:
		ok, err := s.useCode(ctx, c.UserID, serial, code)
		if err != nil || ok {
			return err
		}
	}
	s.log.Info("sts MFA code refused", "caller", c.ARN, "serial", serial)
	return accessDenied("MultiFactorAuthentication failed with invalid MFA one time pass code. ")
}

func (t *STS) getSessionToken(ctx context.Context, p awsquery.Params) (any, error) {
	s := t.iam
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if c.Session != nil {
		return nil, accessDenied("Cannot call GetSessionToken with session credentials")
	}
	max, def := maxUserSession, defaultUserSession
	if c.IsRoot() {
		max, def = maxRootSession, maxRootSession
	}
	dur, err := durationParam(p, def, max)
	if err != nil {
		return nil, err
	}
	serial, code, err := mfaParams(p)
	if err != nil {
		return nil, err
	}
	now := s.now()
	claims := sessionClaims{UserID: c.UserID, Issued: now.Unix(), Expiry: now.Add(time.Duration(dur) * time.Second).Unix(), By: c.ARN}
	if c.IsRoot() {
		claims.UserID = "root"
	}
	if serial != "" {
		if err := s.checkMFA(ctx, c, serial, code); err != nil {
			return nil, err
		}
		claims.MFAAt = now.Unix()
	}
	id, secret, token, err := s.mintSession(claims)
	if err != nil {
		return nil, err
	}
	s.log.Info("sts session token issued", "caller", c.ARN, "access_key", id, "mfa", serial != "", "expires", time.Unix(claims.Expiry, 0).UTC())
	return getSessionTokenResult{Credentials: xmlCredentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token, Expiration: time.Unix(claims.Expiry, 0).UTC()}}, nil
}

// assumeRequest is an AssumeRole request, checked.
type assumeRequest struct {
	roleARN, sessionName, externalID, sourceIdentity string
	duration                                         int
	hasDuration                                      bool
	policies, policyARNs                             []string
	tags                                             map[string]string
	transitive                                       []string
	serial, code                                     string
}

func readAssumeRequest(p awsquery.Params) (assumeRequest, error) {
	var r assumeRequest
	var err error
	r.roleARN = p.String("RoleArn")
	switch {
	case r.roleARN == "":
		return r, validationError("roleArn", "", "Member must not be null")
	case len(r.roleARN) < 20:
		return r, validationError("roleArn", r.roleARN, "Member must have length greater than or equal to 20")
	case len(r.roleARN) > 2048:
		return r, validationError("roleArn", r.roleARN, "Member must have length less than or equal to 2048")
	}
	if !p.Has("RoleSessionName") {
		return r, validationError("roleSessionName", "", "Member must not be null")
	}
	if r.sessionName, err = patterned(p, "RoleSessionName", 2, 64, sessionNamePattern); err != nil {
		return r, err
	}
	_, r.hasDuration, _ = p.Int("DurationSeconds")
	if r.duration, err = durationParam(p, defaultRoleSession, maxMaxSessionDuration); err != nil {
		return r, err
	}
	if r.externalID, err = patterned(p, "ExternalId", 2, 1224, externalIDPattern); err != nil {
		return r, err
	}
	if r.sourceIdentity, err = patterned(p, "SourceIdentity", 2, 64, sessionNamePattern); err != nil {
		return r, err
	}
	if strings.HasPrefix(strings.ToLower(r.sourceIdentity), "aws:") {
		return r, validationError("sourceIdentity", r.sourceIdentity, "Member must not begin with the reserved prefix aws:")
	}
	if r.serial, r.code, err = mfaParams(p); err != nil {
		return r, err
	}
	if p.Has("Policy") {
		doc := p.String("Policy")
		switch {
		case doc == "":
			return r, validationError("policy", "", "Member must have length greater than or equal to 1")
		case len(doc) > maxSessionPolicyChars:
			return r, validationError("policy", doc, fmt.Sprintf("Member must have length less than or equal to %d", maxSessionPolicyChars))
		case !documentPattern.MatchString(doc):
			return r, validationError("policy", doc, `Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+`)
		}
		if _, err := policy.Parse(doc); err != nil {
			return r, policyError(err)
		}
		r.policies = []string{doc}
	}
	for i := 1; p.Has("PolicyArns.member." + strconv.Itoa(i) + ".arn"); i++ {
		arn := p.String("PolicyArns.member." + strconv.Itoa(i) + ".arn")
		if len(arn) < 20 || len(arn) > 2048 {
			return r, validationError("policyArns.member.arn", arn, "Member must have length between 20 and 2048")
		}
		if _, _, _, ok := splitPolicyARN(arn); !ok {
			return r, validationError("policyArns.member.arn", arn, "Member must be the ARN of a managed policy")
		}
		r.policyARNs = append(r.policyARNs, arn)
	}
	if len(r.policyARNs) > maxSessionPolicyARNs {
		return r, validationError("policyArns", strconv.Itoa(len(r.policyARNs)), fmt.Sprintf("Member must have length less than or equal to %d", maxSessionPolicyARNs))
	}
	ts, err := tags(p)
	if err != nil {
		return r, err
	}
	r.tags = tagMap(ts)
	r.transitive = p.List("TransitiveTagKeys", "member")
	if len(r.transitive) > maxTransitiveTagKeyCount {
		return r, validationError("transitiveTagKeys", strconv.Itoa(len(r.transitive)), "Member must have length less than or equal to 50")
	}
	var transitive []string
	for _, k := range r.transitive {
		key, ok := keyFold(r.tags, k)
		if !ok {
			return r, invalidParameterValue("The transitive tag key %s is not one of the session tags.", awsquery.Clip(k))
		}
		if !slices.Contains(transitive, key) { // the tag's own key, once: a chained session finds its value by it
			transitive = append(transitive, key)
		}
	}
	r.transitive = transitive
	return r, nil
}

func invalidParameterValue(format string, args ...any) error {
	return awsquery.Errorf(http.StatusBadRequest, "InvalidParameterValue", format, args...)
}

func lookupFold(m map[string]string, key string) (string, bool) {
	k, ok := keyFold(m, key)
	return m[k], ok
}

// keyFold is m's key equal to key but for case (tag keys are case-insensitive).
func keyFold(m map[string]string, key string) (string, bool) {
	for k := range m {
		if strings.EqualFold(k, key) {
			return k, true
		}
	}
	return "", false
}

// findRole returns the role an ARN names in this account, exactly (path included).
func (s *Service) findRole(ctx context.Context, arn string) (store.IAMRole, bool, error) {
	rest, ok := strings.CutPrefix(arn, s.accountARN()+"role/")
	if !ok {
		return store.IAMRole{}, false, nil
	}
	name := rest[strings.LastIndex(rest, "/")+1:]
	r, err := s.store.IAMRole(ctx, name)
	if errors.Is(err, store.ErrNotFound) || err == nil && s.roleARN(r) != arn {
		return store.IAMRole{}, false, nil
	}
	return r, err == nil, err
}

func (t *STS) assumeRole(ctx context.Context, p awsquery.Params) (any, error) {
	s := t.iam
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	req, err := readAssumeRequest(p)
	if err != nil {
		return nil, err
	}
	if c.IsRoot() {
		return nil, accessDenied("Roles may not be assumed by root accounts.")
	}
	keys, ok := authz.KeysFrom(ctx)
	if !ok {
		return nil, errors.New("sts: AssumeRole without the request's condition keys")
	}
	keys = maps.Clone(keys)
	now := s.now()
	chained := c.Type == principal.AssumedRole

	// Session values carried over from a calling session: MFA, source identity, and the
	// transitive tags.
	var mfaAt int64
	if c.Session != nil && !c.Session.MFAAt.IsZero() {
		mfaAt = c.Session.MFAAt.Unix()
	}
	tags, transitive := req.tags, req.transitive
	if c.Session != nil {
		if c.Session.SourceIdentity != "" {
			if req.sourceIdentity != "" && req.sourceIdentity != c.Session.SourceIdentity {
				return nil, accessDenied("User: %s is not authorized to perform: sts:SetSourceIdentity: the source identity of a session cannot be changed", c.ARN)
			}
			req.sourceIdentity = c.Session.SourceIdentity
		}
		for _, k := range c.Session.TransitiveTagKeys {
			if _, clash := lookupFold(tags, k); clash {
				return nil, invalidParameterValue("The session tag %s is transitive from the calling session and cannot be set again.", awsquery.Clip(k))
			}
			if tags == nil {
				tags = map[string]string{}
			}
			v, ok := lookupFold(c.Session.Tags, k) // a token may name the key in another case
			if !ok {
				return nil, fmt.Errorf("sts: session %s names transitive tag %q it does not carry", c.ARN, k) // fail closed
			}
			tags[k] = v
			transitive = append(transitive, k)
		}
	}

	denied := func(action string) error {
		return accessDenied("User: %s is not authorized to perform: %s on resource: %s", c.ARN, action, req.roleARN)
	}
	r, found, err := s.findRole(ctx, req.roleARN)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, denied("sts:AssumeRole") // as on AWS: a missing role is not told apart
	}
	if req.serial != "" {
		if err := s.checkMFA(ctx, c, req.serial, req.code); err != nil {
			return nil, err
		}
		mfaAt = now.Unix()
	}
	if mfaAt != 0 {
		keys["aws:MultiFactorAuthPresent"] = []string{"true"}
		keys["aws:MultiFactorAuthAge"] = []string{strconv.FormatInt(now.Unix()-mfaAt, 10)}
	}
	if req.sourceIdentity != "" {
		keys["sts:SourceIdentity"] = []string{req.sourceIdentity}
	}
	actions := []string{"sts:AssumeRole"}
	if len(tags) > 0 {
		actions = append(actions, "sts:TagSession")
	}
	if req.sourceIdentity != "" && (c.Session == nil || c.Session.SourceIdentity == "") {
		actions = append(actions, "sts:SetSourceIdentity")
	}
	for _, action := range actions {
		ok, err := s.mayAssume(ctx, c, r, action, keys)
		if err != nil {
			return nil, err
		}
		if !ok {
			s.log.Info("sts AssumeRole refused", "caller", c.ARN, "role", req.roleARN, "action", action)
			return nil, denied(action)
		}
	}

	if chained && req.hasDuration && req.duration > maxChainedSession {
		return nil, validationError("durationSeconds", strconv.Itoa(req.duration), "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	if req.duration > r.MaxSessionDuration {
		return nil, awsquery.Errorf(http.StatusBadRequest, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	packed, err := packedPercent(req.policies, req.policyARNs, tags, transitive)
	if err != nil {
		return nil, err
	}
	if packed > 100 {
		return nil, awsquery.Errorf(http.StatusBadRequest, "PackedPolicyTooLarge", "Packed policy consumes %d%% of allotted space, please use smaller policy.", packed)
	}
	claims := sessionClaims{RoleID: r.RoleID, Name: req.sessionName, Issued: now.Unix(),
		Expiry: now.Add(time.Duration(req.duration) * time.Second).Unix(), MFAAt: mfaAt, By: c.ARN,
		Policies: req.policies, PolicyARNs: req.policyARNs, Tags: tags, Transitive: transitive,
		SourceIdentity: req.sourceIdentity, Chained: chained}
	id, secret, token, err := s.mintSession(claims)
	if err != nil {
		return nil, err
	}
	s.log.Info("sts role assumed", "caller", c.ARN, "role", req.roleARN, "session", req.sessionName, "access_key", id,
		"mfa", mfaAt != 0, "session_policies", len(req.policies)+len(req.policyARNs), "expires", time.Unix(claims.Expiry, 0).UTC())
	var res assumeRoleResult
	res.Credentials = xmlCredentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token, Expiration: time.Unix(claims.Expiry, 0).UTC()}
	res.AssumedRoleUser.AssumedRoleID = r.RoleID + ":" + req.sessionName
	res.AssumedRoleUser.Arn = s.sessionARN(r.Name, req.sessionName)
	res.SourceIdentity = req.sourceIdentity
	if len(req.policies)+len(req.policyARNs)+len(tags) > 0 {
		res.PackedPolicySize = &packed
	}
	return res, nil
}

// packedPercent is how much of the packed-policy allowance the session policies and tags
// use, as STS reports it (PackedPolicySize).
func packedPercent(policies, arns []string, tags map[string]string, transitive []string) (int, error) {
	b, err := json.Marshal(struct {
		P []string
		A []string
		T map[string]string
		K []string
	}{policies, arns, tags, transitive})
	if err != nil {
		return 0, err
	}
	return (len(deflate(b))*100 + maxPackedPolicyBytes - 1) / maxPackedPolicyBytes, nil
}

// mayAssume decides one action of AssumeRole (sts:AssumeRole, sts:TagSession,
// sts:SetSourceIdentity) on a role as AWS does within one account: the role's trust policy
// must allow the caller; when it names the caller itself (its ARN, or "*"), that is enough
// unless the caller's own policies deny the action; when it names only the account, the
// caller's identity-based (and session) policies must allow the action too.
func (s *Service) mayAssume(ctx context.Context, c principal.Principal, r store.IAMRole, action string, keys map[string][]string) (bool, error) {
	trust, err := policy.ParseTrust(r.TrustPolicy)
	if err != nil {
		return false, fmt.Errorf("iam: trust policy of role %s: %w", r.Name, err) // fail closed
	}
	req := policy.Request{Action: action, Resource: s.roleARN(r), Context: keys}
	tr := policy.EvaluateTrust(req, trust, s.trustCaller(c, r))
	if tr.Decision != policy.Allow {
		return false, nil
	}
	set, err := s.decisionSetFor(ctx, c)
	if err != nil {
		return false, err
	}
	// A trust policy naming the caller itself is not capped by the caller's boundary or
	// session policies, as AWS evaluates a resource-based policy granting to the principal;
	// one naming a session's role leaves the role's boundary and the session policies to
	// allow too (not its identity policies); an explicit deny anywhere still refuses.
	v := policy.EvaluateBounded(req, set.policies, set.bounds)
	switch {
	case v.Decision == policy.ExplicitDeny:
		return false, nil
	case tr.ViaRole:
		for _, b := range v.Bounds {
			if b.Decision != policy.Allow {
				return false, nil
			}
		}
		return true, nil
	case tr.Direct:
		return true, nil
	}
	return v.Decision == policy.Allow, nil
}

// trustCaller is the caller as the role's trust policy sees it: its ARNs, less those the
// policy named for an entity since deleted and made again (TrustIDs).
func (s *Service) trustCaller(c principal.Principal, r store.IAMRole) policy.Caller {
	tc := policy.Caller{Account: c.AccountID}
	add := func(arn, id string) {
		if want, named := r.TrustIDs[arn]; named && want != id {
			return
		}
		tc.ARNs = append(tc.ARNs, arn)
	}
	switch c.Type {
	case principal.User:
		add(c.ARN, c.UserID)
	case principal.AssumedRole:
		add(c.ARN, "")
		if want, named := r.TrustIDs[c.Session.RoleARN]; !named || want == c.Session.RoleID {
			tc.RoleARN = c.Session.RoleARN
		}
	}
	return tc
}

// sessionPolicies parses a session's inline session policy and the default versions of the
// managed ones it names; a managed policy deleted since allows nothing.
func (s *Service) sessionPolicies(ctx context.Context, sess *principal.Session) ([]*policy.Policy, error) {
	var out []*policy.Policy
	for _, doc := range sess.Policies {
		p, err := s.parsed.parse(doc)
		if err != nil {
			return nil, fmt.Errorf("iam: session policy: %w", err)
		}
		out = append(out, p)
	}
	for _, arn := range sess.PolicyARNs {
		r, ok, err := s.managed(ctx, arn)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if r.aws != nil {
			out = append(out, r.aws.parsed)
			continue
		}
		p, err := s.parsed.parse(r.defaultDocument())
		if err != nil {
			return nil, fmt.Errorf("iam: managed policy %s: %w", arn, err)
		}
		out = append(out, p)
	}
	return out, nil
}
