package stack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	// The tz database is linked in so that timezone validation gives the
	// same answer on every machine (time.LoadLocation falls back to it).
	_ "time/tzdata"

	"golang.org/x/crypto/ssh"
)

// Limits enforced by Validate. VM IDs follow the provider and Proxmox
// (bpg/terraform-provider-proxmox v0.69.1 fwprovider/provider.go and
// proxmoxtf/provider/schema.go: IntBetween(100, 999999999)); the provider
// puts no upper bound on a disk (proxmoxtf/resource/vm/disk/schema.go:
// IntAtLeast(1)), so MaxDiskSizeGB is nixlab's own bound (64 TiB: the GPT
// disk label and ext4 with 4 KiB blocks both go far beyond it).
const (
	MinVMID           = 100
	MaxVMID           = 999999999
	MinDiskSizeGB     = 8
	MaxDiskSizeGB     = 65536
	MinRootSizeGB     = 6
	MinInstallTimeout = 5
	MaxInstallTimeout = 720
	MaxCores          = 128
	MinTemplateMemory = 2048
	MinNodeMemoryMB   = 1024
	MaxMemoryMB       = 4 * 1024 * 1024
	// MaxNodes bounds the nodes of all groups together: clones of one
	// template run one at a time, so 100 nodes already take hours.
	MaxNodes = 100
	// MaxNodeGroups bounds the number of node groups.
	MaxNodeGroups = 20
	// MaxClusterNameLength and MaxGroupNameLength keep VM names
	// (<clusterName>-<group>-<i>) within a 63-character DNS label.
	MaxClusterNameLength = 40
	MaxGroupNameLength   = 20
	// MaxStaticPrefixBits is the longest static network prefix: a /30
	// holds the gateway and one node; /31 and /32 have no room.
	MaxStaticPrefixBits = 30
)

// MaxSwapSizeGB bounds template.swapSizeGb; it comes from the rule set
// shared with settings.nix (nixos/lib/rules.json).
var MaxSwapSizeGB = rules.MaxSwapSizeGB

// KeyError is one invalid setting: the full config key and what is wrong,
// including what would be valid. File and Line, when set, say where the key
// is in a stack file (StackFile.Locate fills them).
type KeyError struct {
	Key  string
	Msg  string
	File string
	Line int
}

func (e *KeyError) Error() string {
	key := e.Key
	if LooksSecret(key) { // a secret pasted as a node group name, say
		key = HiddenValue
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, key, e.Msg)
	}
	return key + ": " + e.Msg
}

var (
	dnsLabelRe  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	storageIDRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`)
	bridgeRe    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,14}$`)
	apiTokenRe  = regexp.MustCompile(`^[^@\s!=]+@[^@\s!=]+![A-Za-z][A-Za-z0-9._-]*=[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	vmNameRe    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$`)
)

// Validate checks every setting and returns all problems at once, each a
// *KeyError naming the `nixlab:` key, sorted by key. It expects defaults to
// be applied (LoadConfig does both) and touches nothing outside the local
// file system (it checks that referenced files exist). No message repeats a
// secret: not the API token, not a password in the endpoint, not key
// material pasted where a path or public key belongs.
func (c *Config) Validate() error {
	v := &validator{}
	c.validateCluster(v)
	c.validateProxmox(v)
	c.validateTemplate(v)
	c.validateNFS(v)
	c.validateNetwork(v)
	c.validateNodeGroups(v)
	c.validateKubernetes(v)
	c.validateUpdates(v)
	return v.err()
}

type validator struct{ errs []*KeyError }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, &KeyError{Key: Namespace + ":" + key, Msg: msgf(format, args...)})
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	sort.SliceStable(v.errs, func(i, j int) bool { return v.errs[i].Key < v.errs[j].Key })
	errs := make([]error, len(v.errs))
	for i, e := range v.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// intRange reports a value outside [lo, hi].
func (v *validator) intRange(key string, val, lo, hi int, unit string) {
	if val < lo || val > hi {
		v.add(key, "%d is out of range; use %d to %d%s", val, lo, hi, unit)
	}
}

// fileExists reports a path that is not a readable regular file. The
// message names the path but never the operating system's error text.
func (v *validator) fileExists(key, path, what string) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.add(key, "%s %q does not exist; fix the path or remove the key", what, path)
	case err != nil:
		v.add(key, "%s %q cannot be read; fix the path or its permissions", what, path)
	case !st.Mode().IsRegular():
		v.add(key, "%s %q is not a regular file; point it at a file", what, path)
	}
}

// looksLikeKeyMaterial reports text that is a key or token, not a path or
// a name: it is never echoed.
func looksLikeKeyMaterial(s string) bool {
	return LooksSecret(s) || strings.ContainsAny(s, "\r\n") || len(s) > 1024
}

// secretInPath reports (once) a path setting that holds what looks like
// key material or a token; the caller then checks nothing else.
func (v *validator) secretInPath(key, path string) bool {
	if !looksLikeKeyMaterial(path) {
		return false
	}
	v.add(key, "holds what looks like key material or a token instead of a file path (not printed); remove it from the stack config and give a file's path")
	return true
}

func (c *Config) validateCluster(v *validator) {
	if !dnsLabelRe.MatchString(c.ClusterName) || len(c.ClusterName) > MaxClusterNameLength {
		v.add("clusterName", "%q is not a valid name; use lower-case letters, digits and '-', at most %d characters, starting and ending with a letter or digit", c.ClusterName, MaxClusterNameLength)
	}
	c.validateAdminUser(v)
	c.validateTimezone(v)
	for i, k := range c.ExtraAuthorizedKeys {
		if msg := authorizedKeyProblem(k); msg != "" {
			v.add(fmt.Sprintf("extraAuthorizedKeys[%d]", i), "%s", msg)
		}
	}
	c.validateStateDir(v)
	if c.APIToken == "" {
		v.add("apiToken", "is not set; run `pulumi config set --secret nixlab:apiToken 'user@realm!tokenid=uuid'`")
	} else if !apiTokenRe.MatchString(c.APIToken.Reveal()) {
		// Never echo the value: it is a secret.
		v.add("apiToken", "is not a Proxmox API token; the form is user@realm!tokenid=uuid (e.g. root@pam!nixlab=0123abcd-...), as shown when the token is created")
	}
}

func (c *Config) validateAdminUser(v *validator) {
	switch {
	case c.AdminUser == "root":
		v.add("adminUser", "root cannot be the admin user (root login over SSH is disabled); use an ordinary name such as nixos")
	case !compiled.user.MatchString(c.AdminUser):
		v.add("adminUser", "%q is not a valid user name; use lower-case letters, digits, '_' and '-', starting with a letter or '_', at most 32 characters", c.AdminUser)
	case reservedUser(c.AdminUser):
		v.add("adminUser", "%q is a system account on NixOS nodes; use an ordinary name such as nixos or ops", c.AdminUser)
	}
}

// validateTimezone checks the form (shared with settings.nix) and that the
// tz database knows the zone. time/tzdata is linked in, so the answer is the
// same on every machine, with or without a system zoneinfo directory.
func (c *Config) validateTimezone(v *validator) {
	const fix = "use a tz database name such as UTC or Europe/Berlin (see `timedatectl list-timezones`)"
	if !compiled.timezone.MatchString(c.Timezone) || c.Timezone == "Local" {
		v.add("timezone", "%q is not an IANA time zone name; %s", c.Timezone, fix)
		return
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		v.add("timezone", "%q is not a known time zone; %s", c.Timezone, fix)
	}
}

// authorizedKeyProblem says why line is not one OpenSSH public key, or "".
// The key text is never repeated.
func authorizedKeyProblem(line string) string {
	const fix = "use one line as in ~/.ssh/id_ed25519.pub (\"ssh-ed25519 AAAA... comment\")"
	line = strings.TrimSpace(line)
	if looksLikeKeyMaterial(line) && strings.Contains(line, "PRIVATE") {
		return "is a private key (not printed); remove it from the stack config at once and " + fix
	}
	if !authorizedKeyForm(line) {
		return "is not an OpenSSH public key (wrong type, truncated or extra text); " + fix
	}
	pub, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil || pub.Type() != strings.Fields(line)[0] || len(strings.TrimSpace(string(rest))) > 0 {
		return "is not a complete OpenSSH public key (damaged or truncated); " + fix
	}
	return ""
}

func (c *Config) validateStateDir(v *validator) {
	switch {
	case c.StateDir == "" || strings.ContainsAny(c.StateDir, "\n\x00"):
		v.add("stateDir", "must be a directory path such as .nixlab")
		return
	case v.secretInPath("stateDir", c.StateDir):
		return
	case systemDir(c.StateDir):
		v.add("stateDir", "%q is a system directory; use a directory of its own such as .nixlab", c.StateDir)
		return
	}
	if st, err := os.Stat(c.StateDir); err == nil && !st.IsDir() {
		v.add("stateDir", "%q is an existing file, not a directory; use another path such as .nixlab", c.StateDir)
	}
}

func (c *Config) validateTemplate(v *validator) {
	t := c.Template
	v.intRange("template.vmId", t.VMID, MinVMID, MaxVMID, "")
	if !vmNameRe.MatchString(t.Name) {
		v.add("template.name", "%q is not a valid VM name; use letters, digits, '-' and '.'", t.Name)
	}
	v.intRange("template.diskSizeGb", t.DiskSizeGB, MinDiskSizeGB, MaxDiskSizeGB, " GB")
	swap := 0
	if t.SwapSizeGB != nil {
		swap = *t.SwapSizeGB
	}
	v.intRange("template.swapSizeGb", swap, 0, MaxSwapSizeGB, " GB (0 = no swap)")
	if swap >= 0 && swap <= MaxSwapSizeGB && t.DiskSizeGB >= MinDiskSizeGB && t.DiskSizeGB <= MaxDiskSizeGB && t.DiskSizeGB-swap < MinRootSizeGB {
		v.add("template.swapSizeGb", "%d GB of swap leaves less than %d GB for / on a %d GB disk; lower the swap or raise template.diskSizeGb", swap, MinRootSizeGB, t.DiskSizeGB)
	}
	v.intRange("template.installTimeoutMinutes", t.InstallTimeoutMinutes, MinInstallTimeout, MaxInstallTimeout, " minutes")
	v.intRange("template.cores", t.Cores, 1, MaxCores, "")
	v.intRange("template.memoryMb", t.MemoryMB, MinTemplateMemory, MaxMemoryMB, " MB (the live installer runs from RAM)")
	if t.ISOPath != "" && !v.secretInPath("template.isoPath", t.ISOPath) {
		v.fileExists("template.isoPath", t.ISOPath, "prebuilt ISO")
		if !strings.HasSuffix(t.ISOPath, ".iso") {
			v.add("template.isoPath", "%q does not end in .iso; point it at the installer ISO (result/iso/*.iso)", t.ISOPath)
		}
	}
	for i, m := range t.ExtraModules {
		key := fmt.Sprintf("template.extraModules[%d]", i)
		if v.secretInPath(key, m) {
			continue
		}
		if !strings.HasSuffix(m, ".nix") {
			v.add(key, "%q is not a .nix file; list NixOS module files", m)
			continue
		}
		v.fileExists(key, m, "NixOS module")
	}
}

func (c *Config) validateNFS(v *validator) {
	n := c.NFS
	if n == nil {
		return
	}
	if n.Server == "" {
		v.add("nfs.server", "is not set; use the NAS address, e.g. 192.168.1.4 (or remove nixlab:nfs for no NFS)")
	} else if msg := hostProblem(n.Server); msg != "" {
		v.add("nfs.server", "%q %s; use the NAS address, e.g. 192.168.1.4, nas.lab.example or fd00::4", n.Server, msg)
	}
	if n.Export == "" {
		v.add("nfs.export", "is not set; use the path the NAS exports, e.g. /volume1/k8s-cluster-storage")
	} else if msg := exportProblem(n.Export); msg != "" {
		v.add("nfs.export", "%q %s; use the path the NAS exports, e.g. /volume1/k8s-cluster-storage", n.Export, msg)
	}
	if msg := mountPointProblem(n.MountPoint); msg != "" {
		v.add("nfs.mountPoint", "%q %s", n.MountPoint, msg)
	}
	for i, o := range n.Options {
		key := fmt.Sprintf("nfs.options[%d]", i)
		if !compiled.nfsOption.MatchString(o) {
			v.add(key, "%q is not a mount option; give one option per list item, e.g. nfsvers=4.1", o)
		}
		for _, bad := range rules.ObsoleteNFSOptions {
			if o == bad {
				v.add(key, "%q is obsolete on current kernels and ignored; remove it", o)
			}
		}
	}
}
