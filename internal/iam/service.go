// Package iam is Borealis' identity service: IAM users, groups, access keys, login
// profiles, inline and managed policies (IAM API 2010-05-08) and the caller's identity (STS
// API 2011-06-15). It turns an access key into the caller (Authenticate) and collects the
// identity-based policies that apply to a caller (PoliciesFor) for the API server's
// authorizer; the policy language itself lives in the policy subpackage.
package iam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

// The IAM and STS Query APIs: XML namespaces and versions.
const (
	Namespace    = "https://iam.amazonaws.com/doc/2010-05-08/"
	Version      = "2010-05-08"
	STSNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"
	STSVersion   = "2011-06-15"
)

// DefaultPasswordIterations is the PBKDF2-SHA256 work factor for console passwords (OWASP's
// 2023 recommendation).
const DefaultPasswordIterations = 600000

// Quotas, as IAM's defaults.
const (
	maxAccessKeysPerUser   = 2
	maxGroupsPerUser       = 10
	maxPoliciesPerEntity   = 10 // managed policies attached to a user or group
	maxPolicyVersions      = 5
	maxTagsPerEntity       = 50
	defaultMaxItems        = 100
	maxMaxItems            = 1000
	secretAccessKeyLength  = 40
	maxPasswordLengthBytes = 128
)

// Config is what the IAM service needs to know about this Borealis.
type Config struct {
	AccountID string
	// AccountCreated is shown as the root user's CreateDate (GetUser as root).
	AccountCreated time.Time
	// PasswordIterations is the PBKDF2 iteration count for new password hashes; 0 means
	// DefaultPasswordIterations. Tests lower it; stored hashes keep their own count.
	PasswordIterations int
	// SessionKey (base64, from NewSessionKey) signs session tokens; kept by the caller so that
	// sessions survive a restart. Empty means a key of this process only (tests).
	SessionKey string
	Now        func() time.Time
}

// Service implements the IAM actions Borealis supports.
type Service struct {
	cfg   Config
	store *store.Store
	log   *slog.Logger
	aws   awsManaged
	// parsed caches parsed documents for the authorization path.
	parsed parseCache
	// sessionKey signs session tokens and derives their secrets (see session.go).
	sessionKey []byte
	// mfaCodes limits the MFA codes a user may try through STS (mfalimit.go).
	mfaCodes *mfaLimiter
}

// New returns the IAM service. It fails only if an AWS managed policy's document does not
// parse, which is a bug.
func New(cfg Config, st *store.Store, log *slog.Logger) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PasswordIterations <= 0 {
		cfg.PasswordIterations = DefaultPasswordIterations
	}
	aws, err := loadAWSManaged()
	if err != nil {
		return nil, err
	}
	if cfg.SessionKey == "" {
		cfg.SessionKey = NewSessionKey()
	}
	key, err := base64.StdEncoding.DecodeString(cfg.SessionKey)
	if err != nil || len(key) < sessionKeyBytes {
		return nil, errors.New("iam: the session key is not 32 bytes of base64")
	}
	return &Service{cfg: cfg, store: st, log: log, aws: aws, sessionKey: key, mfaCodes: &mfaLimiter{}}, nil
}

// Do runs one IAM action and returns the value to encode as its Result element.
func (s *Service) Do(ctx context.Context, action string, p awsquery.Params) (any, error) {
	a, ok := iamActions[action]
	if !ok {
		return nil, awsquery.InvalidAction(action)
	}
	if err := memberRules.Check(action, p, a.members); err != nil {
		return nil, err
	}
	return a.run(s, ctx, p)
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Second) }

// --- errors, with the codes and HTTP statuses of botocore's iam model

func noSuchEntity(format string, args ...any) error {
	return awsquery.Errorf(http.StatusNotFound, "NoSuchEntity", format, args...)
}

func alreadyExists(format string, args ...any) error {
	return awsquery.Errorf(http.StatusConflict, "EntityAlreadyExists", format, args...)
}

func deleteConflict(format string, args ...any) error {
	return awsquery.Errorf(http.StatusConflict, "DeleteConflict", format, args...)
}

func limitExceeded(format string, args ...any) error {
	return awsquery.Errorf(http.StatusConflict, "LimitExceeded", format, args...)
}

func invalidInput(format string, args ...any) error {
	return awsquery.Errorf(http.StatusBadRequest, "InvalidInput", format, args...)
}

func malformedPolicy(reason string) error {
	return awsquery.Errorf(http.StatusBadRequest, "MalformedPolicyDocument", "%s", reason)
}

func passwordPolicyViolation(format string, args ...any) error {
	return awsquery.Errorf(http.StatusBadRequest, "PasswordPolicyViolation", format, args...)
}

func accessDenied(format string, args ...any) error {
	return awsquery.Errorf(http.StatusForbidden, "AccessDenied", format, args...)
}

func invalidToken() error {
	return awsquery.Errorf(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
}

// validationError is what IAM's request validation answers for a value outside the model's
// constraints.
func validationError(field, value, constraint string) error {
	v := "'" + awsquery.Clip(value) + "'"
	if value == "" {
		v = "null"
	}
	return awsquery.Errorf(http.StatusBadRequest, "ValidationError",
		"1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s", v, field, constraint)
}

// policyError turns the policy package's errors into IAM's.
func policyError(err error) error {
	var me *policy.MalformedError
	if errors.As(err, &me) {
		return malformedPolicy(me.Reason)
	}
	var le *policy.LimitExceededError
	if errors.As(err, &le) {
		return limitExceeded("%s", le.Reason)
	}
	return err
}

// --- request validation, per botocore's iam model

var (
	namePattern       = regexp.MustCompile(`^[\w+=,.@-]+$`)
	pathPattern       = regexp.MustCompile(`^(/|/[\x{21}-\x{7E}]+/)$`)
	pathPrefixPattern = regexp.MustCompile(`^/[\x{21}-\x{7F}]*$`)
	policyPathPattern = regexp.MustCompile(`^((/[A-Za-z0-9.,+@=_-]+)*)/$`)
	versionIDPattern  = regexp.MustCompile(`^v[1-9][0-9]*(\.[A-Za-z0-9-]*)?$`)
	tagKeyPattern     = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValuePattern   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	documentPattern   = regexp.MustCompile(`^[\x{09}\x{0A}\x{0D}\x{20}-\x{FF}]+$`)
)

// nameParam checks an entity name member: 1..max characters of [\w+=,.@-].
func nameParam(p awsquery.Params, member string, max int) (string, error) {
	v := p.String(member)
	field := lowerFirst(member)
	if v == "" {
		return "", validationError(field, "", "Member must not be null")
	}
	if utf8.RuneCountInString(v) > max {
		return "", validationError(field, v, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
	if !namePattern.MatchString(v) {
		return "", validationError(field, v, `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	return v, nil
}

// optionalName is name for a member that may be absent ("" then).
func optionalName(p awsquery.Params, member string, max int) (string, error) {
	if p.String(member) == "" {
		return "", nil
	}
	return nameParam(p, member, max)
}

// entityPath checks a user or group Path (default "/").
func entityPath(p awsquery.Params) (string, error) {
	v := p.String("Path")
	if v == "" {
		return "/", nil
	}
	if len(v) > 512 || !pathPattern.MatchString(v) {
		return "", validationError("path", v, `Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)`)
	}
	return v, nil
}

func pathPrefix(p awsquery.Params, re *regexp.Regexp) (string, error) {
	v := p.String("PathPrefix")
	if v == "" {
		return "/", nil
	}
	if len(v) > 512 || !re.MatchString(v) {
		return "", validationError("pathPrefix", v, "Member must satisfy regular expression pattern: "+strings.Trim(re.String(), "^$"))
	}
	return v, nil
}

func document(p awsquery.Params) (string, error) {
	v := p.String("PolicyDocument")
	if v == "" {
		return "", validationError("policyDocument", "", "Member must not be null")
	}
	if len(v) > 131072 {
		return "", validationError("policyDocument", v, "Member must have length less than or equal to 131072")
	}
	if !documentPattern.MatchString(v) {
		return "", validationError("policyDocument", v, `Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+`)
	}
	return v, nil
}

func required(p awsquery.Params, member string) (string, error) {
	v := p.String(member)
	if v == "" {
		return "", validationError(lowerFirst(member), "", "Member must not be null")
	}
	return v, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// tags reads Tags.member.N.Key/Value, checked as IAM does.
func tags(p awsquery.Params) ([]store.Tag, error) {
	var out []store.Tag
	seen := map[string]bool{}
	for i := 1; ; i++ {
		prefix := fmt.Sprintf("Tags.member.%d.", i)
		if !p.Has(prefix+"Key") && !p.Has(prefix+"Value") {
			break
		}
		t := store.Tag{Key: p.String(prefix + "Key"), Value: p.String(prefix + "Value")}
		if err := checkTag(t); err != nil {
			return nil, err
		}
		k := strings.ToLower(t.Key)
		if seen[k] {
			return nil, invalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[k] = true
		out = append(out, t)
	}
	if len(out) > maxTagsPerEntity {
		return nil, limitExceeded("The number of tags has reached the maximum limit.")
	}
	return out, nil
}

func checkTag(t store.Tag) error {
	switch {
	case t.Key == "":
		return validationError("tags.member.key", "", "Member must not be null")
	case utf8.RuneCountInString(t.Key) > 128:
		return validationError("tags.member.key", t.Key, "Member must have length less than or equal to 128")
	case !tagKeyPattern.MatchString(t.Key):
		return validationError("tags.member.key", t.Key, `Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+`)
	case utf8.RuneCountInString(t.Value) > 256:
		return validationError("tags.member.value", t.Value, "Member must have length less than or equal to 256")
	case !tagValuePattern.MatchString(t.Value):
		return validationError("tags.member.value", t.Value, `Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]*`)
	case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
		return invalidInput("User-defined tag keys can't start with 'aws:'. This prefix is reserved for AWS tags.")
	}
	return nil
}

func optionalBool(p awsquery.Params, member string) (bool, error) {
	b, _, err := p.Bool(member)
	return b, err
}

// --- paging: Marker / MaxItems / IsTruncated

type page struct {
	marker string // the sort key of the first item to return
	max    int
}

func paging(p awsquery.Params) (page, error) {
	pg := page{max: defaultMaxItems}
	n, ok, err := p.Int("MaxItems")
	if err != nil {
		return pg, err
	}
	if ok {
		if n < 1 || n > maxMaxItems {
			return pg, validationError("maxItems", p.String("MaxItems"), "Member must have value between 1 and 1000")
		}
		pg.max = n
	}
	if m := p.String("Marker"); m != "" {
		b, err := base64.RawURLEncoding.DecodeString(m)
		if err != nil {
			return pg, validationError("marker", m, "Member must be a marker returned by a previous call")
		}
		pg.marker = string(b)
	}
	return pg, nil
}

// paginate returns the page of items (sorted by key) starting at the marker, and the marker
// of the next page when there is one. Markers are opaque to clients.
func paginate[T any](items []T, key func(T) string, pg page) (out []T, next string, truncated bool) {
	start := 0
	if pg.marker != "" {
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) >= pg.marker })
	}
	end := min(start+pg.max, len(items))
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(key(items[end])))
		truncated = true
	}
	return items[start:end], next, truncated
}

// underPathPrefix reads PathPrefix and the paging members of a list action (in that order,
// as they are checked), then the entities all returns whose path starts with the prefix.
func underPathPrefix[T any](ctx context.Context, p awsquery.Params, all func(context.Context) ([]T, error), path func(T) string) ([]T, page, error) {
	prefix, err := pathPrefix(p, pathPrefixPattern)
	if err != nil {
		return nil, page{}, err
	}
	pg, err := paging(p)
	if err != nil {
		return nil, page{}, err
	}
	es, err := all(ctx)
	if err != nil {
		return nil, page{}, err
	}
	var under []T
	for _, e := range es {
		if strings.HasPrefix(path(e), prefix) {
			under = append(under, e)
		}
	}
	return under, pg, nil
}

// paginateInOrder is paginate for items listed in their own order (tags, access keys, policy
// versions, simulation results): the marker is a position.
func paginateInOrder[T any](items []T, pg page) (out []T, next string, truncated bool) {
	type indexed struct {
		i int
		v T
	}
	all := make([]indexed, len(items))
	for i, v := range items {
		all[i] = indexed{i, v}
	}
	in, next, truncated := paginate(all, func(x indexed) string { return positionKey(x.i) }, pg)
	for _, x := range in {
		out = append(out, x.v)
	}
	return out, next, truncated
}

// positionKey makes a position sort as text.
func positionKey(i int) string { return fmt.Sprintf("%010d", i) }

// --- the caller

func caller(ctx context.Context) (principal.Principal, error) {
	p, ok := principal.From(ctx)
	if !ok || p.Type == "" {
		return p, accessDenied("The request is not authenticated.")
	}
	return p, nil
}

// --- ids, ARNs

// newID returns prefix and 17 characters of base32 (A-Z, 2-7), as AWS's unique ids.
func newID(prefix string) string { return prefix + rand.Text()[:17] }

func newAccessKeyID() string { return "AKIA" + rand.Text()[:16] }

func newSecret() string {
	b := make([]byte, secretAccessKeyLength*3/4)
	_, _ = rand.Read(b) // never fails
	return base64.StdEncoding.EncodeToString(b)
}

func (s *Service) userARN(u store.IAMUser) string {
	return "arn:aws:iam::" + s.cfg.AccountID + ":user" + u.Path + u.Name
}

func (s *Service) groupARN(g store.IAMGroup) string {
	return "arn:aws:iam::" + s.cfg.AccountID + ":group" + g.Path + g.Name
}

func (s *Service) rootARN() string { return "arn:aws:iam::" + s.cfg.AccountID + ":root" }

// lookupUser returns the named user or NoSuchEntity.
func (s *Service) lookupUser(ctx context.Context, userName string) (store.IAMUser, error) {
	u, err := s.store.IAMUser(ctx, userName)
	if errors.Is(err, store.ErrNotFound) {
		return u, userKind.notFound(userName)
	}
	return u, err
}

// lookupGroup returns the named group or NoSuchEntity.
func (s *Service) lookupGroup(ctx context.Context, groupName string) (store.IAMGroup, error) {
	g, err := s.store.IAMGroup(ctx, groupName)
	if errors.Is(err, store.ErrNotFound) {
		return g, groupKind.notFound(groupName)
	}
	return g, err
}

// subject is the user an action applies to when its UserName is optional: the named user,
// or else the caller (who may be the root user).
type subject struct {
	root bool
	user store.IAMUser
}

// keyPrincipal is the access_keys Principal of the subject.
func (sb subject) keyPrincipal() string {
	if sb.root {
		return "root"
	}
	return sb.user.UserID
}

func (sb subject) userName() string {
	if sb.root {
		return ""
	}
	return sb.user.Name
}

func (s *Service) subject(ctx context.Context, p awsquery.Params) (subject, error) {
	userName, err := optionalName(p, "UserName", 128)
	if err != nil {
		return subject{}, err
	}
	if userName != "" {
		u, err := s.lookupUser(ctx, userName)
		return subject{user: u}, err
	}
	c, err := caller(ctx)
	if err != nil {
		return subject{}, err
	}
	if c.IsRoot() {
		return subject{root: true}, nil
	}
	if c.Type != principal.User {
		return subject{}, awsquery.Errorf(http.StatusBadRequest, "ValidationError", "Must specify userName when calling with non-User credentials")
	}
	u, err := s.store.IAMUserByID(ctx, c.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return subject{}, userKind.notFound(c.UserName)
	}
	return subject{user: u}, err
}

func tagMap(ts []store.Tag) map[string]string {
	if len(ts) == 0 {
		return nil
	}
	m := make(map[string]string, len(ts))
	for _, t := range ts {
		m[t.Key] = t.Value
	}
	return m
}
