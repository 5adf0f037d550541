package iam

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// seedOf decodes a Base32StringSeed as the XML carries it (base64 of the base32 text).
func seedOf(t *testing.T, b64 string) []byte {
	t.Helper()
	text, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := seedEncoding.DecodeString(string(text))
	if err != nil || len(seed) != totpSeedBytes {
		t.Fatalf("seed %q: %v", text, err)
	}
	return seed
}

func TestVirtualMFA(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	e.svc.log = slog.New(slog.NewTextHandler(&logs, nil))
	ctx := context.Background()
	e.user("alice")
	e.user("bob")
	e.do("CreateLoginProfile", "UserName", "alice", "Password", "Tr0ub4dor&3")

	e.fail("ValidationError", 400, "virtualMFADeviceName", "CreateVirtualMFADevice")
	d := e.do("CreateVirtualMFADevice", "VirtualMFADeviceName", "alice-phone", "Path", "/eng/").(createVirtualMFADeviceResult).VirtualMFADevice
	if d.SerialNumber != "arn:aws:iam::123456789012:mfa/eng/alice-phone" || d.User != nil {
		t.Fatalf("device %+v", d)
	}
	seed := seedOf(t, d.Base32StringSeed)
	e.fail("EntityAlreadyExists", 409, "", "CreateVirtualMFADevice", "VirtualMFADeviceName", "ALICE-phone")

	// Two consecutive codes enable it; anything else is InvalidAuthenticationCode.
	now := totpStep(testNow)
	enable := func(c1, c2 string) []string {
		return []string{"UserName", "alice", "SerialNumber", d.SerialNumber, "AuthenticationCode1", c1, "AuthenticationCode2", c2}
	}
	e.fail("ValidationError", 400, "authenticationCode1", "EnableMFADevice", enable("12345", "123456")...)
	e.fail("ValidationError", 400, "authenticationCode2", "EnableMFADevice", enable("123456", "12345a")...)
	e.fail("InvalidAuthenticationCode", 403, "", "EnableMFADevice", enable(totpAt(seed, now), totpAt(seed, now-1))...)
	e.fail("InvalidAuthenticationCode", 403, "", "EnableMFADevice", enable(totpAt(seed, now-5), totpAt(seed, now-4))...)
	e.fail("NoSuchEntity", 404, "", "EnableMFADevice", "UserName", "alice", "SerialNumber", d.SerialNumber+"x",
		"AuthenticationCode1", totpAt(seed, now-1), "AuthenticationCode2", totpAt(seed, now))
	e.do("EnableMFADevice", enable(totpAt(seed, now-1), totpAt(seed, now))...)
	e.fail("EntityAlreadyExists", 409, "in use", "EnableMFADevice", "UserName", "bob", "SerialNumber", d.SerialNumber,
		"AuthenticationCode1", totpAt(seed, now), "AuthenticationCode2", totpAt(seed, now+1))

	lm := e.do("ListMFADevices", "UserName", "alice").(listMFADevicesResult)
	if len(lm.MFADevices.Items) != 1 || lm.MFADevices.Items[0].SerialNumber != d.SerialNumber || !lm.MFADevices.Items[0].EnableDate.Equal(testNow) {
		t.Fatalf("ListMFADevices %+v", lm)
	}
	if own, err := e.svc.Do(e.as("alice"), "ListMFADevices", params()); err != nil || len(own.(listMFADevicesResult).MFADevices.Items) != 1 {
		t.Fatalf("alice's own devices %+v %v", own, err)
	}
	if got := e.do("ListMFADevices").(listMFADevicesResult); len(got.MFADevices.Items) != 0 {
		t.Fatalf("root's devices %+v", got)
	}
	e.do("CreateVirtualMFADevice", "VirtualMFADeviceName", "spare")
	for status, want := range map[string]int{"": 2, "Any": 2, "Assigned": 1, "Unassigned": 1} {
		got := e.do("ListVirtualMFADevices", "AssignmentStatus", status).(listVirtualMFADevicesResult).VirtualMFADevices.Items
		if len(got) != want {
			t.Fatalf("%q: %+v", status, got)
		}
		for _, x := range got {
			if x.Base32StringSeed != "" {
				t.Fatal("a listing shows a seed")
			}
			if x.SerialNumber == d.SerialNumber && (x.User == nil || x.User.UserName != "alice" || x.EnableDate == nil) {
				t.Fatalf("assigned device %+v", x)
			}
		}
	}
	e.fail("ValidationError", 400, "assignmentStatus", "ListVirtualMFADevices", "AssignmentStatus", "Some")

	// Sign-in asks for a code; each code is good once, the enabling ones included.
	if l, ok := e.signIn(testAccount, "alice", "Tr0ub4dor&3"); !ok || !l.MFARequired {
		t.Fatalf("sign-in with MFA: %v %+v", ok, l)
	}
	check := func(code string, want bool) {
		t.Helper()
		if ok, err := e.svc.CheckMFA(ctx, "alice", code); err != nil || ok != want {
			t.Fatalf("CheckMFA(%s): %v %v, want %v", code, ok, err, want)
		}
	}
	check(totpAt(seed, now), false) // used by EnableMFADevice
	wrong := "000000"
	if totpAt(seed, now+1) == wrong {
		wrong = "000001"
	}
	check(wrong, false)
	check("abcdef", false)
	check(totpAt(seed, now+1), true)
	check(totpAt(seed, now+1), false)
	e.at(testNow.Add(2 * totpPeriod * time.Second))
	check(totpAt(seed, now+2), true)
	if ok, err := e.svc.CheckMFA(ctx, "bob", totpAt(seed, now+3)); ok || err != nil {
		t.Fatalf("bob has no device: %v %v", ok, err)
	}

	// The device holds the user; the user holds the device.
	e.do("DeleteLoginProfile", "UserName", "alice")
	e.fail("DeleteConflict", 409, "MFA device", "DeleteUser", "UserName", "alice")
	e.do("CreateLoginProfile", "UserName", "alice", "Password", "Tr0ub4dor&3")
	e.fail("DeleteConflict", 409, "deactivate first", "DeleteVirtualMFADevice", "SerialNumber", d.SerialNumber)
	e.fail("NoSuchEntity", 404, "", "DeactivateMFADevice", "UserName", "bob", "SerialNumber", d.SerialNumber)
	e.fail("NoSuchEntity", 404, "", "DeactivateMFADevice", "SerialNumber", d.SerialNumber) // the root user's
	if _, err := e.svc.Do(e.as("alice"), "DeactivateMFADevice", params("SerialNumber", d.SerialNumber)); err != nil {
		t.Fatal(err)
	}
	if l, _ := e.signIn(testAccount, "alice", "Tr0ub4dor&3"); l.MFARequired {
		t.Fatal("MFA still asked for after deactivation")
	}
	check(totpAt(seed, now+3), false)
	e.do("DeleteVirtualMFADevice", "SerialNumber", d.SerialNumber)
	e.fail("NoSuchEntity", 404, "doesn't exist", "DeleteVirtualMFADevice", "SerialNumber", d.SerialNumber)

	// The seed and the codes never reach the log.
	text := logs.String()
	if strings.Contains(text, seedEncoding.EncodeToString(seed)) || strings.Contains(text, d.Base32StringSeed) || strings.Contains(text, totpAt(seed, now+1)) {
		t.Fatalf("a secret in the log:\n%s", text)
	}
	if !strings.Contains(text, "iam MFA device enabled") {
		t.Fatalf("no audit line:\n%s", text)
	}
}

func TestMFAConditionKey(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	p := e.svc.userPrincipal(mustUser(e, "alice"))
	if _, ok := p.ConditionKeys(testNow)["aws:MultiFactorAuthPresent"]; ok {
		t.Fatal("MultiFactorAuthPresent without MFA")
	}
	p.MFA = true
	if v := p.ConditionKeys(testNow)["aws:MultiFactorAuthPresent"]; len(v) != 1 || v[0] != "true" {
		t.Fatalf("MultiFactorAuthPresent %v", v)
	}
}

func TestSDKVirtualMFA(t *testing.T) {
	e := newSDKEnv(t)
	ctx := context.Background()
	c, _ := e.clients(rootKeyID, rootKeySecret)
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	cd, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("phone"),
		Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	serial := aws.ToString(cd.VirtualMFADevice.SerialNumber)
	seed, err := seedEncoding.DecodeString(string(cd.VirtualMFADevice.Base32StringSeed)) // the SDK decodes the blob
	if serial != "arn:aws:iam::123456789012:mfa/phone" || err != nil || len(seed) != totpSeedBytes || len(cd.VirtualMFADevice.Tags) != 1 {
		t.Fatalf("CreateVirtualMFADevice %+v %v", cd.VirtualMFADevice, err)
	}
	now := totpStep(testNow) // the service's clock in tests
	_, err = c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("alice"), SerialNumber: aws.String(serial),
		AuthenticationCode1: aws.String(totpAt(seed, now)), AuthenticationCode2: aws.String(totpAt(seed, now))})
	var bad *types.InvalidAuthenticationCodeException
	if !errors.As(err, &bad) {
		t.Fatalf("same code twice: %v", err)
	}
	apiError(t, err, "InvalidAuthenticationCode", 403)
	if _, err := c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("alice"), SerialNumber: aws.String(serial),
		AuthenticationCode1: aws.String(totpAt(seed, now-1)), AuthenticationCode2: aws.String(totpAt(seed, now))}); err != nil {
		t.Fatal(err)
	}
	lm, err := c.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String("alice")})
	if err != nil || len(lm.MFADevices) != 1 || aws.ToString(lm.MFADevices[0].SerialNumber) != serial || lm.MFADevices[0].EnableDate == nil {
		t.Fatalf("ListMFADevices %+v %v", lm, err)
	}
	lv, err := c.ListVirtualMFADevices(ctx, &iam.ListVirtualMFADevicesInput{AssignmentStatus: types.AssignmentStatusTypeAssigned})
	if err != nil || len(lv.VirtualMFADevices) != 1 || lv.VirtualMFADevices[0].User == nil || aws.ToString(lv.VirtualMFADevices[0].User.UserName) != "alice" ||
		lv.VirtualMFADevices[0].Base32StringSeed != nil {
		t.Fatalf("ListVirtualMFADevices %+v %v", lv, err)
	}
	_, err = c.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serial)})
	var dc *types.DeleteConflictException
	if !errors.As(err, &dc) {
		t.Fatalf("typed DeleteConflict: %v", err)
	}
	if _, err := c.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String("alice"), SerialNumber: aws.String(serial)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serial)}); err != nil {
		t.Fatal(err)
	}
}
