package stack

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/nixlab/nixlab/components"
)

// validateNetwork checks nixlab:network: DNS servers, the search domain and,
// in static mode, a network with room for the gateway and a node and a
// gateway that is a host address inside it.
func (c *Config) validateNetwork(v *validator) {
	n := c.Network
	for i, d := range n.DNS {
		if a, err := netip.ParseAddr(d); err != nil || a.Zone() != "" {
			v.add(fmt.Sprintf("network.dns[%d]", i), "%q is not an IP address; list DNS server addresses", d)
		}
	}
	if n.Domain != "" && (!compiled.hostName.MatchString(n.Domain) || len(n.Domain) > 253) {
		v.add("network.domain", "%q is not a DNS domain; use e.g. lab.example", n.Domain)
	}
	switch n.Mode {
	case NetworkDHCP:
		if n.CIDR != "" || n.Gateway != "" {
			v.add("network.mode", "is dhcp but cidr/gateway are set; set mode: static to use them, or remove them")
		}
	case NetworkStatic:
		c.validateStaticNetwork(v)
	default:
		v.add("network.mode", "%q is not a network mode; use dhcp or static", n.Mode)
	}
}

// requiredStatic is the message for a setting static mode needs.
const requiredStatic = "is required when network.mode is static"

// validateStaticNetwork checks network.cidr and network.gateway in static
// mode, reporting every missing or bad one at once.
func (c *Config) validateStaticNetwork(v *validator) {
	n := c.Network
	prefix, prefixOK := netip.Prefix{}, false
	switch p, err := netip.ParsePrefix(n.CIDR); {
	case n.CIDR == "":
		v.add("network.cidr", "%s; give the nodes' IPv4 network, e.g. 192.168.1.0/24", requiredStatic)
	case err != nil || !p.Addr().Is4():
		v.add("network.cidr", "%q is not an IPv4 network; use e.g. 192.168.1.0/24", n.CIDR)
	case p.Masked() != p:
		v.add("network.cidr", "%q has host bits set; use %s (the network address)", n.CIDR, p.Masked())
	case p.Bits() > MaxStaticPrefixBits:
		v.add("network.cidr", "/%d leaves no address for both the gateway and a node; use a prefix of /%d or shorter, e.g. 192.168.1.0/24", p.Bits(), MaxStaticPrefixBits)
	default:
		prefix, prefixOK = p, true
	}
	if n.Gateway == "" {
		v.add("network.gateway", "%s; give the router's address, e.g. 192.168.1.1", requiredStatic)
		return
	}
	gw, err := netip.ParseAddr(n.Gateway)
	switch {
	case err != nil || !gw.Is4():
		v.add("network.gateway", "%q is not an IPv4 address; use the router's address, e.g. 192.168.1.1", n.Gateway)
	case !prefixOK:
		// Nothing to compare the gateway with; network.cidr is reported.
	case !prefix.Contains(gw):
		v.add("network.gateway", "%s is outside network.cidr %s; use an address inside it", gw, prefix)
	case gw == prefix.Addr():
		v.add("network.gateway", "%s is the network address of %s, not a host; use the router's address, e.g. %s", gw, prefix, hostAddr(prefix, 1))
	case hostNumber(prefix, gw) == hostCount(prefix)+1:
		v.add("network.gateway", "%s is the broadcast address of %s, not a host; use the router's address, e.g. %s", gw, prefix, hostAddr(prefix, 1))
	}
}

// staticPrefix parses the static network; a network with host bits set
// (192.168.1.7/24) is refused by validateStaticNetwork and not usable.
func staticPrefix(cidr string) (netip.Prefix, bool) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() || prefix.Masked() != prefix {
		return netip.Prefix{}, false
	}
	return prefix, true
}

// hostCount is the number of usable host addresses of an IPv4 prefix of at
// most MaxStaticPrefixBits bits (all but the network and broadcast address).
func hostCount(prefix netip.Prefix) int { return (1 << (32 - prefix.Bits())) - 2 }

// validateNodeGroups checks nixlab:nodeGroups: names, roles, bounded
// counts, VM ID ranges (inside the provider's range, clear of each other
// and of the template), sizes and static addresses.
func (c *Config) validateNodeGroups(v *validator) {
	names := sortedGroupNames(c.NodeGroups)
	if len(names) > MaxNodeGroups {
		v.add("nodeGroups", "has %d groups; use at most %d", len(names), MaxNodeGroups)
		return
	}
	total := 0
	for _, name := range names {
		g := c.NodeGroups[name]
		key := "nodeGroups." + name
		if !dnsLabelRe.MatchString(name) || len(name) > MaxGroupNameLength {
			v.add(key, "group name %q is not a DNS label; use lower-case letters, digits and '-' (at most %d characters)", name, MaxGroupNameLength)
		}
		switch g.Role {
		case "":
			v.add(key+".role", "is not set; use %s or %s", RoleControlPlane, RoleWorker)
		case RoleControlPlane, RoleWorker:
		default:
			v.add(key+".role", "%q is not a role; use %s or %s", g.Role, RoleControlPlane, RoleWorker)
		}
		countOK := g.Count >= 0 && g.Count <= MaxNodes
		if !countOK {
			v.add(key+".count", "%d is out of range; use 0 to %d nodes", g.Count, MaxNodes)
		} else {
			total += g.Count
		}
		if g.VMIDStart == 0 {
			v.add(key+".vmIdStart", "is not set; give the VM ID of the group's node 1 (%d to %d), a range free of other groups and the template", MinVMID, MaxVMID)
		} else if countOK {
			v.intRange(key+".vmIdStart", g.VMIDStart, MinVMID, MaxVMID-max(g.Count, 1)+1, "")
		}
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
		if countOK && g.Count > 0 && g.VMIDStart <= c.Template.VMID && c.Template.VMID <= g.VMIDStart+g.Count-1 {
			v.add(key+".vmIdStart", "VM IDs %d-%d include the template's VM ID %d; move the group or nixlab:template.vmId", g.VMIDStart, g.VMIDStart+g.Count-1, c.Template.VMID)
		}
	}
	if total > MaxNodes {
		v.add("nodeGroups", "%d nodes in all; use at most %d", total, MaxNodes)
	}
	c.validateClusterShape(v, names)
	for i, a := range names {
		for _, b := range names[i+1:] {
			ga, gb := c.NodeGroups[a], c.NodeGroups[b]
			if !countInRange(ga.Count) || !countInRange(gb.Count) {
				continue
			}
			if ga.Count > 0 && gb.Count > 0 && ga.VMIDStart <= gb.VMIDStart+gb.Count-1 && gb.VMIDStart <= ga.VMIDStart+ga.Count-1 {
				v.add("nodeGroups."+b+".vmIdStart", "VM IDs %d-%d overlap group %s (%d-%d); give each group its own range", gb.VMIDStart, gb.VMIDStart+gb.Count-1, a, ga.VMIDStart, ga.VMIDStart+ga.Count-1)
			}
		}
	}
}

func countInRange(n int) bool { return n >= 0 && n <= MaxNodes }

// validateClusterShape checks what spans groups: a control plane exists,
// VM names fit DNS, and static addresses are usable and distinct.
func (c *Config) validateClusterShape(v *validator, names []string) {
	controlPlanes := 0
	for _, name := range names {
		g := c.NodeGroups[name]
		if !countInRange(g.Count) {
			continue
		}
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
	for _, name := range names {
		if g := c.NodeGroups[name]; g.HostOffset == 0 && g.Count > 0 && countInRange(g.Count) {
			v.add("nodeGroups."+name+".hostOffset", "%s; give the host number of the group's first node inside network.cidr, 1 or more (e.g. hostOffset: 10 for .10 onwards)", requiredStatic)
		}
	}
	prefix, ok := staticPrefix(c.Network.CIDR)
	if !ok || prefix.Bits() > MaxStaticPrefixBits {
		return // reported by validateStaticNetwork
	}
	gw, _ := netip.ParseAddr(c.Network.Gateway)
	usable := hostCount(prefix)
	for i, name := range names {
		g := c.NodeGroups[name]
		key := "nodeGroups." + name + ".hostOffset"
		if g.Count <= 0 || !countInRange(g.Count) || g.HostOffset == 0 {
			continue
		}
		first, last := g.HostOffset, g.HostOffset+g.Count-1
		if g.HostOffset < 1 || last > usable {
			v.add(key, "hosts %d-%d are outside %s (usable hosts 1-%d); choose an offset so that all %d nodes fit", first, last, prefix, usable, g.Count)
			continue
		}
		if gw.Is4() && prefix.Contains(gw) {
			if host := hostNumber(prefix, gw); host >= first && host <= last {
				v.add(key, "node addresses %s-%s include the gateway %s; move the offset past it", hostAddr(prefix, first), hostAddr(prefix, last), gw)
			}
		}
		for _, other := range names[i+1:] {
			o := c.NodeGroups[other]
			if o.Count > 0 && countInRange(o.Count) && first <= o.HostOffset+o.Count-1 && o.HostOffset <= last {
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
