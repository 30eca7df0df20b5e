package stack

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Limits of nixlab:kubernetes, each from the component that enforces it
// (k8s.io/kubernetes v1.35.4):
//   - NodeCIDRMaskSize: kube-controller-manager gives every node a /24 of
//     the pod network (cmd/kube-controller-manager/app/core.go,
//     defaultNodeMaskCIDRIPv4 = 24; kubeadm sets no other), so a pod CIDR
//     must be /24 or shorter (kubeadm ValidatePodSubnetNodeMask: "the size
//     of pod subnet ... is smaller than the size of node subnet").
//   - MinPodCIDRBits: kubeadm refuses a pod CIDR more than 16 bits shorter
//     than the node mask (ValidatePodSubnetNodeMask,
//     constants.PodSubnetNodeMaskMaxDiff = 16): /8 at the shortest.
//   - MinServiceCIDRBits: kube-apiserver refuses a service range of more
//     than 2^20 addresses (cmd/kube-apiserver/app/options/validation.go,
//     validateMaxCIDRRange with maxCIDRBits = 20: "for 32-bit addresses,
//     the mask must be >= 12"), as does kubeadm (ValidateServiceSubnetSize,
//     constants.MaximumBitsForServiceSubnet = 20).
//   - MaxServiceCIDRBits: kubeadm gives CoreDNS the 10th address of the
//     service range (cmd/kubeadm/app/constants GetDNSIP,
//     netutils.GetIndexedIP(cidr, 10)), so the range needs at least 11
//     addresses: /28 at the longest.
//   - MinKubernetesMinor: nixlab renders kubeadm.k8s.io/v1beta4 configs,
//     which kubeadm reads from v1.31 on (cmd/kubeadm/app/apis/kubeadm/
//     v1beta4/doc.go).
const (
	NodeCIDRMaskSize   = 24
	MinPodCIDRBits     = NodeCIDRMaskSize - 16
	MinServiceCIDRBits = 12
	MaxServiceCIDRBits = 28
	MinKubernetesMinor = 31
)

// CNIs lists the values of nixlab:kubernetes.cni.
var CNIs = []string{CNIFlannel, CNICalico, CNINone}

// OnDeleteValues lists the values of nixlab:kubernetes.storage.onDelete.
var OnDeleteValues = []string{OnDeleteDelete, OnDeleteRetain, OnDeleteArchive}

// SubDirPlaceholders are the placeholders csi-driver-nfs replaces in a
// StorageClass subDir (kubernetes-csi/csi-driver-nfs pkg/nfs/nfs.go:
// pvcNameMetadata, pvcNamespaceMetadata, pvNameMetadata).
var SubDirPlaceholders = []string{"${pvc.metadata.name}", "${pvc.metadata.namespace}", "${pv.metadata.name}"}

var (
	// versionRe is major.minor of Kubernetes 1.
	versionRe = regexp.MustCompile(`^1\.(0|[1-9][0-9]{0,2})$`)
	// subDirCharsRe is a subDir with its placeholders taken out.
	subDirCharsRe = regexp.MustCompile(`^[A-Za-z0-9._/-]*$`)
)

// validateKubernetes checks nixlab:kubernetes: the endpoint (form,
// required with several control planes, place in the node network), the
// pod and service networks (form, size, overlaps with each other and with
// the addresses the nodes use), the CNI, the storage class (only with
// nixlab:nfs) and the version guard. Values are checked even when the
// cluster is disabled; only the endpoint requirement then falls away.
func (c *Config) validateKubernetes(v *validator) {
	k := c.Kubernetes
	endpoint, endpointIsIP := c.validateEndpoint(v)
	pod, podOK := cidrSetting(v, "kubernetes.podCidr", k.PodCIDR, DefaultPodCIDR)
	svc, svcOK := cidrSetting(v, "kubernetes.serviceCidr", k.ServiceCIDR, DefaultServiceCIDR)
	if podOK {
		c.checkPodCIDRSize(v, pod)
	}
	if svcOK {
		switch {
		case svc.Bits() < MinServiceCIDRBits:
			v.add("kubernetes.serviceCidr", "%s holds more than 2^20 addresses, which kube-apiserver and kubeadm refuse; use a prefix of /%d or longer, e.g. %s", svc, MinServiceCIDRBits, DefaultServiceCIDR)
		case svc.Bits() > MaxServiceCIDRBits:
			v.add("kubernetes.serviceCidr", "%s is too small: kubeadm gives CoreDNS the 10th address of the service network; use a prefix of /%d or shorter, e.g. %s", svc, MaxServiceCIDRBits, DefaultServiceCIDR)
		}
	}
	if podOK && svcOK && pod.Overlaps(svc) {
		v.add("kubernetes.serviceCidr", "%s overlaps kubernetes.podCidr %s; pod and service addresses must be apart, e.g. podCidr %s and serviceCidr %s", svc, pod, DefaultPodCIDR, DefaultServiceCIDR)
	}
	for _, cidr := range []struct {
		key    string
		prefix netip.Prefix
		ok     bool
	}{{"kubernetes.podCidr", pod, podOK}, {"kubernetes.serviceCidr", svc, svcOK}} {
		if cidr.ok {
			c.checkCIDRClear(v, cidr.key, cidr.prefix, endpoint, endpointIsIP)
		}
	}
	if !contains(CNIs, k.CNI) {
		v.add("kubernetes.cni", "%q is not a CNI nixlab installs; use flannel (the default), calico, or none (install your own; nodes stay NotReady until you do)", k.CNI)
	}
	c.validateStorage(v)
	if k.Version != "" {
		c.validateVersion(v)
	}
}

// validateEndpoint checks controlPlaneEndpoint and returns it as an
// address when it is a usable IPv4 address.
func (c *Config) validateEndpoint(v *validator) (netip.Addr, bool) {
	const key = "kubernetes.controlPlaneEndpoint"
	k := c.Kubernetes
	e := k.ControlPlaneEndpoint
	cps := c.controlPlaneCount()
	if e == "" {
		if k.IsEnabled() && cps > 1 {
			v.add(key, "is required with %d control-plane nodes; set a VIP (a free IPv4 address in the node network, held by kube-vip) or a DNS name that resolves to the control planes. Set it from the start: changing it later means new API server certificates and kubeconfigs", cps)
		}
		return netip.Addr{}, false
	}
	const form = "give the API server's host alone: an IPv4 address (e.g. 192.168.1.50) or a DNS name (e.g. k8s.lab.example), without scheme or port (nixlab uses https and port 6443)"
	switch {
	case LooksSecret(e):
		v.add(key, "holds what looks like a secret (not printed); remove it and %s", form)
		return netip.Addr{}, false
	case strings.Contains(e, "://"):
		v.add(key, "%q is a URL; %s", e, form)
		return netip.Addr{}, false
	case strings.HasPrefix(e, "[") || strings.Count(e, ":") > 1:
		v.add(key, "%q is not an IPv4 address or DNS name (IPv6 endpoints are not supported); %s", e, form)
		return netip.Addr{}, false
	case strings.Contains(e, ":") || strings.Contains(e, "/"):
		v.add(key, "%q holds a port or path; %s", e, form)
		return netip.Addr{}, false
	case strings.Trim(e, "0123456789.") == "":
		if !validIPv4(e) {
			v.add(key, "%q is not a valid IPv4 address (four numbers 0-255 without leading zeros); %s", e, form)
			return netip.Addr{}, false
		}
	default:
		if !compiled.hostName.MatchString(e) || len(e) > 253 {
			v.add(key, "%q is not a DNS name; %s", e, form)
		}
		return netip.Addr{}, false
	}
	addr := netip.MustParseAddr(e)
	c.checkEndpointAddress(v, addr, cps)
	return addr, true
}

// checkEndpointAddress places an IPv4 endpoint: not an address something
// else holds and, in static mode, a host address of the node network that
// is either a control plane's own address (single control plane) or free
// for kube-vip.
func (c *Config) checkEndpointAddress(v *validator, addr netip.Addr, cps int) {
	const key = "kubernetes.controlPlaneEndpoint"
	if addr.IsUnspecified() || addr.IsLoopback() || addr.IsMulticast() || addr.IsLinkLocalUnicast() || addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		v.add(key, "%s cannot be an API address every node reaches; use an address of the node network", addr)
		return
	}
	for _, held := range c.heldAddresses() {
		if held.addr == addr {
			v.add(key, "%s is already %s; use a free address for the VIP (or a DNS name)", addr, held.what)
			return
		}
	}
	if c.Network.Mode != NetworkStatic {
		return // DHCP: a VIP, nothing known to compare with (the plan says so)
	}
	prefix, ok := staticPrefix(c.Network.CIDR)
	if !ok || prefix.Bits() > MaxStaticPrefixBits {
		return // reported under nixlab:network.cidr
	}
	switch {
	case !prefix.Contains(addr):
		v.add(key, "%s is outside nixlab:network.cidr %s; kube-vip announces the VIP by ARP on the node network, so use a free address inside %s (or a DNS name)", addr, prefix, prefix)
		return
	case addr == prefix.Addr():
		v.add(key, "%s is the network address of %s, not a host; use a free host address inside it", addr, prefix)
		return
	case hostNumber(prefix, addr) == hostCount(prefix)+1:
		v.add(key, "%s is the broadcast address of %s, not a host; use a free host address inside it", addr, prefix)
		return
	}
	if gw, err := netip.ParseAddr(c.Network.Gateway); err == nil && gw == addr {
		v.add(key, "%s is the gateway (nixlab:network.gateway); use a free address for the VIP", addr)
		return
	}
	node, isNode := c.staticNodeAddresses()[addr]
	switch {
	case !isNode:
		// A VIP: free by construction of the node ranges.
	case !c.isControlPlaneNode(node):
		v.add(key, "%s is the address of worker node %s, where no API server runs; use a control-plane node's address, a free address for a VIP, or a DNS name", addr, node)
	case cps > 1:
		v.add(key, "%s is the address of control-plane node %s alone; with %d control-plane nodes the endpoint must outlive any one of them: use a free address (a VIP held by kube-vip) or a DNS name", addr, node, cps)
	}
}

// heldAddress is an address the lab already uses for something.
type heldAddress struct {
	addr netip.Addr
	what string
}

// heldAddresses lists the IPv4 addresses of the NFS server, the Proxmox
// host and the DNS servers, where they are given as addresses.
func (c *Config) heldAddresses() []heldAddress {
	var out []heldAddress
	add := func(s, what string) {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			out = append(out, heldAddress{a, what})
		}
	}
	if c.NFS != nil {
		add(c.NFS.Server, "the NFS server (nixlab:nfs.server)")
	}
	add(c.Proxmox.SSH.Host, "the Proxmox host (nixlab:proxmox.ssh.host)")
	for i, d := range c.Network.DNS {
		add(d, fmt.Sprintf("a DNS server (nixlab:network.dns[%d])", i))
	}
	return out
}

// isControlPlaneNode reports whether VM name belongs to a control-plane
// group.
func (c *Config) isControlPlaneNode(vmName string) bool {
	for name, g := range c.NodeGroups {
		if g.Role == RoleControlPlane && strings.HasPrefix(vmName, c.ClusterName+"-"+name+"-") {
			rest := strings.TrimPrefix(vmName, c.ClusterName+"-"+name+"-")
			if _, err := strconv.Atoi(rest); err == nil {
				return true
			}
		}
	}
	return false
}

// cidrSetting parses an IPv4 network setting, reporting what is wrong.
func cidrSetting(v *validator, key, s, example string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	switch {
	case LooksSecret(s):
		v.add(key, "holds what looks like a secret (not printed); use an IPv4 network such as %s", example)
	case err != nil || !p.Addr().Is4():
		v.add(key, "%q is not an IPv4 network; use the form address/prefix, e.g. %s", s, example)
	case p.Masked() != p:
		v.add(key, "%q has host bits set; use %s (the network address)", s, p.Masked())
	default:
		return p, true
	}
	return netip.Prefix{}, false
}

// checkPodCIDRSize checks that the pod network splits into a /24 per node
// for every node of the groups.
func (c *Config) checkPodCIDRSize(v *validator, pod netip.Prefix) {
	const key = "kubernetes.podCidr"
	switch {
	case pod.Bits() > NodeCIDRMaskSize:
		v.add(key, "%s is smaller than one node's pod range (/%d, kube-controller-manager's node-cidr-mask-size); use /%d or shorter, e.g. %s", pod, NodeCIDRMaskSize, NodeCIDRMaskSize, DefaultPodCIDR)
		return
	case pod.Bits() < MinPodCIDRBits:
		v.add(key, "%s is more than 16 bits shorter than the per-node /%d, which kubeadm refuses; use /%d or longer, e.g. %s", pod, NodeCIDRMaskSize, MinPodCIDRBits, DefaultPodCIDR)
		return
	}
	capacity := 1 << (NodeCIDRMaskSize - pod.Bits())
	if nodes := c.nodeCount(); nodes > capacity {
		v.add(key, "%s holds %d per-node /%d ranges, but the node groups have %d nodes; use a shorter prefix (/%d holds %d)", pod, capacity, NodeCIDRMaskSize, nodes, NodeCIDRMaskSize-bitsFor(nodes), 1<<bitsFor(nodes))
	}
}

// bitsFor is the number of bits that count n things.
func bitsFor(n int) int {
	b := 0
	for 1<<b < n {
		b++
	}
	return b
}

// checkCIDRClear refuses a pod or service network holding an address the
// nodes must reach outside the cluster: the node network (static mode),
// the endpoint, the NFS server, the Proxmox host and the DNS servers.
func (c *Config) checkCIDRClear(v *validator, key string, p netip.Prefix, endpoint netip.Addr, endpointOK bool) {
	const fix = "traffic to it would stay inside the cluster; choose a range the lab does not use"
	if c.Network.Mode == NetworkStatic {
		if nodes, ok := staticPrefix(c.Network.CIDR); ok && p.Overlaps(nodes) {
			v.add(key, "%s overlaps the node network nixlab:network.cidr %s; %s (e.g. podCidr %s, serviceCidr %s)", p, nodes, fix, DefaultPodCIDR, DefaultServiceCIDR)
		}
	}
	if endpointOK && p.Contains(endpoint) {
		v.add(key, "%s holds the control-plane endpoint %s (nixlab:kubernetes.controlPlaneEndpoint); %s", p, endpoint, fix)
	}
	for _, held := range c.heldAddresses() {
		if p.Contains(held.addr) {
			v.add(key, "%s holds %s, %s; %s", p, held.addr, held.what, fix)
		}
	}
}

// validateStorage checks nixlab:kubernetes.storage; without nixlab:nfs no
// storage setting may be given.
func (c *Config) validateStorage(v *validator) {
	s := c.Kubernetes.Storage
	if c.NFS == nil {
		if s.ClassName != "" || s.DefaultClass != nil || s.SubDir != "" || s.OnDelete != "" {
			v.add("kubernetes.storage", "is set, but storage needs nixlab:nfs, which is not set: the StorageClass provisions volumes on the NFS export; set nixlab:nfs (server, export) or remove kubernetes.storage")
		}
		return
	}
	switch {
	case LooksSecret(s.ClassName):
		v.add("kubernetes.storage.className", "holds what looks like a secret (not printed); use a name such as %s", DefaultStorageClassName)
	default:
		if errs := validation.IsDNS1123Subdomain(s.ClassName); len(errs) > 0 {
			v.add("kubernetes.storage.className", "%q is not a Kubernetes object name (a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters); use e.g. %s", s.ClassName, DefaultStorageClassName)
		}
	}
	if s.SubDir != "" {
		if msg := subDirProblem(s.SubDir); msg != "" {
			v.add("kubernetes.storage.subDir", "%s", msg)
		}
	}
	if !contains(OnDeleteValues, s.OnDelete) {
		v.add("kubernetes.storage.onDelete", "%q is not a csi-driver-nfs onDelete value; use delete (the default: a deleted volume's directory is removed), retain (kept) or archive (renamed archived-<name>)", s.OnDelete)
	}
}

// subDirProblem says why s cannot be csi-driver-nfs's subDir, or "".
func subDirProblem(s string) string {
	const form = "give a relative path below the export, such as volumes/${pvc.metadata.namespace}/${pvc.metadata.name} (placeholders: " +
		"${pvc.metadata.name}, ${pvc.metadata.namespace}, ${pv.metadata.name})"
	if LooksSecret(s) {
		return "holds what looks like a secret (not printed); " + form
	}
	rest := s
	for _, ph := range SubDirPlaceholders {
		rest = strings.ReplaceAll(rest, ph, "x")
	}
	switch {
	case strings.HasPrefix(s, "/"):
		return msgf("%q starts with '/'; it is relative to the export (nixlab:nfs.export): %s", s, form)
	case strings.Contains(rest, "${"):
		return msgf("%q holds a placeholder csi-driver-nfs does not replace; %s", s, form)
	case !subDirCharsRe.MatchString(rest):
		return msgf("%q holds characters a directory name here may not have (use letters, digits, '.', '_', '-' and '/'); %s", s, form)
	case strings.HasSuffix(s, "/") || strings.Contains(s, "//"):
		return msgf("%q has an empty path component ('//' or a trailing '/'); %s", s, form)
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." || part == "." {
			return msgf("%q holds a '.' or '..' component; volumes must stay below the export: %s", s, form)
		}
	}
	// Every volume needs a directory of its own: csi-driver-nfs deletes a
	// volume's subDir with everything in it when the volume is deleted
	// (onDelete delete, pkg/nfs/controllerserver.go DeleteVolume:
	// os.RemoveAll), so a subDir that several volumes share would lose
	// them all with the first one deleted.
	perPV := strings.Contains(s, "${pv.metadata.name}")
	perPVC := strings.Contains(s, "${pvc.metadata.namespace}") && strings.Contains(s, "${pvc.metadata.name}")
	if !perPV && !perPVC {
		return msgf("%q would be shared by several volumes, and deleting one volume deletes its directory with everything in it (csi-driver-nfs onDelete); include ${pv.metadata.name}, or both ${pvc.metadata.namespace} and ${pvc.metadata.name}: %s", s, form)
	}
	return ""
}

// validateVersion checks the version guard's form and that nixlab's
// kubeadm config format exists at that version.
func (c *Config) validateVersion(v *validator) {
	const key = "kubernetes.version"
	ver := c.Kubernetes.Version
	if !versionRe.MatchString(ver) {
		v.add(key, "%q is not a Kubernetes major.minor; write it as 1.<minor> without patch or 'v', e.g. \"1.35\" (quoted, so YAML keeps it a string), or remove the key to take whatever kubeadm the template ships", ver)
		return
	}
	minor, _ := strconv.Atoi(strings.TrimPrefix(ver, "1."))
	if minor < MinKubernetesMinor {
		v.add(key, "%s is older than 1.%d; nixlab renders kubeadm.k8s.io/v1beta4 configs, which kubeadm reads from 1.%d on: pin a newer nixpkgs in nixos/flake.nix and raise the version", ver, MinKubernetesMinor, MinKubernetesMinor)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
