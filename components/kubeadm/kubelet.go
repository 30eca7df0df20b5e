package kubeadm

// kubeletAPIVersion is the KubeletConfiguration group/version kubeadm
// accepts as a component config in its config file
// (cmd/kubeadm/app/componentconfigs/kubelet.go).
const kubeletAPIVersion = "kubelet.config.k8s.io/v1beta1"

// kubeletConfiguration is the part of kubelet.config.k8s.io/v1beta1
// KubeletConfiguration nixlab sets (k8s.io/kubelet
// config/v1beta1/types.go; same JSON names). kubeadm uploads it to the
// kube-system/kubelet-config ConfigMap during init, and every joining node
// writes it to /var/lib/kubelet/config.yaml, so it holds cluster-wide. The
// node template adds the same swap settings as a --config-dir drop-in
// (nixos/modules/kubernetes.nix), which the kubelet merges over it.
type kubeletConfiguration struct {
	typeMeta `json:",inline"`
	// CgroupDriver "systemd": containerd runs runc with SystemdCgroup = true
	// (nixos/modules/kubernetes.nix); kubeadm's default since v1.22 too.
	CgroupDriver string `json:"cgroupDriver"`
	// FailSwapOn false lets the kubelet start on a node with swap; nil
	// keeps the kubelet's default (true).
	FailSwapOn *bool       `json:"failSwapOn,omitempty"`
	MemorySwap *memorySwap `json:"memorySwap,omitempty"`
}

// memorySwap is v1beta1.MemorySwapConfiguration.
type memorySwap struct {
	// SwapBehavior "NoSwap": workloads get no swap; only system daemons
	// outside Kubernetes' cgroups can use it (the kubelet's default
	// behaviour when swap is on, written out so it is visible).
	SwapBehavior string `json:"swapBehavior"`
}

// kubeletConfig builds the KubeletConfiguration for spec.
func kubeletConfig(spec ClusterSpec) kubeletConfiguration {
	k := kubeletConfiguration{
		typeMeta:     typeMeta{APIVersion: kubeletAPIVersion, Kind: "KubeletConfiguration"},
		CgroupDriver: "systemd",
	}
	if spec.Swap {
		no := false
		k.FailSwapOn = &no
		k.MemorySwap = &memorySwap{SwapBehavior: "NoSwap"}
	}
	return k
}
