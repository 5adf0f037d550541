package rds

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
)

// The request-member declarations are awsquery's; these are their short names here.
type members = awsquery.Members

var (
	acted       = awsquery.Acted
	onlyDefault = awsquery.OnlyDefault
	filters     = awsquery.Filters
	list        = awsquery.List
)

// The lists the actions read.
var (
	tags             = list("Tag", "Key", "Value")
	tagKeyList       = list("member")
	securityGroupIDs = list("VpcSecurityGroupId")
	subnetIDs        = list("SubnetIdentifier")
	// A Parameter as DescribeDB*Parameters returns it, which scripts feed back to Modify
	// and Reset: its descriptive fields change nothing, on RDS either.
	parameterList = list("Parameter", "ParameterName", "ParameterValue", "ApplyMethod",
		"Description", "Source", "ApplyType", "DataType", "AllowedValues", "IsModifiable", "MinimumEngineVersion",
		"SupportedEngineModes.member.#")
)

// envelope are the members every query request carries.
var envelope = members{"Action": acted, "Version": acted}

// memberRules refuse a request member the action does not carry out, unless it asks for
// what Borealis does anyway, with InvalidParameterCombination (as RDS refuses a
// combination it does not offer), and a filter the action does not apply with
// InvalidParameterValue (RDS's "Unrecognized filter name").
var memberRules = awsquery.MemberRules{
	Envelope: envelope,
	Unknown: func(action, name string) error {
		return awsquery.InvalidParameterCombination("%s does not support %s in Borealis yet.", action, name)
	},
	NotDefault: func(why string) error { return awsquery.InvalidParameterCombination("%s", why) },
	Strict:     true,
	Filters:    checkFilters,
}

// paged are the members of a paged describe.
var paged = members{"MaxRecords": acted, "Marker": acted}

const noEncryption = "Borealis does not encrypt storage yet: StorageEncrypted must be false and KmsKeyId unset."

// createClusterMembers: everything CreateDBCluster reads. Do or refuse: a member not listed,
// or listed with a value other than its default, is refused and nothing is created.
var createClusterMembers = members{
	"DBClusterIdentifier": acted, "Engine": acted, "EngineVersion": acted, "MasterUsername": acted,
	"MasterUserPassword": acted, "DatabaseName": acted, "Port": acted, "DBSubnetGroupName": acted,
	"VpcSecurityGroupIds": securityGroupIDs, "Tags": tags, "DBClusterParameterGroupName": acted,
	"EnableIAMDatabaseAuthentication": acted, "DeletionProtection": acted, "AllocatedStorage": acted,
	"ManageMasterUserPassword": onlyDefault("ManageMasterUserPassword is not supported by Borealis: set MasterUserPassword.", "false"),
	"StorageEncrypted":         onlyDefault(noEncryption, "false"),
	"KmsKeyId":                 onlyDefault(noEncryption),
	"BackupRetentionPeriod":    acted, "PreferredBackupWindow": acted,
	"EngineMode":                onlyDefault("Borealis runs provisioned clusters only: EngineMode must be "+engineMode+".", engineMode),
	"StorageType":               onlyDefault("Borealis has one storage type: StorageType must be "+storageType+".", storageType),
	"NetworkType":               onlyDefault("Borealis serves IPv4 only: NetworkType must be "+networkType+".", networkType),
	"CopyTagsToSnapshot":        acted,
	"EnableHttpEndpoint":        onlyDefault("Borealis has no Data API: EnableHttpEndpoint must be false.", "false"),
	"EnablePerformanceInsights": onlyDefault("Borealis has no Performance Insights: EnablePerformanceInsights must be false.", "false"),
	"MonitoringInterval":        onlyDefault("Borealis has no Enhanced Monitoring: MonitoringInterval must be 0.", "0"),
}

// modifyClusterMembers: everything ModifyDBCluster reads; any other member is refused rather
// than silently ignored.
var modifyClusterMembers = members{
	"DBClusterIdentifier": acted, "ApplyImmediately": acted, "DBClusterParameterGroupName": acted,
	"VpcSecurityGroupIds": securityGroupIDs, "EnableIAMDatabaseAuthentication": acted, "MasterUserPassword": acted,
	"DeletionProtection": acted, "AllocatedStorage": acted,
	"BackupRetentionPeriod": acted, "PreferredBackupWindow": acted, "CopyTagsToSnapshot": acted,
}

// createInstanceMembers: everything CreateDBInstance reads. The members an Aurora cluster
// manages (MasterUsername, DBName, ...) are read too: the action refuses them with RDS's words.
var createInstanceMembers = members{
	"DBInstanceIdentifier": acted, "DBInstanceClass": acted, "Engine": acted, "EngineVersion": acted,
	"DBClusterIdentifier": acted, "Tags": tags, "DBParameterGroupName": acted, "CACertificateIdentifier": acted,
	"MasterUsername": acted, "MasterUserPassword": acted, "DBName": acted, "AllocatedStorage": acted, "Port": acted,
	"PubliclyAccessible":      onlyDefault("Borealis instances are reached through the cluster endpoint only: PubliclyAccessible must be false.", "false"),
	"PromotionTier":           acted,
	"AutoMinorVersionUpgrade": onlyDefault("AutoMinorVersionUpgrade must be true: Borealis runs the installed minor version.", "true"),
	// RDS ignores it for an Aurora instance; Borealis refuses what it would not carry out.
	"CopyTagsToSnapshot":        onlyDefault("Copying tags to snapshots is managed by the DB cluster (CreateDBCluster or ModifyDBCluster CopyTagsToSnapshot): CopyTagsToSnapshot of a DB instance must be false.", "false"),
	"EnablePerformanceInsights": createClusterMembers["EnablePerformanceInsights"],
	"MonitoringInterval":        createClusterMembers["MonitoringInterval"],
}

// modifyInstanceMembers: everything ModifyDBInstance reads.
var modifyInstanceMembers = members{
	"DBInstanceIdentifier": acted, "ApplyImmediately": acted, "CACertificateIdentifier": acted, "CertificateRotationRestart": acted,
	"DBParameterGroupName": acted, "PromotionTier": acted,
}

// The deletes and reboots. DeleteDBCluster reads its final snapshot and
// DeleteAutomatedBackups itself (snapshots.go); an instance has no backups of its own.
var (
	deleteClusterMembers = members{
		"DBClusterIdentifier": acted, "SkipFinalSnapshot": acted, "FinalDBSnapshotIdentifier": acted, "DeleteAutomatedBackups": acted,
	}
	deleteInstanceMembers = members{
		"DBInstanceIdentifier": acted, "SkipFinalSnapshot": acted, "DeleteAutomatedBackups": acted,
		"FinalDBSnapshotIdentifier": onlyDefault("FinalDBSnapshotIdentifier can not be specified when deleting a cluster member instance."),
	}
	rebootClusterMembers   = members{"DBClusterIdentifier": acted}
	failoverClusterMembers = members{"DBClusterIdentifier": acted, "TargetDBInstanceIdentifier": acted}
	rebootInstanceMembers  = members{"DBInstanceIdentifier": acted, "ForceFailover": acted}
)

// The describes. IncludeShared asks for clusters shared from other accounts as well: there
// are none, so it is carried out whatever it says.
var (
	describeClustersMembers = paged.With(members{"DBClusterIdentifier": acted, "IncludeShared": acted,
		"Filters": filters("db-cluster-id", "db-cluster-resource-id", "engine")})
	describeInstancesMembers = paged.With(members{"DBInstanceIdentifier": acted,
		"Filters": filters("db-cluster-id", "db-instance-id", "dbi-resource-id", "engine")})
)

// Tags, subnet groups and certificates.
var (
	addTagsMembers              = members{"ResourceName": acted, "Tags": tags}
	removeTagsMembers           = members{"ResourceName": acted, "TagKeys": tagKeyList}
	listTagsMembers             = members{"ResourceName": acted, "Filters": filters()}
	createSubnetGroupMembers    = members{"DBSubnetGroupName": acted, "DBSubnetGroupDescription": acted, "SubnetIds": subnetIDs, "Tags": tags}
	describeSubnetGroupsMembers = paged.With(members{"DBSubnetGroupName": acted, "Filters": filters()})
	deleteSubnetGroupMembers    = members{"DBSubnetGroupName": acted}
	describeCertificatesMembers = paged.With(members{"CertificateIdentifier": acted, "Filters": filters()})
	modifyCertificatesMembers   = members{"CertificateIdentifier": acted, "RemoveCustomerOverride": acted}
)

// groupMembers are m and the member naming the group of kind k.
func groupMembers(k groupKind, m members) members {
	return m.With(members{k.nameParam: acted})
}

// copyGroupMembers are CopyDB(Cluster)ParameterGroup's members.
func copyGroupMembers(k groupKind) members {
	return members{k.sourceParam: acted, k.targetParam: acted, k.targetDescParam: acted, "Tags": tags}
}

// The engine's facts.
var (
	describeEngineVersionsMembers = paged.With(members{"Engine": acted, "EngineVersion": acted, "DBParameterGroupFamily": acted,
		// Only one version is offered, and it is the default; none is deprecated.
		"DefaultOnly": acted, "IncludeAll": acted,
		"ListSupportedCharacterSets": onlyDefault("Borealis does not list character sets: ListSupportedCharacterSets must be false.", "false"),
		"ListSupportedTimezones":     onlyDefault("Borealis does not list time zones: ListSupportedTimezones must be false.", "false"),
		"Filters":                    filters("db-parameter-group-family", "engine", "engine-mode", "engine-version", "status")})
	describeOrderableMembers = paged.With(members{"Engine": acted, "EngineVersion": acted, "DBInstanceClass": acted,
		"LicenseModel": acted, "Vpc": acted,
		"AvailabilityZoneGroup": onlyDefault("Borealis has no Local Zones: AvailabilityZoneGroup must be unset."),
		"Filters":               filters()})
)

type filterSet map[string][]string

// parseFilters reads Filters.Filter.N.Name / .Values.Value.M. Every Filters member sent must
// be read: a filter after a gap in the numbering would otherwise be ignored.
func parseFilters(p awsquery.Params) (filterSet, error) {
	fs := filterSet{}
	read := 0
	for i := 1; ; i++ {
		prefix := fmt.Sprintf("Filters.Filter.%d.", i)
		if !p.Has(prefix + "Name") {
			break
		}
		name := p.String(prefix + "Name")
		values := p.List(prefix+"Values", "Value")
		if len(values) == 0 {
			return nil, awsquery.InvalidParameterValue("Filter %s needs at least one value.", awsquery.Clip(name))
		}
		fs[name] = append(fs[name], values...)
		read += 1 + len(values)
	}
	for k := range p.Values {
		if strings.HasPrefix(k, "Filters.") {
			read--
		}
	}
	if read != 0 {
		return nil, awsquery.InvalidParameterValue("Filters must be numbered from 1, each with a Name and its Values numbered from 1.")
	}
	return fs, nil
}

// checkFilters refuses a filter name the action does not apply, as RDS does.
func checkFilters(p awsquery.Params, known []string) error {
	fs, err := parseFilters(p)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(fs))
	for name := range fs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !slices.Contains(known, name) {
			return awsquery.InvalidParameterValue("Unrecognized filter name: %s.", awsquery.Clip(name))
		}
	}
	return nil
}

// match reports whether any of a record's names (identifier, ARN) is among the filter's values.
func (fs filterSet) match(name string, have ...string) bool {
	want, ok := fs[name]
	if !ok {
		return true
	}
	for _, w := range want {
		for _, h := range have {
			if strings.EqualFold(w, h) {
				return true
			}
		}
	}
	return false
}
