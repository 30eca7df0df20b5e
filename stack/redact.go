package stack

import (
	"fmt"
	"regexp"
	"strings"
)

// HiddenValue is what a message shows in place of a value that looks like
// a secret.
const HiddenValue = "(a value that looks like a secret; not printed)"

var (
	// tokenShapeRe is an API token (user@realm!tokenid=uuid) or anything
	// with a '=' after a '!': the secret part follows the '='.
	tokenShapeRe = regexp.MustCompile(`![^\s]*=`)
	// base64RunRe is a run of base64 characters; base64Secret decides
	// whether it is long and mixed enough to be key material.
	base64RunRe = regexp.MustCompile(`[A-Za-z0-9+/=_-]{41,}`)
	// userinfoRe is a URL with user information (user:password@host).
	userinfoRe = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]*@`)
)

// LooksSecret reports whether s looks like a secret a user pasted into the
// wrong setting: a Proxmox API token (user@realm!tokenid=uuid, or any text
// with '=' after '!'), PEM or OpenSSH private key text, a base64 run of
// more than 40 characters (a key body pasted as one line), or a URL with
// user information. Paths, names and addresses do not match: a path's
// base64-like run is split by '/' into short parts.
func LooksSecret(s string) bool {
	switch {
	case tokenShapeRe.MatchString(s), userinfoRe.MatchString(s),
		strings.Contains(s, "PRIVATE KEY"), strings.Contains(s, "-----BEGIN"),
		strings.Contains(s, "b3BlbnNzaC1rZXktdjE"): // base64 of "openssh-key-v1"
		return true
	}
	for _, run := range base64RunRe.FindAllString(s, -1) {
		if base64Secret(run) {
			return true
		}
	}
	return false
}

// base64Secret reports whether a long base64-alphabet run is key material
// rather than a path or a name. Random base64 mixes its character classes
// at nearly every step: it has several pairs of adjacent capitals, digits
// in several places and a change of class (upper, lower, digit, other) at
// more than half of its steps; CamelCase names, paths and version numbers
// (digits in one or two groups, capitals one at a time) do not.
func base64Secret(run string) bool {
	class := func(b byte) byte {
		switch {
		case b >= 'A' && b <= 'Z':
			return 'U'
		case b >= 'a' && b <= 'z':
			return 'l'
		case b >= '0' && b <= '9':
			return 'd'
		}
		return 'o'
	}
	upperPairs, digitGroups, changes := 0, 0, 0
	for i := 0; i < len(run); i++ {
		c := class(run[i])
		if i == 0 {
			if c == 'd' {
				digitGroups++
			}
			continue
		}
		prev := class(run[i-1])
		if c != prev {
			changes++
			if c == 'd' {
				digitGroups++
			}
		} else if c == 'U' {
			upperPairs++
		}
	}
	return upperPairs >= 3 && digitGroups >= 3 && 2*changes >= len(run)
}

// hidden prints HiddenValue for every verb, so that "%q" shows no quotes
// around a value it does not show.
type hidden struct{}

func (hidden) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(HiddenValue)) }

// msgf is fmt.Sprintf for messages about config values: the one place every
// value quoted in a message passes through. A string argument that
// LooksSecret is replaced by HiddenValue.
func msgf(format string, args ...any) string {
	safe := make([]any, len(args))
	for i, a := range args {
		safe[i] = a
		if s, ok := a.(string); ok && LooksSecret(s) {
			safe[i] = hidden{}
		}
	}
	return fmt.Sprintf(format, safe...)
}
