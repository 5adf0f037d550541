package console

import (
	"fmt"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The shapes the console reads, named and nested as in the RDS API's responses.

type clusterView struct {
	DBClusterIdentifier     string
	Status                  string
	Endpoint                string
	ReaderEndpoint          string
	Port                    int
	Engine                  string
	EngineVersion           string
	DatabaseName            string
	MasterUsername          string
	DBClusterParameterGroup string
	DBSubnetGroup           string
	DeletionProtection      bool
	EarliestRestorableTime  string
	LatestRestorableTime    string
	VpcSecurityGroups       []struct {
		VpcSecurityGroupId string
		Status             string
	} `xml:"VpcSecurityGroups>VpcSecurityGroupMembership"`
	Members     []clusterMember `xml:"DBClusterMembers>DBClusterMember"`
	StatusInfos []statusInfo    `xml:"StatusInfos>DBClusterStatusInfo"`
	Instances   []instanceView  `xml:"-"`
}

type clusterMember struct {
	DBInstanceIdentifier          string
	IsClusterWriter               bool
	DBClusterParameterGroupStatus string
	PromotionTier                 int
}

// statusInfo says why a cluster or an instance has a status serve set (a server that
// cannot start, a port taken): DescribeDB*'s StatusInfos.
type statusInfo struct {
	Normal  bool
	Status  string
	Message string
}

// reason is what status infos say of a resource that is not available.
func reason(status string, infos []statusInfo) string {
	if store.Status(status) == store.StatusAvailable {
		return ""
	}
	var out []string
	for _, i := range infos {
		if !i.Normal && i.Message != "" {
			out = append(out, i.Message)
		}
	}
	return strings.Join(out, " ")
}

// Reason says why the cluster is not available, when serve knows.
func (c clusterView) Reason() string { return reason(c.Status, c.StatusInfos) }

// Reason says why the instance is not available, when serve knows.
func (i instanceView) Reason() string { return reason(i.DBInstanceStatus, i.StatusInfos) }

type instanceView struct {
	DBInstanceIdentifier    string
	DBInstanceClass         string
	DBInstanceStatus        string
	DBClusterIdentifier     string
	CACertificateIdentifier string
	PromotionTier           int
	Endpoint                struct {
		Address string
		Port    int
	}
	DBParameterGroups []struct {
		DBParameterGroupName string
		ParameterApplyStatus string
	} `xml:"DBParameterGroups>DBParameterGroup"`
	CertificateDetails struct {
		CAIdentifier string
		ValidTill    string
	}
	StatusInfos []statusInfo `xml:"StatusInfos>DBInstanceStatusInfo"`
}

// PendingReboot reports whether a parameter change waits for this instance's reboot.
func (i instanceView) PendingReboot() bool {
	return slices.ContainsFunc(i.DBParameterGroups, func(g struct {
		DBParameterGroupName string
		ParameterApplyStatus string
	}) bool {
		return g.ParameterApplyStatus == "pending-reboot"
	})
}

// IsWriter reports whether instance id is the cluster's writer.
func (c clusterView) IsWriter(id string) bool {
	for _, m := range c.Members {
		if m.IsClusterWriter && m.DBInstanceIdentifier == id {
			return true
		}
	}
	return false
}

// HasWriter reports whether the cluster has a writer: an instance added then is a reader.
func (c clusterView) HasWriter() bool {
	return slices.ContainsFunc(c.Members, func(m clusterMember) bool { return m.IsClusterWriter })
}

// Readers are the cluster's instances that are not its writer, the failover targets.
func (c clusterView) Readers() []instanceView {
	var out []instanceView
	for _, i := range c.Instances {
		if !c.IsWriter(i.DBInstanceIdentifier) {
			out = append(out, i)
		}
	}
	return out
}

// Changing reports whether the cluster or one of its instances is between states. A
// failure status (incompatible-parameters, ...) is settled: it stays until the user fixes
// something, perhaps with this page's forms, which a reload would wipe.
func (c clusterView) Changing() bool {
	if !store.Status(c.Status).Settled() {
		return true
	}
	for _, i := range c.Instances {
		if !store.Status(i.DBInstanceStatus).Settled() {
			return true
		}
	}
	return false
}

func (c *Console) databaseRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /console/databases", c.signedIn(c.databases))
	m.HandleFunc("GET /console/databases/new", c.signedIn(c.newDatabasePage))
	m.HandleFunc("POST /console/databases", c.signedIn(c.createDatabase))
	m.HandleFunc("GET /console/databases/{id}", c.signedIn(c.database))
	m.HandleFunc("POST /console/databases/{id}/delete", c.signedIn(c.deleteDatabase))
	m.HandleFunc("POST /console/databases/{id}/instances", c.signedIn(c.addInstance))
	m.HandleFunc("POST /console/databases/{id}/modify", c.signedIn(c.modifyDatabase))
	m.HandleFunc("POST /console/databases/{id}/failover", c.signedIn(c.failoverDatabase))
	m.HandleFunc("POST /console/databases/{id}/restore", c.signedIn(c.restoreDatabase))
	m.HandleFunc("POST /console/instances/{id}/reboot", c.signedIn(c.rebootInstance))
	m.HandleFunc("POST /console/instances/{id}/delete", c.signedIn(c.deleteInstance))
}

// clusters reads clusters (one, when id is set) with their instances.
func (c *Console) clusters(r *http.Request, id string) ([]clusterView, error) {
	var cl struct {
		Items []clusterView `xml:"DBClusters>DBCluster"`
	}
	v := url.Values{}
	if id != "" {
		v.Set("DBClusterIdentifier", id)
	}
	if err := c.call(r, "rds", "DescribeDBClusters", v, &cl); err != nil {
		return nil, err
	}
	var in struct {
		Items []instanceView `xml:"DBInstances>DBInstance"`
	}
	v = url.Values{}
	if id != "" {
		v.Set("Filters.Filter.1.Name", "db-cluster-id")
		v.Set("Filters.Filter.1.Values.Value.1", id)
	}
	if err := c.call(r, "rds", "DescribeDBInstances", v, &in); err != nil {
		return nil, err
	}
	for i := range cl.Items {
		for _, inst := range in.Items {
			if inst.DBClusterIdentifier == cl.Items[i].DBClusterIdentifier {
				cl.Items[i].Instances = append(cl.Items[i].Instances, inst)
			}
		}
	}
	return cl.Items, nil
}

func (c *Console) databases(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Databases"}
	clusters, err := c.clusters(r, "")
	if err != nil {
		p.Error = c.errorText(err)
	}
	for _, cl := range clusters {
		if cl.Changing() {
			p.Refresh = 5
		}
	}
	p.Data = clusters
	c.render(w, r, http.StatusOK, "databases.html", p)
}

// connectLines are the psql command lines the cluster page shows for an endpoint (the
// writer's, the reader's), each verifying the server certificate against the endpoint name with the trust bundle:
// ByName for a host whose resolver asks serve for endpoint names, WithHostaddr for one
// whose resolver does not (the README's "Names that resolve" says how to point it there).
type connectLines struct {
	ID                   string // the page element's, psql for the cluster endpoint
	ByName, WithHostaddr string
}

func (c *Console) connectLines(cl clusterView, id, endpoint string) connectLines {
	db := cl.DatabaseName
	if db == "" {
		db = "postgres"
	}
	line := func(hostaddr string) string {
		return fmt.Sprintf(`psql "host=%s%s port=%d dbname=%s user=%s sslmode=verify-full sslrootcert=global-bundle.pem"`,
			endpoint, hostaddr, cl.Port, db, cl.MasterUsername)
	}
	out := connectLines{ID: id}
	if c.cfg.NamesResolve || c.cfg.EndpointHostaddr == "" {
		out.ByName = line("")
	}
	hostaddr := c.cfg.EndpointHostaddr
	if endpoint != cl.Endpoint && c.cfg.OwnHostaddr != nil {
		if a, ok := c.cfg.OwnHostaddr(endpoint, cl.Port); ok {
			hostaddr = a
		}
	}
	if hostaddr != "" {
		out.WithHostaddr = line(" hostaddr=" + hostaddr)
	}
	return out
}

type databaseData struct {
	Cluster       clusterView
	Connect       connectLines // the cluster (writer) endpoint
	ReaderConnect connectLines // the reader endpoint
	Classes       []string
	BundlePath    string
	Groups        []groupView
	ParamGroups   []paramGroupView
}

func (c *Console) database(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p := page{Title: id}
	clusters, err := c.clusters(r, id)
	if err != nil {
		p.Error = c.errorText(err)
		c.render(w, r, awsStatus(err), "database.html", p)
		return
	}
	cl := clusters[0]
	d := databaseData{Cluster: cl, Connect: c.connectLines(cl, "psql", cl.Endpoint), Classes: instanceClasses, BundlePath: c.cfg.BundlePath}
	if cl.ReaderEndpoint != "" {
		d.ReaderConnect = c.connectLines(cl, "psql-reader", cl.ReaderEndpoint)
	}
	if d.Cluster.Changing() {
		p.Refresh = 5
	}
	// What the modify forms offer; a user who may not list them still sees the cluster.
	d.Groups, _ = c.securityGroups(r)
	d.ParamGroups, _ = c.paramGroups(r)
	p.Data = d
	c.render(w, r, http.StatusOK, "database.html", p)
}

type newDatabaseData struct {
	Classes     []string
	Groups      []groupView
	ParamGroups []paramGroupView
	Form        url.Values
}

// instanceClasses are the classes the create form offers.
var instanceClasses = []string{"db.r6g.large", "db.r6g.xlarge", "db.r7g.large", "db.t4g.medium", "db.t3.medium", "db.r5.large"}

func (c *Console) newDatabasePage(w http.ResponseWriter, r *http.Request) {
	c.renderNewDatabase(w, r, http.StatusOK, "", url.Values{"class": {"db.r6g.large"}})
}

func (c *Console) renderNewDatabase(w http.ResponseWriter, r *http.Request, status int, errText string, form url.Values) {
	d := newDatabaseData{Classes: instanceClasses, Form: form}
	d.Groups, _ = c.securityGroups(r)
	d.ParamGroups, _ = c.paramGroups(r)
	c.render(w, r, status, "newdatabase.html", page{Title: "Create database", Error: errText, Data: d})
}

// createDatabase creates a cluster and its writer instance, as the RDS console's create
// button does. If the instance cannot be created the cluster is deleted again, so a
// failed create leaves nothing behind.
func (c *Console) createDatabase(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		c.renderNewDatabase(w, r, http.StatusBadRequest, "The form could not be read.", url.Values{})
		return
	}
	f := r.PostForm
	id := strings.TrimSpace(f.Get("id"))
	cv := url.Values{
		"DBClusterIdentifier": {id},
		"Engine":              {"aurora-postgresql"},
		"MasterUsername":      {strings.TrimSpace(f.Get("username"))},
		"MasterUserPassword":  {f.Get("password")},
	}
	if db := strings.TrimSpace(f.Get("database")); db != "" {
		cv.Set("DatabaseName", db)
	}
	if pg := f.Get("parameter_group"); pg != "" {
		cv.Set("DBClusterParameterGroupName", pg)
	}
	for i, sg := range f["security_group"] {
		cv.Set("VpcSecurityGroupIds.VpcSecurityGroupId."+strconv.Itoa(i+1), sg)
	}
	protect := f.Get("deletion_protection") == "true"
	if protect {
		cv.Set("DeletionProtection", "true")
	}
	f.Del("password") // never rendered back
	if err := c.call(r, "rds", "CreateDBCluster", cv, nil); err != nil {
		c.renderNewDatabase(w, r, awsStatus(err), c.errorText(err), f)
		return
	}
	iv := url.Values{
		"DBInstanceIdentifier": {id + "-writer"},
		"DBClusterIdentifier":  {id},
		"DBInstanceClass":      {f.Get("class")},
		"Engine":               {"aurora-postgresql"},
	}
	if err := c.call(r, "rds", "CreateDBInstance", iv, nil); err != nil {
		text := c.errorText(err)
		if derr := c.undoCreate(r, id, protect); derr != nil {
			c.cfg.Log.Error("console: undo cluster create", "cluster", id, "err", derr)
			text += " The cluster " + id + " was created and could not be removed: " + c.errorText(derr)
		}
		c.renderNewDatabase(w, r, awsStatus(err), text, f)
		return
	}
	c.redirect(w, r, "/console/databases/"+url.PathEscape(id), "Creating "+id+" and its writer instance "+id+"-writer.")
}

// undoCreate deletes a cluster that createDatabase made, turning its deletion protection
// off first, as the user would have to.
func (c *Console) undoCreate(r *http.Request, id string, protected bool) error {
	if protected {
		if err := c.call(r, "rds", "ModifyDBCluster", url.Values{"DBClusterIdentifier": {id}, "DeletionProtection": {"false"}, "ApplyImmediately": {"true"}}, nil); err != nil {
			return err
		}
	}
	return c.call(r, "rds", "DeleteDBCluster", url.Values{"DBClusterIdentifier": {id}, "SkipFinalSnapshot": {"true"}}, nil)
}

// addInstance adds an instance to a cluster: a reader when it has a writer (RDS decides).
// The promotion tier, when given, is checked by CreateDBInstance as from the API.
func (c *Console) addInstance(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v := url.Values{
		"DBInstanceIdentifier": {strings.TrimSpace(r.PostFormValue("instance"))},
		"DBClusterIdentifier":  {id},
		"DBInstanceClass":      {r.PostFormValue("class")},
		"Engine":               {"aurora-postgresql"},
	}
	if tier := strings.TrimSpace(r.PostFormValue("promotion_tier")); tier != "" {
		v.Set("PromotionTier", tier)
	}
	c.act(w, r, "/console/databases/"+url.PathEscape(id), "rds", "CreateDBInstance", v, "Creating instance "+v.Get("DBInstanceIdentifier")+".")
}

// failoverDatabase moves the cluster's writer to the target reader, or to the one RDS
// chooses (lowest promotion tier) when none is named.
func (c *Console) failoverDatabase(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v := url.Values{"DBClusterIdentifier": {id}}
	done := "Failing over " + id + "."
	if target := r.PostFormValue("target"); target != "" {
		v.Set("TargetDBInstanceIdentifier", target)
		done = "Failing over " + id + " to " + target + "."
	}
	c.act(w, r, "/console/databases/"+url.PathEscape(id), "rds", "FailoverDBCluster", v, done)
}

// modifyDatabase changes a cluster's security groups, parameter group or deletion
// protection, or sets a new master password (which also restores the master user's
// privileges). Each is ModifyDBCluster, authorized as the API authorizes it.
func (c *Console) modifyDatabase(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "The form could not be read.", http.StatusBadRequest)
		return
	}
	v := url.Values{"DBClusterIdentifier": {id}, "ApplyImmediately": {"true"}}
	switch r.PostForm.Get("what") {
	case "security_groups":
		for i, sg := range r.PostForm["security_group"] {
			v.Set("VpcSecurityGroupIds.VpcSecurityGroupId."+strconv.Itoa(i+1), sg)
		}
	case "parameter_group":
		v.Set("DBClusterParameterGroupName", r.PostForm.Get("parameter_group"))
	case "deletion_protection":
		protect := r.PostForm.Get("deletion_protection") == "true"
		v.Set("DeletionProtection", strconv.FormatBool(protect))
		done := "Deletion protection of " + id + " turned off."
		if protect {
			done = "Deletion protection of " + id + " turned on."
		}
		c.act(w, r, "/console/databases/"+url.PathEscape(id), "rds", "ModifyDBCluster", v, done)
		return
	case "master_password":
		// Checked by ModifyDBCluster, as CreateDBCluster checks it; never rendered back.
		v.Set("MasterUserPassword", r.PostForm.Get("password"))
		c.act(w, r, "/console/databases/"+url.PathEscape(id), "rds", "ModifyDBCluster", v,
			"Resetting the master user of "+id+": new password, attributes and memberships restored.")
		return
	}
	c.act(w, r, "/console/databases/"+url.PathEscape(id), "rds", "ModifyDBCluster", v, "Modified "+id+".")
}

func (c *Console) rebootInstance(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c.act(w, r, "/console/databases/"+url.PathEscape(r.PostFormValue("cluster")), "rds", "RebootDBInstance",
		url.Values{"DBInstanceIdentifier": {id}}, "Rebooting "+id+".")
}

func (c *Console) deleteInstance(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c.act(w, r, "/console/databases/"+url.PathEscape(r.PostFormValue("cluster")), "rds", "DeleteDBInstance",
		url.Values{"DBInstanceIdentifier": {id}}, "Deleting "+id+".")
}

// deleteDatabase deletes a cluster and its instances, once the user has typed its name.
func (c *Console) deleteDatabase(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	back := "/console/databases/" + url.PathEscape(id)
	if r.PostFormValue("confirm") != id {
		c.flashError(w, r, back, "To delete "+id+", type its name in the box.")
		return
	}
	// Without a final snapshot's name, none is kept (SkipFinalSnapshot), as the form says.
	del := url.Values{"DBClusterIdentifier": {id}, "SkipFinalSnapshot": {"true"}}
	done := "Deleting " + id + "."
	if final := strings.TrimSpace(r.PostFormValue("final_snapshot")); final != "" {
		del = url.Values{"DBClusterIdentifier": {id}, "FinalDBSnapshotIdentifier": {final}}
		done = "Deleting " + id + " once its final snapshot " + final + " is made."
		// A name already taken is refused before any instance is deleted.
		if snaps, err := c.allSnapshots(r, url.Values{"DBClusterSnapshotIdentifier": {final}}); err == nil && len(snaps) > 0 {
			c.flashError(w, r, back, "DBClusterSnapshotAlreadyExistsFault: a snapshot named "+final+" exists already.")
			return
		}
	}
	clusters, err := c.clusters(r, id)
	if err != nil {
		c.flashError(w, r, back, c.errorText(err))
		return
	}
	// A protected cluster is asked first, so that RDS's refusal is what the user sees and
	// no instance is deleted on the way.
	if clusters[0].DeletionProtection {
		if err := c.call(r, "rds", "DeleteDBCluster", del, nil); err != nil {
			c.flashError(w, r, back, c.errorText(err))
			return
		}
		c.redirect(w, r, "/console/databases", done) // protection was turned off meanwhile
		return
	}
	for _, in := range clusters[0].Instances {
		if store.Status(in.DBInstanceStatus) == store.StatusDeleting {
			continue
		}
		if err := c.call(r, "rds", "DeleteDBInstance", url.Values{"DBInstanceIdentifier": {in.DBInstanceIdentifier}}, nil); err != nil {
			c.flashError(w, r, back, c.errorText(err))
			return
		}
	}
	if err := c.call(r, "rds", "DeleteDBCluster", del, nil); err != nil {
		c.flashError(w, r, back, c.errorText(err))
		return
	}
	c.redirect(w, r, "/console/databases", done)
}

// act runs one action from a form and goes back to a page, with the outcome on it.
func (c *Console) act(w http.ResponseWriter, r *http.Request, back, service, action string, v url.Values, done string) {
	if err := c.call(r, service, action, v, nil); err != nil {
		c.flashError(w, r, back, c.errorText(err))
		return
	}
	c.redirect(w, r, back, done)
}

// flashError shows an error on the page the form came from.
func (c *Console) flashError(w http.ResponseWriter, r *http.Request, back, text string) {
	if cur, ok := sessionFrom(r.Context()); ok {
		c.sessions.flash(cur.s, "", text)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// awsStatus is the HTTP status of a failed action, for the page that reports it.
func awsStatus(err error) int {
	return awsquery.AsError(err).Status
}
