package rds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/rdsevent"
	"github.com/borealis-db/borealis/internal/store"
)

// DefaultSnapshotQuota is how many manual DB cluster snapshots the account may keep (those
// being made included): RDS's default quota of manual DB cluster snapshots per region.
const DefaultSnapshotQuota = 100

// Snapshots is the backup engine's side of snapshots, as the snapshot API sees it.
type Snapshots interface {
	// Automated lists the automated snapshots: each cluster's backups in its retention
	// window, named rds:CLUSTER-YYYY-MM-DD-HH-MM, Type automated, with the tags they were
	// taken with (CopyTagsToSnapshot).
	Automated(ctx context.Context) ([]store.ClusterSnapshot, error)
	// Wake tells the snapshot worker that a snapshot is to be made, copied or deleted.
	Wake()
	// Progress is how far (0-99) the engine got making or copying the snapshot whose data
	// is named resourceID.
	Progress(resourceID string) int
}

// The snapshot actions' members.
var (
	createSnapshotMembers    = members{"DBClusterSnapshotIdentifier": acted, "DBClusterIdentifier": acted, "Tags": tags}
	describeSnapshotsMembers = paged.With(members{"DBClusterIdentifier": acted, "DBClusterSnapshotIdentifier": acted,
		"SnapshotType": acted, "IncludeShared": acted, "IncludePublic": acted, "DbClusterResourceId": acted,
		"Filters": filters("db-cluster-id", "db-cluster-snapshot-id", "snapshot-type", "engine")})
	deleteSnapshotMembers = members{"DBClusterSnapshotIdentifier": acted}
	copySnapshotMembers   = members{"SourceDBClusterSnapshotIdentifier": acted, "TargetDBClusterSnapshotIdentifier": acted,
		"CopyTags": acted, "Tags": tags,
		"KmsKeyId":     onlyDefault(noEncryption),
		"PreSignedUrl": onlyDefault("Borealis has one region: PreSignedUrl, for copies between regions, must be unset.")}
	describeSnapshotAttributesMembers = members{"DBClusterSnapshotIdentifier": acted}
	modifySnapshotAttributeMembers    = members{"DBClusterSnapshotIdentifier": acted, "AttributeName": acted,
		"ValuesToAdd": list("AttributeValue"), "ValuesToRemove": list("AttributeValue")}
)

type xmlClusterSnapshot struct {
	AvailabilityZones                []string   `xml:"AvailabilityZones>AvailabilityZone"`
	DBClusterSnapshotIdentifier      string     `xml:"DBClusterSnapshotIdentifier"`
	DBClusterIdentifier              string     `xml:"DBClusterIdentifier"`
	SnapshotCreateTime               *time.Time `xml:"SnapshotCreateTime,omitempty"`
	Engine                           string     `xml:"Engine"`
	EngineMode                       string     `xml:"EngineMode"`
	AllocatedStorage                 int        `xml:"AllocatedStorage"`
	Status                           string     `xml:"Status"`
	Port                             int        `xml:"Port"`
	VpcID                            string     `xml:"VpcId,omitempty"`
	ClusterCreateTime                time.Time  `xml:"ClusterCreateTime"`
	MasterUsername                   string     `xml:"MasterUsername"`
	EngineVersion                    string     `xml:"EngineVersion"`
	LicenseModel                     string     `xml:"LicenseModel"`
	SnapshotType                     string     `xml:"SnapshotType"`
	PercentProgress                  int        `xml:"PercentProgress"`
	StorageEncrypted                 bool       `xml:"StorageEncrypted"`
	DBClusterSnapshotArn             string     `xml:"DBClusterSnapshotArn"`
	SourceDBClusterSnapshotArn       string     `xml:"SourceDBClusterSnapshotArn,omitempty"`
	IAMDatabaseAuthenticationEnabled bool       `xml:"IAMDatabaseAuthenticationEnabled"`
	TagList                          xmlTagList `xml:"TagList"`
	StorageType                      string     `xml:"StorageType"`
	DbClusterResourceID              string     `xml:"DbClusterResourceId"`
}

type snapshotResult struct {
	DBClusterSnapshot xmlClusterSnapshot `xml:"DBClusterSnapshot"`
}

type describeSnapshotsResult struct {
	Marker             string `xml:"Marker,omitempty"`
	DBClusterSnapshots struct {
		Items []xmlClusterSnapshot `xml:"DBClusterSnapshot"`
	} `xml:"DBClusterSnapshots"`
}

type xmlSnapshotAttributes struct {
	DBClusterSnapshotAttributesResult struct {
		DBClusterSnapshotIdentifier string `xml:"DBClusterSnapshotIdentifier"`
		Attributes                  []struct {
			AttributeName   string   `xml:"AttributeName"`
			AttributeValues []string `xml:"AttributeValues>AttributeValue"`
		} `xml:"DBClusterSnapshotAttributes>DBClusterSnapshotAttribute"`
	} `xml:"DBClusterSnapshotAttributesResult"`
}

func (s *Service) snapshotARN(id string) string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:cluster-snapshot:%s", s.cfg.Region, s.cfg.AccountID, id)
}

func snapshotNotFound(id string) error {
	return awsquery.Errorf(http.StatusNotFound, "DBClusterSnapshotNotFoundFault", "DBClusterSnapshot %s not found.", awsquery.Clip(id))
}

func snapshotExists(id string) error {
	return awsquery.Errorf(http.StatusBadRequest, "DBClusterSnapshotAlreadyExistsFault", "Cannot create the cluster snapshot because one with the identifier %s already exists.", id)
}

func invalidSnapshotState(format string, args ...any) error {
	return awsquery.Errorf(http.StatusBadRequest, "InvalidDBClusterSnapshotStateFault", format, args...)
}

func (s *Service) snapshotQuota() int {
	if s.cfg.SnapshotQuota > 0 {
		return s.cfg.SnapshotQuota
	}
	return DefaultSnapshotQuota
}

// noBackups refuses a snapshot when no backup engine makes them.
func (s *Service) noBackups() error {
	if s.cfg.Snapshots == nil {
		return awsquery.InvalidParameterCombination("This Borealis takes no DB cluster snapshots: it runs without a backup engine.")
	}
	return nil
}

// longIdentifierRE is identifierRE without its length: FinalDBSnapshotIdentifier may be longer.
var longIdentifierRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)

// snapshotIdentifier checks a new snapshot's identifier: up to max letters, digits or
// hyphens, as checkIdentifier.
func snapshotIdentifier(param, raw string, max int) (string, error) {
	if raw == "" {
		return "", awsquery.MissingParameter(param)
	}
	if len(raw) > max || !longIdentifierRE.MatchString(raw) || strings.HasSuffix(raw, "-") || strings.Contains(raw, "--") {
		return "", awsquery.InvalidParameterValue("The parameter %s is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; must not end with a hyphen or contain two consecutive hyphens; and must be at most %d characters long.", param, max)
	}
	return strings.ToLower(raw), nil
}

func (s *Service) createSnapshot(ctx context.Context, p awsquery.Params) (any, error) {
	id, err := snapshotIdentifier("DBClusterSnapshotIdentifier", p.String("DBClusterSnapshotIdentifier"), 63)
	if err != nil {
		return nil, err
	}
	rawCluster, err := p.Required("DBClusterIdentifier")
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(p)
	if err != nil {
		return nil, err
	}
	if err := s.noBackups(); err != nil {
		return nil, err
	}
	resourceID, err := newResourceID("snapshot-")
	if err != nil {
		return nil, err
	}
	snap, err := s.store.CreateClusterSnapshot(ctx, strings.ToLower(rawCluster), s.snapshotQuota(), func(c store.Cluster) (store.ClusterSnapshot, error) {
		if c.Status != store.StatusAvailable {
			return store.ClusterSnapshot{}, invalidClusterState("DBCluster %s is not in the available state (it is %s): a snapshot can be taken of an available cluster only.", c.ID, c.Status)
		}
		return s.newSnapshot(id, resourceID, c, snapshotTagsOf(c, tags), false), nil
	})
	if err := snapshotStoreErr(err, id, func() error { return clusterNotFound(rawCluster) }); err != nil {
		return nil, err
	}
	s.log.Info("cluster snapshot requested", "snapshot", id, "cluster", snap.Source.ID)
	s.emit(ctx, rdsevent.SnapshotCreating.New(id, s.cfg.Now()))
	s.cfg.Snapshots.Wake()
	return snapshotResult{s.snapshotXML(snap)}, nil
}

// snapshotStoreErr turns the store's answers to a new snapshot into RDS's faults.
func snapshotStoreErr(err error, id string, notFound func() error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return notFound()
	case errors.Is(err, store.ErrExists):
		return snapshotExists(id)
	case errors.Is(err, store.ErrQuota):
		return awsquery.Errorf(http.StatusBadRequest, "SnapshotQuotaExceeded", "The account has reached its quota of manual DB cluster snapshots.")
	}
	return err
}

// newSnapshot is a manual snapshot of c, to be made.
func (s *Service) newSnapshot(id, resourceID string, c store.Cluster, tags []store.Tag, final bool) store.ClusterSnapshot {
	return store.ClusterSnapshot{
		ID: id, ResourceID: resourceID, Type: store.SnapshotManual, Source: c, Status: store.StatusCreating,
		CreatedAt: s.cfg.Now().UTC(), Tags: tags, Final: final,
	}
}

func (s *Service) snapshotXML(snap store.ClusterSnapshot) xmlClusterSnapshot {
	c := snap.Source
	x := xmlClusterSnapshot{
		AvailabilityZones:                s.zones(),
		DBClusterSnapshotIdentifier:      snap.ID,
		DBClusterIdentifier:              c.ID,
		Engine:                           c.Engine,
		EngineMode:                       engineMode,
		AllocatedStorage:                 storageGiB(c.StorageLimit(s.cfg.DefaultStorageLimit)),
		Status:                           string(snap.Status),
		Port:                             c.Port,
		VpcID:                            c.VpcID,
		ClusterCreateTime:                c.CreatedAt,
		MasterUsername:                   c.MasterUsername,
		EngineVersion:                    c.EngineVersion,
		LicenseModel:                     licenseModel,
		SnapshotType:                     snap.Type,
		PercentProgress:                  snap.PercentProgress,
		DBClusterSnapshotArn:             s.snapshotARN(snap.ID),
		IAMDatabaseAuthenticationEnabled: c.IAMAuth,
		TagList:                          tagListXML(snap.Tags),
		StorageType:                      storageType,
		DbClusterResourceID:              c.ResourceID,
	}
	switch {
	case snap.Status == store.StatusAvailable:
		x.PercentProgress = 100
	case snap.Underway() && s.cfg.Snapshots != nil:
		x.PercentProgress = s.cfg.Snapshots.Progress(snap.ResourceID)
	}
	if !snap.CreatedAt.IsZero() {
		t := snap.CreatedAt
		x.SnapshotCreateTime = &t
	}
	if snap.CopyOf != "" {
		x.SourceDBClusterSnapshotArn = s.snapshotARN(snap.CopyOf)
	}
	return x
}

// snapshotTypes are the SnapshotType values RDS knows; shared and public ones come from
// other accounts, which a one-account Borealis does not have: they are always none.
var snapshotTypes = []string{store.SnapshotManual, store.SnapshotAutomated, "shared", "public", "awsbackup"}

// allSnapshots are the manual snapshots and the backup engine's automated ones, by identifier.
func (s *Service) allSnapshots(ctx context.Context) ([]store.ClusterSnapshot, error) {
	snaps, err := s.store.ClusterSnapshots(ctx)
	if err != nil {
		return nil, err
	}
	if s.cfg.Snapshots != nil {
		auto, err := s.cfg.Snapshots.Automated(ctx)
		if err != nil {
			return nil, err
		}
		snaps = append(snaps, auto...)
	}
	slices.SortFunc(snaps, func(a, b store.ClusterSnapshot) int { return strings.Compare(a.ID, b.ID) })
	return snaps, nil
}

func (s *Service) describeSnapshots(ctx context.Context, p awsquery.Params) (any, error) {
	maxRecords, marker, err := paging(p)
	if err != nil {
		return nil, err
	}
	fs, err := parseFilters(p)
	if err != nil {
		return nil, err
	}
	for _, b := range []string{"IncludeShared", "IncludePublic"} {
		// Every snapshot here is the account's own: none is shared with it or public.
		if _, _, err := p.Bool(b); err != nil {
			return nil, err
		}
	}
	cluster, id := p.String("DBClusterIdentifier"), p.String("DBClusterSnapshotIdentifier")
	if cluster != "" && id != "" {
		return nil, awsquery.InvalidParameterCombination("DBClusterIdentifier and DBClusterSnapshotIdentifier cannot be used together.")
	}
	typ := p.String("SnapshotType")
	if typ != "" && !slices.Contains(snapshotTypes, typ) {
		return nil, awsquery.InvalidParameterValue("Invalid value %s for SnapshotType: it must be one of %s.", awsquery.Clip(typ), strings.Join(snapshotTypes, ", "))
	}
	snaps, err := s.allSnapshots(ctx)
	if err != nil {
		return nil, err
	}
	if id != "" {
		want := strings.ToLower(id)
		i := slices.IndexFunc(snaps, func(x store.ClusterSnapshot) bool { return x.ID == want })
		// An automated snapshot is found by its name only with SnapshotType automated, as RDS documents.
		if i < 0 || snaps[i].Type == store.SnapshotAutomated && typ != store.SnapshotAutomated {
			return nil, snapshotNotFound(id)
		}
		snaps = snaps[i : i+1]
	}
	var res describeSnapshotsResult
	for _, snap := range snaps {
		c := snap.Source
		if marker != "" && snap.ID <= marker ||
			cluster != "" && !strings.EqualFold(cluster, c.ID) ||
			typ != "" && typ != snap.Type ||
			p.Has("DbClusterResourceId") && p.String("DbClusterResourceId") != c.ResourceID ||
			!fs.match("db-cluster-id", c.ID, s.clusterARN(c.ID)) ||
			!fs.match("db-cluster-snapshot-id", snap.ID, s.snapshotARN(snap.ID)) ||
			!fs.match("snapshot-type", snap.Type) || !fs.match("engine", c.Engine) {
			continue
		}
		if len(res.DBClusterSnapshots.Items) == maxRecords {
			res.Marker = res.DBClusterSnapshots.Items[maxRecords-1].DBClusterSnapshotIdentifier
			break
		}
		res.DBClusterSnapshots.Items = append(res.DBClusterSnapshots.Items, s.snapshotXML(snap))
	}
	return res, nil
}

func (s *Service) deleteSnapshot(ctx context.Context, p awsquery.Params) (any, error) {
	raw, err := p.Required("DBClusterSnapshotIdentifier")
	if err != nil {
		return nil, err
	}
	id := strings.ToLower(raw)
	if strings.HasPrefix(id, "rds:") {
		if _, err := s.store.ClusterSnapshot(ctx, id); errors.Is(err, store.ErrNotFound) {
			return nil, invalidSnapshotState("Only manual snapshots may be deleted: automated snapshots end with their backup retention period.")
		}
	}
	snap, err := s.store.UpdateClusterSnapshot(ctx, id, func(snap *store.ClusterSnapshot) error {
		switch snap.Status {
		case store.StatusAvailable, store.StatusFailed:
		case store.StatusCopying:
			// RDS: deleting a copy while it is copying cancels the copy.
		default:
			return invalidSnapshotState("Cannot delete the snapshot because it is not in the available state (it is %s).", snap.Status)
		}
		snap.Status, snap.StatusReason = store.StatusDeleting, ""
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, snapshotNotFound(raw)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("cluster snapshot deleting", "snapshot", id)
	if s.cfg.Snapshots != nil {
		s.cfg.Snapshots.Wake()
	}
	return snapshotResult{s.snapshotXML(snap)}, nil
}

func (s *Service) copySnapshot(ctx context.Context, p awsquery.Params) (any, error) {
	rawSource, err := p.Required("SourceDBClusterSnapshotIdentifier")
	if err != nil {
		return nil, err
	}
	source, err := s.snapshotName(rawSource)
	if err != nil {
		return nil, err
	}
	target, err := snapshotIdentifier("TargetDBClusterSnapshotIdentifier", p.String("TargetDBClusterSnapshotIdentifier"), 63)
	if err != nil {
		return nil, err
	}
	copyTags, _, err := p.Bool("CopyTags")
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(p)
	if err != nil {
		return nil, err
	}
	if err := s.noBackups(); err != nil {
		return nil, err
	}
	if strings.HasPrefix(source, "rds:") {
		return nil, awsquery.InvalidParameterCombination("Borealis does not copy automated snapshots: restore the cluster to the time you need (RestoreDBClusterToPointInTime), or take a manual snapshot of the cluster.")
	}
	resourceID, err := newResourceID("snapshot-")
	if err != nil {
		return nil, err
	}
	snap, err := s.store.CopyClusterSnapshot(ctx, source, s.snapshotQuota(), func(src store.ClusterSnapshot) (store.ClusterSnapshot, error) {
		if src.Status != store.StatusAvailable {
			return store.ClusterSnapshot{}, invalidSnapshotState("The source snapshot %s is not available (it is %s).", src.ID, src.Status)
		}
		return s.copyOf(src, target, resourceID, copyTags, tags)
	})
	if err := snapshotStoreErr(err, target, func() error { return snapshotNotFound(rawSource) }); err != nil {
		return nil, err
	}
	s.log.Info("cluster snapshot copying", "snapshot", target, "source", source)
	s.cfg.Snapshots.Wake()
	return snapshotResult{s.snapshotXML(snap)}, nil
}

// copyOf is the new snapshot target, a copy of src: the same data, its own name and tags.
// With CopyTags the source's tags are copied, and the request's Tags then set on top.
func (s *Service) copyOf(src store.ClusterSnapshot, target, resourceID string, copyTags bool, tags []store.Tag) (store.ClusterSnapshot, error) {
	if src.ID == target {
		return store.ClusterSnapshot{}, snapshotExists(target)
	}
	var out []store.Tag
	if copyTags {
		out = append(out, src.Tags...)
	}
	out = mergeTags(out, tags)
	if len(out) > maxTags {
		return store.ClusterSnapshot{}, awsquery.Errorf(400, "TagQuotaPerResourceExceeded", "A resource can have at most %d tags.", maxTags)
	}
	return store.ClusterSnapshot{
		ID: target, ResourceID: resourceID, Type: store.SnapshotManual, Source: src.Source, Status: store.StatusCopying,
		CreatedAt: src.CreatedAt, Tags: out, CopyOf: src.ID, CopyFrom: src.ResourceID,
	}, nil
}

// snapshotName reads a snapshot named by its identifier or its ARN here.
func (s *Service) snapshotName(raw string) (string, error) {
	if !strings.HasPrefix(raw, "arn:") {
		return strings.ToLower(raw), nil
	}
	t, err := s.parseResourceARN(raw)
	if err != nil || t.kind != "cluster-snapshot" {
		return "", awsquery.InvalidParameterValue("Invalid snapshot identifier: %s names no DB cluster snapshot of this account and region.", awsquery.Clip(raw))
	}
	return t.name, nil
}

// restoreAttribute is the one DB cluster snapshot attribute: the accounts that may copy or
// restore the snapshot besides its own. Borealis has one account, so it is always empty:
// Describe says so and Modify refuses to add anyone.
const restoreAttribute = "restore"

func (s *Service) manualSnapshot(ctx context.Context, raw string) (store.ClusterSnapshot, error) {
	snap, err := s.store.ClusterSnapshot(ctx, strings.ToLower(raw))
	if errors.Is(err, store.ErrNotFound) {
		return snap, snapshotNotFound(raw)
	}
	return snap, err
}

func (s *Service) snapshotAttributes(id string) xmlSnapshotAttributes {
	var x xmlSnapshotAttributes
	x.DBClusterSnapshotAttributesResult.DBClusterSnapshotIdentifier = id
	x.DBClusterSnapshotAttributesResult.Attributes = append(x.DBClusterSnapshotAttributesResult.Attributes, struct {
		AttributeName   string   `xml:"AttributeName"`
		AttributeValues []string `xml:"AttributeValues>AttributeValue"`
	}{AttributeName: restoreAttribute})
	return x
}

func (s *Service) describeSnapshotAttributes(ctx context.Context, p awsquery.Params) (any, error) {
	raw, err := p.Required("DBClusterSnapshotIdentifier")
	if err != nil {
		return nil, err
	}
	snap, err := s.manualSnapshot(ctx, raw)
	if err != nil {
		return nil, err
	}
	return s.snapshotAttributes(snap.ID), nil
}

func (s *Service) modifySnapshotAttribute(ctx context.Context, p awsquery.Params) (any, error) {
	raw, err := p.Required("DBClusterSnapshotIdentifier")
	if err != nil {
		return nil, err
	}
	name, err := p.Required("AttributeName")
	if err != nil {
		return nil, err
	}
	if name != restoreAttribute {
		return nil, awsquery.InvalidParameterValue("Invalid AttributeName %s: the only DB cluster snapshot attribute is %s.", awsquery.Clip(name), restoreAttribute)
	}
	snap, err := s.manualSnapshot(ctx, raw)
	if err != nil {
		return nil, err
	}
	if len(p.List("ValuesToAdd", "AttributeValue")) > 0 {
		return nil, awsquery.InvalidParameterCombination("Borealis has one account: a DB cluster snapshot cannot be shared with another account or made public.")
	}
	// Removing accounts from a list that holds none leaves it empty, as asked.
	return s.snapshotAttributes(snap.ID), nil
}

// snapshotResource is the snapshot a name resolves to, with its tags.
func (s *Service) snapshotResource(ctx context.Context, raw string) authz.Resource {
	id, err := s.snapshotName(raw)
	if err != nil {
		return authz.On(raw) // refused by the action before it touches anything
	}
	r := authz.On(s.snapshotARN(id))
	if snap, err := s.store.ClusterSnapshot(ctx, id); err == nil {
		r.Keys = tagKeys(snap.Tags, "rds:cluster-snapshot-tag/")
	} else if auto, ok := s.automatedSnapshot(ctx, id); ok {
		r.Keys = tagKeys(auto.Tags, "rds:cluster-snapshot-tag/") // its cluster's, copied
	}
	return r
}

// createSnapshotResources: the cluster it reads and the new snapshot, with its request tags.
func (s *Service) createSnapshotResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	requestTags(p, keys)
	arn := s.snapshotARN(strings.ToLower(p.String("DBClusterSnapshotIdentifier")))
	return append([]authz.Resource{s.cluster(ctx, p.String("DBClusterIdentifier")), authz.On(arn)},
		tagOnCreate(arn, s.newSnapshotTags(ctx, p.String("DBClusterIdentifier"), askedTags(p)))...)
}

// describeSnapshotsResources: the snapshot or the cluster named, else "*".
func (s *Service) describeSnapshotsResources(ctx context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	if id := p.String("DBClusterSnapshotIdentifier"); id != "" {
		return []authz.Resource{s.snapshotResource(ctx, id)}
	}
	if c := p.String("DBClusterIdentifier"); c != "" {
		return []authz.Resource{s.cluster(ctx, c)}
	}
	return []authz.Resource{authz.On("*")}
}

func (s *Service) snapshotResources(ctx context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	return []authz.Resource{s.snapshotResource(ctx, p.String("DBClusterSnapshotIdentifier"))}
}

// copySnapshotResources: the source snapshot and the new one, with its request tags.
func (s *Service) copySnapshotResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	requestTags(p, keys)
	arn := s.snapshotARN(strings.ToLower(p.String("TargetDBClusterSnapshotIdentifier")))
	return append([]authz.Resource{s.snapshotResource(ctx, p.String("SourceDBClusterSnapshotIdentifier")), authz.On(arn)},
		tagOnCreate(arn, s.copiedSnapshotTags(ctx, p))...)
}

// deleteClusterResources: the cluster and, when a final snapshot is asked for, that
// snapshot: a user who may delete the cluster but not make snapshots of it cannot keep one.
func (s *Service) deleteClusterResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	res := s.clusterResources(ctx, p, keys)
	if id := p.String("FinalDBSnapshotIdentifier"); id != "" {
		arn := s.snapshotARN(strings.ToLower(id))
		res = append(res, authz.On(arn))
		res = append(res, tagOnCreate(arn, s.newSnapshotTags(ctx, p.String("DBClusterIdentifier"), nil))...)
	}
	return res
}

// finalSnapshot reads DeleteDBCluster's final snapshot: its identifier, or "" when skipped.
// As on RDS, no SkipFinalSnapshot means a final snapshot, which then needs its identifier.
func (s *Service) finalSnapshot(p awsquery.Params, skip bool) (string, error) {
	raw := p.String("FinalDBSnapshotIdentifier")
	if skip {
		if raw != "" {
			return "", awsquery.InvalidParameterCombination("You cannot specify both FinalDBSnapshotIdentifier and SkipFinalSnapshot.")
		}
		return "", nil
	}
	if raw == "" {
		return "", awsquery.InvalidParameterCombination("FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
	}
	id, err := snapshotIdentifier("FinalDBSnapshotIdentifier", raw, 255)
	if err != nil {
		return "", err
	}
	return id, s.noBackups()
}

// deleteAutomatedBackups reads DeleteDBCluster's DeleteAutomatedBackups. Aurora's default,
// true, removes the cluster's automated backups with it (its manual snapshots stay); false
// would retain them for their retention period, which Borealis does not do: it is refused
// wherever automated backups exist, and a final snapshot keeps the data instead.
func (s *Service) deleteAutomatedBackups(p awsquery.Params) error {
	del, has, err := p.Bool("DeleteAutomatedBackups")
	if err != nil {
		return err
	}
	if has && !del && (s.cfg.Backups != nil || s.cfg.Snapshots != nil) {
		return awsquery.InvalidParameterCombination("Borealis does not retain the automated backups of a deleted DB cluster: DeleteAutomatedBackups must be true, the default. Keep a final snapshot (FinalDBSnapshotIdentifier) instead.")
	}
	return nil
}

// updateSnapshotTags changes the tags of a manual snapshot; an automated one's are its
// cluster's, copied when it was made, and stay so.
func (s *Service) updateSnapshotTags(ctx context.Context, id string, apply func(*[]store.Tag) error) error {
	_, err := s.store.UpdateClusterSnapshot(ctx, id, func(snap *store.ClusterSnapshot) error { return apply(&snap.Tags) })
	if errors.Is(err, store.ErrNotFound) {
		return s.noSuchSnapshot(id)
	}
	return err
}

// snapshotTags are the tags of a snapshot: a manual one's, or those an automated one
// copied from its cluster (CopyTagsToSnapshot).
func (s *Service) snapshotTags(ctx context.Context, id string) ([]store.Tag, error) {
	snap, err := s.store.ClusterSnapshot(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		if auto, ok := s.automatedSnapshot(ctx, id); ok {
			return auto.Tags, nil
		}
		return nil, snapshotNotFound(id)
	}
	return snap.Tags, err
}

// noSuchSnapshot: an automated snapshot (whose tags cannot be changed) or none at all.
func (s *Service) noSuchSnapshot(id string) error {
	if strings.HasPrefix(id, "rds:") {
		return invalidSnapshotState("The tags of automated snapshot %s cannot be changed: they are its cluster's, copied when it was made (CopyTagsToSnapshot).", awsquery.Clip(id))
	}
	return snapshotNotFound(id)
}
