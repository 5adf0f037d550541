package console

import (
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// An instance's events and database logs: each read is an RDS call as the signed-in
// user (DescribeEvents, DescribeDBLogFiles, DownloadDBLogFilePortion), so IAM decides as
// it does for the API.

type eventView struct {
	Date            string
	Message         string
	EventCategories []string `xml:"EventCategories>EventCategory"`
}

type logFileView struct {
	LogFileName string
	LastWritten int64
	Size        int64
}

// Written is when the file was last written, for people.
func (f logFileView) Written() string {
	return time.UnixMilli(f.LastWritten).UTC().Format("2006-01-02 15:04:05 UTC")
}

type instancePageData struct {
	Instance string
	Cluster  string
	Events   []eventView
	Files    []logFileView
	// The portion of a log file being viewed.
	File      string
	Portion   string
	Next      string // the marker of the next portion, "" at the end
	LogsError string // why the logs cannot be shown (an IAM refusal, say), the events still are
}

// portionLines is how many lines the console shows of a log file at a time.
const portionLines = 200

// eventsWindow is how far back the page looks: everything RDS keeps (14 days).
const eventsWindow = 14 * 24 * 60

func (c *Console) instanceRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /console/instances/{id}", c.signedIn(c.instancePage))
	m.HandleFunc("GET /console/instances/{id}/log", c.signedIn(c.downloadLog))
}

func (c *Console) instancePage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p := page{Title: id}
	d := instancePageData{Instance: id, Cluster: r.URL.Query().Get("cluster")}
	var ev struct {
		Items []eventView `xml:"Events>Event"`
	}
	v := url.Values{"SourceType": {"db-instance"}, "SourceIdentifier": {id}, "Duration": {strconv.Itoa(eventsWindow)}}
	if err := c.call(r, "rds", "DescribeEvents", v, &ev); err != nil {
		p.Error = c.errorText(err)
		c.render(w, r, awsStatus(err), "instance.html", p)
		return
	}
	d.Events = ev.Items
	var files struct {
		Items []logFileView `xml:"DescribeDBLogFiles>DescribeDBLogFilesDetails"`
	}
	if err := c.call(r, "rds", "DescribeDBLogFiles", url.Values{"DBInstanceIdentifier": {id}}, &files); err != nil {
		d.LogsError = c.errorText(err)
	}
	d.Files = files.Items
	if file := r.URL.Query().Get("file"); file != "" && d.LogsError == "" {
		// From the marker, or the most recent lines.
		v := url.Values{"DBInstanceIdentifier": {id}, "LogFileName": {file}, "NumberOfLines": {strconv.Itoa(portionLines)}}
		if m := r.URL.Query().Get("marker"); m != "" {
			v.Set("Marker", m)
		}
		var out struct {
			LogFileData           string
			Marker                string
			AdditionalDataPending bool
		}
		if err := c.call(r, "rds", "DownloadDBLogFilePortion", v, &out); err != nil {
			d.LogsError = c.errorText(err)
		} else {
			d.File, d.Portion = file, out.LogFileData
			if out.AdditionalDataPending {
				d.Next = out.Marker
			}
		}
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "instance.html", p)
}

// downloadLog sends a whole log file as text, portion by portion as the API serves it.
func (c *Console) downloadLog(w http.ResponseWriter, r *http.Request) {
	id, file := r.PathValue("id"), r.URL.Query().Get("file")
	marker := "0"
	started := false
	for {
		var out struct {
			LogFileData           string
			Marker                string
			AdditionalDataPending bool
		}
		v := url.Values{"DBInstanceIdentifier": {id}, "LogFileName": {file}, "Marker": {marker}, "NumberOfLines": {"10000"}}
		if err := c.call(r, "rds", "DownloadDBLogFilePortion", v, &out); err != nil {
			if !started {
				http.Error(w, c.errorText(err), awsStatus(err))
			}
			return
		}
		if !started {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="postgresql.log"`)
			started = true
		}
		if _, err := w.Write([]byte(out.LogFileData)); err != nil || !out.AdditionalDataPending || out.Marker == marker {
			return
		}
		marker = out.Marker
	}
}
