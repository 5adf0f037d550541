package dataplane

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// AuthFailure is one failed IAM database authentication. It never holds the token.
type AuthFailure struct {
	Time         time.Time
	Cluster      string         // the cluster's resource id, as the login named it
	Endpoint     string         // the address the client connected to, where known
	Source       netip.AddrPort // the client, where known
	DBUser       string
	Reason       string // a code, e.g. ExpiredToken (package dbauth's reasons)
	Message      string // what the reason means, for the reader
	AccessKeyID  string // the key the token named, where it could be read
	PrincipalARN string // its principal, once the key was known
}

type authKey struct {
	cluster, endpoint string
	source            netip.Addr
	dbUser, reason    string
	message           string
}

// AuthFailed records f: at once while this interval's share for immediate events lasts
// (so a single failed login is in the trail before the client sees its error), counted
// toward the next flush after that.
func (c *Collector) AuthFailed(ctx context.Context, f AuthFailure) {
	k := authKey{f.Cluster, f.Endpoint, f.Source.Addr(), f.DBUser, f.Reason, f.Message}
	c.mu.Lock()
	t := c.auth[k]
	now := t == nil && c.budget > 0
	if now {
		c.budget--
		// Later ones are counted from here on, for the flush.
		c.auth[k] = &tally{accessKey: f.AccessKeyID, principal: f.PrincipalARN}
		c.authPerCluster[f.Cluster]++
	} else if t == nil && (len(c.auth) >= c.limits.Tally || c.authPerCluster[f.Cluster] >= c.clusterShare()) {
		t = c.authOver[f.Reason]
		if t == nil {
			t = &tally{first: f.Time}
			c.authOver[f.Reason] = t
		}
	} else if t == nil {
		t = &tally{first: f.Time, accessKey: f.AccessKeyID, principal: f.PrincipalARN}
		c.auth[k] = t
		c.authPerCluster[f.Cluster]++
	}
	if t != nil {
		t.count++
		t.last = later(t.last, f.Time)
		if t.first.IsZero() {
			t.first = f.Time
		}
	}
	c.mu.Unlock()
	if now {
		ev := authEvent(k, &tally{count: 1, first: f.Time, last: f.Time, accessKey: f.AccessKeyID, principal: f.PrincipalARN})
		if err := c.sink.RecordDataPlane(ctx, []Event{ev}); err != nil {
			c.log.Error("audit: failed IAM database authentication not recorded", "err", err)
		}
	}
}

// clusterShare is the most keys one cluster holds in the tally (enough to fill an
// interval's events): a spray at one cluster cannot fill it and leave another's failures
// counted only by reason.
func (c *Collector) clusterShare() int { return max(2*c.limits.Events, c.limits.Tally/16) }

func authEvent(k authKey, t *tally) Event {
	src := ""
	if k.source.IsValid() {
		src = k.source.String()
	}
	msg := fmt.Sprintf("IAM database authentication of %q on %s refused: %s", k.dbUser, k.cluster, k.message)
	if t.count > 1 || !t.first.Equal(t.last) {
		msg = fmt.Sprintf("%d IAM database authentications of %q on %s refused between %s and %s: %s",
			t.count, k.dbUser, k.cluster, stamp(t.first), stamp(t.last), k.message)
	}
	return Event{Time: t.last, Name: NameConnect, SourceIP: src, AccessKeyID: t.accessKey, PrincipalARN: t.principal,
		ErrorCode: k.reason, ErrorMessage: msg,
		Details: Details{Endpoint: endpointOf(k), Cluster: k.cluster, DBUser: k.dbUser, Reason: k.reason, Count: t.count, FirstTime: t.first, LastTime: t.last}}
}

func endpointOf(k authKey) string {
	if k.endpoint != "" {
		return k.endpoint
	}
	return k.cluster
}

// authEvents are at most max events for the failures counted in an interval: the largest
// counts one each, the last a summary of all the rest.
func authEvents(auth map[authKey]*tally, over map[string]*tally, max int) []Event {
	type item struct {
		k authKey
		t *tally
	}
	var items []item
	for k, t := range auth {
		if t.count > 0 {
			items = append(items, item{k, t})
		}
	}
	slices.SortFunc(items, func(a, b item) int {
		if c := cmp.Compare(b.t.count, a.t.count); c != 0 {
			return c
		}
		return a.t.first.Compare(b.t.first)
	})
	// In turns across clusters, each cluster's largest first: a spray at one cluster
	// cannot push another's failures into the summary.
	byCluster := map[string][]item{}
	var clusters []string
	for _, it := range items {
		if byCluster[it.k.cluster] == nil {
			clusters = append(clusters, it.k.cluster)
		}
		byCluster[it.k.cluster] = append(byCluster[it.k.cluster], it)
	}
	ordered := make([]item, 0, len(items))
	for turn := 0; len(ordered) < len(items); turn++ {
		for _, c := range clusters {
			if its := byCluster[c]; turn < len(its) {
				ordered = append(ordered, its[turn])
			}
		}
	}
	items = ordered
	var out []Event
	var rest tally
	var restKeys uint64
	for _, it := range items {
		if len(out) < max-1 {
			out = append(out, authEvent(it.k, it.t))
			continue
		}
		rest.count += it.t.count
		rest.first, rest.last = earlier(rest.first, it.t.first), later(rest.last, it.t.last)
		restKeys++
	}
	for _, t := range over {
		rest.count += t.count
		rest.first, rest.last = earlier(rest.first, t.first), later(rest.last, t.last)
		restKeys++
	}
	if rest.count > 0 {
		out = append(out, Event{Time: rest.last, Name: NameConnect, ErrorCode: "Summary",
			ErrorMessage: fmt.Sprintf("%d more IAM database authentications refused between %s and %s, from sources, users and reasons not itemized here (at least %d)",
				rest.count, stamp(rest.first), stamp(rest.last), restKeys),
			Details: Details{Count: rest.count, FirstTime: rest.first, LastTime: rest.last, SourcesNotItemized: restKeys}})
	}
	return out
}
