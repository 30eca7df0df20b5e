package stack

import (
	"fmt"
	"net/netip"

	"github.com/nixlab/nixlab/components"
)

// KubernetesConfig is `nixlab:kubernetes`: the kubeadm cluster nixlab
// bootstraps on the nodes after they are ready.
type KubernetesConfig struct {
	// Enabled turns the cluster bootstrap on (nil means the default, true).
	// false keeps the nodes Kubernetes-ready without a cluster.
	Enabled *bool `json:"enabled,omitempty"`
	// ControlPlaneEndpoint is the API server's host (IPv4 address or DNS
	// name, without port or scheme) that every node and the kubeconfig use.
	// An IPv4 address that is no node's own address is a VIP run by
	// kube-vip. Empty: the single control plane's address.
	ControlPlaneEndpoint string `json:"controlPlaneEndpoint,omitempty"`
	// PodCIDR is the IPv4 network pods get addresses from (kubeadm
	// networking.podSubnet); default 10.244.0.0/16 (flannel's).
	PodCIDR string `json:"podCidr"`
	// ServiceCIDR is the IPv4 network of Service cluster IPs (kubeadm
	// networking.serviceSubnet); default 10.96.0.0/12.
	ServiceCIDR string `json:"serviceCidr"`
	// CNI is the pod network add-on: flannel (default), calico or none.
	CNI string `json:"cni"`
	// Storage shapes the NFS StorageClass; used only when nixlab:nfs is set.
	Storage KubernetesStorageConfig `json:"storage"`
	// Version is an optional "major.minor" (e.g. "1.35") the nodes'
	// kubeadm must have.
	Version string `json:"version,omitempty"`
}

// KubernetesStorageConfig is `nixlab:kubernetes.storage`: the
// csi-driver-nfs StorageClass on the nixlab:nfs export.
type KubernetesStorageConfig struct {
	// ClassName is the StorageClass name (a DNS-1123 subdomain); default nfs.
	ClassName string `json:"className"`
	// DefaultClass marks it the cluster's default StorageClass (nil means
	// the default, true).
	DefaultClass *bool `json:"defaultClass,omitempty"`
	// SubDir is csi-driver-nfs's subDir parameter: the directory of each
	// volume below the export, relative, may hold ${pvc.metadata.name} and
	// the like; empty means the driver's default (the PV name).
	SubDir string `json:"subDir,omitempty"`
	// OnDelete is what happens to a volume's directory when its PV is
	// deleted: delete (default), retain or archive.
	OnDelete string `json:"onDelete"`
}

// Defaults of nixlab:kubernetes. The CIDRs are kubeadm's and flannel's
// defaults (kubeadm: constants.DefaultServicesSubnet "10.96.0.0/12";
// flannel's kube-flannel.yml net-conf.json Network "10.244.0.0/16").
const (
	DefaultPodCIDR          = "10.244.0.0/16"
	DefaultServiceCIDR      = "10.96.0.0/12"
	DefaultCNI              = CNIFlannel
	DefaultStorageClassName = "nfs"
	DefaultStorageOnDelete  = OnDeleteDelete
)

// CNI add-ons nixlab:kubernetes.cni may name (the cluster component's).
const (
	CNIFlannel = components.CNIFlannel
	CNICalico  = components.CNICalico
	CNINone    = components.CNINone
)

// csi-driver-nfs onDelete values (StorageClass parameter onDelete,
// kubernetes-csi/csi-driver-nfs pkg/nfs/controllerserver.go).
const (
	OnDeleteDelete  = "delete"
	OnDeleteRetain  = "retain"
	OnDeleteArchive = "archive"
)

// IsEnabled reports whether the cluster is bootstrapped (Enabled unset
// means true).
func (k KubernetesConfig) IsEnabled() bool { return k.Enabled == nil || *k.Enabled }

// IsDefaultClass reports whether the StorageClass is the default class
// (DefaultClass unset means true).
func (s KubernetesStorageConfig) IsDefaultClass() bool {
	return s.DefaultClass == nil || *s.DefaultClass
}

// applyKubernetesDefaults fills the unset nixlab:kubernetes settings. The
// storage settings get defaults only when nixlab:nfs is set: without NFS
// there is no StorageClass, and a storage setting given anyway is refused.
func (c *Config) applyKubernetesDefaults() {
	k := &c.Kubernetes
	if k.Enabled == nil {
		on := true
		k.Enabled = &on
	}
	setString(&k.PodCIDR, DefaultPodCIDR)
	setString(&k.ServiceCIDR, DefaultServiceCIDR)
	setString(&k.CNI, DefaultCNI)
	if c.NFS != nil {
		s := &k.Storage
		setString(&s.ClassName, DefaultStorageClassName)
		if s.DefaultClass == nil {
			yes := true
			s.DefaultClass = &yes
		}
		setString(&s.OnDelete, DefaultStorageOnDelete)
	}
}

// KubernetesEndpoint resolves nixlab:kubernetes.controlPlaneEndpoint for
// Deploy. host is the endpoint as configured; "" means it is not set, so
// the single control plane's IPv4 address is the endpoint (Validate refuses
// "" with more than one control-plane node). vip is true when host is an
// IPv4 address that is not a node's static address: kube-vip then holds
// it. In DHCP mode no node address is known in advance, so every IPv4
// endpoint is a VIP; a DNS name is never one.
func (c *Config) KubernetesEndpoint() (host string, vip bool) {
	host = c.Kubernetes.ControlPlaneEndpoint
	addr, err := netip.ParseAddr(host)
	if host == "" || err != nil || !addr.Is4() {
		return host, false
	}
	if c.Network.Mode != NetworkStatic {
		return host, true
	}
	_, isNode := c.staticNodeAddresses()[addr]
	return host, !isNode
}

// staticNodeAddresses maps every node's static IPv4 address to its VM name
// (static mode; empty otherwise or when the network is unusable).
func (c *Config) staticNodeAddresses() map[netip.Addr]string {
	out := map[netip.Addr]string{}
	if c.Network.Mode != NetworkStatic {
		return out
	}
	prefix, ok := staticPrefix(c.Network.CIDR)
	if !ok {
		return out
	}
	for _, name := range c.GroupOrder() {
		g := c.NodeGroups[name]
		if !countInRange(g.Count) || g.HostOffset <= 0 {
			continue
		}
		for i := 1; i <= g.Count; i++ {
			cidr, err := components.StaticIPv4(prefix.String(), g.HostOffset+i-1)
			if err != nil {
				continue
			}
			if p, err := netip.ParsePrefix(cidr); err == nil {
				out[p.Addr()] = fmt.Sprintf("%s-%s-%d", c.ClusterName, name, i)
			}
		}
	}
	return out
}

// controlPlaneCount is the number of control-plane nodes of all groups.
func (c *Config) controlPlaneCount() int {
	n := 0
	for _, g := range c.NodeGroups {
		if g.Role == RoleControlPlane && countInRange(g.Count) && g.Count > 0 {
			n += g.Count
		}
	}
	return n
}

// nodeCount is the number of nodes of all groups.
func (c *Config) nodeCount() int {
	n := 0
	for _, g := range c.NodeGroups {
		if countInRange(g.Count) && g.Count > 0 {
			n += g.Count
		}
	}
	return n
}
