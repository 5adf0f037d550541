package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/user"
	"strconv"

	"github.com/borealis-db/borealis/internal/dataplane"
	"github.com/borealis-db/borealis/internal/dbauth"
	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/iam"
	"github.com/borealis-db/borealis/internal/sigv4"
	"github.com/borealis-db/borealis/internal/store"
)

// startDBAuth starts the loopback responder PostgreSQL's ldap method asks about IAM
// database authentication tokens (see package dbauth).
func startDBAuth(ctx context.Context, region, accountID string, st *store.Store, iamSvc *iam.Service, refused func(context.Context, dataplane.AuthFailure), log *slog.Logger) (*dbauth.LDAPServer, error) {
	a := dbauth.New(dbauth.Config{
		Region:       region,
		AccountID:    accountID,
		Verifier:     &sigv4.Verifier{Lookup: iamSvc.LookupSecret},
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
	return dbauth.ListenLDAP("127.0.0.1:0", a.Bind, log)
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
