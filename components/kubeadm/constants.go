package kubeadm

// APIServerPort is the port of the Kubernetes API server on every control
// plane and on the control-plane endpoint (kubeadm's default bindPort,
// cmd/kubeadm/app/constants/constants.go KubeAPIServerPort).
const APIServerPort = 6443

// VersionPlaceholder is the kubernetesVersion value InitConfig writes into
// the ClusterConfiguration, exactly once in the whole document.
// kube-init.sh replaces it with the node's `kubeadm version -o short`
// (e.g. v1.35.2): kubeadm must never guess a version itself (its default,
// "stable-1", needs network access to dl.k8s.io).
const VersionPlaceholder = "NIXLAB_KUBEADM_VERSION"

// CRISocket is containerd's CRI endpoint on the nodes (nixpkgs' containerd
// module; /var/run is a link to /run on NixOS). kubeadm's own constant is
// unix:///var/run/containerd/containerd.sock (cmd/kubeadm/app/constants/constants_unix.go
// CRISocketContainerd); setting it explicitly skips CRI auto-detection.
const CRISocket = "unix:///run/containerd/containerd.sock"

// AdminConfPath is the kubeconfig kubeadm writes for the cluster admin
// (cmd/kubeadm/app/constants AdminKubeConfigFileName under /etc/kubernetes).
// The kube-vip static pod mounts it.
const AdminConfPath = "/etc/kubernetes/admin.conf"

// SuperAdminConfPath is the break-glass kubeconfig kubeadm >= 1.29 writes on
// the first control plane (SuperAdminKubeConfigFileName). During `kubeadm
// init` admin.conf has no rights yet (its ClusterRoleBinding is created by
// init itself), so kube-init.sh mounts this file into kube-vip until init is
// done (kube-vip/kube-vip#684, kubernetes/kubeadm#3274).
const SuperAdminConfPath = "/etc/kubernetes/super-admin.conf"

// ManifestsDir is the kubelet's static pod directory kubeadm uses
// (/etc/kubernetes/manifests).
const ManifestsDir = "/etc/kubernetes/manifests"

// KubeVIPVersion is the pinned kube-vip release (image
// ghcr.io/kube-vip/kube-vip:<KubeVIPVersion>).
const KubeVIPVersion = "v1.2.3"

// KubeVIPImage is the pinned kube-vip container image.
const KubeVIPImage = "ghcr.io/kube-vip/kube-vip:" + KubeVIPVersion
