package kubeadm

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// decodePod decodes a manifest strictly into the official Pod type:
// unknown or misspelt fields fail.
func decodePod(t *testing.T, b []byte) corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(b, &pod); err != nil {
		t.Fatalf("strict decode into core/v1 Pod: %v\n%s", err, b)
	}
	return pod
}

func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict([]byte("apiVersion: v1\nkind: Pod\nspec:\n  hostNetwrok: true\n"), &pod); err == nil {
		t.Fatal("strict decoding accepted a misspelt field: the manifest tests would prove nothing")
	}
}

func TestKubeVIPManifest(t *testing.T) {
	for _, vip := range []string{"192.0.2.100", "10.0.0.250"} {
		t.Run(vip, func(t *testing.T) {
			b, err := KubeVIPManifest(vip)
			if err != nil {
				t.Fatal(err)
			}
			pod := decodePod(t, b)
			if pod.APIVersion != "v1" || pod.Kind != "Pod" || pod.Name != "kube-vip" || pod.Namespace != "kube-system" {
				t.Errorf("object = %s %s %s/%s", pod.APIVersion, pod.Kind, pod.Namespace, pod.Name)
			}
			spec := pod.Spec
			if !spec.HostNetwork {
				t.Error("hostNetwork is off: kube-vip must own an address on the node's interface")
			}
			if len(spec.HostAliases) != 1 || spec.HostAliases[0].IP != "127.0.0.1" || strings.Join(spec.HostAliases[0].Hostnames, ",") != "kubernetes" {
				t.Errorf("hostAliases = %+v, want kubernetes -> 127.0.0.1", spec.HostAliases)
			}
			if len(spec.Containers) != 1 {
				t.Fatalf("%d containers", len(spec.Containers))
			}
			c := spec.Containers[0]
			if c.Image != "ghcr.io/kube-vip/kube-vip:"+KubeVIPVersion || strings.HasSuffix(c.Image, ":latest") {
				t.Errorf("image %q is not the pinned release", c.Image)
			}
			if strings.Join(c.Args, " ") != "manager" {
				t.Errorf("args = %v, want [manager]", c.Args)
			}
			caps := c.SecurityContext.Capabilities
			if caps == nil || len(caps.Add) != 2 || caps.Add[0] != "NET_ADMIN" || caps.Add[1] != "NET_RAW" {
				t.Errorf("capabilities = %+v, want NET_ADMIN and NET_RAW", caps)
			}
			if c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
				t.Error("kube-vip must not run privileged in ARP mode")
			}
			env := map[string]string{}
			for _, e := range c.Env {
				if _, dup := env[e.Name]; dup {
					t.Errorf("env %s twice", e.Name)
				}
				env[e.Name] = e.Value
				if e.Name == "vip_nodename" && (e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName") {
					t.Errorf("vip_nodename must come from spec.nodeName: %+v", e)
				}
			}
			want := map[string]string{
				"vip_arp": "true", "port": "6443", "vip_address": vip,
				"cp_enable": "true", "cp_namespace": "kube-system", "svc_enable": "false",
				"vip_leaderelection": "true", "vip_leasename": "plndr-cp-lock",
				"vip_leaseduration": "15", "vip_renewdeadline": "10", "vip_retryperiod": "2",
			}
			for k, v := range want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("env %s = %q (set %v), want %q", k, got, ok, v)
				}
			}
			for _, absent := range []string{"vip_interface", "lb_enable", "bgp_enable", "address"} {
				if _, ok := env[absent]; ok {
					t.Errorf("env %s must not be set", absent)
				}
			}
			if _, ok := env["vip_nodename"]; !ok {
				t.Error("env vip_nodename missing")
			}
			if len(spec.Volumes) != 1 || spec.Volumes[0].HostPath == nil {
				t.Fatalf("volumes = %+v, want one hostPath", spec.Volumes)
			}
			hp := spec.Volumes[0].HostPath
			if hp.Path != AdminConfPath || hp.Type == nil || *hp.Type != corev1.HostPathFile {
				t.Errorf("hostPath = %s (type %v), want %s of type File", hp.Path, hp.Type, AdminConfPath)
			}
			if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/etc/kubernetes/admin.conf" || c.VolumeMounts[0].Name != spec.Volumes[0].Name {
				t.Errorf("volumeMounts = %+v, want the kubeconfig at /etc/kubernetes/admin.conf", c.VolumeMounts)
			}
		})
	}
}

func TestKubeVIPManifestRejectsNonIPv4(t *testing.T) {
	for _, vip := range []string{"", "api.lab.example.org", "2001:db8::10", "192.0.2.300", "192.0.2.10/24"} {
		if _, err := KubeVIPManifest(vip); err == nil || !strings.Contains(err.Error(), "nixlab:kubernetes.controlPlaneEndpoint") {
			t.Errorf("%q: error %v, want one naming nixlab:kubernetes.controlPlaneEndpoint", vip, err)
		}
	}
}

// TestSwapKubeconfig: the substitution kube-init.sh applies with sed during
// init changes the host file only; kube-vip still finds the kubeconfig at
// /etc/kubernetes/admin.conf inside the pod. Swapping back restores the
// manifest byte for byte.
func TestSwapKubeconfig(t *testing.T) {
	b, err := KubeVIPManifest("192.0.2.100")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "path: "+AdminConfPath+"\n"); n != 1 {
		t.Fatalf("%q occurs %d times (mountPath included?), the sed substitution needs exactly 1", "path: "+AdminConfPath, n)
	}
	swapped := SwapKubeconfig(b, AdminConfPath, SuperAdminConfPath)
	pod := decodePod(t, swapped)
	if got := pod.Spec.Volumes[0].HostPath.Path; got != SuperAdminConfPath {
		t.Errorf("hostPath after swap = %s, want %s", got, SuperAdminConfPath)
	}
	if got := pod.Spec.Containers[0].VolumeMounts[0].MountPath; got != "/etc/kubernetes/admin.conf" {
		t.Errorf("mountPath after swap = %s, want it unchanged", got)
	}
	if back := SwapKubeconfig(swapped, SuperAdminConfPath, AdminConfPath); string(back) != string(b) {
		t.Errorf("swapping back does not restore the manifest:\n%s", back)
	}
}
