package iam

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"time"
)

// TOTP as RFC 6238 with the parameters every authenticator app uses for AWS: HMAC-SHA-1,
// 6 digits, 30-second steps from the Unix epoch.
const (
	totpDigits = 6
	totpPeriod = 30 // seconds
	// totpSkew is how many steps a code may be early or late: phone clocks drift and people
	// type slowly (RFC 6238 section 5.2 recommends at most one).
	totpSkew = 1
	// totpSeedBytes is the secret's size: 160 bits, RFC 4226's recommendation for SHA-1.
	totpSeedBytes = 20
)

// hotp is RFC 4226's HOTP value of counter with the given number of digits.
func hotp(seed []byte, counter uint64, digits int) string {
	mac := hmac.New(sha1.New, seed)
	_ = binary.Write(mac, binary.BigEndian, counter) // a hash never fails to write
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// totpStep is the time step t falls in.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// totpAt is the code of step.
func totpAt(seed []byte, step int64) string { return hotp(seed, uint64(step), totpDigits) }

// codeIs compares a code in constant time.
func codeIs(seed []byte, step int64, code string) bool {
	return subtle.ConstantTimeCompare([]byte(totpAt(seed, step)), []byte(code)) == 1
}

// totpMatch returns the step within totpSkew of now whose code is code and that is later
// than last (the last step accepted for the device, so that a code is good once only).
func totpMatch(seed []byte, now time.Time, last int64, code string) (int64, bool) {
	cur := totpStep(now)
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		if step > last && codeIs(seed, step, code) {
			return step, true
		}
	}
	return 0, false
}

// totpPairMatch returns the step of the second of two consecutive codes, as
// EnableMFADevice takes them: code1 at step s and code2 at s+1, s+1 within totpSkew of now
// (people read the second code after the first, so the pair may end one step late).
func totpPairMatch(seed []byte, now time.Time, last int64, code1, code2 string) (int64, bool) {
	cur := totpStep(now)
	for second := cur - totpSkew; second <= cur+totpSkew; second++ {
		first := second - 1
		if first > last && codeIs(seed, first, code1) && codeIs(seed, second, code2) {
			return second, true
		}
	}
	return 0, false
}
