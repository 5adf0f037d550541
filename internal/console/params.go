package console

import (
	"net/http"
	"net/url"
	"strings"
)

type paramGroupView struct {
	DBClusterParameterGroupName string
	DBParameterGroupFamily      string
	Description                 string
}

// IsDefault reports whether the group is a default one, which nobody may change.
func (g paramGroupView) IsDefault() bool {
	return strings.HasPrefix(g.DBClusterParameterGroupName, "default.")
}

type parameterView struct {
	ParameterName  string
	ParameterValue string
	Description    string
	Source         string
	ApplyType      string // static | dynamic
	DataType       string
	AllowedValues  string
	IsModifiable   bool
	ApplyMethod    string
}

func (c *Console) parameterRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /console/parameter-groups", c.signedIn(c.paramGroupsPage))
	m.HandleFunc("POST /console/parameter-groups", c.signedIn(c.createParamGroup))
	m.HandleFunc("GET /console/parameter-groups/{name}", c.signedIn(c.paramGroupPage))
	m.HandleFunc("POST /console/parameter-groups/{name}", c.signedIn(c.setParameter))
}

func (c *Console) paramGroups(r *http.Request) ([]paramGroupView, error) {
	var out struct {
		Items []paramGroupView `xml:"DBClusterParameterGroups>DBClusterParameterGroup"`
	}
	err := c.call(r, "rds", "DescribeDBClusterParameterGroups", nil, &out)
	return out.Items, err
}

func (c *Console) paramGroupsPage(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Parameter groups"}
	groups, err := c.paramGroups(r)
	if err != nil {
		p.Error = c.errorText(err)
	}
	p.Data = groups
	c.render(w, r, http.StatusOK, "paramgroups.html", p)
}

func (c *Console) createParamGroup(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	v := url.Values{"DBClusterParameterGroupName": {name}, "DBParameterGroupFamily": {"aurora-postgresql15"}, "Description": {r.PostFormValue("description")}}
	if err := c.call(r, "rds", "CreateDBClusterParameterGroup", v, nil); err != nil {
		c.flashError(w, r, "/console/parameter-groups", c.errorText(err))
		return
	}
	c.redirect(w, r, "/console/parameter-groups/"+url.PathEscape(name), "Created parameter group "+name+".")
}

type paramGroupData struct {
	Name       string
	Default    bool
	Parameters []parameterView
}

func (c *Console) paramGroupPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	p := page{Title: name}
	d := paramGroupData{Name: name, Default: strings.HasPrefix(name, "default.")}
	marker := ""
	for {
		var out struct {
			Items  []parameterView `xml:"Parameters>Parameter"`
			Marker string
		}
		v := url.Values{"DBClusterParameterGroupName": {name}, "MaxRecords": {"100"}}
		if marker != "" {
			v.Set("Marker", marker)
		}
		if err := c.call(r, "rds", "DescribeDBClusterParameters", v, &out); err != nil {
			p.Error = c.errorText(err)
			c.render(w, r, awsStatus(err), "paramgroup.html", p)
			return
		}
		d.Parameters = append(d.Parameters, out.Items...)
		if marker = out.Marker; marker == "" {
			break
		}
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "paramgroup.html", p)
}

// setParameter changes one value. A dynamic parameter applies at once; a static one at
// the next reboot, as RDS requires (ApplyMethod pending-reboot).
func (c *Console) setParameter(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	method := "immediate"
	if r.PostFormValue("apply_type") == "static" {
		method = "pending-reboot"
	}
	pre := "Parameters.Parameter.1."
	v := url.Values{"DBClusterParameterGroupName": {name},
		pre + "ParameterName": {r.PostFormValue("parameter")}, pre + "ParameterValue": {r.PostFormValue("value")}, pre + "ApplyMethod": {method}}
	notice := r.PostFormValue("parameter") + " set; it applies now."
	if method == "pending-reboot" {
		notice = r.PostFormValue("parameter") + " set; it applies when each instance using this group reboots (pending-reboot)."
	}
	c.act(w, r, "/console/parameter-groups/"+url.PathEscape(name), "rds", "ModifyDBClusterParameterGroup", v, notice)
}
