// Package kubeadm renders every kubeadm configuration and Kubernetes
// manifest nixlab writes itself, as bytes ready to send to a node on stdin:
//
//   - InitConfig: the multi-document YAML for `kubeadm init --config` on the
//     first control plane (InitConfiguration, ClusterConfiguration and
//     KubeletConfiguration);
//   - JoinConfig: the JoinConfiguration for `kubeadm join --config`;
//   - TokenConfig: the InitConfiguration that `kubeadm token create --config`
//     and `kubeadm init phase upload-certs --config` read before a join;
//   - KubeVIPManifest: the kube-vip static pod holding a control-plane VIP;
//   - CheckManifests: the objects the cluster check applies.
//
// The kubeadm config API is kubeadm.k8s.io/v1beta4 (kubernetes/kubernetes
// cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go). Its Go types live only in
// k8s.io/kubernetes, which nixlab's module does not import: this package
// declares small structs with the JSON names of the fields nixlab sets. The
// real kubeadm (built from k8s.io/kubernetes by the separate module
// tools/kubeadmcheck) validates every rendered config in this package's
// tests. Manifests use the official k8s.io/api types.
//
// Secrets (bootstrap token, certificate key) appear only in the rendered
// bytes: errors name the setting and the rule, never the value.
package kubeadm
