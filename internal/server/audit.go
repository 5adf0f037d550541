package server

import (
	"context"
	"log/slog"

	"github.com/borealis-db/borealis/internal/apiserver"
	"github.com/borealis-db/borealis/internal/audit"
	"github.com/borealis-db/borealis/internal/cloudtrail"
)

// openTrail opens the audit trail in DATA_DIR/audit (see docs/audit.md); Close closes it
// after the listeners, so that every answered call has its event.
func (s *Server) openTrail(ctx context.Context, cfg Config, log *slog.Logger) (*audit.Trail, error) {
	retention := cfg.AuditRetention
	if retention == 0 {
		retention = audit.DefaultRetention
	}
	if retention < 0 {
		retention = 0 // kept forever
	}
	t, err := audit.Open(ctx, audit.Dir(s.dataDir), audit.Options{Retention: retention, Region: cfg.Region, AccountID: s.acct.ID, Log: log})
	if err != nil {
		return nil, err
	}
	s.onClose("audit trail", func(context.Context) error { return t.Close() })
	return t, nil
}

// cloudTrailEndpoint serves the CloudTrail API (JSON 1.1) over the trail.
func cloudTrailEndpoint(t *audit.Trail) apiserver.Endpoint {
	return apiserver.Endpoint{Version: cloudtrail.Version, JSONTarget: cloudtrail.JSONTarget, Service: cloudtrail.New(t),
		WriteResult: apiserver.WriteJSONResult, WriteError: apiserver.WriteJSONError}
}
