package rds

import (
	"context"
	"strings"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// snapshotTagsOf are the tags a new snapshot of c gets: the request's own when it names
// any (RDS then copies none of the cluster's, even with CopyTagsToSnapshot), else the
// cluster's when it copies its tags to snapshots, else none. Either list holds at most
// maxTags, so the snapshot does too.
func snapshotTagsOf(c store.Cluster, asked []store.Tag) []store.Tag {
	if len(asked) > 0 {
		return asked
	}
	if c.CopyTagsToSnapshot {
		return append([]store.Tag(nil), c.Tags...)
	}
	return nil
}

// tagOnCreate is what a request that creates the resource arn with tags asks besides the
// create itself, as RDS documents for tagging on creation: rds:AddTagsToResource on the
// new resource, with aws:RequestTag/*, rds:req-tag/* and aws:TagKeys naming every tag it
// gets, those copied from another resource (CopyTagsToSnapshot, CopyTags) included, so
// that copying cannot set a tag the caller may not set. None when it gets no tags.
func tagOnCreate(arn string, tags []store.Tag) []authz.Resource {
	if len(tags) == 0 {
		return nil
	}
	r := authz.On(arn)
	r.Action = "rds:AddTagsToResource"
	r.Keys = map[string][]string{}
	requestTagKeys(tags, r.Keys)
	return []authz.Resource{r}
}

// requestTagKeys fills the request-tag condition keys from tags.
func requestTagKeys(tags []store.Tag, keys map[string][]string) {
	var names []string
	for _, t := range tags {
		keys["aws:RequestTag/"+t.Key] = []string{t.Value}
		keys["rds:req-tag/"+t.Key] = []string{t.Value}
		names = append(names, t.Key)
	}
	if len(names) > 0 {
		keys["aws:TagKeys"] = names
	}
}

// askedTags are the request's Tags; bad ones are refused by the action itself.
func askedTags(p awsquery.Params) []store.Tag {
	tags, _ := parseTags(p)
	return tags
}

// newSnapshotTags are the tags the snapshot CreateDBClusterSnapshot (or DeleteDBCluster's
// final snapshot, asked nothing) makes of the cluster named id will get, as authorization
// sees the cluster now.
func (s *Service) newSnapshotTags(ctx context.Context, clusterID string, asked []store.Tag) []store.Tag {
	c, err := s.store.Cluster(ctx, strings.ToLower(clusterID))
	if err != nil {
		return asked // no cluster: the action refuses
	}
	return snapshotTagsOf(c, asked)
}

// copiedSnapshotTags are the tags CopyDBClusterSnapshot gives the copy (copyOf).
func (s *Service) copiedSnapshotTags(ctx context.Context, p awsquery.Params) []store.Tag {
	var out []store.Tag
	if copyTags, _, _ := p.Bool("CopyTags"); copyTags {
		if id, err := s.snapshotName(p.String("SourceDBClusterSnapshotIdentifier")); err == nil {
			if src, err := s.store.ClusterSnapshot(ctx, id); err == nil {
				out = append(out, src.Tags...)
			}
		}
	}
	return mergeTags(out, askedTags(p))
}

// automatedSnapshot finds the automated snapshot id among the backup engine's.
func (s *Service) automatedSnapshot(ctx context.Context, id string) (store.ClusterSnapshot, bool) {
	if s.cfg.Snapshots == nil || !strings.HasPrefix(id, "rds:") {
		return store.ClusterSnapshot{}, false
	}
	auto, err := s.cfg.Snapshots.Automated(ctx)
	if err != nil {
		return store.ClusterSnapshot{}, false
	}
	for _, a := range auto {
		if a.ID == id {
			return a, true
		}
	}
	return store.ClusterSnapshot{}, false
}
