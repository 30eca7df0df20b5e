package plan

import (
	"bufio"
	"strconv"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
	"github.com/nixlab/nixlab/stack"
)

// kubeConfig is a valid config: one control plane and two workers, NFS,
// DHCP unless network says otherwise, with nixlab:kubernetes set to k
// (JSON) and the node groups to groups (JSON, "" for the default).
func kubeConfig(t *testing.T, k, network, groups string, nfs bool) *stack.Config {
	t.Helper()
	if groups == "" {
		groups = `{"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100},"workers":{"role":"worker","count":2,"vmIdStart":9200}}`
	}
	values := map[string]string{
		"nixlab:apiToken":   placeholderToken,
		"nixlab:proxmox":    `{"endpoint":"https://192.168.1.5:8006/","node":"pve"}`,
		"nixlab:network":    network,
		"nixlab:nodeGroups": groups,
		"nixlab:kubernetes": k,
	}
	if nfs {
		values["nixlab:nfs"] = `{"server":"192.168.1.4","export":"/volume1/k8s"}`
	}
	cfg, err := stack.ParseConfig(func(key string) (string, bool) { v, ok := values[key]; return v, ok && v != "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// planNodes are the plan's nodes for cfg: control planes first, addresses
// from static (name -> address) or dhcp.
func planNodes(cfg *stack.Config, static map[string]string) []Node {
	var nodes []Node
	for _, group := range cfg.GroupOrder() {
		g := cfg.NodeGroups[group]
		for i := 1; i <= g.Count; i++ {
			name := cfg.ClusterName + "-" + group + "-" + strconv.Itoa(i)
			addr := AddressDHCP
			if a, ok := static[name]; ok {
				addr = a
			}
			nodes = append(nodes, Node{Name: name, Group: group, Role: g.Role, VMID: g.VMIDStart + i - 1, Address: addr})
		}
	}
	return nodes
}

func kubeText(k *Kubernetes) string {
	var b strings.Builder
	w := bufio.NewWriter(&b)
	(&Plan{Kubernetes: k}).writeTextKubernetes(w)
	_ = w.Flush()
	return b.String()
}

const static24 = `{"mode":"static","cidr":"192.168.1.0/24","gateway":"192.168.1.1"}`

func kubeStaticGroups(cps int) string {
	return `{"control-plane":{"role":"control-plane","count":` + strconv.Itoa(cps) + `,"vmIdStart":9100,"hostOffset":21},"workers":{"role":"worker","count":2,"vmIdStart":9200,"hostOffset":31}}`
}

var staticAddrs = map[string]string{
	"nixlab-control-plane-1": "192.168.1.21", "nixlab-control-plane-2": "192.168.1.22", "nixlab-control-plane-3": "192.168.1.23",
	"nixlab-workers-1": "192.168.1.31", "nixlab-workers-2": "192.168.1.32",
}

// The plan's Kubernetes section: the endpoint and how it is held, the
// networks, the CNI, the storage class and the version guard, with the
// notes an operator needs (a growing cluster needs a VIP from the start).
func TestKubernetesSummary(t *testing.T) {
	for _, tt := range []struct {
		name      string
		cfg       *stack.Config
		static    map[string]string
		endpoint  string
		kind      string
		text      []string // lines or parts of the text section
		notText   []string
		storageOK bool
	}{
		{
			name: "lab: DHCP, one control plane", cfg: kubeConfig(t, "", `{"mode":"dhcp"}`, "", true),
			endpoint: "https://(known after up):6443", kind: EndpointNode, storageOK: true,
			text: []string{
				"  endpoint         https://(known after up):6443 (nixlab-control-plane-1's address)\n",
				"  control planes   nixlab-control-plane-1\n",
				"  workers          nixlab-workers-1, nixlab-workers-2\n",
				"  pod network      10.244.0.0/16 (a /24 per node: room for 256 nodes)\n",
				"  service network  10.96.0.0/12\n",
				"  CNI              flannel\n",
				"  storage class    nfs (csi-driver-nfs on 192.168.1.4:/volume1/k8s, onDelete delete, default class)\n",
				"  version          the template's kubeadm (no nixlab:kubernetes.version check)\n",
				"growing to more control planes later needs a VIP or DNS name",
				"changing the endpoint later means new certificates",
			},
			notText: []string{"kube-vip holds"},
		},
		{
			name: "static, one control plane", cfg: kubeConfig(t, `{"version":"1.35"}`, static24, kubeStaticGroups(1), true), static: staticAddrs,
			endpoint: "https://192.168.1.21:6443", kind: EndpointNode, storageOK: true,
			text: []string{"https://192.168.1.21:6443 (nixlab-control-plane-1's address)", "kubeadm 1.35.x on every node, or the bootstrap stops", "needs a VIP or DNS name"},
		},
		{
			name: "static, the control plane's address given", cfg: kubeConfig(t, `{"controlPlaneEndpoint":"192.168.1.21"}`, static24, kubeStaticGroups(1), true), static: staticAddrs,
			endpoint: "https://192.168.1.21:6443", kind: EndpointNode, storageOK: true,
			text: []string{"a control plane's own address (no kube-vip)"},
		},
		{
			name: "static, three control planes and a VIP", cfg: kubeConfig(t, `{"controlPlaneEndpoint":"192.168.1.20"}`, static24, kubeStaticGroups(3), true), static: staticAddrs,
			endpoint: "https://192.168.1.20:6443", kind: EndpointVIP, storageOK: true,
			text:    []string{"https://192.168.1.20:6443 (VIP, kube-vip)", "nixlab-control-plane-1, nixlab-control-plane-2, nixlab-control-plane-3", "kube-vip holds the VIP"},
			notText: []string{"DHCP pool", "growing to more"},
		},
		{
			name: "DHCP VIP", cfg: kubeConfig(t, `{"controlPlaneEndpoint":"192.168.1.50"}`, `{"mode":"dhcp"}`, "", true),
			endpoint: "https://192.168.1.50:6443", kind: EndpointVIP, storageOK: true,
			text: []string{"(VIP, kube-vip)", "outside the DHCP pool"},
		},
		{
			name: "DNS name, no NFS, no CNI", cfg: kubeConfig(t, `{"controlPlaneEndpoint":"k8s.lab.example","cni":"none","podCidr":"10.32.0.0/20","serviceCidr":"10.33.0.0/24"}`, `{"mode":"dhcp"}`, "", false),
			endpoint: "https://k8s.lab.example:6443", kind: EndpointDNS,
			text: []string{"(DNS name)", "must resolve", "storage class    none (no nixlab:nfs)", "CNI              none", "install a CNI yourself", "10.32.0.0/20 (a /24 per node: room for 16 nodes)", "10.33.0.0/24"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := summarizeKubernetes(tt.cfg, planNodes(tt.cfg, tt.static))
			if !k.Enabled || k.Endpoint != tt.endpoint || k.EndpointKind != tt.kind {
				t.Errorf("endpoint %q (%s), want %q (%s)", k.Endpoint, k.EndpointKind, tt.endpoint, tt.kind)
			}
			if (k.StorageClass != nil) != tt.storageOK {
				t.Errorf("storage class %+v, want present %v", k.StorageClass, tt.storageOK)
			}
			text := kubeText(k)
			if !strings.HasPrefix(text, "\nKubernetes\n") {
				t.Errorf("no section header:\n%s", text)
			}
			flat := strings.Join(strings.Fields(text), " ")
			for _, want := range tt.text {
				if !strings.Contains(text, want) && !strings.Contains(flat, strings.Join(strings.Fields(want), " ")) {
					t.Errorf("text lacks %q:\n%s", want, text)
				}
			}
			for _, bad := range tt.notText {
				if strings.Contains(flat, bad) {
					t.Errorf("text has %q:\n%s", bad, text)
				}
			}
			for _, line := range strings.Split(text, "\n") {
				if len(line) > 100 {
					t.Errorf("line longer than 100 characters: %q", line)
				}
			}
		})
	}
}

func TestKubernetesSummaryDisabled(t *testing.T) {
	cfg := kubeConfig(t, `{"enabled":false}`, `{"mode":"dhcp"}`, `{"cp":{"role":"control-plane","count":3,"vmIdStart":9100}}`, true)
	k := summarizeKubernetes(cfg, planNodes(cfg, nil))
	if k.Enabled || k.Endpoint != "" || k.StorageClass != nil {
		t.Errorf("disabled cluster summarized as %+v", k)
	}
	text := kubeText(k)
	if !strings.Contains(text, "\nKubernetes\n  disabled\n") || !strings.Contains(text, "no cluster") {
		t.Errorf("text:\n%s", text)
	}
	if kubeText(nil) != "" {
		t.Error("a plan without a Kubernetes summary writes a section")
	}
}

// The lab plan summarizes the Kubernetes resources by type: the provider's
// kubeconfig stays a secret, the charts are pinned, the StorageClass is
// csi-driver-nfs's on the lab's export, and the plan carries the
// Kubernetes section.
func TestLabPlanKubernetesResources(t *testing.T) {
	unsetEnv(t, "SSH_AUTH_SOCK")
	p := build(t, testutil.RepoRoot(t), "lab")
	if p.Kubernetes == nil || !p.Kubernetes.Enabled || p.Kubernetes.EndpointKind != EndpointNode || p.Kubernetes.StorageClass == nil {
		t.Fatalf("kubernetes summary %+v", p.Kubernetes)
	}
	seen := map[string]int{}
	for _, r := range p.Resources {
		seen[r.Type]++
		get := func(key string) string { v, _ := r.Inputs.Get(key); return v }
		switch r.Type {
		case typeK8sProvider:
			if get("kubeconfig") != Secret || get("clusterIdentifier") != Unknown {
				t.Errorf("%s: kubeconfig %q clusterIdentifier %q", r.Name, get("kubeconfig"), get("clusterIdentifier"))
			}
		case typeHelmRelease:
			if get("chart") == "" || get("version") == "" || get("version") == Unknown || get("repo") == "" {
				t.Errorf("%s: chart %q version %q repo %q: not pinned", r.Name, get("chart"), get("version"), get("repo"))
			}
		case typeStorageClass:
			if get("name") != "nfs" || get("provisioner") != "nfs.csi.k8s.io" || !strings.Contains(get("parameters"), "share: /volume1/k8s-cluster-storage") {
				t.Errorf("%s: %v", r.Name, r.Inputs)
			}
		case typeRandomString, typeRandomPassword, typeRandomBytes, typeRandomID:
			if get("length") == "" && get("byteLength") == "" {
				t.Errorf("%s: no length in %v", r.Name, r.Inputs)
			}
		}
	}
	for _, typ := range []string{typeK8sProvider, typeHelmRelease, typeStorageClass} {
		if seen[typ] == 0 {
			t.Errorf("the lab plan has no %s", typ)
		}
	}
}
