package quote

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
	}{
		{name: "short", in: "1.2.3.x", want: `"1.2.3.x"`},
		{name: "exactly the limit", in: strings.Repeat("a", MaxValue), want: `"` + strings.Repeat("a", MaxValue) + `"`},
		{name: "one byte over", in: strings.Repeat("a", MaxValue+1), want: `"` + strings.Repeat("a", MaxValue) + `"... (1 more bytes not shown)`},
		{name: "100 KB", in: strings.Repeat("b", 100<<10), want: `"` + strings.Repeat("b", MaxValue) + `"... (102144 more bytes not shown)`},
		// A 3-byte rune across the limit is left out whole.
		{name: "rune at the cut", in: strings.Repeat("a", MaxValue-1) + "€x", want: `"` + strings.Repeat("a", MaxValue-1) + `"... (4 more bytes not shown)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Value(tc.in); got != tc.want {
				t.Errorf("Value() = %.400s, want %.400s", got, tc.want)
			}
		})
	}
}

func TestMessage(t *testing.T) {
	t.Parallel()
	if got := Message("short", 10); got != "short" {
		t.Errorf("short message changed: %q", got)
	}
	for _, n := range []int{MaxConditionMessage + 1, 100 << 10, 1 << 20} {
		m := strings.Repeat("é", (n+1)/2) // two bytes each
		got := Message(m, MaxConditionMessage)
		if len(got) > MaxConditionMessage || !utf8.ValidString(got) || !strings.HasSuffix(got, " bytes cut)") {
			t.Errorf("%d bytes: %d bytes out, valid UTF-8 %v, ends %q", len(m), len(got), utf8.ValidString(got), got[len(got)-30:])
		}
	}
}

// FuzzQuote: whatever the value, the quoted form is bounded, valid UTF-8
// when the input is, says what was cut, and a message fits its limit.
func FuzzQuote(f *testing.F) {
	f.Add("203.0.113.0/24", 100)
	f.Add(strings.Repeat("x", 1000), 40)
	f.Add(strings.Repeat("€", 300), 7)
	f.Add("\xff\xfe", 1)
	f.Fuzz(func(t *testing.T, v string, max int) {
		q := Value(v)
		// %q escapes each byte to at most 10 characters (\U0010ffff).
		if len(q) > 2+10*MaxValue+64 {
			t.Fatalf("Value of %d bytes is %d bytes", len(v), len(q))
		}
		if len(v) > MaxValue && !strings.Contains(q, "more bytes not shown") {
			t.Fatalf("Value of %d bytes does not say it was cut: %.100s", len(v), q)
		}
		if max < 0 || max > 1<<16 {
			return
		}
		m := Message(v, max)
		if len(v) <= max && m != v {
			t.Fatalf("Message changed a message within the limit")
		}
		if len(v) > max {
			if !strings.HasSuffix(m, " bytes cut)") {
				t.Fatalf("Message(%d bytes, %d) = %q does not say what was cut", len(v), max, m)
			}
			if len(m) > max && len(m) > 40 {
				t.Fatalf("Message(%d bytes, %d) is %d bytes", len(v), max, len(m))
			}
			if utf8.ValidString(v) && !utf8.ValidString(m) {
				t.Fatalf("Message split a UTF-8 sequence: %q", m)
			}
		}
	})
}
