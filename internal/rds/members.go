package rds

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
)

// member says what Borealis does with one request member of an action. A member the
// action carries out has no values; one it does not carry out lists the values it accepts
// (case-insensitive), which are exactly what Borealis does anyway (RDS's default), and why
// others are refused. A Filters member lists the filter names the action applies.
type member struct {
	only      []string
	why       string
	filters   []string // for Filters: the names the action applies (none: every filter is refused)
	isFilters bool     // filters was set (an empty list refuses every filter)
	// A list member is sent as NAME.ELEM.N (N from 1, without gaps), each entry a value or,
	// with fields, NAME.ELEM.N.FIELD (a field ending in ".#" is a list: FIELD.1, FIELD.2, ...).
	elem   string
	fields []string
}

// acted is a member the action carries out.
var acted = member{}

func onlyDefault(why string, values ...string) member { return member{only: values, why: why} }

// filters declares the Filters member of a describe: the filter names it applies. RDS
// documents Filters as "not currently supported" for some describes; those take none, so
// any filter is refused rather than ignored.
func filters(names ...string) member { return member{filters: names, isFilters: true} }

// list declares a list member the action carries out: its entries' element name (the
// model's locationName) and, for a list of structures, their fields.
func list(elem string, fields ...string) member { return member{elem: elem, fields: fields} }

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

// members is an action's request members, by name (the first part of a flattened key).
type members map[string]member

// with returns m with more members; m itself is not changed.
func (m members) with(more members) members {
	out := make(members, len(m)+len(more))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// envelope are the members every query request carries.
var envelope = members{"Action": acted, "Version": acted}

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
	"ManageMasterUserPassword":  onlyDefault("ManageMasterUserPassword is not supported by Borealis: set MasterUserPassword.", "false"),
	"StorageEncrypted":          onlyDefault(noEncryption, "false"),
	"KmsKeyId":                  onlyDefault(noEncryption),
	"BackupRetentionPeriod":     onlyDefault("Borealis does not take automated backups yet: BackupRetentionPeriod must be 1, the default.", "1"),
	"EngineMode":                onlyDefault("Borealis runs provisioned clusters only: EngineMode must be "+engineMode+".", engineMode),
	"StorageType":               onlyDefault("Borealis has one storage type: StorageType must be "+storageType+".", storageType),
	"NetworkType":               onlyDefault("Borealis serves IPv4 only: NetworkType must be "+networkType+".", networkType),
	"CopyTagsToSnapshot":        onlyDefault("Borealis does not take cluster snapshots yet: CopyTagsToSnapshot must be false.", "false"),
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
	"BackupRetentionPeriod": createClusterMembers["BackupRetentionPeriod"],
	"CopyTagsToSnapshot":    createClusterMembers["CopyTagsToSnapshot"],
}

// createInstanceMembers: everything CreateDBInstance reads. The members an Aurora cluster
// manages (MasterUsername, DBName, ...) are read too: the action refuses them with RDS's words.
var createInstanceMembers = members{
	"DBInstanceIdentifier": acted, "DBInstanceClass": acted, "Engine": acted, "EngineVersion": acted,
	"DBClusterIdentifier": acted, "Tags": tags, "DBParameterGroupName": acted, "CACertificateIdentifier": acted,
	"MasterUsername": acted, "MasterUserPassword": acted, "DBName": acted, "AllocatedStorage": acted, "Port": acted,
	"PubliclyAccessible":        onlyDefault("Borealis instances are reached through the cluster endpoint only: PubliclyAccessible must be false.", "false"),
	"PromotionTier":             onlyDefault("Borealis does not run reader instances yet: PromotionTier must be 1, the default.", "1"),
	"AutoMinorVersionUpgrade":   onlyDefault("AutoMinorVersionUpgrade must be true: Borealis runs the installed minor version.", "true"),
	"CopyTagsToSnapshot":        createClusterMembers["CopyTagsToSnapshot"],
	"EnablePerformanceInsights": createClusterMembers["EnablePerformanceInsights"],
	"MonitoringInterval":        createClusterMembers["MonitoringInterval"],
}

// modifyInstanceMembers: everything ModifyDBInstance reads.
var modifyInstanceMembers = members{
	"DBInstanceIdentifier": acted, "ApplyImmediately": acted, "CACertificateIdentifier": acted, "CertificateRotationRestart": acted,
	"DBParameterGroupName": acted,
}

// The deletes and reboots. No automated backups exist, so DeleteAutomatedBackups is carried
// out whatever it says; DeleteDBCluster refuses a final snapshot itself.
var (
	deleteClusterMembers = members{
		"DBClusterIdentifier": acted, "SkipFinalSnapshot": acted, "FinalDBSnapshotIdentifier": acted, "DeleteAutomatedBackups": acted,
	}
	deleteInstanceMembers = members{
		"DBInstanceIdentifier": acted, "SkipFinalSnapshot": acted, "DeleteAutomatedBackups": acted,
		"FinalDBSnapshotIdentifier": onlyDefault("FinalDBSnapshotIdentifier can not be specified when deleting a cluster member instance."),
	}
	rebootClusterMembers  = members{"DBClusterIdentifier": acted}
	rebootInstanceMembers = members{"DBInstanceIdentifier": acted, "ForceFailover": acted}
)

// The describes. IncludeShared asks for clusters shared from other accounts as well: there
// are none, so it is carried out whatever it says.
var (
	describeClustersMembers = paged.with(members{"DBClusterIdentifier": acted, "IncludeShared": acted,
		"Filters": filters("db-cluster-id", "db-cluster-resource-id", "engine")})
	describeInstancesMembers = paged.with(members{"DBInstanceIdentifier": acted,
		"Filters": filters("db-cluster-id", "db-instance-id", "dbi-resource-id", "engine")})
)

// Tags, subnet groups and certificates.
var (
	addTagsMembers              = members{"ResourceName": acted, "Tags": tags}
	removeTagsMembers           = members{"ResourceName": acted, "TagKeys": tagKeyList}
	listTagsMembers             = members{"ResourceName": acted, "Filters": filters()}
	createSubnetGroupMembers    = members{"DBSubnetGroupName": acted, "DBSubnetGroupDescription": acted, "SubnetIds": subnetIDs, "Tags": tags}
	describeSubnetGroupsMembers = paged.with(members{"DBSubnetGroupName": acted, "Filters": filters()})
	deleteSubnetGroupMembers    = members{"DBSubnetGroupName": acted}
	describeCertificatesMembers = paged.with(members{"CertificateIdentifier": acted, "Filters": filters()})
	modifyCertificatesMembers   = members{"CertificateIdentifier": acted, "RemoveCustomerOverride": acted}
)

// groupMembers are m and the member naming the group of kind k.
func groupMembers(k groupKind, m members) members {
	return m.with(members{k.nameParam: acted})
}

// copyGroupMembers are CopyDB(Cluster)ParameterGroup's members.
func copyGroupMembers(k groupKind) members {
	return members{k.sourceParam: acted, k.targetParam: acted, k.targetDescParam: acted, "Tags": tags}
}

// The engine's facts.
var (
	describeEngineVersionsMembers = paged.with(members{"Engine": acted, "EngineVersion": acted, "DBParameterGroupFamily": acted,
		// Only one version is offered, and it is the default; none is deprecated.
		"DefaultOnly": acted, "IncludeAll": acted,
		"ListSupportedCharacterSets": onlyDefault("Borealis does not list character sets: ListSupportedCharacterSets must be false.", "false"),
		"ListSupportedTimezones":     onlyDefault("Borealis does not list time zones: ListSupportedTimezones must be false.", "false"),
		"Filters":                    filters("db-parameter-group-family", "engine", "engine-mode", "engine-version", "status")})
	describeOrderableMembers = paged.with(members{"Engine": acted, "EngineVersion": acted, "DBInstanceClass": acted,
		"LicenseModel": acted, "Vpc": acted,
		"AvailabilityZoneGroup": onlyDefault("Borealis has no Local Zones: AvailabilityZoneGroup must be unset."),
		"Filters":               filters()})
)

// checkMembers refuses a request member the action does not carry out, unless it asks for
// what Borealis does anyway (InvalidParameterCombination, as RDS refuses a combination it
// does not offer), and a filter the action does not apply (InvalidParameterValue, RDS's
// "Unrecognized filter name"). It runs before the action, so a refused request changes
// nothing.
func checkMembers(action string, p awsquery.Params, ms members) error {
	names := make([]string, 0, len(p.Values))
	for k := range p.Values {
		names = append(names, k)
	}
	sort.Strings(names) // the same request always gets the same answer
	filtersChecked := false
	entries := map[string]map[int]bool{} // list member -> entry numbers sent
	for _, k := range names {
		name, rest, nested := strings.Cut(k, ".")
		m, ok := ms[name]
		if !ok {
			m, ok = envelope[name]
		}
		switch {
		case !ok:
			return awsquery.InvalidParameterCombination("%s does not support %s in Borealis yet.", action, awsquery.Clip(name))
		case len(p.Values[k]) > 1:
			// Every reader takes the first value: a second one would be ignored.
			return awsquery.InvalidParameterCombination("%s is given more than once.", awsquery.Clip(k))
		case m.elem != "":
			n, ok := listEntry(m, rest)
			if !ok {
				return awsquery.InvalidParameterCombination("%s does not support %s in Borealis yet.", action, awsquery.Clip(k))
			}
			if entries[name] == nil {
				entries[name] = map[int]bool{}
			}
			entries[name][n] = true
		case m.isFilters:
			if !filtersChecked {
				if err := checkFilters(p, m.filters); err != nil {
					return err
				}
			}
			filtersChecked = true
		case nested:
			// A scalar member has no parts: NAME.x would be read by nothing.
			return awsquery.InvalidParameterCombination("%s does not support %s in Borealis yet.", action, awsquery.Clip(k))
		case m.why == "":
			continue
		case !slices.ContainsFunc(m.only, func(v string) bool { return strings.EqualFold(v, p.String(k)) }):
			return awsquery.InvalidParameterCombination("%s", m.why)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		// The actions read entries 1, 2, ... up to the first missing one: one after a gap
		// would be ignored.
		for n := 1; n <= len(entries[name]); n++ {
			if !entries[name][n] {
				return awsquery.InvalidParameterValue("The entries of %s must be numbered from 1 without gaps.", name)
			}
		}
	}
	return nil
}

// listEntry parses what follows a list member's name, ELEM.N or ELEM.N.FIELD, and returns N.
func listEntry(m member, rest string) (int, bool) {
	parts := strings.SplitN(rest, ".", 3)
	if len(parts) < 2 || parts[0] != m.elem {
		return 0, false
	}
	if len(m.fields) == 0 && len(parts) != 2 ||
		len(m.fields) > 0 && (len(parts) != 3 || !slices.ContainsFunc(m.fields, func(f string) bool { return fieldIs(f, parts[2]) })) {
		return 0, false
	}
	return index(parts[1])
}

// fieldIs reports whether key names the field f, or an entry of f when f is a list.
func fieldIs(f, key string) bool {
	prefix, isList := strings.CutSuffix(f, "#")
	if !isList {
		return key == f
	}
	n, ok := strings.CutPrefix(key, prefix)
	_, ok2 := index(n)
	return ok && ok2
}

// index parses an entry number: 1, 2, ... written without leading zeros.
func index(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 1 && strconv.Itoa(n) == s
}

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
