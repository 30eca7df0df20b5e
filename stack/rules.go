package stack

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/nixlab/nixlab/nixos"
)

// rulesFile is the one rule set shared with the Nix side: nixos/lib/rules.json,
// read here through the embedded sources and by nixos/lib/settings.nix with
// builtins.fromJSON, so both validators check names, keys and paths alike
// (tests/validators_corpus_test.go feeds both the same corpus).
const rulesFile = "lib/rules.json"

// Rules is the parsed nixos/lib/rules.json. Patterns match whole strings.
type Rules struct {
	// UserPattern is a valid login name (useradd's NAME_REGEX, 32 characters).
	UserPattern string `json:"userPattern"`
	// ReservedUsers are accounts and groups a NixOS node already has (or
	// may get), so none can be the admin user. From nixpkgs:
	// nixos/modules/misc/ids.nix (ids.uids root, nobody, messagebus,
	// polkituser, systemd-coredump, systemd-journal-gateway,
	// systemd-network, systemd-resolve, systemd-timesync, kubernetes,
	// nixbld; ids.gids wheel, users, keys, adm, nogroup; etcd, listed there
	// as dynamically allocated by its module),
	// services/networking/ssh/sshd.nix (users.users.sshd),
	// services/system/nscd.nix (users.users.nscd) and
	// system/boot/systemd/oomd.nix (users.users.systemd-oom).
	ReservedUsers []string `json:"reservedUsers"`
	// ReservedUserPatterns are reserved name families (nix build users
	// nixbld1..N, services/system/nix-daemon.nix).
	ReservedUserPatterns []string `json:"reservedUserPatterns"`
	// TimezonePattern is the form of a tz database name.
	TimezonePattern string `json:"timezonePattern"`
	// SSHKeyTypes are the public key types an authorized key may have.
	SSHKeyTypes []string `json:"sshKeyTypes"`
	// SSHKeyBlobPattern is the base64 key blob.
	SSHKeyBlobPattern string `json:"sshKeyBlobPattern"`
	// SSHKeyBlobPrefixes are the base64 characters every blob of a type
	// starts with: the blob begins with the length-prefixed type name
	// (RFC 4253 section 6.6), so a blob pasted under the wrong type fails.
	SSHKeyBlobPrefixes map[string]string `json:"sshKeyBlobPrefixes"`
	// SSHKeyBlobLengths are the exact base64 lengths of fixed-size key
	// types (RFC 8709 ed25519, RFC 5656 ECDSA points): a truncated key fails.
	SSHKeyBlobLengths map[string]int `json:"sshKeyBlobLengths"`
	// HostNamePattern is a DNS host name (labels of 1-63 characters).
	HostNamePattern string `json:"hostNamePattern"`
	// IPv6Pattern tells an IPv6 literal from a name (it has a colon).
	IPv6Pattern string `json:"ipv6Pattern"`
	// PathPattern is an absolute path without a trailing slash or "//".
	PathPattern string `json:"pathPattern"`
	// NFSOptionPattern is one mount option.
	NFSOptionPattern string `json:"nfsOptionPattern"`
	// ObsoleteNFSOptions are ignored by current kernels.
	ObsoleteNFSOptions []string `json:"obsoleteNfsOptions"`
	// SystemTrees belong to the operating system: nothing may be mounted
	// on them or anywhere inside them.
	SystemTrees []string `json:"systemTrees"`
	// SystemPaths are directories a node needs (the CNI plugins kubelet
	// runs, for example): a mount on them or on a parent would hide them.
	SystemPaths []string `json:"systemPaths"`
	// MaxSwapSizeGB bounds template.swapSizeGb.
	MaxSwapSizeGB int `json:"maxSwapSizeGb"`
}

// rules is the parsed rule set; compiled holds its patterns.
var (
	rules    = mustLoadRules()
	compiled = compileRules(rules)
)

// SharedRules returns a copy of the rule set shared with the Nix validator.
func SharedRules() Rules { return rules }

func mustLoadRules() Rules {
	b, err := nixos.Sources.ReadFile(rulesFile)
	if err != nil {
		panic(fmt.Sprintf("nixos/%s is not embedded: %v", rulesFile, err))
	}
	var r Rules
	if err := json.Unmarshal(b, &r); err != nil {
		panic(fmt.Sprintf("nixos/%s: %v", rulesFile, err))
	}
	return r
}

type compiledRules struct {
	user, timezone, keyBlob, hostName, ipv6, path, nfsOption *regexp.Regexp
	reservedUser                                             []*regexp.Regexp
}

// whole compiles an ERE-compatible pattern as a whole-string RE2 match.
func whole(p string) *regexp.Regexp { return regexp.MustCompile("^(?:" + p + ")$") }

func compileRules(r Rules) compiledRules {
	c := compiledRules{
		user: whole(r.UserPattern), timezone: whole(r.TimezonePattern), keyBlob: whole(r.SSHKeyBlobPattern),
		hostName: whole(r.HostNamePattern), ipv6: whole(r.IPv6Pattern), path: whole(r.PathPattern),
		nfsOption: whole(r.NFSOptionPattern),
	}
	for _, p := range r.ReservedUserPatterns {
		c.reservedUser = append(c.reservedUser, whole(p))
	}
	return c
}

// reservedUser reports whether name is a system account.
func reservedUser(name string) bool {
	for _, r := range rules.ReservedUsers {
		if name == r {
			return true
		}
	}
	for _, re := range compiled.reservedUser {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// hostProblem says why h is no host name, IPv4 or IPv6 address (bare or in
// brackets), or "" when it is one. The same rule as settings.nix's
// checkHost: all-digit-and-dot names must be IPv4 addresses in dotted
// decimal without leading zeros; IPv6 literals may not carry a zone.
func hostProblem(h string) string {
	inner := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	bracketed := inner != h
	if bracketed && (!strings.HasPrefix(h, "[") || !strings.HasSuffix(h, "]")) {
		return "has unbalanced brackets"
	}
	if compiled.ipv6.MatchString(inner) {
		a, err := netip.ParseAddr(inner)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "is not a valid IPv6 address"
		}
		return ""
	}
	if bracketed {
		return "has brackets but no IPv6 address inside"
	}
	if strings.Trim(h, "0123456789.") == "" && h != "" {
		if !validIPv4(h) {
			return "is not a valid IPv4 address (four numbers 0-255 without leading zeros)"
		}
		return ""
	}
	if !compiled.hostName.MatchString(h) || len(h) > 253 {
		return "is not a host name or IP address"
	}
	return ""
}

// validIPv4 is dotted decimal with four parts 0-255 and no leading zeros.
func validIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 || p == "" || (len(p) > 1 && p[0] == '0') {
			return false
		}
	}
	return true
}

// mountPointProblem says why p cannot be the NFS mount point on a node, or
// "" when it can. The same rule as settings.nix's checkMountPoint.
func mountPointProblem(p string) string {
	if msg := pathFormProblem(p); msg != "" {
		return msg
	}
	for _, c := range strings.Split(p, "/")[1:] {
		if c == "." || c == ".." {
			return "holds a '.' or '..' component; use a plain path such as /mnt/nfs"
		}
	}
	for _, t := range rules.SystemTrees {
		if p == t || strings.HasPrefix(p, t+"/") {
			return fmt.Sprintf("is inside the system directory %s; use a dedicated directory such as /mnt/nfs", t)
		}
	}
	for _, s := range rules.SystemPaths {
		if p == s || strings.HasPrefix(s, p+"/") {
			return fmt.Sprintf("would hide %s, which the node needs; use a dedicated directory such as /mnt/nfs", s)
		}
	}
	return ""
}

// exportProblem says why p is no NFS export path ("/" or an absolute path
// without "." or ".." components), or "".
func exportProblem(p string) string {
	if p == "/" {
		return ""
	}
	if msg := pathFormProblem(p); msg != "" {
		return msg
	}
	for _, c := range strings.Split(p, "/")[1:] {
		if c == "." || c == ".." {
			return "holds a '.' or '..' component"
		}
	}
	return ""
}

// pathFormProblem says precisely why p does not match the shared path rule
// (PathPattern: an absolute path of letters, digits and ._+- without a
// trailing '/' or '//'), with the corrected path where there is one, or "".
func pathFormProblem(p string) string {
	const chars = "letters, digits and . _ + - between the slashes"
	switch fixed := "/" + strings.Trim(multiSlashRe.ReplaceAllString(p, "/"), "/"); {
	case compiled.path.MatchString(p):
		return ""
	case p == "":
		return "is empty"
	case LooksSecret(p) || !compiled.path.MatchString(fixed):
		return "holds characters a path here may not have; use only " + chars
	case !strings.HasPrefix(p, "/"):
		return msgf("is not absolute (it does not start with '/'); use %s", fixed)
	case strings.Contains(p, "//"):
		return msgf("holds '//'; use single slashes: %s", fixed)
	case strings.HasSuffix(p, "/"):
		return msgf("ends in '/'; remove the trailing slash: %s", fixed)
	}
	return "is not an absolute path; use only " + chars
}

// multiSlashRe is a run of slashes.
var multiSlashRe = regexp.MustCompile(`/{2,}`)

// authorizedKeyForm reports whether line has the form "<type> <base64>
// [comment]" with a known type; stack validation then parses the key.
func authorizedKeyForm(line string) bool {
	f := strings.SplitN(line, " ", 3)
	if len(f) < 2 || !compiled.keyBlob.MatchString(f[1]) || !strings.HasPrefix(f[1], rules.SSHKeyBlobPrefixes[f[0]]) {
		return false
	}
	if n, fixed := rules.SSHKeyBlobLengths[f[0]]; fixed && len(f[1]) != n {
		return false
	}
	for _, t := range rules.SSHKeyTypes {
		if f[0] == t {
			return rules.SSHKeyBlobPrefixes[t] != ""
		}
	}
	return false
}

// systemDir reports whether a local directory is the root or a system
// directory (the state directory may not be one).
func systemDir(p string) bool {
	p = path.Clean(p)
	if p == "/" || p == "." {
		return p == "/"
	}
	for _, t := range rules.SystemTrees {
		if p == t {
			return true
		}
	}
	for _, s := range rules.SystemPaths {
		if p == s {
			return true
		}
	}
	return false
}
