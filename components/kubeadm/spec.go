package kubeadm

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation"
)

// ClusterDomain is the cluster's DNS domain (ClusterConfiguration
// networking.dnsDomain, kubeadm's default "cluster.local").
const ClusterDomain = "cluster.local"

// Limits kubeadm puts on the CIDRs, from kubernetes/kubernetes
// cmd/kubeadm/app/constants/constants.go and
// cmd/kubeadm/app/apis/kubeadm/validation/validation.go (ValidateNetworking,
// ValidateServiceSubnetSize, ValidatePodSubnetNodeMask) at v1.35:
const (
	// maxServiceSubnetHostBits is MaximumBitsForServiceSubnet: an IPv4
	// service CIDR must be /12 or narrower.
	maxServiceSubnetHostBits = 20
	// minServiceSubnetAddrs is MinimumAddressesInServiceSubnet.
	minServiceSubnetAddrs = 10
	// nodeCIDRMaskIPv4 is the controller manager's default
	// --node-cidr-mask-size-ipv4 (kubeadm getClusterNodeMask): every node
	// gets a /24 of the pod CIDR.
	nodeCIDRMaskIPv4 = 24
	// podSubnetNodeMaskMaxDiff is PodSubnetNodeMaskMaxDiff: the pod CIDR
	// may hold at most 2^16 node ranges, so it is /8 or narrower.
	podSubnetNodeMaskMaxDiff = 16
)

// ClusterSpec is what every rendered kubeadm config shares. All fields map
// to nixlab:kubernetes settings, which the errors name.
type ClusterSpec struct {
	// ClusterName is ClusterConfiguration clusterName (the name in
	// kubeconfig contexts); a DNS-1123 subdomain.
	ClusterName string
	// Endpoint is the API host every node and kubeconfig uses: an IPv4
	// address or a DNS name, without port. controlPlaneEndpoint and the
	// join discovery endpoint are Endpoint:6443.
	Endpoint string
	// PodCIDR is networking.podSubnet, an IPv4 CIDR between /8 and /24
	// (each node gets a /24 of it).
	PodCIDR string
	// ServiceCIDR is networking.serviceSubnet, an IPv4 CIDR between /12 and
	// /28.
	ServiceCIDR string
	// Swap: the nodes have swap, so the KubeletConfiguration says
	// failSwapOn: false and memorySwap.swapBehavior: NoSwap (pods get no
	// swap; kubelet/config/v1beta1 KubeletConfiguration.MemorySwap).
	Swap bool
	// ControlPlaneWorkloads: control planes also run ordinary pods (set it
	// when the cluster has no worker nodes). Control planes then register
	// with an empty taint list instead of kubeadm's default
	// node-role.kubernetes.io/control-plane:NoSchedule.
	ControlPlaneWorkloads bool
}

// Validate checks the spec against the rules kubeadm applies itself, so a
// bad setting fails in `nixlab plan` with the setting's name instead of on
// a node.
func (s ClusterSpec) Validate() error {
	if s.ClusterName == "" {
		return fmt.Errorf("kubeadm: cluster name is empty: set the stack's Kubernetes cluster name")
	}
	if errs := validation.IsDNS1123Subdomain(s.ClusterName); len(errs) > 0 {
		return fmt.Errorf("kubeadm: cluster name %q is not a DNS-1123 subdomain (%s): use lower-case letters, digits, '-' and '.'", s.ClusterName, errs[0])
	}
	if err := checkEndpointHost(s.Endpoint); err != nil {
		return err
	}
	pod, err := checkCIDR("nixlab:kubernetes.podCidr", s.PodCIDR)
	if err != nil {
		return err
	}
	if ones := pod.Bits(); ones > nodeCIDRMaskIPv4 || nodeCIDRMaskIPv4-ones > podSubnetNodeMaskMaxDiff {
		return fmt.Errorf("nixlab:kubernetes.podCidr %s: the prefix must be between /%d and /%d (kubeadm gives every node a /%d of it): use e.g. 10.244.0.0/16",
			s.PodCIDR, nodeCIDRMaskIPv4-podSubnetNodeMaskMaxDiff, nodeCIDRMaskIPv4, nodeCIDRMaskIPv4)
	}
	svc, err := checkCIDR("nixlab:kubernetes.serviceCidr", s.ServiceCIDR)
	if err != nil {
		return err
	}
	hostBits := 32 - svc.Bits()
	if hostBits > maxServiceSubnetHostBits || (uint64(1)<<hostBits) < minServiceSubnetAddrs {
		return fmt.Errorf("nixlab:kubernetes.serviceCidr %s: the prefix must be between /%d and /28 (kubeadm's limits): use e.g. 10.96.0.0/12",
			s.ServiceCIDR, 32-maxServiceSubnetHostBits)
	}
	if pod.Overlaps(svc) {
		return fmt.Errorf("nixlab:kubernetes.podCidr %s overlaps nixlab:kubernetes.serviceCidr %s: choose disjoint ranges", s.PodCIDR, s.ServiceCIDR)
	}
	return nil
}

// checkEndpointHost accepts an IPv4 address or a DNS-1123 subdomain without
// a port.
func checkEndpointHost(host string) error {
	const key = "nixlab:kubernetes.controlPlaneEndpoint"
	if host == "" {
		return fmt.Errorf("%s is empty: set it to an IPv4 address or a DNS name (no port)", key)
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if !addr.Is4() {
			return fmt.Errorf("%s %q: only IPv4 addresses are supported", key, host)
		}
		return nil
	}
	if errs := validation.IsDNS1123Subdomain(host); len(errs) > 0 {
		return fmt.Errorf("%s %q is neither an IPv4 address nor a DNS name (%s): give the host only, without scheme or port", key, host, errs[0])
	}
	return nil
}

// checkCIDR parses an IPv4 CIDR in canonical form (no host bits set).
func checkCIDR(key, value string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(value)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%s %q is not a CIDR: use the form 10.244.0.0/16", key, value)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%s %q: only IPv4 is supported", key, value)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%s %q has host bits set: use %s", key, value, p.Masked())
	}
	return p, nil
}

// endpointHostPort is Endpoint:6443, the controlPlaneEndpoint value.
func (s ClusterSpec) endpointHostPort() string {
	return net.JoinHostPort(s.Endpoint, strconv.Itoa(APIServerPort))
}
