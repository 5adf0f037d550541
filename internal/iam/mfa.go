package iam

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// Virtual MFA devices: a TOTP secret created on its own (CreateVirtualMFADevice), then
// enabled for a user by proving two consecutive codes (EnableMFADevice). A user with an
// enabled device is asked for a code at console sign-in (CheckMFA). The seed is shown once,
// by CreateVirtualMFADevice, and never logged.

// maxMFADevicesPerUser is IAM's quota (AWS allows up to eight MFA devices per user).
const maxMFADevicesPerUser = 8

var (
	serialPattern = regexp.MustCompile(`^[\w+=/:,.@-]+$`)
	digitsPattern = regexp.MustCompile(`^[0-9]+$`)
	// seedEncoding is how authenticator apps take a seed: base32 without padding.
	seedEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)
)

func invalidAuthenticationCode() error {
	return awsquery.Errorf(http.StatusForbidden, "InvalidAuthenticationCode", "Authentication code for device is not valid.")
}

func noSuchMFADevice(serial string) error {
	return noSuchEntity("VirtualMFADevice with serial number %s doesn't exist.", awsquery.Clip(serial))
}

// serialParam reads the SerialNumber member (9 to 256 of [\w+=/:,.@-]).
func serialParam(p awsquery.Params) (string, error) {
	v := p.String("SerialNumber")
	switch {
	case v == "":
		return "", validationError("serialNumber", "", "Member must not be null")
	case len(v) < 9 || len(v) > 256:
		return "", validationError("serialNumber", v, "Member must have length between 9 and 256")
	case !serialPattern.MatchString(v):
		return "", validationError("serialNumber", v, `Member must satisfy regular expression pattern: [\w+=/:,.@-]+`)
	}
	return v, nil
}

// authCode reads an AuthenticationCode member: six digits. A wrong code is not echoed.
func authCode(p awsquery.Params, member string) (string, error) {
	v := p.String(member)
	field := lowerFirst(member)
	if v == "" {
		return "", validationError(field, "", "Member must not be null")
	}
	if len(v) != totpDigits || !digitsPattern.MatchString(v) {
		return "", awsquery.Errorf(http.StatusBadRequest, "ValidationError",
			`1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length 6 and satisfy regular expression pattern: [\d]+`, field)
	}
	return v, nil
}

func (s *Service) mfaSerial(path, name string) string {
	return "arn:aws:iam::" + s.cfg.AccountID + ":mfa" + path + name
}

func (s *Service) createVirtualMFADevice(ctx context.Context, p awsquery.Params) (any, error) {
	name, err := nameParam(p, "VirtualMFADeviceName", 226)
	if err != nil {
		return nil, err
	}
	path, err := entityPath(p)
	if err != nil {
		return nil, err
	}
	ts, err := tags(p)
	if err != nil {
		return nil, err
	}
	serial := s.mfaSerial(path, name)
	if len(serial) > 256 {
		return nil, invalidInput("The serial number of the device (its path and name) cannot be longer than 256 characters.")
	}
	seed := make([]byte, totpSeedBytes)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	d := store.MFADevice{SerialNumber: serial, Name: name, Path: path, Seed: seed, Tags: ts, CreatedAt: s.now()}
	if err := s.store.CreateMFADevice(ctx, d); errors.Is(err, store.ErrExists) {
		return nil, alreadyExists("MFADevice entity at the same path and name already exists.")
	} else if err != nil {
		return nil, err
	}
	s.log.Info("iam virtual MFA device created", "serial", serial)
	x := xmlVirtualMFADevice{
		SerialNumber: serial,
		// A blob member: base64 of the base32 text an authenticator app takes.
		Base32StringSeed: base64.StdEncoding.EncodeToString([]byte(seedEncoding.EncodeToString(seed))),
	}
	x.Tags = tagMembers(ts)
	return createVirtualMFADeviceResult{VirtualMFADevice: x}, nil
}

func (s *Service) enableMFADevice(ctx context.Context, p awsquery.Params) (any, error) {
	userName, err := nameParam(p, "UserName", 128)
	if err != nil {
		return nil, err
	}
	serial, err := serialParam(p)
	if err != nil {
		return nil, err
	}
	code1, err := authCode(p, "AuthenticationCode1")
	if err != nil {
		return nil, err
	}
	code2, err := authCode(p, "AuthenticationCode2")
	if err != nil {
		return nil, err
	}
	u, err := s.lookupUser(ctx, userName)
	if err != nil {
		return nil, err
	}
	_, err = s.store.UpdateMFADevice(ctx, serial, func(d *store.MFADevice, devicesOf func(string) (int, error)) error {
		if d.UserID != "" {
			return alreadyExists("MFA Device is already in use.")
		}
		n, err := devicesOf(u.UserID)
		if err != nil {
			return err
		}
		if n >= maxMFADevicesPerUser {
			return limitExceeded("Cannot exceed quota for MFADevicesPerUser: %d", maxMFADevicesPerUser)
		}
		step, ok := totpPairMatch(d.Seed, s.cfg.Now(), d.LastStep, code1, code2)
		if !ok {
			return invalidAuthenticationCode()
		}
		d.UserID, d.EnabledAt, d.LastStep = u.UserID, s.now(), step
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchMFADevice(serial)
	}
	if err == nil {
		s.log.Info("iam MFA device enabled", "user", u.Name, "serial", serial)
	}
	return nil, err
}

func (s *Service) listMFADevices(ctx context.Context, p awsquery.Params) (any, error) {
	pg, err := paging(p)
	if err != nil {
		return nil, err
	}
	sb, err := s.subject(ctx, p)
	if err != nil {
		return nil, err
	}
	var devices []store.MFADevice
	if !sb.root { // the root user's MFA is not an IAM device
		if devices, err = s.store.MFADevicesOf(ctx, sb.user.UserID); err != nil {
			return nil, err
		}
	}
	items, next, more := paginate(devices, func(d store.MFADevice) string { return d.SerialNumber }, pg)
	r := listMFADevicesResult{IsTruncated: more, Marker: next}
	for _, d := range items {
		r.MFADevices.Items = append(r.MFADevices.Items, xmlMFADevice{UserName: sb.user.Name, SerialNumber: d.SerialNumber, EnableDate: d.EnabledAt})
	}
	return r, nil
}

func (s *Service) listVirtualMFADevices(ctx context.Context, p awsquery.Params) (any, error) {
	status := p.String("AssignmentStatus")
	switch status {
	case "", "Any", "Assigned", "Unassigned":
	default:
		return nil, validationError("assignmentStatus", status, "Member must satisfy enum value set: [Assigned, Unassigned, Any]")
	}
	pg, err := paging(p)
	if err != nil {
		return nil, err
	}
	all, err := s.store.MFADevices(ctx)
	if err != nil {
		return nil, err
	}
	var devices []store.MFADevice
	for _, d := range all {
		if status == "Assigned" && d.UserID == "" || status == "Unassigned" && d.UserID != "" {
			continue
		}
		devices = append(devices, d)
	}
	items, next, more := paginate(devices, func(d store.MFADevice) string { return d.SerialNumber }, pg)
	r := listVirtualMFADevicesResult{IsTruncated: more, Marker: next}
	for _, d := range items {
		x, err := s.toVirtualMFADevice(ctx, d)
		if err != nil {
			return nil, err
		}
		r.VirtualMFADevices.Items = append(r.VirtualMFADevices.Items, x)
	}
	return r, nil
}

// toVirtualMFADevice is a device as the list shows it: never its seed.
func (s *Service) toVirtualMFADevice(ctx context.Context, d store.MFADevice) (xmlVirtualMFADevice, error) {
	x := xmlVirtualMFADevice{SerialNumber: d.SerialNumber}
	if d.UserID == "" {
		return x, nil
	}
	u, err := s.store.IAMUserByID(ctx, d.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return x, nil // deleted meanwhile
	}
	if err != nil {
		return x, err
	}
	xu := s.toUser(u, false)
	enabled := d.EnabledAt
	x.User, x.EnableDate = &xu, &enabled
	return x, nil
}

func (s *Service) deactivateMFADevice(ctx context.Context, p awsquery.Params) (any, error) {
	serial, err := serialParam(p)
	if err != nil {
		return nil, err
	}
	sb, err := s.subject(ctx, p)
	if err != nil {
		return nil, err
	}
	_, err = s.store.UpdateMFADevice(ctx, serial, func(d *store.MFADevice, _ func(string) (int, error)) error {
		if sb.root || d.UserID != sb.user.UserID {
			return store.ErrNotFound // a device of another user is as unknown as none
		}
		// LastStep stays: codes used before cannot be replayed if it is enabled again.
		d.UserID, d.EnabledAt = "", time.Time{}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchEntity("MFA Device with serial number %s does not exist.", awsquery.Clip(serial))
	}
	if err == nil {
		s.log.Info("iam MFA device deactivated", "user", sb.user.Name, "serial", serial)
	}
	return nil, err
}

func (s *Service) deleteVirtualMFADevice(ctx context.Context, p awsquery.Params) (any, error) {
	serial, err := serialParam(p)
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteMFADevice(ctx, serial, func(d store.MFADevice) error {
		if d.UserID != "" {
			return deleteConflict("MFA VirtualDevice in use. Must deactivate first.")
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchMFADevice(serial)
	}
	if err == nil {
		s.log.Info("iam virtual MFA device deleted", "serial", serial)
	}
	return nil, err
}

// errWrongCode ends a CheckMFA transaction that changed nothing.
var errWrongCode = errors.New("iam: wrong MFA code")

// CheckMFA verifies a TOTP code of the user's enabled MFA device (and records its step so
// the code cannot be replayed). With several devices, a code of any of them will do. ok is
// false for a wrong, reused or malformed code and for a user without a device; err is for
// store failures only.
func (s *Service) CheckMFA(ctx context.Context, userName, code string) (bool, error) {
	if len(code) != totpDigits || !digitsPattern.MatchString(code) {
		return false, nil
	}
	u, err := s.store.IAMUser(ctx, userName)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	devices, err := s.store.MFADevicesOf(ctx, u.UserID)
	if err != nil {
		return false, err
	}
	for _, d := range devices {
		ok, err := s.useCode(ctx, u.UserID, d.SerialNumber, code)
		if err != nil || ok {
			if ok {
				s.log.Info("iam MFA code accepted", "user", u.Name, "serial", d.SerialNumber)
			}
			return ok, err
		}
	}
	s.log.Info("iam MFA code refused", "user", u.Name)
	return false, nil
}

// useCode accepts code for one device of a user and records its step, in one transaction so
// that two sign-ins cannot both use the same code.
func (s *Service) useCode(ctx context.Context, userID, serial, code string) (bool, error) {
	_, err := s.store.UpdateMFADevice(ctx, serial, func(d *store.MFADevice, _ func(string) (int, error)) error {
		if d.UserID != userID {
			return errWrongCode // deactivated meanwhile
		}
		step, ok := totpMatch(d.Seed, s.cfg.Now(), d.LastStep, code)
		if !ok {
			return errWrongCode
		}
		d.LastStep = step
		return nil
	})
	if errors.Is(err, errWrongCode) || errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
