package params

import (
	"context"

	"github.com/borealis-db/borealis/internal/store"
)

// Desired is what an instance's parameters should be now, from its cluster's and its own
// parameter groups.
type Desired struct {
	ClusterGroup, DBGroup string
	Values                Values
	// PendingReboot names the parameters whose last change asked to wait for a reboot.
	PendingReboot map[string]bool
}

// GroupName is the group in force for a stored name ("" means the default group).
func GroupName(name string) string {
	if name == "" {
		return DefaultGroup
	}
	return name
}

// ForInstance reads the instance's groups and merges them over the engine defaults.
func ForInstance(ctx context.Context, st *store.Store, c store.Cluster, in store.Instance) (Desired, error) {
	d := Desired{ClusterGroup: GroupName(c.ParameterGroup), DBGroup: GroupName(in.ParameterGroup), PendingReboot: map[string]bool{}}
	var layers [2]Values
	for i, g := range []struct{ kind, name string }{{store.ClusterParamGroup, d.ClusterGroup}, {store.DBParamGroup, d.DBGroup}} {
		if g.name == DefaultGroup {
			continue
		}
		pg, err := st.ParameterGroup(ctx, g.kind, g.name)
		if err != nil {
			return d, err
		}
		layers[i] = pg.Values
		for n, m := range pg.ApplyMethods {
			if m == "pending-reboot" {
				d.PendingReboot[n] = true
			}
		}
	}
	d.Values = Effective(layers[0], layers[1])
	return d, nil
}

// ApplyStatus is the instance's ParameterApplyStatus: pending-reboot while the running
// server lacks a change that only a restart brings (or its groups were switched).
func (d Desired) ApplyStatus(started *store.StartedParams) string {
	if started == nil {
		return "in-sync"
	}
	if started.ClusterGroup != d.ClusterGroup || started.DBGroup != d.DBGroup ||
		NeedsReboot(started.Values, d.Values, d.PendingReboot) {
		return "pending-reboot"
	}
	return "in-sync"
}

// Now returns the values the running server should have: with switched groups, what it
// was started with; otherwise its start values with dynamic immediate changes applied.
func (d Desired) Now(started *store.StartedParams) Values {
	if started == nil {
		return d.Values
	}
	if started.ClusterGroup != d.ClusterGroup || started.DBGroup != d.DBGroup {
		return started.Values
	}
	return Running(started.Values, d.Values, d.PendingReboot)
}
