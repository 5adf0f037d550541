package rds

import "github.com/borealis-db/borealis/internal/store"

// rebootable reports whether RebootDBInstance (and RebootDBCluster, for the cluster and each
// member) may start from status s. RDS reboots an available instance, and one in
// incompatible-parameters: after the parameter group is fixed, a reboot (or a delete) is
// all RDS allows there. It refuses the other failure statuses: storage-full is ended by
// more storage, failed and incompatible-network only by a delete; and a status with a
// change under way (creating, modifying, rebooting, deleting) first runs its course.
func rebootable(s store.Status) bool {
	return s == store.StatusAvailable || s == store.StatusIncompatibleParameters
}

// statusInfo is the StatusInfos entry that says why a cluster or instance has the status
// the reconciler set (a server that cannot start, an endpoint port taken); ok is false
// when there is no reason to give.
func statusInfo(kind string, s store.Status, reason string) (xmlStatusInfo, bool) {
	if reason == "" {
		return xmlStatusInfo{}, false
	}
	return xmlStatusInfo{StatusType: kind, Normal: s == store.StatusAvailable, Status: string(s), Message: reason}, true
}

// replicationInfo is a reader's StatusInfos entry as RDS gives a read replica's:
// StatusType "read replication", Status "replicating" (Normal) or "error" with the reason.
func replicationInfo(in store.Instance) (xmlStatusInfo, bool) {
	if in.Writer || in.Replication == "" {
		return xmlStatusInfo{}, false
	}
	return xmlStatusInfo{StatusType: "read replication", Normal: in.Replication == store.ReplicationStreaming,
		Status: in.Replication, Message: in.ReplicationMessage}, true
}
