package rds

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/params"
	"github.com/borealis-db/borealis/internal/store"
)

// maxTags is RDS's limit of tags per resource.
const maxTags = 50

var tagTextRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

type xmlTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type xmlTagList struct {
	Items []xmlTag `xml:"Tag"`
}

func tagListXML(tags []store.Tag) xmlTagList {
	var l xmlTagList
	for _, t := range tags {
		l.Items = append(l.Items, xmlTag(t))
	}
	return l
}

// parseTags reads Tags.Tag.N.{Key,Value} and checks them as RDS does.
func parseTags(p awsquery.Params) ([]store.Tag, error) {
	var tags []store.Tag
	for i := 1; ; i++ {
		prefix := fmt.Sprintf("Tags.Tag.%d.", i)
		if !p.Has(prefix+"Key") && !p.Has(prefix+"Value") {
			break
		}
		t := store.Tag{Key: p.String(prefix + "Key"), Value: p.String(prefix + "Value")}
		if err := checkTag(t); err != nil {
			return nil, err
		}
		tags = mergeTags(tags, []store.Tag{t})
	}
	if len(tags) > maxTags {
		return nil, awsquery.Errorf(400, "TagQuotaPerResourceExceeded", "A resource can have at most %d tags.", maxTags)
	}
	return tags, nil
}

func checkTag(t store.Tag) error {
	if t.Key == "" || len([]rune(t.Key)) > 128 || len([]rune(t.Value)) > 256 || !tagTextRE.MatchString(t.Key) || !tagTextRE.MatchString(t.Value) {
		return awsquery.InvalidParameterValue("Invalid tag: keys are 1 to 128 and values up to 256 Unicode letters, digits, white space or _.:/=+-@.")
	}
	lk := strings.ToLower(t.Key)
	if strings.HasPrefix(lk, "aws:") || strings.HasPrefix(lk, "rds:") {
		return awsquery.InvalidParameterValue("Tag keys cannot start with aws: or rds:.")
	}
	return nil
}

// mergeTags sets each of add on tags, replacing the value of a key already there.
func mergeTags(tags, add []store.Tag) []store.Tag {
	out := append([]store.Tag(nil), tags...)
	for _, a := range add {
		replaced := false
		for i := range out {
			if out[i].Key == a.Key {
				out[i].Value, replaced = a.Value, true
			}
		}
		if !replaced {
			out = append(out, a)
		}
	}
	return out
}

// taggable is a resource named by an RDS ARN.
type taggable struct {
	kind string // cluster | db | cluster-pg | pg | cluster-snapshot
	name string
}

// An automated snapshot's name has a colon (rds:CLUSTER-...).
var rdsARNRE = regexp.MustCompile(`^arn:aws:rds:([a-z0-9-]+):(\d{12}):(cluster|db|cluster-pg|pg|cluster-snapshot):([A-Za-z0-9.:-]+)$`)

func (s *Service) parseResourceARN(arn string) (taggable, error) {
	m := rdsARNRE.FindStringSubmatch(arn)
	if m == nil || m[1] != s.cfg.Region || m[2] != s.cfg.AccountID {
		return taggable{}, awsquery.InvalidParameterValue("Invalid resource name: %s", awsquery.Clip(arn))
	}
	return taggable{kind: m[3], name: strings.ToLower(m[4])}, nil
}

// updateTags changes the tags of the resource an ARN names.
func (s *Service) updateTags(ctx context.Context, arn string, fn func([]store.Tag) ([]store.Tag, error)) ([]store.Tag, error) {
	r, err := s.parseResourceARN(arn)
	if err != nil {
		return nil, err
	}
	var tags []store.Tag
	apply := func(t *[]store.Tag) error {
		next, err := fn(*t)
		if err != nil {
			return err
		}
		*t, tags = next, next
		return nil
	}
	switch r.kind {
	case "cluster":
		_, err = s.store.UpdateCluster(ctx, r.name, func(c *store.Cluster) error { return apply(&c.Tags) })
		if errors.Is(err, store.ErrNotFound) {
			return nil, clusterNotFound(r.name)
		}
	case "db":
		_, err = s.store.UpdateInstance(ctx, r.name, func(in *store.Instance) error { return apply(&in.Tags) })
		if errors.Is(err, store.ErrNotFound) {
			return nil, instanceNotFound(r.name)
		}
	case "cluster-snapshot":
		err = s.updateSnapshotTags(ctx, r.name, apply)
	default:
		k := clusterGroups
		if r.kind == "pg" {
			k = dbGroups
		}
		if r.name == params.DefaultGroup {
			return nil, awsquery.InvalidParameterValue("Default parameter groups cannot be tagged.")
		}
		_, err = s.store.UpdateParameterGroup(ctx, k.store, r.name, func(g *store.ParameterGroup) error { return apply(&g.Tags) })
		if errors.Is(err, store.ErrNotFound) {
			return nil, groupNotFound(k, r.name)
		}
	}
	return tags, err
}

func (s *Service) addTags(ctx context.Context, p awsquery.Params) (any, error) {
	arn, err := p.Required("ResourceName")
	if err != nil {
		return nil, err
	}
	add, err := parseTags(p)
	if err != nil {
		return nil, err
	}
	_, err = s.updateTags(ctx, arn, func(tags []store.Tag) ([]store.Tag, error) {
		out := mergeTags(tags, add)
		if len(out) > maxTags {
			return nil, awsquery.Errorf(400, "TagQuotaPerResourceExceeded", "A resource can have at most %d tags.", maxTags)
		}
		return out, nil
	})
	return nil, err
}

func (s *Service) removeTags(ctx context.Context, p awsquery.Params) (any, error) {
	arn, err := p.Required("ResourceName")
	if err != nil {
		return nil, err
	}
	keys := p.List("TagKeys", "member")
	_, err = s.updateTags(ctx, arn, func(tags []store.Tag) ([]store.Tag, error) {
		var out []store.Tag
		for _, t := range tags {
			keep := true
			for _, k := range keys {
				keep = keep && t.Key != k
			}
			if keep {
				out = append(out, t)
			}
		}
		return out, nil
	})
	return nil, err
}

func (s *Service) listTags(ctx context.Context, p awsquery.Params) (any, error) {
	arn, err := p.Required("ResourceName")
	if err != nil {
		return nil, err
	}
	tags, err := s.resourceTags(ctx, arn)
	if err != nil {
		return nil, err
	}
	return struct {
		TagList xmlTagList
	}{tagListXML(tags)}, nil
}

// resourceTags reads the tags of the resource an ARN names.
func (s *Service) resourceTags(ctx context.Context, arn string) ([]store.Tag, error) {
	r, err := s.parseResourceARN(arn)
	if err != nil {
		return nil, err
	}
	switch r.kind {
	case "cluster":
		c, err := s.store.Cluster(ctx, r.name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, clusterNotFound(r.name)
		}
		return c.Tags, err
	case "db":
		in, err := s.store.Instance(ctx, r.name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, instanceNotFound(r.name)
		}
		return in.Tags, err
	case "cluster-snapshot":
		return s.snapshotTags(ctx, r.name)
	}
	k := clusterGroups
	if r.kind == "pg" {
		k = dbGroups
	}
	g, err := s.group(ctx, k, r.name)
	return g.Tags, err
}
