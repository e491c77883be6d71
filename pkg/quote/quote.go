// Package quote puts values that come from users (Service fields and
// annotations, node provider IDs, ConfigMap values, descriptions of GCE
// resources) into events, conditions, errors and log lines at a bounded
// size: an annotation may hold 256 KiB, a condition message at most 32 KiB,
// and an event the size of the value helps no one.
package quote

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// MaxValue is how many bytes of a value Value shows.
const MaxValue = 256

// MaxConditionMessage is the API's limit on a condition's message.
const MaxConditionMessage = 32768

// Value returns v quoted as %q does, its first MaxValue bytes only when it
// is longer, followed by how many bytes were left out.
func Value(v string) string {
	if len(v) <= MaxValue {
		return strconv.Quote(v)
	}
	head := prefix(v, MaxValue)
	return fmt.Sprintf("%s... (%d more bytes not shown)", strconv.Quote(head), len(v)-len(head))
}

// Message returns m when it has at most max bytes, else its beginning and
// how many bytes were cut, max bytes in all (at least the note).
func Message(m string, max int) string {
	if len(m) <= max {
		return m
	}
	// The note is longest when everything is cut.
	keep := max - len(cutNote(len(m)))
	if keep < 0 {
		keep = 0
	}
	head := prefix(m, keep)
	return head + cutNote(len(m)-len(head))
}

func cutNote(n int) string { return fmt.Sprintf("... (%d bytes cut)", n) }

// prefix returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut > n-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
