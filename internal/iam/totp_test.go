package iam

import (
	"testing"
	"time"
)

// RFC 6238 appendix B, SHA-1 rows: the 8-digit codes of the 20-byte ASCII seed
// "12345678901234567890"; a 6-digit code is the last six digits of the same value.
func TestTOTPRFC6238Vectors(t *testing.T) {
	seed := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		step := totpStep(time.Unix(v.unix, 0))
		if got := hotp(seed, uint64(step), 8); got != v.code {
			t.Errorf("T=%d: got %s, want %s", v.unix, got, v.code)
		}
		if got := totpAt(seed, step); got != v.code[2:] {
			t.Errorf("T=%d 6 digits: got %s, want %s", v.unix, got, v.code[2:])
		}
	}
}

func TestTOTPWindowAndReplay(t *testing.T) {
	seed := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	cur := totpStep(now)
	for d := int64(-1); d <= 1; d++ {
		if step, ok := totpMatch(seed, now, 0, totpAt(seed, cur+d)); !ok || step != cur+d {
			t.Errorf("step %+d refused", d)
		}
	}
	for _, d := range []int64{-2, 2} {
		if _, ok := totpMatch(seed, now, 0, totpAt(seed, cur+d)); ok {
			t.Errorf("step %+d accepted", d)
		}
	}
	// A step already used, or an earlier one, is refused.
	if _, ok := totpMatch(seed, now, cur, totpAt(seed, cur)); ok {
		t.Error("a code was accepted twice")
	}
	if _, ok := totpMatch(seed, now, cur, totpAt(seed, cur-1)); ok {
		t.Error("an older code was accepted after a newer one")
	}
	if _, ok := totpMatch(seed, now, 0, "12345"); ok {
		t.Error("a short code was accepted")
	}
	// Two consecutive codes, in order.
	if step, ok := totpPairMatch(seed, now, 0, totpAt(seed, cur-1), totpAt(seed, cur)); !ok || step != cur {
		t.Errorf("pair refused: %d %v", step, ok)
	}
	if _, ok := totpPairMatch(seed, now, 0, totpAt(seed, cur), totpAt(seed, cur-1)); ok {
		t.Error("a pair in the wrong order was accepted")
	}
	if _, ok := totpPairMatch(seed, now, 0, totpAt(seed, cur), totpAt(seed, cur)); ok {
		t.Error("the same code twice was accepted as a pair")
	}
}
