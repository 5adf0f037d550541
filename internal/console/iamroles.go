package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func (c *Console) iamRoleRoutes(m *http.ServeMux) {
	const base = "/console/iam/roles/{name}"
	m.HandleFunc("GET /console/iam/roles", c.signedIn(c.iamRolesPage))
	m.HandleFunc("POST /console/iam/roles", c.signedIn(c.createIAMRole))
	m.HandleFunc("GET "+base, c.signedIn(c.iamRolePage))
	m.HandleFunc("POST "+base+"/delete", c.signedIn(c.deleteIAMRole))
	m.HandleFunc("POST "+base+"/trust", c.signedIn(c.updateTrustPolicy))
	c.policyRoutes(m, base, "Role", c.renderIAMRole)
	m.HandleFunc("POST /console/switchrole", c.signedIn(c.switchRole))
	m.HandleFunc("POST /console/switchrole/back", c.signedIn(c.switchBack))
}

// switchRoleDuration is how long a console role session lasts, as AWS's console's do.
const switchRoleDuration = "3600"

// switchRole assumes a role as the signed-in principal (AssumeRole decides: the role's
// trust policy and the principal's policies) and runs the console as that session.
func (c *Console) switchRole(w http.ResponseWriter, r *http.Request) {
	arn := strings.TrimSpace(r.PostFormValue("role_arn"))
	back := r.PostFormValue("back")
	if !strings.HasPrefix(back, "/console/") {
		back = "/console/"
	}
	cur, _ := sessionFrom(r.Context())
	if cur.role != nil {
		c.flashError(w, r, back, "Switch back before switching to another role.")
		return
	}
	name := r.PostFormValue("session_name")
	if name == "" {
		name = cur.user
		if name == "" {
			name = "root"
		}
	}
	var out struct {
		Credentials struct{ AccessKeyId, SessionToken string }
	}
	err := c.call(r, "sts", "AssumeRole", url.Values{"RoleArn": {arn}, "RoleSessionName": {name}, "DurationSeconds": {switchRoleDuration}}, &out)
	if err != nil {
		c.flashError(w, r, back, c.errorText(err))
		return
	}
	c.sessions.switchRole(cur.s, &roleCreds{keyID: out.Credentials.AccessKeyId, token: out.Credentials.SessionToken})
	c.cfg.Log.Info("console: switched role", "principal", cur.principal.ARN, "role", arn, "access_key", out.Credentials.AccessKeyId)
	c.redirect(w, r, "/console/", "Switched to role "+arn+".")
}

func (c *Console) switchBack(w http.ResponseWriter, r *http.Request) {
	cur, _ := sessionFrom(r.Context())
	c.sessions.switchRole(cur.s, nil)
	c.redirect(w, r, "/console/", "Switched back to "+cur.signedIn+".")
}

// roleView is a role as IAM lists and gets it.
type roleView struct {
	RoleName                 string
	RoleId                   string
	Arn                      string
	Path                     string
	Description              string
	CreateDate               string
	MaxSessionDuration       int
	AssumeRolePolicyDocument string // URL-encoded, as IAM returns it
	PermissionsBoundary      struct{ PermissionsBoundaryArn string }
}

// Created is the creation date without the time of day.
func (v roleView) Created() string { return day(v.CreateDate) }

// TrustPolicy is the trust policy as written.
func (v roleView) TrustPolicy() string { return policyDocument(v.AssumeRolePolicyDocument) }

// MaxSession is the longest session, in hours.
func (v roleView) MaxSession() string {
	if v.MaxSessionDuration%3600 == 0 {
		return strconv.Itoa(v.MaxSessionDuration/3600) + " h"
	}
	return strconv.Itoa(v.MaxSessionDuration) + " s"
}

type newRoleForm struct{ Name, Trust string }

type iamRolesData struct {
	Roles []roleView
	Form  newRoleForm
}

// trustSkeleton starts the create form's trust policy: this account's principals may
// assume the role (their own policies must allow sts:AssumeRole on it too).
func (c *Console) trustSkeleton() string {
	return `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::` + c.cfg.AccountID + `:root"},
      "Action": "sts:AssumeRole"
    }
  ]
}`
}

func (c *Console) iamRolesPage(w http.ResponseWriter, r *http.Request) {
	c.renderIAMRoles(w, r, http.StatusOK, "", newRoleForm{Trust: c.trustSkeleton()})
}

func (c *Console) renderIAMRoles(w http.ResponseWriter, r *http.Request, status int, errText string, f newRoleForm) {
	p := page{Title: "IAM roles", Error: errText}
	roles, err := listAll[roleView](c, r, "ListRoles", nil, "Roles")
	if err != nil && p.Error == "" {
		p.Error = c.errorText(err)
	}
	p.Data = iamRolesData{Roles: roles, Form: f}
	c.render(w, r, status, "iamroles.html", p)
}

func (c *Console) createIAMRole(w http.ResponseWriter, r *http.Request) {
	f := newRoleForm{Name: strings.TrimSpace(r.PostFormValue("role_name")), Trust: r.PostFormValue("trust_policy")}
	if err := c.call(r, "iam", "CreateRole", url.Values{"RoleName": {f.Name}, "AssumeRolePolicyDocument": {f.Trust}}, nil); err != nil {
		c.renderIAMRoles(w, r, awsStatus(err), c.errorText(err), f)
		return
	}
	c.redirect(w, r, roleHolder(f.Name).Path(), "Created role "+f.Name+".")
}

func roleHolder(name string) holder { return holder{Kind: "Role", Name: name} }

// iamRoleData is a role's page.
type iamRoleData struct {
	Holder   holder
	Role     roleView
	Trust    editorView // the trust policy editor: the policy, or refused text as typed
	Policies policiesView
}

func (c *Console) iamRolePage(w http.ResponseWriter, r *http.Request) {
	c.renderIAMRole(w, r, http.StatusOK, "", editorView{})
}

// renderIAMRole shows a role's page; errText and a refused editor's text come from a form
// that failed (ed.Name "trust policy" for the trust policy's editor).
func (c *Console) renderIAMRole(w http.ResponseWriter, r *http.Request, status int, errText string, ed editorView) {
	h := roleHolder(r.PathValue("name"))
	p := page{Title: h.Name, Error: errText}
	var out struct{ Role roleView }
	if err := c.call(r, "iam", "GetRole", h.values(), &out); err != nil {
		p.Error = c.errorText(err)
		c.render(w, r, awsStatus(err), "iamentity.html", p)
		return
	}
	d := iamRoleData{Holder: h, Role: out.Role, Trust: editorView{Name: trustEditor, Document: out.Role.TrustPolicy()}}
	d.Policies = c.policies(r, h, r.URL.Query().Get("policy"))
	switch {
	case ed.Name == trustEditor:
		d.Trust = ed
	case ed != (editorView{}):
		d.Policies.Editor, d.Policies.EditorError = ed, errText
	}
	p.Data = d
	c.render(w, r, status, "iamentity.html", p)
}

// trustEditor names the trust policy's editor in a refused form's editorView.
const trustEditor = "trust policy"

func (c *Console) updateTrustPolicy(w http.ResponseWriter, r *http.Request) {
	h := roleHolder(r.PathValue("name"))
	doc := r.PostFormValue("trust_policy")
	if err := c.call(r, "iam", "UpdateAssumeRolePolicy", h.values("PolicyDocument", doc), nil); err != nil {
		c.renderIAMRole(w, r, awsStatus(err), c.errorText(err), editorView{Name: trustEditor, Document: doc})
		return
	}
	c.redirect(w, r, h.Path(), "Updated the trust policy of "+h.Name+".")
}

func (c *Console) deleteIAMRole(w http.ResponseWriter, r *http.Request) {
	h := roleHolder(r.PathValue("name"))
	if r.PostFormValue("confirm") != h.Name {
		c.flashError(w, r, h.Path(), "To delete "+h.Name+", type its name in the box.")
		return
	}
	c.act(w, r, "/console/iam/roles", "iam", "DeleteRole", h.values(), "Deleted role "+h.Name+".")
}
