package stack

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/nixlab/nixlab/components"
)

// validateProxmox checks nixlab:proxmox: the API endpoint, node, storages,
// bridge and the SSH connection to the host (host key via
// components.CheckHostKey, the one rule for pinned host keys).
func (c *Config) validateProxmox(v *validator) {
	p := c.Proxmox
	if msg := endpointProblem(p.Endpoint); msg != "" {
		v.add("proxmox.endpoint", "%s", msg)
	}
	if p.Node == "" {
		v.add("proxmox.node", "is not set; use the name shown by `pvesh get /nodes` (e.g. pve)")
	} else if !compiled.hostName.MatchString(p.Node) || len(p.Node) > 63 {
		v.add("proxmox.node", "%q is not a Proxmox node name; use the name shown by `pvesh get /nodes` (e.g. pve)", p.Node)
	}
	if !storageIDRe.MatchString(p.ISOStorage) {
		v.add("proxmox.isoStorage", "%q is not a storage ID; use a storage that allows ISO images (e.g. local)", p.ISOStorage)
	}
	if !storageIDRe.MatchString(p.VMStorage) {
		v.add("proxmox.vmStorage", "%q is not a storage ID; use a storage that holds VM disks (e.g. local-lvm)", p.VMStorage)
	}
	if !bridgeRe.MatchString(p.Bridge) {
		v.add("proxmox.bridge", "%q is not a bridge name; use e.g. vmbr0", p.Bridge)
	}
	s := p.SSH
	if msg := hostProblem(s.Host); msg != "" {
		v.add("proxmox.ssh.host", "%q %s; set the Proxmox host's SSH address", s.Host, msg)
	}
	if !compiled.user.MatchString(s.User) {
		v.add("proxmox.ssh.user", "%q is not a user name; use root (qm needs it)", s.User)
	}
	v.intRange("proxmox.ssh.port", s.Port, 1, 65535, "")
	if s.HostKey != "" {
		var hk *components.HostKeyError
		if err := components.CheckHostKey(s.HostKey); errors.As(err, &hk) {
			v.add("proxmox.ssh.hostKey", "%s", hk.Reason)
		} else if err != nil {
			v.add("proxmox.ssh.hostKey", "is not a usable host key; use the line `ssh-keyscan -t ed25519 <host>` prints")
		}
	}
	switch {
	case s.PrivateKeyFile == "":
	case looksLikeKeyMaterial(s.PrivateKeyFile):
		v.add("proxmox.ssh.privateKeyFile", "holds key material or a token instead of a file path (not printed); remove it from the stack config, save the key in a file (chmod 600) and give that file's path")
	default:
		before := len(v.errs)
		v.fileExists("proxmox.ssh.privateKeyFile", s.PrivateKeyFile, "private key file")
		if len(v.errs) == before {
			if reason := privateKeyFileProblem(s.PrivateKeyFile); reason != "" {
				// reason is nixlab's own text, so it is part of the
				// format; only the path passes through msgf.
				v.add("proxmox.ssh.privateKeyFile", "private key file %q "+reason, s.PrivateKeyFile)
			}
		}
	}
}

// endpointProblem says what is wrong with the Proxmox API URL, or "". It
// never repeats the URL's user information, query or fragment (a password
// or token may be in them): messages show scheme, host and path only.
func endpointProblem(raw string) string {
	const example = "e.g. https://192.168.1.5:8006/"
	if raw == "" {
		return "is not set; use the API URL, " + example
	}
	if LooksSecret(raw) && !userinfoRe.MatchString(raw) {
		return "holds what looks like a token or key instead of a URL (not printed); remove it and use the API URL, " + example
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return "is not a URL; use the API URL, " + example
	}
	shown := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	switch {
	case u.User != nil:
		return "holds a user name or password (not printed); remove it: nixlab authenticates with nixlab:apiToken, and the URL is shown in plans and handed to the provider as plain text"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return "has a query (?...) or fragment (#...), not printed; remove it, " + example
	case u.Scheme != "https":
		return msgf("%q does not start with https://; the Proxmox API is served over HTTPS only, %s", shown, example)
	case u.Hostname() == "":
		return msgf("%q has no host; %s", shown, example)
	case u.Path != "" && u.Path != "/":
		return msgf("%q has the path %q; remove it: the provider drops any path and adds /api2/json itself (bpg/terraform-provider-proxmox proxmox/api/client.go, NewConnection), %s", shown, u.Path, example)
	}
	if msg := hostProblem(u.Hostname()); msg != "" {
		return msgf("%q: the host %s; %s", shown, msg, example)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return msgf("%q: port %s is out of range; use 1 to 65535 (Proxmox listens on 8006)", shown, port)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return msgf("%q has an empty port; use 8006, %s", shown, example)
	}
	return ""
}
