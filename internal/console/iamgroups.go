package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

func (c *Console) iamGroupRoutes(m *http.ServeMux) {
	const base = "/console/iam/groups/{name}"
	m.HandleFunc("GET /console/iam/groups", c.signedIn(c.iamGroupsPage))
	m.HandleFunc("POST /console/iam/groups", c.signedIn(c.createIAMGroup))
	m.HandleFunc("GET "+base, c.signedIn(c.iamGroupPage))
	m.HandleFunc("POST "+base+"/delete", c.signedIn(c.deleteIAMGroup))
	m.HandleFunc("POST "+base+"/members", c.signedIn(c.addGroupMember))
	m.HandleFunc("POST "+base+"/members/{user}/remove", c.signedIn(c.removeGroupMember))
	c.policyRoutes(m, base, "Group", c.renderIAMGroup)
}

// groupPath is a group's console page.
func groupPath(name string) string { return holder{Kind: "Group", Name: name}.Path() }

type iamGroupsData struct {
	Groups    []iamGroupView
	GroupName string // the create form's name, kept after a refused create
}

func (c *Console) iamGroupsPage(w http.ResponseWriter, r *http.Request) {
	c.renderIAMGroups(w, r, http.StatusOK, "", "")
}

func (c *Console) renderIAMGroups(w http.ResponseWriter, r *http.Request, status int, errText, name string) {
	p := page{Title: "IAM groups", Error: errText}
	groups, err := listAll[iamGroupView](c, r, "ListGroups", nil, "Groups")
	if err != nil && p.Error == "" {
		p.Error = c.errorText(err)
	}
	p.Data = iamGroupsData{Groups: groups, GroupName: name}
	c.render(w, r, status, "iamgroups.html", p)
}

func (c *Console) createIAMGroup(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("group_name"))
	if err := c.call(r, "iam", "CreateGroup", url.Values{"GroupName": {name}}, nil); err != nil {
		c.renderIAMGroups(w, r, awsStatus(err), c.errorText(err), name)
		return
	}
	c.redirect(w, r, groupPath(name), "Created group "+name+".")
}

// iamGroupData is a group's page.
type iamGroupData struct {
	Holder     holder
	Group      iamGroupView
	Members    []iamUserView
	OtherUsers []iamUserView // users that could be added
	Policies   policiesView
}

func (c *Console) iamGroupPage(w http.ResponseWriter, r *http.Request) {
	c.renderIAMGroup(w, r, http.StatusOK, "", editorView{})
}

// renderIAMGroup shows a group's page; errText and a refused editor's text come from a
// form that failed.
func (c *Console) renderIAMGroup(w http.ResponseWriter, r *http.Request, status int, errText string, ed editorView) {
	h := holder{Kind: "Group", Name: r.PathValue("name")}
	p := page{Title: h.Name, Error: errText}
	var g struct{ Group iamGroupView }
	if err := c.call(r, "iam", "GetGroup", h.values("MaxItems", "1"), &g); err != nil {
		p.Error = c.errorText(err)
		c.render(w, r, awsStatus(err), "iamentity.html", p)
		return
	}
	d := iamGroupData{Holder: h, Group: g.Group}
	d.Members, _ = listAll[iamUserView](c, r, "GetGroup", h.values(), "Users")
	all, _ := listAll[iamUserView](c, r, "ListUsers", nil, "Users")
	for _, u := range all {
		if !slices.ContainsFunc(d.Members, func(m iamUserView) bool { return m.UserName == u.UserName }) {
			d.OtherUsers = append(d.OtherUsers, u)
		}
	}
	d.Policies = c.policies(r, h, r.URL.Query().Get("policy"))
	if ed != (editorView{}) {
		d.Policies.Editor, d.Policies.EditorError = ed, errText
	}
	p.Data = d
	c.render(w, r, status, "iamentity.html", p)
}

func (c *Console) deleteIAMGroup(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if r.PostFormValue("confirm") != name {
		c.flashError(w, r, groupPath(name), "To delete "+name+", type its name in the box.")
		return
	}
	if err := c.call(r, "iam", "DeleteGroup", url.Values{"GroupName": {name}}, nil); err != nil {
		c.flashError(w, r, groupPath(name), c.errorText(err))
		return
	}
	c.redirect(w, r, "/console/iam/groups", "Deleted group "+name+".")
}

func (c *Console) addGroupMember(w http.ResponseWriter, r *http.Request) {
	name, user := r.PathValue("name"), r.PostFormValue("user")
	c.act(w, r, groupPath(name), "iam", "AddUserToGroup", url.Values{"UserName": {user}, "GroupName": {name}},
		"Added "+user+" to "+name+".")
}

func (c *Console) removeGroupMember(w http.ResponseWriter, r *http.Request) {
	name, user := r.PathValue("name"), r.PathValue("user")
	c.act(w, r, groupPath(name), "iam", "RemoveUserFromGroup", url.Values{"UserName": {user}, "GroupName": {name}},
		"Removed "+user+" from "+name+".")
}
