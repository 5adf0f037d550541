package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// restoreTime reads the restore form's time: "latest", or a datetime-local value in UTC
// ("2006-01-02T15:04" or with seconds), as RestoreDBClusterToPointInTime's members.
func restoreTime(f url.Values) (url.Values, bool) {
	if f.Get("when") == "latest" {
		return url.Values{"UseLatestRestorableTime": {"true"}}, true
	}
	raw := strings.TrimSpace(f.Get("time"))
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, raw); err == nil {
			return url.Values{"RestoreToTime": {t.UTC().Format(time.RFC3339)}}, true
		}
	}
	return nil, false
}

// restoreDatabase restores the cluster to a point in time as a new cluster, then adds its
// writer, as the RDS console does (the API's RestoreDBClusterToPointInTime makes the
// cluster only). If the writer cannot be added, the new cluster is deleted again.
func (c *Console) restoreDatabase(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	back := "/console/databases/" + url.PathEscape(id)
	if err := r.ParseForm(); err != nil {
		c.flashError(w, r, back, "The form could not be read.")
		return
	}
	target := strings.TrimSpace(r.PostForm.Get("target"))
	v, ok := restoreTime(r.PostForm)
	if !ok {
		c.flashError(w, r, back, "Give the time to restore to (UTC), or choose the latest restorable time.")
		return
	}
	v.Set("SourceDBClusterIdentifier", id)
	v.Set("DBClusterIdentifier", target)
	if err := c.call(r, "rds", "RestoreDBClusterToPointInTime", v, nil); err != nil {
		c.flashError(w, r, back, c.errorText(err))
		return
	}
	c.addRestoredWriter(w, r, back, target, r.PostForm.Get("class"), "Restoring "+id+" into "+target+" and its writer instance "+target+"-writer.")
}

// addRestoredWriter adds the writer of a restored cluster; on failure the cluster goes again.
func (c *Console) addRestoredWriter(w http.ResponseWriter, r *http.Request, back, cluster, class, done string) {
	iv := url.Values{
		"DBInstanceIdentifier": {cluster + "-writer"},
		"DBClusterIdentifier":  {cluster},
		"DBInstanceClass":      {class},
		"Engine":               {"aurora-postgresql"},
	}
	if err := c.call(r, "rds", "CreateDBInstance", iv, nil); err != nil {
		text := c.errorText(err)
		if derr := c.undoCreate(r, cluster, false); derr != nil {
			c.cfg.Log.Error("console: undo restore", "cluster", cluster, "err", derr)
			text += " The cluster " + cluster + " was restored and could not be removed: " + c.errorText(derr)
		}
		c.flashError(w, r, back, text)
		return
	}
	c.redirect(w, r, "/console/databases/"+url.PathEscape(cluster), done)
}
