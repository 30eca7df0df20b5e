package kubeadm

import (
	"bytes"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Bootstrap token settings, as `kubeadm init` defaults them
// (cmd/kubeadm/app/apis/bootstraptoken/v1/defaults.go
// SetDefaults_BootstrapToken), written out so the rendered config says
// what the token may do:
const (
	// tokenTTL is DefaultTokenDuration, 24 hours. kube-prepare.sh
	// re-creates or refreshes the token (TokenConfig) before each join, so
	// a later scale-up never meets an expired one.
	tokenTTL = "24h0m0s"
	// tokenDescription shows in `kubeadm token list`.
	tokenDescription = "nixlab: node join token"
)

// tokenUsages are DefaultTokenUsages (k8s.io/cluster-bootstrap
// KnownTokenUsages): the token signs the cluster-info
// ConfigMap (discovery) and authenticates the joining kubelet.
var tokenUsages = []string{"signing", "authentication"}

// tokenGroups are DefaultTokenGroups (NodeBootstrapTokenAuthGroup): the
// group kubeadm's RBAC rules let post CSRs and get the kubeadm config.
var tokenGroups = []string{"system:bootstrappers:kubeadm:default-node-token"}

// InitConfig renders the config for `kubeadm init --upload-certs --config`
// on the first control plane: three YAML documents separated by "---":
//
//   - InitConfiguration: bootstrapTokens [{token, ttl 24h, usages signing +
//     authentication, groups system:bootstrappers:kubeadm:default-node-token}],
//     certificateKey (the key --upload-certs encrypts the control-plane
//     certificates with), nodeRegistration {name: node, criSocket:
//     containerd, taints: [] when spec.ControlPlaneWorkloads};
//   - ClusterConfiguration: controlPlaneEndpoint Endpoint:6443, networking
//     {podSubnet, serviceSubnet, dnsDomain cluster.local}, clusterName and
//     kubernetesVersion VersionPlaceholder (the only occurrence of it);
//   - KubeletConfiguration: cgroupDriver systemd, plus failSwapOn false and
//     memorySwap.swapBehavior NoSwap when spec.Swap.
//
// No ignorePreflightErrors: kubeadm's preflight checks only its own four
// static pod files in /etc/kubernetes/manifests
// (cmd/kubeadm/app/preflight/checks.go InitNodeChecks:
// FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml etc.; there
// is no DirAvailable check of the directory), so a kube-vip.yaml placed
// there before init or a control-plane join passes, and the Swap check only
// warns (SwapCheck returns warnings). The errors name the bad setting, never a secret.
func InitConfig(spec ClusterSpec, node, token, certificateKey string) ([]byte, error) {
	if err := checkCommon(spec, node, token); err != nil {
		return nil, err
	}
	if err := CheckCertificateKey(certificateKey); err != nil {
		return nil, err
	}
	return initDocuments(spec, node, token, certificateKey)
}

// JoinConfig renders the JoinConfiguration for `kubeadm join --config` on
// node: discovery.bootstrapToken {apiServerEndpoint Endpoint:6443, token,
// caCertHashes [caCertHash]}, nodeRegistration {name: node, criSocket:
// containerd} and, for a control plane, controlPlane.certificateKey (which
// decrypts the certificates kube-prepare.sh uploaded) and taints: [] when
// spec.ControlPlaneWorkloads. certificateKey is ignored (and may be empty)
// for a worker, so the key never reaches a worker. The kubelet
// configuration comes from the cluster's kubelet-config ConfigMap on join.
// caCertHash is "sha256:<64 hex>" as kube-init.sh prints it.
func JoinConfig(spec ClusterSpec, node string, controlPlane bool, token, caCertHash, certificateKey string) ([]byte, error) {
	if err := checkCommon(spec, node, token); err != nil {
		return nil, err
	}
	if controlPlane {
		if err := CheckCertificateKey(certificateKey); err != nil {
			return nil, err
		}
	}
	if err := CheckCACertHash(caCertHash); err != nil {
		return nil, err
	}
	return joinDocuments(spec, node, controlPlane, token, caCertHash, certificateKey)
}

// TokenConfig renders the InitConfiguration kube-prepare.sh feeds to
// `kubeadm token create --config` and `kubeadm init phase upload-certs
// --upload-certs --config` before a join: bootstrapTokens (as in
// InitConfig), certificateKey and nodeRegistration.criSocket (skips CRI
// detection).
//
// Two kubeadm behaviours the script has to live with (v1.35 sources):
// `token create` refuses a token whose id already exists
// (cmd/kubeadm/app/phases/bootstraptoken/node/token.go CreateNewTokens:
// "a token with id ... already exists"), which is the case while the
// init-time token lives, whereas `kubeadm init phase bootstrap-token
// --config` creates or updates it and so renews its TTL
// (cmd/phases/init/bootstraptoken.go: UpdateOrCreateTokens with
// failIfExists false). And without a ClusterConfiguration, which this
// config does not carry, `token create` pins the version itself
// (cmd/kubeadm/app/cmd/token.go) while init phases default
// kubernetesVersion to "stable-1" and look it up on dl.k8s.io, falling
// back to kubeadm's own version after 10 s offline
// (cmd/kubeadm/app/util/version.go kubernetesReleaseVersion).
func TokenConfig(spec ClusterSpec, token, certificateKey string) ([]byte, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := CheckToken(token); err != nil {
		return nil, err
	}
	if err := CheckCertificateKey(certificateKey); err != nil {
		return nil, err
	}
	init := initConfiguration{
		typeMeta:         typeMeta{APIVersion: kubeadmAPIVersion, Kind: "InitConfiguration"},
		BootstrapTokens:  []bootstrapToken{joinToken(token)},
		NodeRegistration: &nodeRegistration{CRISocket: CRISocket},
		CertificateKey:   certificateKey,
	}
	return marshalDocuments(init)
}

// initDocuments renders InitConfig's documents without validating.
func initDocuments(spec ClusterSpec, node, token, certificateKey string) ([]byte, error) {
	init := initConfiguration{
		typeMeta:         typeMeta{APIVersion: kubeadmAPIVersion, Kind: "InitConfiguration"},
		BootstrapTokens:  []bootstrapToken{joinToken(token)},
		NodeRegistration: registration(spec, node, true),
		CertificateKey:   certificateKey,
	}
	cluster := clusterConfiguration{
		typeMeta: typeMeta{APIVersion: kubeadmAPIVersion, Kind: "ClusterConfiguration"},
		Networking: networking{
			ServiceSubnet: spec.ServiceCIDR,
			PodSubnet:     spec.PodCIDR,
			DNSDomain:     ClusterDomain,
		},
		KubernetesVersion:    VersionPlaceholder,
		ControlPlaneEndpoint: spec.endpointHostPort(),
		ClusterName:          spec.ClusterName,
	}
	return marshalDocuments(init, cluster, kubeletConfig(spec))
}

// joinDocuments renders JoinConfig's document without validating.
func joinDocuments(spec ClusterSpec, node string, controlPlane bool, token, caCertHash, certificateKey string) ([]byte, error) {
	join := joinConfiguration{
		typeMeta:         typeMeta{APIVersion: kubeadmAPIVersion, Kind: "JoinConfiguration"},
		NodeRegistration: *registration(spec, node, controlPlane),
		Discovery: discovery{BootstrapToken: bootstrapTokenDiscovery{
			Token:             token,
			APIServerEndpoint: spec.endpointHostPort(),
			CACertHashes:      []string{caCertHash},
		}},
	}
	if controlPlane {
		join.ControlPlane = &joinControlPlane{CertificateKey: certificateKey}
	}
	return marshalDocuments(join)
}

// checkCommon validates the spec, the node name and the token.
func checkCommon(spec ClusterSpec, node, token string) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if err := checkNodeName(node); err != nil {
		return err
	}
	return CheckToken(token)
}

// checkNodeName applies kubeadm's rule for nodeRegistration.name
// (validation.go ValidateNodeRegistrationOptions: a DNS-1123 subdomain).
func checkNodeName(node string) error {
	if errs := validation.IsDNS1123Subdomain(node); len(errs) > 0 {
		return fmt.Errorf("kubeadm: node name %q is not a DNS-1123 subdomain (%s): node names are lower-case letters, digits, '-' and '.'", node, errs[0])
	}
	return nil
}

// joinToken is the one bootstrap token nixlab creates.
func joinToken(token string) bootstrapToken {
	return bootstrapToken{
		Token:       token,
		Description: tokenDescription,
		TTL:         tokenTTL,
		Usages:      tokenUsages,
		Groups:      tokenGroups,
	}
}

// registration is the node's nodeRegistration. A control plane that must
// run workloads gets an explicit empty taint list; otherwise Taints stays
// unset so kubeadm applies its default (control planes: the
// control-plane NoSchedule taint; workers: none).
func registration(spec ClusterSpec, node string, controlPlane bool) *nodeRegistration {
	r := &nodeRegistration{Name: node, CRISocket: CRISocket}
	if controlPlane && spec.ControlPlaneWorkloads {
		r.Taints = &[]taint{}
	}
	return r
}

// marshalDocuments renders each object as YAML and joins them into one
// multi-document stream.
func marshalDocuments(objs ...any) ([]byte, error) {
	var buf bytes.Buffer
	for i, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("kubeadm: render document %d: %w", i+1, err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}
