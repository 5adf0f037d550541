// Package dataplane turns what the data plane refuses into audit events: connections the
// security groups refused (counted per source and endpoint in the kernel or the gateway)
// and failed IAM database authentications (with their reason). Both are rate-limited into
// counted events, at most a fixed number per interval and kind, so that a port scan or a
// password-spraying client cannot flood the trail: past the limit the rest are summed in
// one event that says how many sources it leaves out.
package dataplane

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// The names the events carry (docs/audit.md, "Data-plane events"). CloudTrail has no
// data-plane event for RDS connections; these sit under the data plane's IAM namespace.
const (
	EventSource = "rds-db.amazonaws.com"
	EventType   = "AwsServiceEvent"
	// NameRefused is a connection the endpoint's security groups refused.
	NameRefused = "ConnectionRefused"
	// NameConnect is a failed IAM database authentication (rds-db:connect).
	NameConnect = "connect"
)

// Event is one data-plane event, in the terms of a CloudTrail record.
type Event struct {
	Time         time.Time // eventTime: the last refusal it counts
	Name         string    // eventName
	SourceIP     string    // sourceIPAddress; "" for a summary of many sources
	AccessKeyID  string    // userIdentity, where a token named a key
	PrincipalARN string
	ErrorCode    string
	ErrorMessage string
	Details      Details // serviceEventDetails
}

// Details are what an event counts.
type Details struct {
	Endpoint           string    `json:"endpoint"`
	Cluster            string    `json:"cluster,omitempty"` // a failed authentication's cluster resource id
	SecurityGroups     []string  `json:"securityGroups,omitempty"`
	DBUser             string    `json:"dbUser,omitempty"`
	Reason             string    `json:"reason,omitempty"`
	Count              uint64    `json:"count"`
	FirstTime          time.Time `json:"firstTime"`
	LastTime           time.Time `json:"lastTime"`
	SourcesNotItemized uint64    `json:"sourcesNotItemized,omitempty"` // a summary: how many sources it sums
}

// Sink is where the events go: the audit trail.
type Sink interface {
	RecordDataPlane(ctx context.Context, events []Event) error
}

// Refusal is a count of connections refused by the security groups: from one source
// (invalid: from sources past a per-source table's capacity) to one endpoint.
type Refusal struct {
	Endpoint    string
	Groups      []string
	Source      netip.Addr
	Count       uint64
	First, Last time.Time
}

// Limits bound what reaches the trail; a zero field takes its default.
type Limits struct {
	// Events is the most events of each kind per interval, a summary included.
	Events int
	// Tally is the most distinct failed-authentication keys held between two flushes, a
	// sixteenth of it (or twice Events) per cluster; past it they are counted together.
	Tally int
}

// The default limits: with serve's 30 s interval, a day of constant scanning adds at most
// about 58,000 events of each kind.
const (
	DefaultEvents = 20
	DefaultTally  = 4096
)

// Collector gathers refusals between flushes.
type Collector struct {
	sink   Sink
	log    *slog.Logger
	limits Limits

	mu       sync.Mutex
	auth     map[authKey]*tally
	authOver map[string]*tally // by reason, past Limits.Tally or a cluster's share of it
	// authPerCluster is how many of auth's keys each cluster holds.
	authPerCluster map[string]int
	budget         int // failed authentications still recorded at once this interval
}

type tally struct {
	count       uint64
	first, last time.Time
	accessKey   string
	principal   string
}

// New returns a Collector writing to sink.
func New(sink Sink, log *slog.Logger, limits Limits) *Collector {
	if limits.Events <= 1 {
		limits.Events = DefaultEvents
	}
	if limits.Tally <= 0 {
		limits.Tally = DefaultTally
	}
	c := &Collector{sink: sink, log: log, limits: limits}
	c.reset()
	return c
}

func (c *Collector) reset() {
	c.auth, c.authOver, c.authPerCluster, c.budget = map[authKey]*tally{}, map[string]*tally{}, map[string]int{}, c.limits.Events/2
}

// Flush records refused (drained from the kernel and the gateway since the last flush)
// and the failed authentications counted since, bounded by the limits, and starts a new
// interval.
func (c *Collector) Flush(ctx context.Context, refused []Refusal) error {
	events := refusalEvents(refused, c.limits.Events)
	c.mu.Lock()
	auth, over := c.auth, c.authOver
	c.reset()
	c.mu.Unlock()
	events = append(events, authEvents(auth, over, c.limits.Events)...)
	if len(events) == 0 {
		return nil
	}
	return c.sink.RecordDataPlane(ctx, events)
}

// refusalEvents are at most max events for refused: the largest counts one event each,
// and the last a summary of everything left.
func refusalEvents(refused []Refusal, max int) []Event {
	// Sum by endpoint and source first: the kernel and the gateway may both count one.
	type key struct {
		endpoint string
		source   netip.Addr
	}
	sums := map[key]*Refusal{}
	var order []key
	for _, r := range refused {
		k := key{r.Endpoint, r.Source}
		s := sums[k]
		if s == nil {
			r := r
			sums[k] = &r
			order = append(order, k)
			continue
		}
		s.Count += r.Count
		s.First, s.Last = earlier(s.First, r.First), later(s.Last, r.Last)
	}
	// Itemized sources first, in turns across endpoints (each endpoint's largest count
	// first, the endpoint with the largest first), so that a flood at one endpoint, from
	// sources real or spoofed, cannot push another endpoint's sources into the summary;
	// the untracked remainder last.
	byEndpoint := map[string][]*Refusal{}
	var endpoints []string
	var untracked []*Refusal
	for _, k := range order {
		r := sums[k]
		if !r.Source.IsValid() {
			untracked = append(untracked, r)
			continue
		}
		if byEndpoint[k.endpoint] == nil {
			endpoints = append(endpoints, k.endpoint)
		}
		byEndpoint[k.endpoint] = append(byEndpoint[k.endpoint], r)
	}
	for _, rs := range byEndpoint {
		slices.SortStableFunc(rs, func(a, b *Refusal) int { return cmp.Compare(b.Count, a.Count) })
	}
	slices.SortStableFunc(endpoints, func(a, b string) int { return cmp.Compare(byEndpoint[b][0].Count, byEndpoint[a][0].Count) })
	items := make([]*Refusal, 0, len(order))
	for turn := 0; len(items) < len(order)-len(untracked); turn++ {
		for _, e := range endpoints {
			if rs := byEndpoint[e]; turn < len(rs) {
				items = append(items, rs[turn])
			}
		}
	}
	items = append(items, untracked...)
	var out []Event
	for i, r := range items {
		if len(out) == max-1 && i < len(items)-1 {
			out = append(out, refusalSummary(items[i:]))
			break
		}
		if !r.Source.IsValid() {
			out = append(out, refusalSummary(items[i:i+1]))
			continue
		}
		out = append(out, Event{Time: r.Last, Name: NameRefused, SourceIP: r.Source.String(),
			ErrorCode: "SecurityGroupRefused",
			ErrorMessage: fmt.Sprintf("%d connections from %s to %s refused by security groups %s between %s and %s",
				r.Count, r.Source, r.Endpoint, groupList(r.Groups), stamp(r.First), stamp(r.Last)),
			Details: Details{Endpoint: r.Endpoint, SecurityGroups: r.Groups, Count: r.Count, FirstTime: r.First, LastTime: r.Last}})
	}
	return out
}

// refusalSummary sums rs into one event; a source not itemized counts as at least one.
func refusalSummary(rs []*Refusal) Event {
	var d Details
	endpoints := map[string]bool{}
	for _, r := range rs {
		d.Count += r.Count
		d.SourcesNotItemized++
		d.FirstTime, d.LastTime = earlier(d.FirstTime, r.First), later(d.LastTime, r.Last)
		endpoints[r.Endpoint] = true
	}
	names := make([]string, 0, len(endpoints))
	for e := range endpoints {
		names = append(names, e)
	}
	slices.Sort(names)
	d.Endpoint = strings.Join(names, ",")
	if len(rs) == 1 {
		d.SecurityGroups = rs[0].Groups
	}
	return Event{Time: d.LastTime, Name: NameRefused, ErrorCode: "SecurityGroupRefused",
		ErrorMessage: fmt.Sprintf("%d connections from sources not itemized here (at least %d) to %s refused by security groups between %s and %s",
			d.Count, d.SourcesNotItemized, d.Endpoint, stamp(d.FirstTime), stamp(d.LastTime)),
		Details: d}
}

func groupList(g []string) string {
	if len(g) == 0 {
		return "(none)"
	}
	return strings.Join(g, ",")
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
