package components

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// HostKeySetting is the stack setting that pins the Proxmox host's SSH host
// key; errors about a host key name it.
const HostKeySetting = "nixlab:proxmox.ssh.hostKey"

// hostKeyFix is the remedy every host key error ends with.
const hostKeyFix = "use the host's ed25519 key: the \"ssh-ed25519 AAAA...\" part of the line " +
	"`ssh-keyscan -t ed25519 <host>` prints (or /etc/ssh/ssh_host_ed25519_key.pub on the host)"

// HostKeyTypes returns the host key types a pinned key may have. pulumi-command
// v1.2.1 offers the server exactly one host key algorithm, the pinned key's
// own type (provider/pkg/provider/remote/connection.go,
// connectionBase.SSHConfig: HostKeyAlgorithms = []string{publicKey.Type()}).
// For an RSA key that is SHA-1 "ssh-rsa", which OpenSSH 8.8 and later refuse,
// so RSA (and DSA, gone from OpenSSH) keys can never connect. Certificates
// and security-key types are no host keys sshd serves by default.
func HostKeyTypes() []string {
	return []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521}
}

// HostKeyError says why a host key cannot be pinned. Reason never contains
// the rejected text: a pasted private key must not reach a log.
type HostKeyError struct {
	// Reason is the problem and its fix, without the setting's name.
	Reason string
}

func (e *HostKeyError) Error() string { return HostKeySetting + ": " + e.Reason }

// CheckHostKey reports whether key can pin the Proxmox host: exactly one
// OpenSSH public key line "<type> <base64> [comment]" (surrounding
// whitespace is ignored) whose type is one of HostKeyTypes. The line is
// parsed the way pulumi-command parses its hostKey input
// (golang.org/x/crypto/ssh.ParseAuthorizedKey, connection.go SSHConfig), but
// stricter: no known_hosts host field and no authorized_keys options, which
// upload-iso.sh could not put into its known_hosts file. The error is a
// *HostKeyError; it never echoes key.
func CheckHostKey(key string) error {
	if reason := hostKeyProblem(key); reason != "" {
		return &HostKeyError{Reason: reason}
	}
	return nil
}

// hostKeyProblem is CheckHostKey's reason, or "" for a usable key.
func hostKeyProblem(key string) string {
	key = strings.TrimSpace(key)
	switch {
	case key == "":
		return "is empty; " + hostKeyFix
	case strings.Contains(key, "PRIVATE KEY"):
		return "is a private key (it was not printed); never put a private key there, remove it " +
			"from the stack config and " + hostKeyFix
	case strings.ContainsAny(key, "\r\n"):
		return "holds more than one line; " + hostKeyFix
	}
	fields := strings.Fields(key)
	pub, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(key))
	switch {
	case err != nil || len(fields) < 2:
		return "is not an OpenSSH public key line; " + hostKeyFix
	case len(options) > 0 || fields[0] != pub.Type():
		return "starts with something other than the key type (a known_hosts host name or " +
			"authorized_keys options?); " + hostKeyFix
	case len(strings.TrimSpace(string(rest))) > 0:
		return "holds more than one key; " + hostKeyFix
	}
	switch t := pub.Type(); t {
	case ssh.KeyAlgoRSA:
		return "is an RSA key (ssh-rsa): pulumi-command would offer only SHA-1 ssh-rsa, which " +
			"OpenSSH 8.8 and later refuse; " + hostKeyFix
	case ssh.KeyAlgoDSA:
		return "is a DSA key (ssh-dss), which current OpenSSH no longer offers; " + hostKeyFix
	default:
		if slices.Contains(HostKeyTypes(), t) {
			return ""
		}
		return fmt.Sprintf("has type %s, which is no host key type nixlab can pin (%s); %s",
			t, strings.Join(HostKeyTypes(), ", "), hostKeyFix)
	}
}

// normalizeHostKey is the "<type> <base64>" form of a checked key line (the
// comment dropped), as the connections and upload-iso.sh use it.
func normalizeHostKey(key string) (string, error) {
	if err := CheckHostKey(key); err != nil {
		return "", err
	}
	f := strings.Fields(key)
	return f[0] + " " + f[1], nil
}

// errNoHostKey is returned when a connection to the Proxmox host is built
// without a host key to check.
var errNoHostKey = errors.New("Host.HostKey is nil: set the host's key (\"ssh-ed25519 AAAA...\") " +
	"or record it on first contact with PinProxmoxHostKey")
