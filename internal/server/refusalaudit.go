package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/borealis-db/borealis/internal/audit"
	"github.com/borealis-db/borealis/internal/dataplane"
	"github.com/borealis-db/borealis/internal/gateway"
)

// DefaultRefusalAuditInterval is how often refused connections are drained into the
// audit trail as counted events (Config.RefusalAuditInterval).
const DefaultRefusalAuditInterval = 30 * time.Second

// dataPlaneAudit records the data plane's refusals in the audit trail: security-group
// refusals drained from the gateway (and the kernel) every interval, failed IAM database
// authentications as they happen, both bounded by package dataplane.
type dataPlaneAudit struct {
	region, accountID string
	log               *slog.Logger
	trail             atomic.Pointer[audit.Trail] // set once the trail is open
	gateway           atomic.Pointer[gateway.Gateway]
	collector         *dataplane.Collector

	stop chan struct{}
	done sync.WaitGroup
}

// newDataPlaneAudit is ready for failed authentications at once; they reach the trail once
// startDataPlaneAudit gives it one.
func newDataPlaneAudit(region, accountID string, log *slog.Logger) *dataPlaneAudit {
	d := &dataPlaneAudit{region: region, accountID: accountID, log: log, stop: make(chan struct{})}
	d.collector = dataplane.New(d, log, dataplane.Limits{})
	return d
}

// authFailed is dbauth's Config.Refused.
func (d *dataPlaneAudit) authFailed(ctx context.Context, f dataplane.AuthFailure) {
	// A relayed login's backend sees the gateway as its client: the gateway knows who.
	if gw := d.gateway.Load(); gw != nil && f.Source.IsValid() {
		if client, endpoint, ok := gw.Origin(f.Source); ok {
			f.Source, f.Endpoint = client, endpoint.String()
		}
	}
	d.collector.AuthFailed(ctx, f)
}

// startDataPlaneAudit drains gw's refusals into trail every interval, and a last time
// when serve closes (before the gateway: its onClose runs first). Counts the kernel made
// while no serve ran are in the first drain.
func (s *Server) startDataPlaneAudit(d *dataPlaneAudit, trail *audit.Trail, gw *gateway.Gateway, interval time.Duration) {
	d.trail.Store(trail)
	d.gateway.Store(gw)
	if interval <= 0 {
		interval = DefaultRefusalAuditInterval
	}
	flush := func(ctx context.Context) {
		refused, err := gw.DrainRefused()
		if err != nil {
			d.log.Warn("refused connections: kernel counts unreadable", "err", err)
		}
		if err := d.collector.Flush(ctx, refused); err != nil {
			d.log.Error("refused connections not recorded in the audit trail", "err", err)
		}
	}
	// What the kernel counted while no serve ran, before anything new.
	flush(context.Background())
	d.done.Add(1)
	go func() {
		defer d.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-t.C:
				flush(context.Background())
			}
		}
	}()
	s.onClose("data-plane audit", func(ctx context.Context) error {
		close(d.stop)
		d.done.Wait()
		flush(ctx)
		return nil
	})
}

// RecordDataPlane is dataplane.Sink: each event as a CloudTrail record.
func (d *dataPlaneAudit) RecordDataPlane(ctx context.Context, events []dataplane.Event) error {
	trail := d.trail.Load()
	if trail == nil {
		return errors.New("the audit trail is not open yet")
	}
	var errs []error
	for _, e := range events {
		errs = append(errs, trail.Record(ctx, d.record(e)))
	}
	return errors.Join(errs...)
}

func (d *dataPlaneAudit) record(e dataplane.Event) audit.Event {
	id := audit.UserIdentity{Type: "Unknown", AccountID: d.accountID, AccessKeyID: e.AccessKeyID, ARN: e.PrincipalARN}
	details := map[string]any{
		"endpoint":  e.Details.Endpoint,
		"count":     e.Details.Count,
		"firstTime": e.Details.FirstTime.UTC().Format(time.RFC3339Nano),
		"lastTime":  e.Details.LastTime.UTC().Format(time.RFC3339Nano),
	}
	if e.Details.SecurityGroups != nil {
		details["securityGroups"] = e.Details.SecurityGroups
	}
	if e.Details.DBUser != "" {
		details["dbUser"] = e.Details.DBUser
	}
	if e.Details.Reason != "" {
		details["reason"] = e.Details.Reason
	}
	if e.Details.SourcesNotItemized > 0 {
		details["sourcesNotItemized"] = e.Details.SourcesNotItemized
	}
	return audit.Event{
		Resources:           d.resources(e),
		UserIdentity:        id,
		EventTime:           e.Time.UTC(),
		EventSource:         dataplane.EventSource,
		EventName:           e.Name,
		AWSRegion:           d.region,
		SourceIPAddress:     e.SourceIP,
		ErrorCode:           e.ErrorCode,
		ErrorMessage:        e.ErrorMessage,
		EventType:           audit.TypeServiceEvent,
		ReadOnly:            true,
		RecipientAccountID:  d.accountID,
		AdditionalEventData: details,
	}
}

// resources are what an event is about, for LookupEvents' ResourceName: the clusters whose
// endpoints refused (a gateway endpoint is named by the cluster identifier; a summary names
// each, so that a cluster's own lookup finds the refusals a flood elsewhere left unnamed),
// or the database user a token was refused for (the resource of rds-db:connect).
func (d *dataPlaneAudit) resources(e dataplane.Event) []audit.Resource {
	switch {
	case e.Name == dataplane.NameRefused && e.Details.Endpoint != "":
		var out []audit.Resource
		for _, name := range strings.Split(e.Details.Endpoint, ",") {
			out = append(out, audit.Resource{ARN: fmt.Sprintf("arn:aws:rds:%s:%s:cluster:%s", d.region, d.accountID, name),
				AccountID: d.accountID, Type: "AWS::RDS::DBCluster"})
		}
		return out
	case e.Name == dataplane.NameConnect && e.Details.Cluster != "" && e.Details.DBUser != "":
		return []audit.Resource{{ARN: fmt.Sprintf("arn:aws:rds-db:%s:%s:dbuser:%s/%s", d.region, d.accountID, e.Details.Cluster, e.Details.DBUser),
			AccountID: d.accountID, Type: "AWS::RDS::DBUser"}}
	}
	return nil
}
