package kubeadm

import (
	"reflect"
	"strings"
	"testing"
)

// renderCase is one cluster shape nixlab renders configs for.
type renderCase struct {
	name     string
	spec     ClusterSpec
	first    string   // first control plane (kubeadm init)
	joinCPs  []string // other control planes
	workers  []string
	wantHost string // controlPlaneEndpoint host
}

// renderCases are the stacks the issue names: the reference lab (one
// control plane with swap, two workers), a single node that runs
// everything, three control planes behind a kube-vip VIP, an endpoint given
// as a DNS name (static or DHCP node addressing does not change the
// configs: the endpoint does), and nodes without swap.
func renderCases() []renderCase {
	base := ClusterSpec{ClusterName: "nixlab", PodCIDR: "10.244.0.0/16", ServiceCIDR: "10.96.0.0/12"}
	with := func(f func(*ClusterSpec)) ClusterSpec { s := base; f(&s); return s }
	return []renderCase{
		{
			name:     "lab one control plane with swap",
			spec:     with(func(s *ClusterSpec) { s.Endpoint = labEndpoint; s.Swap = true }),
			first:    "nixlab-control-plane-1",
			workers:  []string{"nixlab-worker-1", "nixlab-worker-2"},
			wantHost: labEndpoint,
		},
		{
			name:     "single node runs workloads",
			spec:     with(func(s *ClusterSpec) { s.Endpoint = "192.0.2.20"; s.ControlPlaneWorkloads = true; s.Swap = true }),
			first:    "nixlab-control-plane-1",
			wantHost: "192.0.2.20",
		},
		{
			name:     "three control planes with a VIP",
			spec:     with(func(s *ClusterSpec) { s.ClusterName = "lab-ha"; s.Endpoint = "192.0.2.100"; s.Swap = true }),
			first:    "nixlab-control-plane-1",
			joinCPs:  []string{"nixlab-control-plane-2", "nixlab-control-plane-3"},
			workers:  []string{"nixlab-worker-1"},
			wantHost: "192.0.2.100",
		},
		{
			name: "dhcp nodes behind a DNS name, custom CIDRs",
			spec: with(func(s *ClusterSpec) {
				s.Endpoint = "k8s.lab.example.org"
				s.PodCIDR = "172.20.0.0/16"
				s.ServiceCIDR = "172.21.0.0/16"
			}),
			first:    "cp-a",
			joinCPs:  []string{"cp-b", "cp-c"},
			wantHost: "k8s.lab.example.org",
		},
		{
			name:     "no swap, three control planes without workers",
			spec:     with(func(s *ClusterSpec) { s.Endpoint = "192.0.2.100"; s.ControlPlaneWorkloads = true }),
			first:    "nixlab-control-plane-1",
			joinCPs:  []string{"nixlab-control-plane-2", "nixlab-control-plane-3"},
			wantHost: "192.0.2.100",
		},
	}
}

func TestInitConfig(t *testing.T) {
	for _, tc := range renderCases() {
		t.Run(tc.name, func(t *testing.T) {
			b, err := InitConfig(tc.spec, tc.first, testToken, testKey)
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			if n := strings.Count(s, VersionPlaceholder); n != 1 {
				t.Errorf("version placeholder occurs %d times, want exactly 1:\n%s", n, s)
			}
			if n := strings.Count(s, testToken); n != 1 {
				t.Errorf("token occurs %d times, want 1", n)
			}
			if n := strings.Count(s, testKey); n != 1 {
				t.Errorf("certificate key occurs %d times, want 1", n)
			}
			docs := byKind(t, b)
			if len(docs) != 3 || docs["InitConfiguration"] == nil || docs["ClusterConfiguration"] == nil || docs["KubeletConfiguration"] == nil {
				t.Fatalf("want Init-, Cluster- and KubeletConfiguration, got %v", reflect.ValueOf(docs).MapKeys())
			}
			ini, cl, kl := docs["InitConfiguration"], docs["ClusterConfiguration"], docs["KubeletConfiguration"]
			checks := []struct {
				what      string
				got, want any
			}{
				{"init apiVersion", ini["apiVersion"], "kubeadm.k8s.io/v1beta4"},
				{"cluster apiVersion", cl["apiVersion"], "kubeadm.k8s.io/v1beta4"},
				{"kubelet apiVersion", kl["apiVersion"], "kubelet.config.k8s.io/v1beta1"},
				{"token", at(t, ini, "bootstrapTokens", 0, "token"), testToken},
				{"token ttl", at(t, ini, "bootstrapTokens", 0, "ttl"), "24h0m0s"},
				{"token usages", at(t, ini, "bootstrapTokens", 0, "usages"), []any{"signing", "authentication"}},
				{"token groups", at(t, ini, "bootstrapTokens", 0, "groups"), []any{"system:bootstrappers:kubeadm:default-node-token"}},
				{"certificateKey", ini["certificateKey"], testKey},
				{"node name", at(t, ini, "nodeRegistration", "name"), tc.first},
				{"criSocket", at(t, ini, "nodeRegistration", "criSocket"), "unix:///run/containerd/containerd.sock"},
				{"ignorePreflightErrors", at(t, ini, "nodeRegistration", "ignorePreflightErrors"), nil},
				{"kubeletExtraArgs", at(t, ini, "nodeRegistration", "kubeletExtraArgs"), nil},
				{"controlPlaneEndpoint", cl["controlPlaneEndpoint"], tc.wantHost + ":6443"},
				{"kubernetesVersion", cl["kubernetesVersion"], VersionPlaceholder},
				{"clusterName", cl["clusterName"], tc.spec.ClusterName},
				{"podSubnet", at(t, cl, "networking", "podSubnet"), tc.spec.PodCIDR},
				{"serviceSubnet", at(t, cl, "networking", "serviceSubnet"), tc.spec.ServiceCIDR},
				{"dnsDomain", at(t, cl, "networking", "dnsDomain"), "cluster.local"},
				{"cgroupDriver", kl["cgroupDriver"], "systemd"},
			}
			if tc.spec.Swap {
				checks = append(checks,
					struct {
						what      string
						got, want any
					}{"failSwapOn", kl["failSwapOn"], false},
					struct {
						what      string
						got, want any
					}{"swapBehavior", at(t, kl, "memorySwap", "swapBehavior"), "NoSwap"})
			} else {
				checks = append(checks,
					struct {
						what      string
						got, want any
					}{"failSwapOn without swap", kl["failSwapOn"], nil},
					struct {
						what      string
						got, want any
					}{"memorySwap without swap", kl["memorySwap"], nil})
			}
			for _, c := range checks {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
				}
			}
			checkTaints(t, at(t, ini, "nodeRegistration"), tc.spec.ControlPlaneWorkloads)
		})
	}
}

// checkTaints: an explicit empty list when control planes run workloads,
// else no taints key (kubeadm's default control-plane taint applies).
func checkTaints(t *testing.T, reg any, empty bool) {
	t.Helper()
	m, _ := reg.(map[string]any)
	taints, present := m["taints"]
	switch {
	case empty && (!present || !reflect.DeepEqual(taints, []any{})):
		t.Errorf("taints = %#v (present %v), want an explicit empty list", taints, present)
	case !empty && present:
		t.Errorf("taints = %#v, want the key absent (kubeadm default)", taints)
	}
}

func TestJoinConfig(t *testing.T) {
	for _, tc := range renderCases() {
		t.Run(tc.name, func(t *testing.T) {
			nodes := append(append([]string{}, tc.joinCPs...), tc.workers...)
			for i, node := range nodes {
				cp := i < len(tc.joinCPs)
				b, err := JoinConfig(tc.spec, node, cp, testToken, testCAHash, testKey)
				if err != nil {
					t.Fatalf("%s: %v", node, err)
				}
				s := string(b)
				if strings.Contains(s, VersionPlaceholder) {
					t.Errorf("%s: join config carries the version placeholder", node)
				}
				if n := strings.Count(s, testToken); n != 1 {
					t.Errorf("%s: token occurs %d times, want 1", node, n)
				}
				wantKey := 0
				if cp {
					wantKey = 1
				}
				if n := strings.Count(s, testKey); n != wantKey {
					t.Errorf("%s (control plane %v): certificate key occurs %d times, want %d", node, cp, n, wantKey)
				}
				docs := byKind(t, b)
				j := docs["JoinConfiguration"]
				if len(docs) != 1 || j == nil {
					t.Fatalf("%s: want one JoinConfiguration, got %d documents", node, len(docs))
				}
				checks := []struct {
					what      string
					got, want any
				}{
					{"apiVersion", j["apiVersion"], "kubeadm.k8s.io/v1beta4"},
					{"apiServerEndpoint", at(t, j, "discovery", "bootstrapToken", "apiServerEndpoint"), tc.wantHost + ":6443"},
					{"discovery token", at(t, j, "discovery", "bootstrapToken", "token"), testToken},
					{"caCertHashes", at(t, j, "discovery", "bootstrapToken", "caCertHashes"), []any{testCAHash}},
					{"unsafeSkipCAVerification", at(t, j, "discovery", "bootstrapToken", "unsafeSkipCAVerification"), nil},
					{"node name", at(t, j, "nodeRegistration", "name"), node},
					{"criSocket", at(t, j, "nodeRegistration", "criSocket"), CRISocket},
					{"ignorePreflightErrors", at(t, j, "nodeRegistration", "ignorePreflightErrors"), nil},
				}
				if cp {
					checks = append(checks, struct {
						what      string
						got, want any
					}{"controlPlane.certificateKey", at(t, j, "controlPlane", "certificateKey"), testKey})
				} else {
					checks = append(checks, struct {
						what      string
						got, want any
					}{"controlPlane on a worker", j["controlPlane"], nil})
				}
				for _, c := range checks {
					if !reflect.DeepEqual(c.got, c.want) {
						t.Errorf("%s: %s = %#v, want %#v", node, c.what, c.got, c.want)
					}
				}
				checkTaints(t, at(t, j, "nodeRegistration"), cp && tc.spec.ControlPlaneWorkloads)
			}
		})
	}
}

func TestJoinConfigWorkerNeedsNoCertificateKey(t *testing.T) {
	spec := renderCases()[0].spec
	b, err := JoinConfig(spec, "nixlab-worker-1", false, testToken, testCAHash, "")
	if err != nil {
		t.Fatalf("a worker join must not need the certificate key: %v", err)
	}
	if strings.Contains(string(b), "certificateKey") {
		t.Errorf("worker join config mentions certificateKey:\n%s", b)
	}
	if _, err := JoinConfig(spec, "nixlab-control-plane-2", true, testToken, testCAHash, ""); err == nil {
		t.Error("a control-plane join without certificate key was accepted")
	}
}

func TestTokenConfig(t *testing.T) {
	for _, tc := range renderCases() {
		t.Run(tc.name, func(t *testing.T) {
			b, err := TokenConfig(tc.spec, testToken, testKey)
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			if strings.Contains(s, VersionPlaceholder) {
				t.Error("token config carries the version placeholder")
			}
			if strings.Count(s, testToken) != 1 || strings.Count(s, testKey) != 1 {
				t.Errorf("want token and key once each:\n%s", s)
			}
			docs := byKind(t, b)
			ini := docs["InitConfiguration"]
			if len(docs) != 1 || ini == nil {
				t.Fatalf("want exactly one InitConfiguration, got %d documents", len(docs))
			}
			for what, got := range map[string]any{
				"token":          at(t, ini, "bootstrapTokens", 0, "token"),
				"ttl":            at(t, ini, "bootstrapTokens", 0, "ttl"),
				"certificateKey": ini["certificateKey"],
				"criSocket":      at(t, ini, "nodeRegistration", "criSocket"),
			} {
				want := map[string]any{"token": testToken, "ttl": "24h0m0s", "certificateKey": testKey, "criSocket": CRISocket}[what]
				if got != want {
					t.Errorf("%s = %#v, want %#v", what, got, want)
				}
			}
		})
	}
}
