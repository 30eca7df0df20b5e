package stack

import "fmt"

// Secret is a string that never prints itself. Config values such as the
// Proxmox API token use it so that logging or dumping a Config cannot leak
// them; Deploy hands the value to Pulumi only as a secret.
type Secret string

const redacted = "[secret]"

// String returns a placeholder, never the value.
func (s Secret) String() string { return redacted }

// GoString returns a placeholder, never the value (for %#v).
func (s Secret) GoString() string { return redacted }

// Format prints a placeholder for every verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON writes the placeholder, so a Config marshalled for display
// stays safe.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Reveal returns the secret value. Call it only where the value is handed
// to Pulumi as a secret.
func (s Secret) Reveal() string { return string(s) }
