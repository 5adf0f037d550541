package rds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/params"
	"github.com/borealis-db/borealis/internal/pki"
	"github.com/borealis-db/borealis/internal/rdsevent"
	"github.com/borealis-db/borealis/internal/store"
)

// The certificate authorities are made by the operator (`borealis ca add`), not through
// the API, as RDS's are made by AWS: the API lists them, chooses the default for new
// instances (ModifyCertificates) and moves instances between them (ModifyDBInstance).
// They are read from the store on every call, because `borealis ca add` writes there from
// another process while serve runs.

func certificateNotFound(id string) error {
	return awsquery.Errorf(http.StatusNotFound, "CertificateNotFound", "Certificate not found: %s", awsquery.Clip(id))
}

func (s *Service) certARN(id string) string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:cert:%s", s.cfg.Region, s.cfg.AccountID, id)
}

// checkCA returns the identifier of an existing CA as the store keys it (identifiers are
// not case-sensitive), or CertificateNotFound.
func (s *Service) checkCA(ctx context.Context, raw string) (string, error) {
	id := strings.ToLower(raw)
	if _, err := s.store.CertificateAuthority(ctx, id); errors.Is(err, store.ErrNotFound) {
		return "", certificateNotFound(raw)
	} else if err != nil {
		return "", err
	}
	return id, nil
}

// defaultCA is the CA new instances get when CreateDBInstance names none.
func (s *Service) defaultCA(ctx context.Context) (string, error) {
	id, _, err := s.store.DefaultCA(ctx)
	return id, err
}

func (s *Service) describeCertificates(ctx context.Context, p awsquery.Params) (any, error) {
	maxRecords, marker, err := paging(p)
	if err != nil {
		return nil, err
	}
	cas, err := s.store.CertificateAuthorities(ctx)
	if err != nil {
		return nil, err
	}
	def, override, err := s.store.DefaultCA(ctx)
	if err != nil {
		return nil, err
	}
	raw := p.String("CertificateIdentifier")
	res := describeCertificatesResult{DefaultCertificateForNewLaunches: def}
	found := false
	for _, ca := range cas {
		if raw != "" && ca.ID != strings.ToLower(raw) {
			continue
		}
		found = true
		if marker != "" && ca.ID <= marker {
			continue
		}
		if len(res.Certificates.Items) == maxRecords {
			res.Marker = res.Certificates.Items[maxRecords-1].CertificateIdentifier
			break
		}
		x, err := s.certificateXML(ca, override && ca.ID == def)
		if err != nil {
			return nil, err
		}
		res.Certificates.Items = append(res.Certificates.Items, x)
	}
	if raw != "" && !found {
		return nil, certificateNotFound(raw)
	}
	return res, nil
}

// modifyCertificates sets or removes the override of the default CA for new instances.
// Instances that exist keep their CA.
func (s *Service) modifyCertificates(ctx context.Context, p awsquery.Params) (any, error) {
	remove, _, err := p.Bool("RemoveCustomerOverride")
	if err != nil {
		return nil, err
	}
	raw := p.String("CertificateIdentifier")
	switch {
	case remove && raw != "":
		return nil, awsquery.InvalidParameterCombination("Specify either CertificateIdentifier or RemoveCustomerOverride, not both.")
	case !remove && raw == "":
		return nil, awsquery.InvalidParameterCombination("Specify CertificateIdentifier, or RemoveCustomerOverride to remove the override.")
	}
	id := ""
	if !remove {
		if id, err = s.checkCA(ctx, raw); err != nil {
			return nil, err
		}
	}
	if err := s.store.SetDefaultCA(ctx, id); errors.Is(err, store.ErrNotFound) {
		return nil, certificateNotFound(raw)
	} else if err != nil {
		return nil, err
	}
	def, override, err := s.store.DefaultCA(ctx)
	if err != nil {
		return nil, err
	}
	s.log.Info("default CA for new instances", "ca", def, "override", override)
	ca, err := s.store.CertificateAuthority(ctx, def)
	if errors.Is(err, store.ErrNotFound) {
		return modifyCertificatesResult{}, nil // no CA yet: a store without an account
	} else if err != nil {
		return nil, err
	}
	x, err := s.certificateXML(ca, override)
	return modifyCertificatesResult{Certificate: &x}, err
}

// certificateXML describes a CA; an override of the default lasts as long as its CA.
func (s *Service) certificateXML(ca store.CertificateAuthority, override bool) (xmlCertificate, error) {
	cert, err := pki.ParseCertificate([]byte(ca.CertPEM))
	if err != nil {
		return xmlCertificate{}, fmt.Errorf("CA %s: %w", ca.ID, err)
	}
	x := xmlCertificate{
		CertificateIdentifier: ca.ID,
		CertificateType:       "CA",
		Thumbprint:            pki.Thumbprint(cert),
		ValidFrom:             cert.NotBefore.UTC(),
		ValidTill:             cert.NotAfter.UTC(),
		CertificateArn:        s.certARN(ca.ID),
		CustomerOverride:      override,
	}
	if override {
		t := cert.NotAfter.UTC()
		x.CustomerOverrideValidTill = &t
	}
	return x, nil
}

// certificateDetails describes the server certificate an instance presents: the CA that
// issued it and its end, which the reconciler moves forward before it comes.
func certificateDetails(in store.Instance) *xmlCertificateDetails {
	if len(in.CertPEM) == 0 {
		return nil // not issued yet (the instance is being created)
	}
	cert, err := pki.ParseCertificate(in.CertPEM)
	if err != nil {
		return nil
	}
	return &xmlCertificateDetails{CAIdentifier: in.CertCA, ValidTill: cert.NotAfter.UTC()}
}

// modifyInstance changes an instance's DB parameter group (pending-reboot, as on RDS) and
// its CA. With ApplyImmediately the instance turns
// "modifying" until the reconciler has issued the new certificate and PostgreSQL has
// reloaded it (no restart: open sessions keep going), unless CertificateRotationRestart
// asks for a restart. Without it the change waits in PendingModifiedValues for the next
// reboot, as on RDS.
func (s *Service) modifyInstance(ctx context.Context, p awsquery.Params) (any, error) {
	raw, err := p.Required("DBInstanceIdentifier")
	if err != nil {
		return nil, err
	}
	now, _, err := p.Bool("ApplyImmediately")
	if err != nil {
		return nil, err
	}
	restart, _, err := p.Bool("CertificateRotationRestart")
	if err != nil {
		return nil, err
	}
	ca := ""
	if rawCA := p.String("CACertificateIdentifier"); rawCA != "" {
		if ca, err = s.checkCA(ctx, rawCA); err != nil {
			return nil, err
		}
	}
	tier, err := promotionTier(p)
	if err != nil {
		return nil, err
	}
	pg := ""
	if rawPG := p.String("DBParameterGroupName"); rawPG != "" {
		g, err := s.group(ctx, dbGroups, rawPG)
		if err != nil {
			return nil, err
		}
		if g.Family != params.Family {
			return nil, awsquery.InvalidParameterCombination("The parameter group %s with DBParameterGroupFamily %s can't be used for this instance. Use a parameter group with DBParameterGroupFamily %s.", g.Name, g.Family, params.Family)
		}
		pg = g.Name
	}
	// The cluster is read first: the store has one connection, which the update holds.
	cur, err := s.store.Instance(ctx, strings.ToLower(raw))
	if errors.Is(err, store.ErrNotFound) {
		return nil, instanceNotFound(raw)
	} else if err != nil {
		return nil, err
	}
	cluster, err := s.store.Cluster(ctx, cur.ClusterID)
	if err != nil {
		return nil, err
	}
	in, err := s.store.UpdateInstance(ctx, cur.ID, func(in *store.Instance) error {
		if in.Status != store.StatusAvailable {
			return awsquery.Errorf(http.StatusBadRequest, "InvalidDBInstanceState", "Instance %s is not currently in the available state.", in.ID)
		}
		if pg != "" {
			// As on RDS, whatever ApplyImmediately says: the instance names the new group at
			// once and its values reach the server at the next reboot (the instance's
			// ParameterApplyStatus is pending-reboot until then; see params.Desired).
			in.ParameterGroup = pg
		}
		if tier != nil {
			// Takes effect at once whatever ApplyImmediately says, as on RDS: it only orders
			// the readers for the next failover.
			in.PromotionTier = tier
		}
		return applyCAChange(in, cluster, ca, now, restart)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, instanceNotFound(raw)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("instance modified", "instance", in.ID, "ca", in.CA(cluster), "pending_ca", in.PendingCAIdentifier,
		"parameter_group", params.GroupName(in.ParameterGroup), "status", in.Status)
	if p.String("DBParameterGroupName") != "" {
		s.emit(ctx, rdsevent.InstanceParamsChanged.New(in.ID, s.cfg.Now(), params.GroupName(in.ParameterGroup)))
	}
	if in.Status != cur.Status && (in.Status == store.StatusModifying || in.Status == store.StatusRebooting) {
		// A CA change applied at once; the reconciler reports its end (CAModified).
		s.emit(ctx, rdsevent.CAModifying.New(in.ID, s.cfg.Now()))
	}
	s.notify()
	return s.instanceResult(ctx, in, cluster)
}

// applyCAChange records a CA change on in: at once (status modifying, or rebooting when a
// restart is asked for) or pending the next reboot. Asking for the CA in force drops a
// pending change, as the request then asks for no change.
func applyCAChange(in *store.Instance, c store.Cluster, ca string, now, restart bool) error {
	if ca == "" {
		if now && in.PendingCAIdentifier != "" {
			// ApplyImmediately also applies what was pending.
			ca = in.PendingCAIdentifier
		} else {
			return nil
		}
	}
	if !now {
		in.PendingCAIdentifier = ca
		if ca == in.CA(c) {
			in.PendingCAIdentifier = ""
		}
		return nil
	}
	in.PendingCAIdentifier = ""
	if ca == in.CA(c) && in.CertCA == ca {
		return nil
	}
	in.CAIdentifier = ca
	in.SetStatus(store.StatusModifying)
	if restart {
		in.SetStatus(store.StatusRebooting)
	}
	return nil
}

// applyPending moves a pending CA change into force; a reboot calls it, as on RDS.
func applyPending(in *store.Instance) {
	if in.PendingCAIdentifier != "" {
		in.CAIdentifier, in.PendingCAIdentifier = in.PendingCAIdentifier, ""
	}
}
