// Package rdsevent is the catalogue of RDS events: the source types and event categories
// RDS declares (DescribeEventCategories), and the events Borealis emits, each with RDS's
// event id, category and message (Amazon RDS event categories and event messages for
// Aurora). The reconciler and the RDS API emit them; the store keeps them 14 days.
package rdsevent

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Retention is how long RDS keeps events for DescribeEvents.
const Retention = 14 * 24 * time.Hour

// Source types (botocore's SourceType enum: the ones DescribeEventCategories lists).
const (
	DBInstance              = "db-instance"
	DBCluster               = "db-cluster"
	DBParameterGroup        = "db-parameter-group"
	DBClusterParameterGroup = "db-cluster-parameter-group"
	DBSecurityGroup         = "db-security-group"
	DBSnapshot              = "db-snapshot"
	DBClusterSnapshot       = "db-cluster-snapshot"
	DBProxy                 = "db-proxy"
)

// categories are the event categories of each source type, as RDS documents them for Aurora
// (and for DB snapshots and proxies, which DescribeEventCategories also lists).
var categories = map[string][]string{
	DBInstance: {"availability", "backtrack", "configuration change", "creation", "deletion", "failover", "failure",
		"low storage", "maintenance", "notification", "read replica", "recovery", "restoration", "security patching"},
	DBCluster:         {"configuration change", "creation", "deletion", "failover", "failure", "global-failover", "maintenance", "notification", "serverless"},
	DBParameterGroup:  {"configuration change"},
	DBSecurityGroup:   {"configuration change", "failure"},
	DBSnapshot:        {"creation", "deletion", "notification", "restoration"},
	DBClusterSnapshot: {"backup", "notification"},
	DBProxy:           {"configuration change", "creation", "deletion", "failure"},
}

// CategorySourceTypes are the source types DescribeEventCategories answers for, in RDS's order.
var CategorySourceTypes = []string{DBInstance, DBSecurityGroup, DBParameterGroup, DBSnapshot, DBCluster, DBClusterSnapshot, DBProxy}

// Categories returns the categories of a source type (nil for an unknown one).
func Categories(sourceType string) []string { return categories[sourceType] }

// SourceTypes are the values DescribeEvents accepts as SourceType (botocore's enum, with
// the cluster parameter groups RDS reports events for).
var SourceTypes = []string{DBInstance, DBParameterGroup, DBSecurityGroup, DBSnapshot, DBCluster, DBClusterSnapshot,
	DBClusterParameterGroup, "custom-engine-version", DBProxy, "blue-green-deployment", "db-shard-group", "zero-etl"}

// KnownSourceType reports whether DescribeEvents accepts t.
func KnownSourceType(t string) bool { return slices.Contains(SourceTypes, t) }

// Kind is one event RDS documents: its id, source type, category and message (a format
// whose arguments are names and the fixed reasons of the reconciler: never a secret).
type Kind struct {
	ID         string
	SourceType string
	Category   string // "" for the parameter group changes, which RDS reports with none
	Message    string
}

// The events Borealis emits.
var (
	ClusterCreated        = Kind{"RDS-EVENT-0170", DBCluster, "creation", "DB cluster created"}
	ClusterDeleted        = Kind{"RDS-EVENT-0171", DBCluster, "deletion", "DB cluster deleted"}
	ClusterCreateFailed   = Kind{"RDS-EVENT-0354", DBCluster, "failure", "You can't create the DB cluster because of incompatible resources. %s"}
	FailoverStarted       = Kind{"RDS-EVENT-0072", DBCluster, "failover", "Started same AZ failover to DB instance: %s"}
	FailoverCompleted     = Kind{"RDS-EVENT-0071", DBCluster, "failover", "Completed failover to DB instance: %s"}
	MasterReset           = Kind{"RDS-EVENT-0016", DBCluster, "configuration change", "Reset master credentials"}
	InstanceCreated       = Kind{"RDS-EVENT-0005", DBInstance, "creation", "DB instance created"}
	InstanceDeleted       = Kind{"RDS-EVENT-0003", DBInstance, "deletion", "DB instance deleted"}
	InstanceRestarted     = Kind{"RDS-EVENT-0006", DBInstance, "availability", "DB instance restarted"}
	InstanceShutdown      = Kind{"RDS-EVENT-0004", DBInstance, "availability", "DB instance shutdown"}
	InstanceParamsChanged = Kind{"RDS-EVENT-0011", DBInstance, "configuration change", "Updated to use DBParameterGroup %s"}
	InstanceParamsApplied = Kind{"RDS-EVENT-0092", DBInstance, "configuration change", "Finished updating DB parameter group"}
	IncompatibleParams    = Kind{"RDS-EVENT-0035", DBInstance, "failure", "Database instance put into incompatible-parameters. %s"}
	IncompatibleNetwork   = Kind{"RDS-EVENT-0036", DBInstance, "failure", "Database instance in incompatible-network. %s"}
	InstanceFailed        = Kind{"RDS-EVENT-0031", DBInstance, "failure", "DB instance put into failed state. %s"}
	StorageExhausted      = Kind{"RDS-EVENT-0007", DBInstance, "low storage", "Allocated storage has been exhausted. Allocate additional storage to resolve the issue. %s"}
	StorageRecovered      = Kind{"RDS-EVENT-0021", DBInstance, "recovery", "Recovery of the DB instance is complete"}
	SnapshotCreating      = Kind{"RDS-EVENT-0074", DBClusterSnapshot, "backup", "Creating manual cluster snapshot"}
	SnapshotCreated       = Kind{"RDS-EVENT-0075", DBClusterSnapshot, "backup", "Manual cluster snapshot created"}
	AutomatedCreating     = Kind{"RDS-EVENT-0168", DBClusterSnapshot, "backup", "Creating automated cluster snapshot"}
	AutomatedCreated      = Kind{"RDS-EVENT-0169", DBClusterSnapshot, "backup", "Automated cluster snapshot created"}
	ReplicationStopped    = Kind{"RDS-EVENT-0045", DBInstance, "read replica", "Replication has stopped."}
	ReplicationResumed    = Kind{"RDS-EVENT-0046", DBInstance, "read replica", "Replication for the Read Replica resumed."}
	// A CA change (ModifyDBInstance CACertificateIdentifier) in RDS's words for a
	// modification applied (RDS-EVENT-0012/0014 for the class, 0018/0017 for storage); RDS
	// documents no id for the CA's (docs/events.md).
	CAModifying = Kind{"", DBInstance, "configuration change", "Applying modification to certificate authority"}
	CAModified  = Kind{"", DBInstance, "configuration change", "Finished applying modification to certificate authority"}
	// An automatic renewal before the end, without a restart: RDS has no such event (its
	// certificate events, RDS-EVENT-0501/0502, announce a rotation by reboot in a
	// maintenance window), so it is RDS's operator-issued notification (docs/events.md).
	CertRenewed        = Kind{"RDS-EVENT-0044", DBInstance, "notification", "The server certificate was renewed before it expires. The new certificate is issued by %s and valid until %s"}
	ParameterUpdated   = Kind{"", DBParameterGroup, "", "Updated parameter %s to %s with apply method %s"}
	ParameterReset     = Kind{"", DBParameterGroup, "", "Reset parameter %s with apply method %s"}
	ParametersResetAll = Kind{"", DBParameterGroup, "", "Reset all parameters"}
)

// Event is one event as stored and described.
type Event struct {
	SourceType string    `json:"source_type"`
	SourceID   string    `json:"source_id"`
	EventID    string    `json:"event_id,omitempty"`
	Categories []string  `json:"categories,omitempty"`
	Message    string    `json:"message"`
	Date       time.Time `json:"date"`
}

// New is the event of kind k about source id at now; args fill the message.
func (k Kind) New(sourceID string, now time.Time, args ...any) Event {
	msg := k.Message
	if n := strings.Count(msg, "%s"); n > 0 {
		msg = fmt.Sprintf(msg, args[:min(n, len(args))]...) // a message without them takes none
	}
	e := Event{SourceType: k.SourceType, SourceID: sourceID, EventID: k.ID, Message: msg, Date: now.UTC()}
	if k.Category != "" {
		e.Categories = []string{k.Category}
	}
	return e
}

// For is k about a cluster parameter group: RDS reports both kinds of group's changes the
// same way, under their own source type.
func (k Kind) For(sourceType string) Kind {
	k.SourceType = sourceType
	return k
}
