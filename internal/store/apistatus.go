package store

// SetStatus sets a status the API decides (deleting, modifying, rebooting, ...). Such a
// status has no reason: StatusReason is the reconciler's, and a reason kept from a failure
// would describe a status that is over (and make a reboot look like the reconciler's own,
// see RebootRequested).
func (c *Cluster) SetStatus(s Status) { c.Status, c.StatusReason = s, "" }

// SetStatus sets a status the API decides; see Cluster.SetStatus.
func (in *Instance) SetStatus(s Status) { in.Status, in.StatusReason = s, "" }
