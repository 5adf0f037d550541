package rds

import (
	"slices"
	"sort"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
)

// member says what Borealis does with one request member of an action. A member the
// action carries out has no values; one it does not carry out lists the values it accepts
// (case-insensitive), which are exactly what Borealis does anyway (RDS's default), and why
// others are refused.
type member struct {
	only []string
	why  string
}

// acted is a member the action carries out.
var acted = member{}

func onlyDefault(why string, values ...string) member { return member{only: values, why: why} }

// envelope are the members every query request carries.
var envelope = map[string]member{"Action": acted, "Version": acted}

const noEncryption = "Borealis does not encrypt storage yet: StorageEncrypted must be false and KmsKeyId unset."

// createClusterMembers: everything CreateDBCluster reads. Do or refuse: a member not listed,
// or listed with a value other than its default, is refused and nothing is created.
var createClusterMembers = map[string]member{
	"DBClusterIdentifier": acted, "Engine": acted, "EngineVersion": acted, "MasterUsername": acted,
	"MasterUserPassword": acted, "DatabaseName": acted, "Port": acted, "DBSubnetGroupName": acted,
	"VpcSecurityGroupIds": acted, "Tags": acted, "DBClusterParameterGroupName": acted,
	"EnableIAMDatabaseAuthentication": acted, "DeletionProtection": acted,
	"ManageMasterUserPassword":  onlyDefault("ManageMasterUserPassword is not supported by Borealis: set MasterUserPassword.", "false"),
	"StorageEncrypted":          onlyDefault(noEncryption, "false"),
	"KmsKeyId":                  onlyDefault(noEncryption),
	"BackupRetentionPeriod":     onlyDefault("Borealis does not take automated backups yet: BackupRetentionPeriod must be 1, the default.", "1"),
	"EngineMode":                onlyDefault("Borealis runs provisioned clusters only: EngineMode must be provisioned.", "provisioned"),
	"StorageType":               onlyDefault("Borealis has one storage type: StorageType must be aurora.", "aurora"),
	"NetworkType":               onlyDefault("Borealis serves IPv4 only: NetworkType must be IPV4.", "IPV4"),
	"CopyTagsToSnapshot":        onlyDefault("Borealis does not take cluster snapshots yet: CopyTagsToSnapshot must be false.", "false"),
	"EnableHttpEndpoint":        onlyDefault("Borealis has no Data API: EnableHttpEndpoint must be false.", "false"),
	"EnablePerformanceInsights": onlyDefault("Borealis has no Performance Insights: EnablePerformanceInsights must be false.", "false"),
	"MonitoringInterval":        onlyDefault("Borealis has no Enhanced Monitoring: MonitoringInterval must be 0.", "0"),
}

// modifyClusterMembers: everything ModifyDBCluster reads; any other member is refused rather
// than silently ignored.
var modifyClusterMembers = map[string]member{
	"DBClusterIdentifier": acted, "ApplyImmediately": acted, "DBClusterParameterGroupName": acted,
	"VpcSecurityGroupIds": acted, "EnableIAMDatabaseAuthentication": acted, "MasterUserPassword": acted,
	"DeletionProtection":    acted,
	"BackupRetentionPeriod": createClusterMembers["BackupRetentionPeriod"],
	"CopyTagsToSnapshot":    createClusterMembers["CopyTagsToSnapshot"],
}

// createInstanceMembers: everything CreateDBInstance reads. The members an Aurora cluster
// manages (MasterUsername, DBName, ...) are read too: the action refuses them with RDS's words.
var createInstanceMembers = map[string]member{
	"DBInstanceIdentifier": acted, "DBInstanceClass": acted, "Engine": acted, "EngineVersion": acted,
	"DBClusterIdentifier": acted, "Tags": acted, "DBParameterGroupName": acted, "CACertificateIdentifier": acted,
	"MasterUsername": acted, "MasterUserPassword": acted, "DBName": acted, "AllocatedStorage": acted, "Port": acted,
	"PubliclyAccessible":        onlyDefault("Borealis instances are reached through the cluster endpoint only: PubliclyAccessible must be false.", "false"),
	"PromotionTier":             onlyDefault("Borealis does not run reader instances yet: PromotionTier must be 1, the default.", "1"),
	"AutoMinorVersionUpgrade":   onlyDefault("AutoMinorVersionUpgrade must be true: Borealis runs the installed minor version.", "true"),
	"CopyTagsToSnapshot":        createClusterMembers["CopyTagsToSnapshot"],
	"EnablePerformanceInsights": createClusterMembers["EnablePerformanceInsights"],
	"MonitoringInterval":        createClusterMembers["MonitoringInterval"],
}

// modifyInstanceMembers: everything ModifyDBInstance reads.
var modifyInstanceMembers = map[string]member{
	"DBInstanceIdentifier": acted, "ApplyImmediately": acted, "CACertificateIdentifier": acted, "CertificateRotationRestart": acted,
}

// The deletes and reboots. No automated backups exist, so DeleteAutomatedBackups is carried
// out whatever it says; DeleteDBCluster refuses a final snapshot itself.
var (
	deleteClusterMembers = map[string]member{
		"DBClusterIdentifier": acted, "SkipFinalSnapshot": acted, "FinalDBSnapshotIdentifier": acted, "DeleteAutomatedBackups": acted,
	}
	deleteInstanceMembers = map[string]member{
		"DBInstanceIdentifier": acted, "SkipFinalSnapshot": acted, "DeleteAutomatedBackups": acted,
		"FinalDBSnapshotIdentifier": onlyDefault("FinalDBSnapshotIdentifier can not be specified when deleting a cluster member instance."),
	}
	rebootClusterMembers  = map[string]member{"DBClusterIdentifier": acted}
	rebootInstanceMembers = map[string]member{"DBInstanceIdentifier": acted, "ForceFailover": acted}
)

// actionMembers are the actions whose members are checked before they run (Do).
var actionMembers = map[string]map[string]member{
	"CreateDBCluster":  createClusterMembers,
	"ModifyDBCluster":  modifyClusterMembers,
	"CreateDBInstance": createInstanceMembers,
	"ModifyDBInstance": modifyInstanceMembers,
	"DeleteDBCluster":  deleteClusterMembers,
	"DeleteDBInstance": deleteInstanceMembers,
	"RebootDBCluster":  rebootClusterMembers,
	"RebootDBInstance": rebootInstanceMembers,
}

// checkMembers refuses, with RDS's InvalidParameterCombination, a request member the action
// does not carry out, unless it asks for what Borealis does anyway.
func checkMembers(action string, p awsquery.Params, members map[string]member) error {
	names := make([]string, 0, len(p.Values))
	for k := range p.Values {
		names = append(names, k)
	}
	sort.Strings(names) // the same request always gets the same answer
	for _, k := range names {
		name, _, _ := strings.Cut(k, ".")
		m, ok := members[name]
		if !ok {
			m, ok = envelope[name]
		}
		switch {
		case !ok:
			return awsquery.InvalidParameterCombination("%s does not support %s in Borealis yet.", action, awsquery.Clip(name))
		case m.why == "":
			continue
		case !slices.ContainsFunc(m.only, func(v string) bool { return strings.EqualFold(v, p.String(k)) }):
			return awsquery.InvalidParameterCombination("%s", m.why)
		}
	}
	return nil
}
