package console

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

func (c *Console) iamUserRoutes(m *http.ServeMux) {
	const base = "/console/iam/users/{name}"
	m.HandleFunc("GET /console/iam/users", c.signedIn(c.usersPage))
	m.HandleFunc("POST /console/iam/users", c.signedIn(c.createUser))
	m.HandleFunc("GET "+base, c.signedIn(c.userPage))
	m.HandleFunc("POST "+base+"/delete", c.signedIn(c.deleteUser))
	m.HandleFunc("POST "+base+"/groups", c.signedIn(c.addUserToGroup))
	m.HandleFunc("POST "+base+"/groups/{group}/remove", c.signedIn(c.removeUserFromGroup))
	m.HandleFunc("POST "+base+"/access-keys", c.signedIn(c.createAccessKey))
	m.HandleFunc("POST "+base+"/access-keys/{key}/status", c.signedIn(c.setAccessKeyStatus))
	m.HandleFunc("POST "+base+"/access-keys/{key}/delete", c.signedIn(c.deleteAccessKey))
	m.HandleFunc("POST "+base+"/login-profile", c.signedIn(c.setLoginProfile))
	m.HandleFunc("POST "+base+"/login-profile/delete", c.signedIn(c.deleteLoginProfile))
	m.HandleFunc("POST "+base+"/mfa/deactivate", c.signedIn(c.deactivateMFA))
	m.HandleFunc("POST "+base+"/mfa", c.signedIn(c.assignMFA))
	m.HandleFunc("POST "+base+"/mfa/enable", c.signedIn(c.enableMFA))
	c.policyRoutes(m, base, "User", func(w http.ResponseWriter, r *http.Request, status int, errText string, ed editorView) {
		c.renderUser(w, r, status, errText, ed, shownOnce{})
	})
}

// userPath is a user's console page.
func userPath(name string) string { return holder{Kind: "User", Name: name}.Path() }

type usersData struct {
	Users    []iamUserView
	UserName string // the create form's name, kept after a refused create
}

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request) {
	c.renderUsers(w, r, http.StatusOK, "", "")
}

func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, status int, errText, name string) {
	p := page{Title: "IAM users", Error: errText}
	users, err := listAll[iamUserView](c, r, "ListUsers", nil, "Users")
	if err != nil && p.Error == "" {
		p.Error = c.errorText(err)
	}
	p.Data = usersData{Users: users, UserName: name}
	c.render(w, r, status, "iamusers.html", p)
}

// createUser creates a user and, when a password is given, its console password. The
// password goes to IAM and nowhere else: not into the page, the redirect or the session.
func (c *Console) createUser(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("user_name"))
	password := r.PostFormValue("password")
	if err := c.call(r, "iam", "CreateUser", url.Values{"UserName": {name}}, nil); err != nil {
		c.renderUsers(w, r, awsStatus(err), c.errorText(err), name)
		return
	}
	if password != "" {
		v := url.Values{"UserName": {name}, "Password": {password},
			"PasswordResetRequired": {strconv.FormatBool(r.PostFormValue("password_reset_required") != "")}}
		if err := c.call(r, "iam", "CreateLoginProfile", v, nil); err != nil {
			c.flashError(w, r, userPath(name), "User "+name+" was created, but its console password was not set: "+c.errorText(err))
			return
		}
	}
	c.redirect(w, r, userPath(name), "Created user "+name+".")
}

// newKeyView is an access key just created. Its secret is rendered on the response to
// the create and never again: IAM keeps no way to read it back, and neither does the
// console.
type newKeyView struct {
	AccessKeyId     string
	SecretAccessKey string
}

type loginProfileView struct {
	CreateDate            string
	PasswordResetRequired bool
}

// userData is a user's page.
type userData struct {
	Holder      holder
	User        iamUserView
	Groups      []iamGroupView
	GroupsError string
	OtherGroups []iamGroupView // groups the user could be added to
	Keys        []accessKeyView
	KeysError   string
	NewKey      *newKeyView
	NewMFA      *newMFAView
	Login       *loginProfileView // nil: no console password
	LoginError  string
	MFA         []mfaDeviceView
	MFAError    string
	Policies    policiesView
}

func (c *Console) userPage(w http.ResponseWriter, r *http.Request) {
	c.renderUser(w, r, http.StatusOK, "", editorView{}, shownOnce{})
}

// renderUser shows a user's page. errText and a refused editor's text come from a form
// that failed; newKey from a key just created.
// shownOnce is a secret just made, rendered on the response to its creation only.
type shownOnce struct {
	Key *newKeyView
	MFA *newMFAView
}

// newMFAView is a virtual MFA device just created: its seed goes into the user's
// authenticator app now, and the two codes that app then shows enable it.
type newMFAView struct {
	SerialNumber string
	Seed         string // base32, as authenticator apps take it
}

func (c *Console) renderUser(w http.ResponseWriter, r *http.Request, status int, errText string, ed editorView, once shownOnce) {
	h := holder{Kind: "User", Name: r.PathValue("name")}
	p := page{Title: h.Name, Error: errText}
	var u struct{ User iamUserView }
	if err := c.call(r, "iam", "GetUser", h.values(), &u); err != nil {
		p.Error = c.errorText(err)
		c.render(w, r, awsStatus(err), "iamentity.html", p)
		return
	}
	d := userData{Holder: h, User: u.User, NewKey: once.Key, NewMFA: once.MFA}
	c.userMemberships(r, &d)
	var err error
	d.Keys, err = listAll[accessKeyView](c, r, "ListAccessKeys", h.values(), "AccessKeyMetadata")
	d.KeysError = c.section(err)
	d.Login, d.LoginError = c.loginProfile(r, h.Name)
	d.MFA, err = listAll[mfaDeviceView](c, r, "ListMFADevices", h.values(), "MFADevices")
	d.MFAError = c.section(err)
	d.Policies = c.policies(r, h, r.URL.Query().Get("policy"))
	if ed != (editorView{}) {
		d.Policies.Editor, d.Policies.EditorError = ed, errText
	}
	p.Data = d
	c.render(w, r, status, "iamentity.html", p)
}

// userMemberships fills the groups the user is in and the ones it could join.
func (c *Console) userMemberships(r *http.Request, d *userData) {
	var err error
	d.Groups, err = listAll[iamGroupView](c, r, "ListGroupsForUser", d.Holder.values(), "Groups")
	d.GroupsError = c.section(err)
	all, _ := listAll[iamGroupView](c, r, "ListGroups", nil, "Groups")
	for _, g := range all {
		if !slices.ContainsFunc(d.Groups, func(m iamGroupView) bool { return m.GroupName == g.GroupName }) {
			d.OtherGroups = append(d.OtherGroups, g)
		}
	}
}

// loginProfile reads the user's console password settings; nil when it has none.
func (c *Console) loginProfile(r *http.Request, user string) (*loginProfileView, string) {
	var out struct{ LoginProfile loginProfileView }
	err := c.call(r, "iam", "GetLoginProfile", url.Values{"UserName": {user}}, &out)
	switch {
	case isCode(err, "NoSuchEntity"):
		return nil, ""
	case err != nil:
		return nil, c.errorText(err)
	}
	out.LoginProfile.CreateDate = day(out.LoginProfile.CreateDate)
	return &out.LoginProfile, ""
}

func (c *Console) deleteUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if r.PostFormValue("confirm") != name {
		c.flashError(w, r, userPath(name), "To delete "+name+", type its name in the box.")
		return
	}
	if err := c.call(r, "iam", "DeleteUser", url.Values{"UserName": {name}}, nil); err != nil {
		c.flashError(w, r, userPath(name), c.errorText(err))
		return
	}
	c.redirect(w, r, "/console/iam/users", "Deleted user "+name+".")
}

func (c *Console) addUserToGroup(w http.ResponseWriter, r *http.Request) {
	name, group := r.PathValue("name"), r.PostFormValue("group")
	c.act(w, r, userPath(name), "iam", "AddUserToGroup", url.Values{"UserName": {name}, "GroupName": {group}},
		"Added "+name+" to group "+group+".")
}

func (c *Console) removeUserFromGroup(w http.ResponseWriter, r *http.Request) {
	name, group := r.PathValue("name"), r.PathValue("group")
	c.act(w, r, userPath(name), "iam", "RemoveUserFromGroup", url.Values{"UserName": {name}, "GroupName": {group}},
		"Removed "+name+" from group "+group+".")
}

// createAccessKey creates a key and shows its secret on this response only. There is no
// redirect: a redirect would need the secret in the session or the URL.
func (c *Console) createAccessKey(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var out struct{ AccessKey newKeyView }
	if err := c.call(r, "iam", "CreateAccessKey", url.Values{"UserName": {name}}, &out); err != nil {
		c.flashError(w, r, userPath(name), c.errorText(err))
		return
	}
	c.renderUser(w, r, http.StatusOK, "", editorView{}, shownOnce{Key: &out.AccessKey})
}

func (c *Console) setAccessKeyStatus(w http.ResponseWriter, r *http.Request) {
	name, key := r.PathValue("name"), r.PathValue("key")
	status := "Inactive"
	if r.PostFormValue("status") == "Active" {
		status = "Active"
	}
	c.act(w, r, userPath(name), "iam", "UpdateAccessKey", url.Values{"UserName": {name}, "AccessKeyId": {key}, "Status": {status}},
		"Access key "+key+" is now "+strings.ToLower(status)+".")
}

func (c *Console) deleteAccessKey(w http.ResponseWriter, r *http.Request) {
	name, key := r.PathValue("name"), r.PathValue("key")
	c.act(w, r, userPath(name), "iam", "DeleteAccessKey", url.Values{"UserName": {name}, "AccessKeyId": {key}},
		"Deleted access key "+key+".")
}

// setLoginProfile creates or changes the user's console password. Like every secret it
// goes only to IAM; IAM's errors about it never quote it.
func (c *Console) setLoginProfile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	action := "CreateLoginProfile"
	if r.PostFormValue("exists") == "true" {
		action = "UpdateLoginProfile"
	}
	v := url.Values{"UserName": {name}, "PasswordResetRequired": {strconv.FormatBool(r.PostFormValue("password_reset_required") != "")}}
	if pw := r.PostFormValue("password"); pw != "" || action == "CreateLoginProfile" {
		v.Set("Password", pw)
	}
	c.act(w, r, userPath(name), "iam", action, v, "Saved the console password settings of "+name+".")
}

func (c *Console) deleteLoginProfile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c.act(w, r, userPath(name), "iam", "DeleteLoginProfile", url.Values{"UserName": {name}},
		"Removed the console password of "+name+": it can no longer sign in to the console.")
}

func (c *Console) deactivateMFA(w http.ResponseWriter, r *http.Request) {
	name, serial := r.PathValue("name"), r.PostFormValue("serial")
	c.act(w, r, userPath(name), "iam", "DeactivateMFADevice", url.Values{"UserName": {name}, "SerialNumber": {serial}},
		"Deactivated MFA device "+serial+".")
}

// assignMFA creates a virtual MFA device for the user and shows its seed on this response
// only, with the form that enables it; like an access key's secret, the seed is never
// stored by the console nor shown again.
func (c *Console) assignMFA(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	device := strings.TrimSpace(r.PostFormValue("device"))
	if device == "" {
		device = name
	}
	var out struct {
		VirtualMFADevice struct {
			SerialNumber     string
			Base32StringSeed string // base64 of the base32 text: the field is a blob
		}
	}
	if err := c.call(r, "iam", "CreateVirtualMFADevice", url.Values{"VirtualMFADeviceName": {device}}, &out); err != nil {
		c.flashError(w, r, userPath(name), c.errorText(err))
		return
	}
	seed, err := base64.StdEncoding.DecodeString(out.VirtualMFADevice.Base32StringSeed)
	if err != nil {
		c.flashError(w, r, userPath(name), "The new MFA device's seed could not be read.")
		return
	}
	c.renderUser(w, r, http.StatusOK, "", editorView{}, shownOnce{MFA: &newMFAView{SerialNumber: out.VirtualMFADevice.SerialNumber, Seed: string(seed)}})
}

// enableMFA enables a device with two consecutive codes. If IAM refuses them, the device
// (never used) is deleted, so that assigning again starts afresh with a new seed.
func (c *Console) enableMFA(w http.ResponseWriter, r *http.Request) {
	name, serial := r.PathValue("name"), r.PostFormValue("serial")
	v := url.Values{"UserName": {name}, "SerialNumber": {serial},
		"AuthenticationCode1": {strings.TrimSpace(r.PostFormValue("code1"))}, "AuthenticationCode2": {strings.TrimSpace(r.PostFormValue("code2"))}}
	if err := c.call(r, "iam", "EnableMFADevice", v, nil); err != nil {
		if derr := c.call(r, "iam", "DeleteVirtualMFADevice", url.Values{"SerialNumber": {serial}}, nil); derr != nil {
			c.cfg.Log.Warn("console: delete unused MFA device", "serial", serial, "err", derr)
		}
		c.flashError(w, r, userPath(name), c.errorText(err)+" Assign the device again to get a new seed.")
		return
	}
	c.redirect(w, r, userPath(name), "MFA device "+serial+" is enabled: "+name+" signs in with a code from now on.")
}
