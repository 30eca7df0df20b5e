package kubeadm

// The subset of kubeadm.k8s.io/v1beta4 nixlab renders. Field names and
// shapes follow kubernetes/kubernetes
// cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go (same JSON names, same
// omitempty behaviour where nixlab relies on it); the real kubeadm checks the
// rendered documents in this package's tests (kubeadmcheck_test.go).

// kubeadmAPIVersion is the kubeadm config API group/version nixlab writes.
const kubeadmAPIVersion = "kubeadm.k8s.io/v1beta4"

// typeMeta is metav1.TypeMeta's JSON shape.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// initConfiguration is v1beta4.InitConfiguration.
type initConfiguration struct {
	typeMeta         `json:",inline"`
	BootstrapTokens  []bootstrapToken  `json:"bootstrapTokens,omitempty"`
	NodeRegistration *nodeRegistration `json:"nodeRegistration,omitempty"`
	CertificateKey   string            `json:"certificateKey,omitempty"`
}

// bootstrapToken is bootstraptoken/v1.BootstrapToken
// (cmd/kubeadm/app/apis/bootstraptoken/v1/types.go): ttl is a
// metav1.Duration string such as "24h0m0s".
type bootstrapToken struct {
	Token       string   `json:"token"`
	Description string   `json:"description,omitempty"`
	TTL         string   `json:"ttl,omitempty"`
	Usages      []string `json:"usages,omitempty"`
	Groups      []string `json:"groups,omitempty"`
}

// nodeRegistration is v1beta4.NodeRegistrationOptions. Taints is a pointer
// to a slice on purpose: kubeadm treats a missing field as "apply the
// default control-plane taint" and an empty list as "no taints"
// (v1beta4/types.go NodeRegistrationOptions.Taints doc comment).
type nodeRegistration struct {
	Name                  string   `json:"name,omitempty"`
	CRISocket             string   `json:"criSocket,omitempty"`
	Taints                *[]taint `json:"taints,omitempty"`
	IgnorePreflightErrors []string `json:"ignorePreflightErrors,omitempty"`
}

// taint is core/v1 Taint's JSON shape.
type taint struct {
	Key    string `json:"key"`
	Effect string `json:"effect"`
}

// clusterConfiguration is v1beta4.ClusterConfiguration.
type clusterConfiguration struct {
	typeMeta             `json:",inline"`
	Networking           networking `json:"networking"`
	KubernetesVersion    string     `json:"kubernetesVersion"`
	ControlPlaneEndpoint string     `json:"controlPlaneEndpoint"`
	ClusterName          string     `json:"clusterName"`
}

// networking is v1beta4.Networking.
type networking struct {
	ServiceSubnet string `json:"serviceSubnet"`
	PodSubnet     string `json:"podSubnet"`
	DNSDomain     string `json:"dnsDomain"`
}

// joinConfiguration is v1beta4.JoinConfiguration.
type joinConfiguration struct {
	typeMeta         `json:",inline"`
	NodeRegistration nodeRegistration  `json:"nodeRegistration"`
	Discovery        discovery         `json:"discovery"`
	ControlPlane     *joinControlPlane `json:"controlPlane,omitempty"`
}

// discovery is v1beta4.Discovery.
type discovery struct {
	BootstrapToken bootstrapTokenDiscovery `json:"bootstrapToken"`
}

// bootstrapTokenDiscovery is v1beta4.BootstrapTokenDiscovery.
type bootstrapTokenDiscovery struct {
	Token             string   `json:"token"`
	APIServerEndpoint string   `json:"apiServerEndpoint"`
	CACertHashes      []string `json:"caCertHashes"`
}

// joinControlPlane is v1beta4.JoinControlPlane.
type joinControlPlane struct {
	CertificateKey string `json:"certificateKey"`
}
