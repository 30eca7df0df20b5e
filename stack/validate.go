package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nixlab/nixlab/components"
)

// Limits enforced by Validate.
const (
	MinVMID           = 100
	MaxVMID           = 999999999
	MinDiskSizeGB     = 8
	MaxDiskSizeGB     = 65536
	MaxSwapSizeGB     = 64
	MinRootSizeGB     = 6
	MinInstallTimeout = 5
	MaxInstallTimeout = 720
	MaxCores          = 128
	MinTemplateMemory = 2048
	MinNodeMemoryMB   = 1024
	MaxMemoryMB       = 4 * 1024 * 1024
)

// KeyError is one invalid setting: the full config key and what is wrong,
// including what would be valid.
type KeyError struct {
	Key string
	Msg string
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Msg }

var (
	dnsLabelRe   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	hostnameRe   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	storageIDRe  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`)
	bridgeRe     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,14}$`)
	userRe       = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	timezoneRe   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`)
	apiTokenRe   = regexp.MustCompile(`^[^@\s!=]+@[^@\s!=]+![A-Za-z][A-Za-z0-9._-]*=[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	sshKeyRe     = regexp.MustCompile(`^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\n]*)?$`)
	exportPathRe = regexp.MustCompile(`^/[A-Za-z0-9._/+-]*$`)
	nfsOptionRe  = regexp.MustCompile(`^[A-Za-z0-9._-]+(=[A-Za-z0-9._:/-]+)?$`)
	vmNameRe     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$`)
)

// reservedMountPoints may not be used as the NFS mount point.
var reservedMountPoints = map[string]bool{
	"/": true, "/boot": true, "/nix": true, "/nix/store": true, "/etc": true, "/usr": true,
	"/var": true, "/run": true, "/proc": true, "/sys": true, "/dev": true, "/home": true, "/tmp": true,
}

// Validate checks every setting and returns all problems at once, each a
// *KeyError naming the `nixlab:` key, sorted by key. It expects defaults to
// be applied (LoadConfig does both) and touches nothing outside the local
// file system (it checks that referenced files exist).
func (c *Config) Validate() error {
	v := &validator{}
	c.validateCluster(v)
	c.validateProxmox(v)
	c.validateTemplate(v)
	c.validateNFS(v)
	c.validateNetwork(v)
	c.validateNodeGroups(v)
	return v.err()
}

type validator struct{ errs []*KeyError }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, &KeyError{Key: "nixlab:" + key, Msg: fmt.Sprintf(format, args...)})
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

func (v *validator) fileExists(key, path, what string) {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		v.add(key, "%s %q cannot be read (%v); fix the path or remove the key", what, path, err)
	case !st.Mode().IsRegular():
		v.add(key, "%s %q is not a regular file; point it at a file", what, path)
	}
}

func (c *Config) validateCluster(v *validator) {
	if !dnsLabelRe.MatchString(c.ClusterName) || len(c.ClusterName) > 40 {
		v.add("clusterName", "%q is not a valid name; use lower-case letters, digits and '-', at most 40 characters, starting and ending with a letter or digit", c.ClusterName)
	}
	if !userRe.MatchString(c.AdminUser) {
		v.add("adminUser", "%q is not a valid user name; use lower-case letters, digits, '_' and '-', starting with a letter or '_'", c.AdminUser)
	} else if c.AdminUser == "root" {
		v.add("adminUser", "root cannot be the admin user (root login over SSH is disabled); use an ordinary name such as nixos")
	}
	if !timezoneRe.MatchString(c.Timezone) {
		v.add("timezone", "%q is not an IANA time zone name; use e.g. UTC or Europe/Berlin", c.Timezone)
	}
	for i, k := range c.ExtraAuthorizedKeys {
		if !sshKeyRe.MatchString(strings.TrimSpace(k)) {
			v.add(fmt.Sprintf("extraAuthorizedKeys[%d]", i), "not an OpenSSH public key; use one line as in ~/.ssh/id_ed25519.pub (\"ssh-ed25519 AAAA... comment\")")
		}
	}
	if c.StateDir == "" || strings.ContainsAny(c.StateDir, "\n\x00") {
		v.add("stateDir", "must be a directory path such as .nixlab")
	}
	if c.APIToken == "" {
		v.add("apiToken", "is not set; run `pulumi config set --secret nixlab:apiToken 'user@realm!tokenid=uuid'`")
	} else if !apiTokenRe.MatchString(c.APIToken.Reveal()) {
		// Never echo the value: it is a secret.
		v.add("apiToken", "is not a Proxmox API token; the form is user@realm!tokenid=uuid (e.g. root@pam!nixlab=0123abcd-...), as shown when the token is created")
	}
}

func (c *Config) validateProxmox(v *validator) {
	p := c.Proxmox
	if p.Endpoint == "" {
		v.add("proxmox.endpoint", "is not set; use the API URL, e.g. https://192.168.1.5:8006/")
	} else if u, err := url.Parse(p.Endpoint); err != nil || u.Scheme != "https" || u.Hostname() == "" || u.RawQuery != "" {
		v.add("proxmox.endpoint", "%q is not an https URL with a host; use e.g. https://192.168.1.5:8006/", p.Endpoint)
	}
	if !hostnameRe.MatchString(p.Node) {
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
	if !validHost(s.Host) {
		v.add("proxmox.ssh.host", "%q is not a host name or IP address; set the Proxmox host's SSH address", s.Host)
	}
	if !userRe.MatchString(s.User) {
		v.add("proxmox.ssh.user", "%q is not a user name; use root (qm needs it)", s.User)
	}
	v.intRange("proxmox.ssh.port", s.Port, 1, 65535, "")
	if s.HostKey != "" && !sshKeyRe.MatchString(strings.TrimSpace(s.HostKey)) {
		v.add("proxmox.ssh.hostKey", "not an OpenSSH public key; use the line from /etc/ssh/ssh_host_ed25519_key.pub on the host")
	}
	if s.PrivateKeyFile != "" {
		v.fileExists("proxmox.ssh.privateKeyFile", s.PrivateKeyFile, "private key file")
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
	if swap >= 0 && swap <= MaxSwapSizeGB && t.DiskSizeGB >= MinDiskSizeGB && t.DiskSizeGB-swap < MinRootSizeGB {
		v.add("template.swapSizeGb", "%d GB of swap leaves less than %d GB for / on a %d GB disk; lower the swap or raise template.diskSizeGb", swap, MinRootSizeGB, t.DiskSizeGB)
	}
	v.intRange("template.installTimeoutMinutes", t.InstallTimeoutMinutes, MinInstallTimeout, MaxInstallTimeout, " minutes")
	v.intRange("template.cores", t.Cores, 1, MaxCores, "")
	v.intRange("template.memoryMb", t.MemoryMB, MinTemplateMemory, MaxMemoryMB, " MB (the live installer runs from RAM)")
	if t.ISOPath != "" {
		v.fileExists("template.isoPath", t.ISOPath, "prebuilt ISO")
		if !strings.HasSuffix(t.ISOPath, ".iso") {
			v.add("template.isoPath", "%q does not end in .iso; point it at the installer ISO (result/iso/*.iso)", t.ISOPath)
		}
	}
	for i, m := range t.ExtraModules {
		key := fmt.Sprintf("template.extraModules[%d]", i)
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
	if !validHost(n.Server) {
		v.add("nfs.server", "%q is not a host name or IP address; use the NAS address, e.g. 192.168.1.4", n.Server)
	}
	if !exportPathRe.MatchString(n.Export) || strings.Contains(n.Export, "//") {
		v.add("nfs.export", "%q is not an absolute export path; use the path the NAS exports, e.g. /volume1/k8s-cluster-storage", n.Export)
	}
	mp := strings.TrimSuffix(n.MountPoint, "/")
	switch {
	case !exportPathRe.MatchString(n.MountPoint):
		v.add("nfs.mountPoint", "%q is not an absolute path; use e.g. /mnt/nfs", n.MountPoint)
	case reservedMountPoints[mp] || reservedMountPoints[n.MountPoint]:
		v.add("nfs.mountPoint", "%q is a system directory; use a dedicated directory such as /mnt/nfs", n.MountPoint)
	}
	for i, o := range n.Options {
		if !nfsOptionRe.MatchString(o) {
			v.add(fmt.Sprintf("nfs.options[%d]", i), "%q is not a mount option; give one option per list item, e.g. nfsvers=4.1", o)
		}
		if o == "intr" || o == "nointr" {
			v.add(fmt.Sprintf("nfs.options[%d]", i), "%q is obsolete on current kernels and ignored; remove it", o)
		}
	}
}

func (c *Config) validateNetwork(v *validator) {
	n := c.Network
	for i, d := range n.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			v.add(fmt.Sprintf("network.dns[%d]", i), "%q is not an IP address; list DNS server addresses", d)
		}
	}
	if n.Domain != "" && !hostnameRe.MatchString(n.Domain) {
		v.add("network.domain", "%q is not a DNS domain; use e.g. lab.example", n.Domain)
	}
	switch n.Mode {
	case NetworkDHCP:
		if n.CIDR != "" || n.Gateway != "" {
			v.add("network.mode", "is dhcp but cidr/gateway are set; set mode: static to use them, or remove them")
		}
	case NetworkStatic:
		prefix, err := netip.ParsePrefix(n.CIDR)
		if err != nil || !prefix.Addr().Is4() {
			v.add("network.cidr", "%q is not an IPv4 network; use e.g. 192.168.1.0/24", n.CIDR)
			return
		}
		gw, err := netip.ParseAddr(n.Gateway)
		switch {
		case err != nil || !gw.Is4():
			v.add("network.gateway", "%q is not an IPv4 address; use the router's address, e.g. 192.168.1.1", n.Gateway)
		case !prefix.Masked().Contains(gw):
			v.add("network.gateway", "%s is outside network.cidr %s; use an address inside it", gw, prefix.Masked())
		}
	default:
		v.add("network.mode", "%q is not a network mode; use dhcp or static", n.Mode)
	}
}

func (c *Config) validateNodeGroups(v *validator) {
	names := sortedGroupNames(c.NodeGroups)
	for _, name := range names {
		g := c.NodeGroups[name]
		key := "nodeGroups." + name
		if !dnsLabelRe.MatchString(name) || len(name) > 20 {
			v.add(key, "group name %q is not a DNS label; use lower-case letters, digits and '-' (at most 20 characters)", name)
		}
		if g.Role != RoleControlPlane && g.Role != RoleWorker {
			v.add(key+".role", "%q is not a role; use %s or %s", g.Role, RoleControlPlane, RoleWorker)
		}
		if g.Count < 0 {
			v.add(key+".count", "%d is negative; use 0 or more", g.Count)
		}
		v.intRange(key+".vmIdStart", g.VMIDStart, MinVMID, MaxVMID-max(g.Count, 1)+1, "")
		v.intRange(key+".cores", g.Cores, 1, MaxCores, "")
		v.intRange(key+".memoryMb", g.MemoryMB, MinNodeMemoryMB, MaxMemoryMB, " MB")
		if g.DiskSizeGB < c.Template.DiskSizeGB {
			v.add(key+".diskSizeGb", "%d GB is smaller than the template's %d GB disk; a clone can only grow, use %d or more", g.DiskSizeGB, c.Template.DiskSizeGB, c.Template.DiskSizeGB)
		} else {
			v.intRange(key+".diskSizeGb", g.DiskSizeGB, MinDiskSizeGB, MaxDiskSizeGB, " GB")
		}
		if g.HostOffset < 0 {
			v.add(key+".hostOffset", "%d is negative; use the host number of the group's first node inside network.cidr", g.HostOffset)
		}
		if g.Count > 0 && g.VMIDStart <= c.Template.VMID && c.Template.VMID <= g.VMIDStart+g.Count-1 {
			v.add(key+".vmIdStart", "VM IDs %d-%d include the template's VM ID %d; move the group or nixlab:template.vmId", g.VMIDStart, g.VMIDStart+g.Count-1, c.Template.VMID)
		}
	}
	c.validateClusterShape(v, names)
	for i, a := range names {
		for _, b := range names[i+1:] {
			ga, gb := c.NodeGroups[a], c.NodeGroups[b]
			if ga.Count > 0 && gb.Count > 0 && ga.VMIDStart <= gb.VMIDStart+gb.Count-1 && gb.VMIDStart <= ga.VMIDStart+ga.Count-1 {
				v.add("nodeGroups."+b+".vmIdStart", "VM IDs %d-%d overlap group %s (%d-%d); give each group its own range", gb.VMIDStart, gb.VMIDStart+gb.Count-1, a, ga.VMIDStart, ga.VMIDStart+ga.Count-1)
			}
		}
	}
}

// validateClusterShape checks what spans groups: a control plane exists,
// VM names fit DNS, and static addresses are usable and distinct.
func (c *Config) validateClusterShape(v *validator, names []string) {
	controlPlanes := 0
	for _, name := range names {
		g := c.NodeGroups[name]
		if g.Role == RoleControlPlane && g.Count > 0 {
			controlPlanes += g.Count
		}
		if longest := fmt.Sprintf("%s-%s-%d", c.ClusterName, name, max(g.Count, 1)); len(longest) > 63 {
			v.add("nodeGroups."+name, "VM name %q is longer than 63 characters; shorten nixlab:clusterName or the group name", longest)
		}
	}
	if controlPlanes == 0 {
		v.add("nodeGroups", "no control-plane node; add a group with role: %s and count: 1 (or 3 for high availability)", RoleControlPlane)
	}
	if c.Network.Mode != NetworkStatic {
		for _, name := range names {
			if c.NodeGroups[name].HostOffset != 0 {
				v.add("nodeGroups."+name+".hostOffset", "is only used with network.mode: static; remove it or switch to static addressing")
			}
		}
		return
	}
	prefix, err := netip.ParsePrefix(c.Network.CIDR)
	if err != nil || !prefix.Addr().Is4() {
		return // reported by validateNetwork
	}
	prefix = prefix.Masked()
	gw, _ := netip.ParseAddr(c.Network.Gateway)
	usable := (1 << (32 - prefix.Bits())) - 2
	for i, name := range names {
		g := c.NodeGroups[name]
		key := "nodeGroups." + name + ".hostOffset"
		if g.Count == 0 {
			continue
		}
		first, last := g.HostOffset, g.HostOffset+g.Count-1
		if g.HostOffset < 1 || last > usable {
			v.add(key, "hosts %d-%d are outside %s (usable hosts 1-%d); choose an offset so that all %d nodes fit", first, last, prefix, usable, g.Count)
			continue
		}
		if gw.IsValid() && prefix.Contains(gw) {
			if host := hostNumber(prefix, gw); host >= first && host <= last {
				v.add(key, "node addresses %s-%s include the gateway %s; move the offset past it", hostAddr(prefix, first), hostAddr(prefix, last), gw)
			}
		}
		for _, other := range names[i+1:] {
			o := c.NodeGroups[other]
			if o.Count > 0 && first <= o.HostOffset+o.Count-1 && o.HostOffset <= last {
				v.add("nodeGroups."+other+".hostOffset", "addresses %s-%s overlap group %s (%s-%s); give each group its own range", hostAddr(prefix, o.HostOffset), hostAddr(prefix, o.HostOffset+o.Count-1), name, hostAddr(prefix, first), hostAddr(prefix, last))
			}
		}
	}
}

// hostNumber is the offset of addr inside prefix.
func hostNumber(prefix netip.Prefix, addr netip.Addr) int {
	a, b := addr.As4(), prefix.Addr().As4()
	return int(uint32(a[0])<<24|uint32(a[1])<<16|uint32(a[2])<<8|uint32(a[3])) -
		int(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]))
}

// hostAddr is host number n inside prefix (without the prefix length), for
// messages about ranges already known to fit.
func hostAddr(prefix netip.Prefix, n int) string {
	addr, err := components.StaticIPv4(prefix.String(), n)
	if err != nil {
		return fmt.Sprintf("host %d", n)
	}
	return strings.SplitN(addr, "/", 2)[0]
}

// sortedGroupNames returns the node group names in a stable order.
func sortedGroupNames(groups map[string]NodeGroupConfig) []string {
	names := make([]string, 0, len(groups))
	for n := range groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// validHost accepts an IP address or a DNS host name.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if _, err := strconv.Atoi(strings.ReplaceAll(h, ".", "")); err == nil {
		return false // looks like a malformed IPv4 address
	}
	return hostnameRe.MatchString(h) && len(h) <= 253
}
