package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/borealis-db/borealis/internal/store"
)

// snapshotView is a DB cluster snapshot as DescribeDBClusterSnapshots returns it.
type snapshotView struct {
	DBClusterSnapshotIdentifier string
	DBClusterIdentifier         string
	SnapshotType                string
	Status                      string
	PercentProgress             int
	SnapshotCreateTime          string
	EngineVersion               string
	Port                        int
	MasterUsername              string
	SourceDBClusterSnapshotArn  string
}

// Manual reports whether the snapshot is a manual one: the ones a user deletes.
func (s snapshotView) Manual() bool { return s.SnapshotType == store.SnapshotManual }

type snapshotsData struct {
	Snapshots []snapshotView
	Clusters  []clusterView
	Classes   []string // the restore forms' writer classes
	Form      url.Values
}

func (c *Console) snapshotRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /console/snapshots", c.signedIn(c.snapshots))
	m.HandleFunc("POST /console/snapshots", c.signedIn(c.createSnapshot))
	m.HandleFunc("POST /console/snapshots/{id}/delete", c.signedIn(c.deleteSnapshot))
	m.HandleFunc("POST /console/snapshots/{id}/copy", c.signedIn(c.copySnapshot))
	m.HandleFunc("POST /console/snapshots/{id}/restore", c.signedIn(c.restoreSnapshot))
}

// allSnapshots reads every snapshot, page by page.
func (c *Console) allSnapshots(r *http.Request, v url.Values) ([]snapshotView, error) {
	var all []snapshotView
	for marker := ""; ; {
		var page struct {
			Marker string
			Items  []snapshotView `xml:"DBClusterSnapshots>DBClusterSnapshot"`
		}
		q := url.Values{}
		for k, vs := range v {
			q[k] = vs
		}
		if marker != "" {
			q.Set("Marker", marker)
		}
		if err := c.call(r, "rds", "DescribeDBClusterSnapshots", q, &page); err != nil {
			return all, err
		}
		all = append(all, page.Items...)
		if page.Marker == "" || page.Marker == marker {
			return all, nil
		}
		marker = page.Marker
	}
}

func (c *Console) snapshots(w http.ResponseWriter, r *http.Request) {
	c.renderSnapshots(w, r, http.StatusOK, "", url.Values{"cluster": {r.URL.Query().Get("cluster")}})
}

func (c *Console) renderSnapshots(w http.ResponseWriter, r *http.Request, status int, errText string, form url.Values) {
	p := page{Title: "Snapshots", Error: errText}
	d := snapshotsData{Form: form, Classes: instanceClasses}
	snaps, err := c.allSnapshots(r, nil)
	if err != nil && p.Error == "" {
		p.Error = c.errorText(err)
	}
	d.Snapshots = snaps
	for _, s := range snaps {
		if !store.Status(s.Status).Settled() {
			p.Refresh = 5
		}
	}
	// The clusters the create form offers; a user who may not list them types nothing.
	d.Clusters, _ = c.clusters(r, "")
	p.Data = d
	c.render(w, r, status, "snapshots.html", p)
}

func (c *Console) createSnapshot(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		c.renderSnapshots(w, r, http.StatusBadRequest, "The form could not be read.", url.Values{})
		return
	}
	id := strings.TrimSpace(r.PostForm.Get("id"))
	v := url.Values{"DBClusterSnapshotIdentifier": {id}, "DBClusterIdentifier": {r.PostForm.Get("cluster")}}
	if err := c.call(r, "rds", "CreateDBClusterSnapshot", v, nil); err != nil {
		c.renderSnapshots(w, r, awsStatus(err), c.errorText(err), r.PostForm)
		return
	}
	c.redirect(w, r, "/console/snapshots", "Creating snapshot "+id+" of "+r.PostForm.Get("cluster")+".")
}

func (c *Console) deleteSnapshot(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c.act(w, r, "/console/snapshots", "rds", "DeleteDBClusterSnapshot", url.Values{"DBClusterSnapshotIdentifier": {id}}, "Deleting snapshot "+id+".")
}

func (c *Console) copySnapshot(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	target := strings.TrimSpace(r.PostFormValue("target"))
	v := url.Values{"SourceDBClusterSnapshotIdentifier": {id}, "TargetDBClusterSnapshotIdentifier": {target}, "CopyTags": {"true"}}
	c.act(w, r, "/console/snapshots", "rds", "CopyDBClusterSnapshot", v, "Copying snapshot "+id+" to "+target+".")
}

// restoreSnapshot makes a new cluster from a snapshot, then its writer, as the RDS console
// does (RestoreDBClusterFromSnapshot makes the cluster only).
func (c *Console) restoreSnapshot(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	target := strings.TrimSpace(r.PostFormValue("target"))
	v := url.Values{"SnapshotIdentifier": {id}, "DBClusterIdentifier": {target}, "Engine": {"aurora-postgresql"}}
	if err := c.call(r, "rds", "RestoreDBClusterFromSnapshot", v, nil); err != nil {
		c.flashError(w, r, "/console/snapshots", c.errorText(err))
		return
	}
	c.addRestoredWriter(w, r, "/console/snapshots", target, r.PostFormValue("class"),
		"Restoring snapshot "+id+" into "+target+" and its writer instance "+target+"-writer.")
}
