package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/borealis-db/borealis/internal/dataplane"
	"github.com/borealis-db/borealis/internal/dbauth"
	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/iam"
	"github.com/borealis-db/borealis/internal/store"
)

// startDBAuth starts the loopback responder PostgreSQL's ldap method asks about IAM
// database authentication tokens (see package dbauth), on the port of the previous serve
// on dataDir if it can (see listenDBAuth).
func startDBAuth(ctx context.Context, dataDir, region, accountID string, st *store.Store, iamSvc *iam.Service, refused func(context.Context, dataplane.AuthFailure), log *slog.Logger) (*dbauth.LDAPServer, error) {
	a := dbauth.New(dbauth.Config{
		Region:       region,
		AccountID:    accountID,
		Verifier:     dbauth.TokenVerifier(iamSvc, nil),
		Authenticate: iamSvc.Authenticate,
		Authorize:    iamSvc.Authorize,
		Cluster: func(ctx context.Context, resourceID string) (dbauth.Cluster, bool, error) {
			c, err := st.ClusterByResourceID(ctx, resourceID)
			if errors.Is(err, store.ErrNotFound) {
				return dbauth.Cluster{}, false, nil
			} else if err != nil {
				return dbauth.Cluster{}, false, err
			}
			members, err := st.ClusterInstances(ctx, c.ID)
			if err != nil {
				return dbauth.Cluster{}, false, err
			}
			hosts := []string{c.Endpoint, c.ReaderEndpoint}
			for _, m := range members {
				hosts = append(hosts, m.Endpoint)
			}
			return dbauth.Cluster{ResourceID: c.ResourceID, Hosts: hosts, Port: c.Port, IAMEnabled: c.IAMAuth}, true, nil
		},
		Owner:   serverAccount,
		Refused: refused,
		Log:     log,
	})
	return listenDBAuth(dataDir, a.Bind, log)
}

// dbAuthPortFile keeps the responder's port from one serve to the next.
const dbAuthPortFile = "dbauth.port"

// dbAuthFence names the responder's port in the fence (no endpoint's name has a colon).
const dbAuthFence = "serve:dbauth"

// listenDBAuth listens where the previous serve on dataDir did, else on a port the kernel
// picks (then kept for the next). The servers a killed serve left running ask there until
// the reconciler reloads them, and the fence keeps the port serve's while it is away
// (GuardServePort): a responder that moved would leave them asking whoever took the old
// port, which could admit any token.
func listenDBAuth(dataDir string, bind dbauth.BindFunc, log *slog.Logger) (*dbauth.LDAPServer, error) {
	path := filepath.Join(dataDir, dbAuthPortFile)
	if b, err := os.ReadFile(path); err == nil {
		if port, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && port > 0 && port <= 0xffff {
			s, err := dbauth.ListenLDAP(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bind, log)
			if err == nil {
				return s, nil
			}
			log.Warn("IAM authentication responder moves: its previous port is taken (servers left running ask the new one once reloaded)", "port", port, "err", err)
		}
	}
	s, err := dbauth.ListenLDAP("127.0.0.1:0", bind, log)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, []byte(strconv.Itoa(s.Port())+"\n"), 0o644); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// serverAccount is the OS account a cluster's servers run as, the only one whose
// connections may ask the responder about it: the cluster's tenant account when serve is
// root, else serve's own (whose servers it runs as itself).
func serverAccount(resourceID string) (uint32, bool) {
	if os.Geteuid() != 0 {
		return uint32(os.Geteuid()), true
	}
	u, err := user.Lookup(engine.TenantUser(resourceID))
	if err != nil {
		return 0, false
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	return uint32(uid), err == nil && uid != 0
}
