package console

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
)

// The IAM pages: users, groups, managed policies and the policy simulator. Like every
// other page they only call IAM actions as the signed-in user, so IAM's own evaluator
// decides what each button may do, and a refused action changes nothing.

// The shapes the IAM pages read, named as in IAM's responses (botocore iam 2010-05-08).

type iamUserView struct {
	UserName            string
	UserId              string
	Arn                 string
	Path                string
	CreateDate          string
	PermissionsBoundary struct{ PermissionsBoundaryArn string } // GetUser only
}

// Created is the creation date without the time of day.
func (u iamUserView) Created() string { return day(u.CreateDate) }

type iamGroupView struct {
	GroupName  string
	GroupId    string
	Arn        string
	Path       string
	CreateDate string
}

// Created is the creation date without the time of day.
func (g iamGroupView) Created() string { return day(g.CreateDate) }

type accessKeyView struct {
	AccessKeyId string
	Status      string
	CreateDate  string
}

// Created is the creation date without the time of day.
func (k accessKeyView) Created() string { return day(k.CreateDate) }

// Active reports whether the key can sign requests.
func (k accessKeyView) Active() bool { return k.Status == "Active" }

type attachedPolicyView struct {
	PolicyName string
	PolicyArn  string
}

type policyView struct {
	PolicyName       string
	PolicyId         string
	Arn              string
	Path             string
	DefaultVersionId string
	AttachmentCount  int
	IsAttachable     bool
	Description      string
	CreateDate       string
	UpdateDate       string
}

// AWSManaged reports whether AWS, not the account, owns the policy.
func (p policyView) AWSManaged() bool { return strings.HasPrefix(p.Arn, "arn:aws:iam::aws:") }

type mfaDeviceView struct {
	UserName     string
	SerialNumber string
	EnableDate   string
}

// Enabled is the enabling date without the time of day.
func (m mfaDeviceView) Enabled() string { return day(m.EnableDate) }

// day trims an ISO 8601 timestamp to its date.
func day(ts string) string {
	if d, _, ok := strings.Cut(ts, "T"); ok {
		return d
	}
	return ts
}

// policyDocument decodes a policy document as IAM returns it (URL-encoded, RFC 3986).
// A document that does not decode is shown as it came.
func policyDocument(encoded string) string {
	doc, err := url.PathUnescape(encoded)
	if err != nil {
		return encoded
	}
	return doc
}

func (c *Console) iamRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /console/iam/{$}", c.signedIn(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/iam/users", http.StatusSeeOther)
	}))
	c.iamUserRoutes(m)
	c.iamGroupRoutes(m)
	c.iamRoleRoutes(m)
	c.iamPolicyRoutes(m)
	m.HandleFunc("GET /console/iam/simulate", c.signedIn(c.simulatePage))
}

// maxListPages bounds how many pages of one list a console page reads.
const maxListPages = 50

// listAll runs a paginated IAM List action to its end and returns the members of its list
// element named list, so that a page never shows only the first page of something.
func listAll[T any](c *Console, r *http.Request, action string, v url.Values, list string) ([]T, error) {
	var all []T
	marker := ""
	for range maxListPages {
		var out struct {
			Lists []struct {
				XMLName xml.Name
				Members []T `xml:"member"`
			} `xml:",any"`
			IsTruncated bool
			Marker      string
		}
		q := url.Values{"MaxItems": {"1000"}}
		for k, vs := range v {
			q[k] = vs
		}
		if marker != "" {
			q.Set("Marker", marker)
		}
		if err := c.call(r, "iam", action, q, &out); err != nil {
			return all, err
		}
		for _, l := range out.Lists {
			if l.XMLName.Local == list {
				all = append(all, l.Members...)
			}
		}
		if !out.IsTruncated || out.Marker == "" {
			break
		}
		marker = out.Marker
	}
	return all, nil
}

// isCode reports whether err is the AWS error code.
func isCode(err error, code string) bool {
	return err != nil && awsquery.AsError(err).Code == code
}

// section is the error text of one part of a page that could not be read, so that a user
// allowed some reads but not others still sees the rest.
func (c *Console) section(err error) string {
	if err == nil {
		return ""
	}
	return c.errorText(err)
}

// holder is a user or a group: what inline and managed policies attach to.
type holder struct {
	Kind string // "User", "Group" or "Role", as in the IAM action names
	Name string
}

// param is the request member naming the holder.
func (h holder) param() string { return h.Kind + "Name" }

// values are the request members naming the holder, plus extra key, value pairs.
func (h holder) values(kv ...string) url.Values {
	v := url.Values{h.param(): {h.Name}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// Path is the holder's console page.
func (h holder) Path() string {
	return "/console/iam/" + strings.ToLower(h.Kind) + "s/" + url.PathEscape(h.Name)
}

// IsUser reports whether the holder is a user.
func (h holder) IsUser() bool { return h.Kind == "User" }

// IsRole reports whether the holder is a role.
func (h holder) IsRole() bool { return h.Kind == "Role" }

// editorView is the inline policy editor's content: a policy being viewed, or text the
// user typed that IAM refused, kept so that nothing typed is lost.
type editorView struct {
	Name     string
	Document string
}

// policiesView is what a user's or group's page shows of its permissions.
type policiesView struct {
	Attached      []attachedPolicyView
	AttachedError string
	Inline        []string
	InlineError   string
	Attachable    []policyView // policies the attach form offers
	Editor        editorView
	EditorError   string // the editor's refused text's error, shown beside it
}

// policies reads a holder's attached and inline policies and the policies it could attach.
// When edit names an inline policy, its document fills the editor.
func (c *Console) policies(r *http.Request, h holder, edit string) policiesView {
	var v policiesView
	var err error
	v.Attached, err = listAll[attachedPolicyView](c, r, "ListAttached"+h.Kind+"Policies", h.values(), "AttachedPolicies")
	v.AttachedError = c.section(err)
	v.Inline, err = listAll[string](c, r, "List"+h.Kind+"Policies", h.values(), "PolicyNames")
	v.InlineError = c.section(err)
	all, _ := listAll[policyView](c, r, "ListPolicies", nil, "Policies")
	for _, p := range all {
		if p.IsAttachable && !attached(v.Attached, p.Arn) {
			v.Attachable = append(v.Attachable, p)
		}
	}
	if edit != "" {
		var out struct{ PolicyName, PolicyDocument string }
		if err := c.call(r, "iam", "Get"+h.Kind+"Policy", h.values("PolicyName", edit), &out); err != nil {
			v.EditorError = c.errorText(err)
		} else {
			v.Editor = editorView{Name: out.PolicyName, Document: policyDocument(out.PolicyDocument)}
		}
	}
	return v
}

func attached(list []attachedPolicyView, arn string) bool {
	for _, a := range list {
		if a.PolicyArn == arn {
			return true
		}
	}
	return false
}

// policyRoutes adds the permission forms a user's and a group's page share, under base
// (/console/iam/users/{name} or /console/iam/groups/{name}).
func (c *Console) policyRoutes(m *http.ServeMux, base, kind string, rerender func(http.ResponseWriter, *http.Request, int, string, editorView)) {
	h := func(r *http.Request) holder { return holder{Kind: kind, Name: r.PathValue("name")} }
	m.HandleFunc("POST "+base+"/attach", c.signedIn(func(w http.ResponseWriter, r *http.Request) {
		arn := strings.TrimSpace(r.PostFormValue("policy_arn"))
		c.act(w, r, h(r).Path(), "iam", "Attach"+kind+"Policy", h(r).values("PolicyArn", arn), "Attached "+arn+".")
	}))
	m.HandleFunc("POST "+base+"/detach", c.signedIn(func(w http.ResponseWriter, r *http.Request) {
		arn := r.PostFormValue("policy_arn")
		c.act(w, r, h(r).Path(), "iam", "Detach"+kind+"Policy", h(r).values("PolicyArn", arn), "Detached "+arn+".")
	}))
	m.HandleFunc("POST "+base+"/inline", c.signedIn(func(w http.ResponseWriter, r *http.Request) {
		ed := editorView{Name: strings.TrimSpace(r.PostFormValue("policy_name")), Document: r.PostFormValue("policy_document")}
		err := c.call(r, "iam", "Put"+kind+"Policy", h(r).values("PolicyName", ed.Name, "PolicyDocument", ed.Document), nil)
		if err != nil {
			// The page again, with IAM's reason and the text as typed.
			rerender(w, r, awsStatus(err), c.errorText(err), ed)
			return
		}
		c.redirect(w, r, h(r).Path()+"?policy="+url.QueryEscape(ed.Name)+"#inline", "Saved inline policy "+ed.Name+".")
	}))
	m.HandleFunc("POST "+base+"/inline/{policy}/delete", c.signedIn(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("policy")
		c.act(w, r, h(r).Path(), "iam", "Delete"+kind+"Policy", h(r).values("PolicyName", name), "Deleted inline policy "+name+".")
	}))
}
