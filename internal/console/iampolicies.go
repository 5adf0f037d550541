package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

func (c *Console) iamPolicyRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /console/iam/policies", c.signedIn(c.policiesPage))
	m.HandleFunc("POST /console/iam/policies", c.signedIn(c.createPolicy))
	m.HandleFunc("GET /console/iam/policies/view", c.signedIn(c.policyPage))
	m.HandleFunc("POST /console/iam/policies/version", c.signedIn(c.createPolicyVersion))
	m.HandleFunc("POST /console/iam/policies/delete", c.signedIn(c.deletePolicy))
}

// policyScopes are ListPolicies' Scope values, as the filter links name them.
var policyScopes = []struct{ Scope, Label string }{
	{"Local", "Customer managed"}, {"AWS", "AWS managed"}, {"All", "All"},
}

// policyPath is a managed policy's console page; the ARN has slashes, so it is a query.
func policyPath(arn string) string { return "/console/iam/policies/view?arn=" + url.QueryEscape(arn) }

type newPolicyForm struct {
	Name, Description, Document string
}

type policiesData struct {
	Scope    string
	Scopes   []struct{ Scope, Label string }
	Policies []policyView
	Form     newPolicyForm
}

func (c *Console) policiesPage(w http.ResponseWriter, r *http.Request) {
	c.renderPolicies(w, r, http.StatusOK, "", newPolicyForm{Document: policySkeleton})
}

// policySkeleton starts the create form's editor.
const policySkeleton = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [],
      "Resource": "*"
    }
  ]
}`

func (c *Console) renderPolicies(w http.ResponseWriter, r *http.Request, status int, errText string, form newPolicyForm) {
	scope := r.URL.Query().Get("scope")
	if scope != "AWS" && scope != "All" {
		scope = "Local"
	}
	p := page{Title: "IAM policies", Error: errText}
	policies, err := listAll[policyView](c, r, "ListPolicies", url.Values{"Scope": {scope}}, "Policies")
	if err != nil && p.Error == "" {
		p.Error = c.errorText(err)
	}
	p.Data = policiesData{Scope: scope, Scopes: policyScopes, Policies: policies, Form: form}
	c.render(w, r, status, "iampolicies.html", p)
}

// createPolicy creates a customer managed policy. IAM validates the document; when it
// refuses it, the page shows why with the text as typed.
func (c *Console) createPolicy(w http.ResponseWriter, r *http.Request) {
	f := newPolicyForm{Name: strings.TrimSpace(r.PostFormValue("policy_name")), Description: r.PostFormValue("description"),
		Document: r.PostFormValue("policy_document")}
	v := url.Values{"PolicyName": {f.Name}, "PolicyDocument": {f.Document}}
	if f.Description != "" {
		v.Set("Description", f.Description)
	}
	var out struct{ Policy policyView }
	if err := c.call(r, "iam", "CreatePolicy", v, &out); err != nil {
		c.renderPolicies(w, r, awsStatus(err), c.errorText(err), f)
		return
	}
	c.redirect(w, r, policyPath(out.Policy.Arn), "Created policy "+f.Name+".")
}

type policyData struct {
	Policy   policyView
	Version  string // the default version's id
	Document string // the default version's document, decoded
	Editor   string // the new-version editor's text
}

func (c *Console) policyPage(w http.ResponseWriter, r *http.Request) {
	c.renderPolicy(w, r, r.URL.Query().Get("arn"), http.StatusOK, "", "")
}

// renderPolicy shows a managed policy and its default version's document. edited is a
// new version IAM refused, kept in the editor.
func (c *Console) renderPolicy(w http.ResponseWriter, r *http.Request, arn string, status int, errText, edited string) {
	p := page{Title: "Policy", Error: errText}
	var pol struct{ Policy policyView }
	if err := c.call(r, "iam", "GetPolicy", url.Values{"PolicyArn": {arn}}, &pol); err != nil {
		p.Error = c.errorText(err)
		c.render(w, r, awsStatus(err), "iampolicy.html", p)
		return
	}
	p.Title = pol.Policy.PolicyName
	d := policyData{Policy: pol.Policy, Version: pol.Policy.DefaultVersionId}
	var ver struct {
		PolicyVersion struct{ Document, VersionId string }
	}
	err := c.call(r, "iam", "GetPolicyVersion", url.Values{"PolicyArn": {arn}, "VersionId": {d.Version}}, &ver)
	if err != nil && p.Error == "" {
		p.Error = c.errorText(err)
	}
	d.Document = policyDocument(ver.PolicyVersion.Document)
	d.Editor = d.Document
	if edited != "" {
		d.Editor = edited
	}
	p.Data = d
	c.render(w, r, status, "iampolicy.html", p)
}

// createPolicyVersion saves a new default version of a customer managed policy.
func (c *Console) createPolicyVersion(w http.ResponseWriter, r *http.Request) {
	arn, doc := r.PostFormValue("policy_arn"), r.PostFormValue("policy_document")
	v := url.Values{"PolicyArn": {arn}, "PolicyDocument": {doc}, "SetAsDefault": {"true"}}
	if err := c.call(r, "iam", "CreatePolicyVersion", v, nil); err != nil {
		c.renderPolicy(w, r, arn, awsStatus(err), c.errorText(err), doc)
		return
	}
	c.redirect(w, r, policyPath(arn), "Saved a new default version.")
}

func (c *Console) deletePolicy(w http.ResponseWriter, r *http.Request) {
	arn := r.PostFormValue("policy_arn")
	if err := c.call(r, "iam", "DeletePolicy", url.Values{"PolicyArn": {arn}}, nil); err != nil {
		c.flashError(w, r, policyPath(arn), c.errorText(err))
		return
	}
	c.redirect(w, r, "/console/iam/policies", "Deleted policy "+arn+".")
}

// evalResultView is one SimulatePrincipalPolicy result, as IAM returns it.
type evalResultView struct {
	EvalActionName    string
	EvalResourceName  string
	EvalDecision      string // allowed | explicitDeny | implicitDeny
	MatchedStatements []struct {
		SourcePolicyId   string
		SourcePolicyType string
	} `xml:"MatchedStatements>member"`
	MissingContextValues []string `xml:"MissingContextValues>member"`
}

// Why says in words what the decision means, the answer to "why was this denied".
func (e evalResultView) Why() string {
	switch e.EvalDecision {
	case "allowed":
		return "Allowed: a statement of a matched policy allows it, and no statement denies it."
	case "explicitDeny":
		return "Denied by a Deny statement of a matched policy: an explicit deny overrides every allow."
	}
	return "Denied because no policy of this principal allows it: IAM denies whatever is not allowed."
}

type simulateData struct {
	Source   string // the principal's ARN
	Actions  string
	Resource string
	Users    []iamUserView
	Groups   []iamGroupView
	Roles    []roleView
	Ran      bool
	Results  []evalResultView
}

// simulatePage runs SimulatePrincipalPolicy from a GET form: it only reads, so its
// result has an address that can be shared and reloaded.
func (c *Console) simulatePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := simulateData{Source: strings.TrimSpace(q.Get("arn")), Actions: q.Get("actions"), Resource: strings.TrimSpace(q.Get("resource"))}
	if d.Source == "" {
		d.Source = q.Get("source")
	}
	if d.Source == "" {
		if s, ok := sessionFrom(r.Context()); ok {
			d.Source = s.principal.ARN
		}
	}
	d.Users, _ = listAll[iamUserView](c, r, "ListUsers", nil, "Users")
	d.Groups, _ = listAll[iamGroupView](c, r, "ListGroups", nil, "Groups")
	d.Roles, _ = listAll[roleView](c, r, "ListRoles", nil, "Roles")
	p := page{Title: "Policy simulator"}
	status := http.StatusOK
	if actions := splitActions(d.Actions); len(actions) > 0 {
		results, err := listAll[evalResultView](c, r, "SimulatePrincipalPolicy", simulateValues(d.Source, actions, d.Resource), "EvaluationResults")
		if err != nil {
			p.Error, status = c.errorText(err), awsStatus(err)
		}
		d.Ran, d.Results = err == nil, results
	}
	p.Data = d
	c.render(w, r, status, "iamsimulate.html", p)
}

// simulateValues are SimulatePrincipalPolicy's request members.
func simulateValues(source string, actions []string, resource string) url.Values {
	v := url.Values{"PolicySourceArn": {source}}
	for i, a := range actions {
		v.Set("ActionNames.member."+strconv.Itoa(i+1), a)
	}
	if resource != "" {
		v.Set("ResourceArns.member.1", resource)
	}
	return v
}

// splitActions reads action names separated by commas, spaces or lines.
func splitActions(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}
