// Package ec2 holds VPCs, subnets, security groups and network interfaces: the subset of
// the EC2 API (version 2016-11-15) that places Borealis endpoints in networks and decides
// who may reach them. It writes desired state to the store; the gateway enforces it.
package ec2

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

// Namespace and Version identify the EC2 API.
const (
	Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"
	Version   = "2016-11-15"
)

// Config is what the EC2 API needs to know about this Borealis.
type Config struct {
	Region string
	// AccountID owns every resource; "" takes the caller's account.
	AccountID string
	// InUse lets other services (RDS clusters) veto the deletion of a security group they
	// use: it returns what uses the group and true. Nil means nothing outside EC2 does.
	InUse func(ctx context.Context, groupID string) (string, bool)
	Now   func() time.Time
}

// Service implements the EC2 actions Borealis supports.
type Service struct {
	cfg    Config
	store  *store.Store
	notify func()
	log    *slog.Logger
}

// New returns the EC2 service. notify is called after a change to security groups or
// network interfaces, so that the gateway's admission can be recomputed.
func New(cfg Config, st *store.Store, notify func(), log *slog.Logger) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.InUse == nil {
		cfg.InUse = func(context.Context, string) (string, bool) { return "", false }
	}
	if notify == nil {
		notify = func() {}
	}
	return &Service{cfg: cfg, store: st, notify: notify, log: log}
}

// Do runs one EC2 action and returns the value whose fields form its response.
func (s *Service) Do(ctx context.Context, action string, p awsquery.Params) (any, error) {
	a, ok := actions[action]
	if !ok {
		return nil, awsquery.InvalidAction(action)
	}
	if err := memberRules.Check(action, p, a.members); err != nil {
		return nil, err
	}
	// IAM has allowed the call by now, which is all a dry run asks.
	if dry, _, err := p.Bool("DryRun"); err != nil {
		return nil, err
	} else if dry {
		return nil, awsquery.Errorf(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	return a.run(s, ctx, p)
}

// owner is the account that owns what the caller creates.
func (s *Service) owner(ctx context.Context) string {
	if s.cfg.AccountID != "" {
		return s.cfg.AccountID
	}
	p, _ := principal.From(ctx)
	return p.AccountID
}

func (s *Service) zones() []string { return AvailabilityZones(s.cfg.Region) }

func (s *Service) arn(ctx context.Context, kind, id string) string {
	return fmt.Sprintf("arn:aws:ec2:%s:%s:%s/%s", s.cfg.Region, s.owner(ctx), kind, id)
}

// newID returns an EC2 resource id: prefix, a dash and 17 hex digits.
func newID(prefix string) string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])[:17]
}

// validID reports whether id has the form of prefix's ids: 8 or 17 lower-case hex digits.
func validID(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"-")
	if !ok || len(rest) != 8 && len(rest) != 17 {
		return false
	}
	for _, c := range rest {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Errors, with the codes and texts EC2 uses. Every EC2 client error is HTTP 400.

func fault(code, format string, args ...any) *awsquery.Error {
	return awsquery.Errorf(http.StatusBadRequest, code, format, args...)
}

func malformed(code, id, prefix string) error {
	return fault(code, "Invalid id: %q (expecting %q)", awsquery.Clip(id), prefix+"-...")
}

func vpcNotFound(id string) error {
	return fault("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", awsquery.Clip(id))
}

func subnetNotFound(id string) error {
	return fault("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", awsquery.Clip(id))
}

func groupNotFound(id string) error {
	return fault("InvalidGroup.NotFound", "The security group '%s' does not exist", awsquery.Clip(id))
}

func interfaceNotFound(id string) error {
	return fault("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", awsquery.Clip(id))
}

func ruleNotFound(id string) error {
	return fault("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", awsquery.Clip(id))
}

func dependency(format string, args ...any) error {
	return fault("DependencyViolation", format, args...)
}

func differentNetworks() error {
	return fault("InvalidGroup.NotFound", "You have specified two resources that belong to different networks.")
}

// checkID refuses an id of the wrong form with EC2's Malformed code for its kind.
// requiredID reads a required id parameter and checks its form, as EC2 does before it
// looks the id up: missing is MissingParameter, malformed is InvalidXxxID.Malformed.
func requiredID(p awsquery.Params, param, kind string) (string, error) {
	id, err := p.Required(param)
	if err != nil {
		return "", err
	}
	return id, checkID(kind, id)
}

func checkID(kind, id string) error {
	k := kinds[kind]
	if !validID(k.prefix, id) {
		return malformed(k.malformed, id, k.prefix)
	}
	return nil
}

var kinds = map[string]struct{ prefix, malformed string }{
	"vpc":    {"vpc", "InvalidVpcID.Malformed"},
	"subnet": {"subnet", "InvalidSubnetID.Malformed"},
	"group":  {"sg", "InvalidGroupId.Malformed"},
	"eni":    {"eni", "InvalidNetworkInterfaceID.Malformed"},
	"sgr":    {"sgr", "InvalidSecurityGroupRuleId.Malformed"},
}

// Request parsing. EC2 flattens lists: Name.1, Name.2, ... (the model's locationName,
// capitalised, or its queryName), with no member element between.

// list returns the members Name.1, Name.2, ... up to the first gap.
func list(p awsquery.Params, name string) []string {
	var out []string
	for i := 1; p.Has(name + "." + strconv.Itoa(i)); i++ {
		out = append(out, p.Get(name+"."+strconv.Itoa(i)))
	}
	return out
}

// prefixes returns "Name.1.", "Name.2.", ... for a list of structures, up to the first
// index with no member at all. It reads the keys once, so that a request of many members
// costs time in proportion to its size.
func prefixes(p awsquery.Params, name string) []string {
	present := map[int]bool{}
	for k := range p.Values {
		rest, ok := strings.CutPrefix(k, name+".")
		if !ok {
			continue
		}
		num, _, ok := strings.Cut(rest, ".")
		if n, err := strconv.Atoi(num); ok && err == nil && n > 0 {
			present[n] = true
		}
	}
	var out []string
	for i := 1; present[i]; i++ {
		out = append(out, name+"."+strconv.Itoa(i)+".")
	}
	return out
}

// ids reads a list of resource ids (VpcId.N, ...), checking their form.
func ids(p awsquery.Params, name, kind string) ([]string, error) {
	out := list(p, name)
	for _, id := range out {
		if err := checkID(kind, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// filters is a request's Filter.N.Name / Filter.N.Value.M: a record matches when, for
// every filter, one of its values matches one of the filter's (with * and ? wildcards).
type filters map[string][]string

// maxFilters bounds a request's filters (EC2 allows 50) and so the work one request makes.
const maxFilters = 50

func parseFilters(p awsquery.Params, known ...string) (filters, error) {
	fs := filters{}
	pres := prefixes(p, "Filter")
	if len(pres) > maxFilters {
		return nil, awsquery.InvalidParameterValue("The maximum number of filters is %d.", maxFilters)
	}
	for _, pre := range pres {
		name := p.Get(pre + "Name")
		if name == "" {
			return nil, awsquery.MissingParameter(pre + "Name")
		}
		ok := strings.HasPrefix(name, "tag:") && len(name) > 4 || name == "tag-key"
		for _, k := range known {
			ok = ok || k == name
		}
		if !ok {
			return nil, awsquery.InvalidParameterValue("The filter '%s' is invalid", awsquery.Clip(name))
		}
		fs[name] = append(fs[name], list(p, pre+"Value")...)
	}
	return fs, nil
}

// match reports whether one of have matches the filter's values (true without the filter).
func (fs filters) match(name string, have ...string) bool {
	want, ok := fs[name]
	if !ok {
		return true
	}
	for _, w := range want {
		for _, h := range have {
			if glob(w, h) {
				return true
			}
		}
	}
	return false
}

// matchTags applies the tag:KEY and tag-key filters.
func (fs filters) matchTags(tags []store.Tag) bool {
	for name := range fs {
		key, ok := strings.CutPrefix(name, "tag:")
		if !ok {
			continue
		}
		var vals []string
		for _, t := range tags {
			if t.Key == key {
				vals = append(vals, t.Value)
			}
		}
		if !fs.match(name, vals...) {
			return false
		}
	}
	var keys []string
	for _, t := range tags {
		keys = append(keys, t.Key)
	}
	return fs.match("tag-key", keys...)
}

// glob matches EC2 filter wildcards: * any run of characters, ? any one.
func glob(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if glob(pattern[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			s, pattern = s[1:], pattern[1:]
		default:
			if s == "" || s[0] != pattern[0] {
				return false
			}
			s, pattern = s[1:], pattern[1:]
		}
	}
	return s == ""
}

// paging reads MaxResults (5 to 1000) and NextToken, which here is the last id of the
// previous page. max 0 means all results, as EC2 answers without MaxResults.
func paging(p awsquery.Params, idsGiven bool, idParam string) (max int, after string, err error) {
	n, ok, err := p.Int("MaxResults")
	if err != nil {
		return 0, "", err
	}
	if ok {
		if idsGiven {
			return 0, "", awsquery.InvalidParameterCombination("The parameter %s cannot be used with the parameter maxResults", idParam)
		}
		if n < 5 || n > 1000 {
			return 0, "", awsquery.InvalidParameterValue("Value ( %d ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", n)
		}
	}
	return n, p.Get("NextToken"), nil
}

// page cuts one page from items sorted by id; next is "" on the last page.
func page[T any](items []T, id func(T) string, max int, after string) (out []T, next string) {
	for _, it := range items {
		if after != "" && id(it) <= after {
			continue
		}
		if max > 0 && len(out) == max {
			return out, id(out[len(out)-1])
		}
		out = append(out, it)
	}
	return out, ""
}

// parseTags reads TagSpecification.N for resourceType; tags for another type are refused.
func parseTags(p awsquery.Params, resourceType string) ([]store.Tag, error) {
	var tags []store.Tag
	specs := prefixes(p, "TagSpecification")
	if len(specs) > 5 {
		return nil, awsquery.InvalidParameterValue("Too many tag specifications.")
	}
	for _, pre := range specs {
		if rt := p.Get(pre + "ResourceType"); rt != resourceType {
			return nil, awsquery.InvalidParameterValue("'%s' is not a valid taggable resource type for this operation.", awsquery.Clip(rt))
		}
		tps := prefixes(p, pre+"Tag")
		if len(tps) > maxTagsPerResource {
			return nil, tagLimit() // before reading them: bounds one request's work
		}
		for _, tp := range tps {
			k, v := p.Get(tp+"Key"), p.Get(tp+"Value")
			if err := checkTag(k, v); err != nil {
				return nil, err
			}
			tags = mergeTags(tags, []store.Tag{{Key: k, Value: v}})
		}
	}
	if len(tags) > maxTagsPerResource {
		return nil, tagLimit()
	}
	return tags, nil
}
