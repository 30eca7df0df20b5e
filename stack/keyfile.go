package stack

import (
	"bufio"
	"io"
	"os"
	"strings"
)

// privateKeyFileProblem says why the readable regular file at path is not
// a private key, or "" (a reason holding no value and no '%', to follow
// the quoted path in a message). It reads the first line only and never repeats
// the file's content. A private key file starts with a
// "-----BEGIN ... PRIVATE KEY-----" line (OpenSSH and PEM alike); a public
// key (a .pub file, or a line "ssh-ed25519 AAAA...") is the common mix-up.
func privateKeyFileProblem(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "cannot be read; fix the path or its permissions"
	}
	defer f.Close()
	first, err := bufio.NewReader(io.LimitReader(f, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "cannot be read; fix the path or its permissions"
	}
	first = strings.TrimSpace(strings.TrimPrefix(first, "\ufeff"))
	switch {
	case publicKeyLine(first):
		return "holds a public key; give the private key file (the same path without .pub, e.g. /home/you/.ssh/id_ed25519)"
	case strings.HasPrefix(first, "-----BEGIN ") && strings.HasSuffix(first, "PRIVATE KEY-----"):
		return ""
	case strings.HasSuffix(path, ".pub"):
		return "is a .pub file, not a private key; give the private key file (the same path without .pub)"
	}
	return "is not a private key file (its first line is no -----BEGIN ... PRIVATE KEY----- line); give the file ssh-keygen wrote, e.g. /home/you/.ssh/id_ed25519"
}

// publicKeyLine reports a line in authorized_keys/.pub form: a known key
// type (or a certificate) followed by a space.
func publicKeyLine(line string) bool {
	typ, _, ok := strings.Cut(line, " ")
	if !ok {
		return false
	}
	for _, t := range rules.SSHKeyTypes {
		if typ == t {
			return true
		}
	}
	return strings.HasPrefix(typ, "ssh-") || strings.HasPrefix(typ, "ecdsa-sha2-") || strings.HasPrefix(typ, "sk-")
}

// Warnings are problems of a valid config that do not stop a deployment
// but may bite later: a private key file that other users can read (the
// OpenSSH client refuses such a key; nixlab's SSH client does not check).
// It reads file modes only.
func (c *Config) Warnings() []string {
	var out []string
	if p := c.Proxmox.SSH.PrivateKeyFile; p != "" && !looksLikeKeyMaterial(p) {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o077 != 0 {
			out = append(out, msgf("%s:proxmox.ssh.privateKeyFile: %q has mode %04o, readable by other users; run chmod 600 %s", Namespace, p, st.Mode().Perm(), p))
		}
	}
	return out
}
