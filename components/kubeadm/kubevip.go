package kubeadm

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// kubeVIPKubeconfigInPod is where kube-vip reads its kubeconfig: the path
// is fixed in kube-vip (pkg/manager/manager.go New: adminConfigPath), so
// the volume is mounted there whichever host file backs it.
const kubeVIPKubeconfigInPod = "/etc/kubernetes/admin.conf"

// kubeVIPLeaseName is kube-vip's default control-plane lease
// (cmd/kube-vip.go flag --leaseName).
const kubeVIPLeaseName = "plndr-cp-lock"

// KubeVIPManifest renders the kube-vip static pod that holds vip (an IPv4
// address) on the elected control plane: a core/v1 Pod kube-system/kube-vip
// marshalled with sigs.k8s.io/yaml, for /etc/kubernetes/manifests/kube-vip.yaml
// on every control plane. It mirrors what `kube-vip manifest pod --arp
// --controlplane --leaderElection --address <vip>` generates at
// KubeVIPVersion (kube-vip pkg/kubevip/config_generator.go generatePodSpec):
//
//   - env: vip_arp true, port 6443, vip_nodename from spec.nodeName,
//     cp_enable true, cp_namespace kube-system, svc_enable false,
//     vip_leaderelection true with lease plndr-cp-lock 15/10/2 s (kube-vip's
//     flag defaults, cmd/kube-vip.go), vip_address, prometheus_server :2112.
//     No vip_interface: the manager picks the interface of the IPv4 default
//     route when it is empty (cmd/kube-vip.go manager command:
//     vip.GetDefaultGatewayInterface, pkg/vip/util.go) and follows it.
//     No lb_enable: ARP mode only moves the address; kube-apiserver listens
//     on every address of the node.
//   - hostNetwork, capabilities NET_ADMIN and NET_RAW (all others dropped),
//     hostAliases kubernetes -> 127.0.0.1: with cp_enable kube-vip talks to
//     https://kubernetes:6443, the local API server, not to the VIP it
//     has yet to claim (pkg/manager/manager.go New).
//   - volume "kubeconfig": hostPath AdminConfPath (type File, so a missing
//     file is retried instead of created as a directory) mounted at
//     /etc/kubernetes/admin.conf.
//
// kube-init.sh swaps the host file for SuperAdminConfPath during `kubeadm
// init` on Kubernetes >= 1.29 with the case-sensitive substitution
// `s#path: /etc/kubernetes/admin.conf#path: /etc/kubernetes/super-admin.conf#`,
// which matches only the hostPath line ("mountPath:" has a capital P), as
// kube-vip's documentation does; SwapKubeconfig does the same in Go.
func KubeVIPManifest(vip string) ([]byte, error) {
	addr, err := netip.ParseAddr(vip)
	if err != nil || !addr.Is4() {
		return nil, fmt.Errorf("nixlab:kubernetes.controlPlaneEndpoint %q: kube-vip needs an IPv4 address for the VIP", vip)
	}
	hostPathFile := corev1.HostPathFile
	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "kube-vip", Namespace: metav1.NamespaceSystem},
		Spec: corev1.PodSpec{
			HostNetwork: true,
			HostAliases: []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{"kubernetes"}}},
			Containers: []corev1.Container{{
				Name:            "kube-vip",
				Image:           KubeVIPImage,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Args:            []string{"manager"},
				Env:             kubeVIPEnv(addr.String()),
				SecurityContext: &corev1.SecurityContext{
					Capabilities: &corev1.Capabilities{
						Add:  []corev1.Capability{"NET_ADMIN", "NET_RAW"},
						Drop: []corev1.Capability{"ALL"},
					},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "kubeconfig", MountPath: kubeVIPKubeconfigInPod}},
			}},
			Volumes: []corev1.Volume{{
				Name: "kubeconfig",
				VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
					Path: AdminConfPath,
					Type: &hostPathFile,
				}},
			}},
		},
	}
	b, err := yaml.Marshal(&pod)
	if err != nil {
		return nil, fmt.Errorf("kube-vip manifest: %w", err)
	}
	return b, nil
}

// kubeVIPEnv is the container environment (kube-vip
// pkg/kubevip/config_envvar.go names), in generatePodSpec's order.
func kubeVIPEnv(vip string) []corev1.EnvVar {
	v := func(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }
	return []corev1.EnvVar{
		v("vip_arp", "true"),
		v("port", strconv.Itoa(APIServerPort)),
		{Name: "vip_nodename", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"},
		}},
		v("cp_enable", "true"),
		v("cp_namespace", metav1.NamespaceSystem),
		v("svc_enable", "false"),
		v("vip_leaderelection", "true"),
		v("vip_leasename", kubeVIPLeaseName),
		v("vip_leaseduration", "15"),
		v("vip_renewdeadline", "10"),
		v("vip_retryperiod", "2"),
		v("vip_address", vip),
		v("prometheus_server", ":2112"),
	}
}

// SwapKubeconfig returns manifest with the kube-vip kubeconfig host file
// changed from one path to another (AdminConfPath <-> SuperAdminConfPath),
// by the same line substitution kube-init.sh does with sed: "path: <from>"
// becomes "path: <to>", which leaves "mountPath:" untouched.
func SwapKubeconfig(manifest []byte, from, to string) []byte {
	return []byte(strings.ReplaceAll(string(manifest), "path: "+from+"\n", "path: "+to+"\n"))
}
