package stack

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// kubeLab is the lab (DHCP, one control plane, two workers, NFS on
// 192.168.1.4, Proxmox on 192.168.1.5) with nixlab:kubernetes set to k
// (JSON) and more overrides.
func kubeLab(k string, more map[string]string) map[string]string {
	return labWith("nixlab:kubernetes", k, more)
}

// labWith is the overrides of the lab that set key to value (JSON) and
// more.
func labWith(key, value string, more map[string]string) map[string]string {
	out := map[string]string{key: value}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// staticKube is kubeLab on static addresses: 192.168.1.0/24, gateway .1,
// the control plane(s) from .21, the two workers at .31 and .32.
func staticKube(k string, controlPlanes int) map[string]string {
	return kubeLab(k, staticLab(`"control-plane":{"role":"control-plane","count":`+itoa(controlPlanes)+`,"vmIdStart":9100,"hostOffset":21},`+
		`"workers":{"role":"worker","count":2,"vmIdStart":9200,"hostOffset":31}`))
}

// twoControlPlanes is the DHCP lab with two control planes.
var twoControlPlanes = map[string]string{"nixlab:nodeGroups": `{"cp":{"role":"control-plane","count":2,"vmIdStart":9100},"workers":{"role":"worker","count":2,"vmIdStart":9200}}`}

// Every nixlab:kubernetes rule refuses a bad value under its own key with
// a message that says what to do.
func TestKubernetesRules(t *testing.T) {
	const endpoint = "nixlab:kubernetes.controlPlaneEndpoint"
	const pod, svc = "nixlab:kubernetes.podCidr", "nixlab:kubernetes.serviceCidr"
	const subDir = "nixlab:kubernetes.storage.subDir"
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		key       string
		fix       []string
	}{
		// The endpoint's form.
		{"endpoint URL", kubeLab(`{"controlPlaneEndpoint":"https://k8s.lab.example:6443"}`, nil), endpoint, []string{"is a URL", "without scheme or port"}},
		{"endpoint with a port", kubeLab(`{"controlPlaneEndpoint":"192.168.1.50:6443"}`, nil), endpoint, []string{"holds a port", "port 6443"}},
		{"endpoint with a path", kubeLab(`{"controlPlaneEndpoint":"k8s.lab.example/api"}`, nil), endpoint, []string{"port or path"}},
		{"endpoint IPv6", kubeLab(`{"controlPlaneEndpoint":"fd00::50"}`, nil), endpoint, []string{"IPv6 endpoints are not supported"}},
		{"endpoint IPv6 in brackets", kubeLab(`{"controlPlaneEndpoint":"[fd00::50]"}`, nil), endpoint, []string{"IPv6 endpoints are not supported"}},
		{"endpoint bad IPv4", kubeLab(`{"controlPlaneEndpoint":"192.168.1.256"}`, nil), endpoint, []string{"not a valid IPv4 address", "DNS name"}},
		{"endpoint leading zero", kubeLab(`{"controlPlaneEndpoint":"192.168.1.050"}`, nil), endpoint, []string{"without leading zeros"}},
		{"endpoint bad DNS name", kubeLab(`{"controlPlaneEndpoint":"k8s_lab"}`, nil), endpoint, []string{"not a DNS name"}},
		{"endpoint loopback", kubeLab(`{"controlPlaneEndpoint":"127.0.0.1"}`, nil), endpoint, []string{"cannot be an API address"}},
		// Required with more than one control plane, and why.
		{"two control planes without endpoint", twoControlPlanes, endpoint, []string{"is required with 2 control-plane nodes", "VIP", "DNS name", "new API server certificates"}},
		{"three static control planes without endpoint", staticKube(`{}`, 3), endpoint, []string{"is required with 3 control-plane nodes"}},
		// Addresses already in use.
		{"endpoint is the NFS server", kubeLab(`{"controlPlaneEndpoint":"192.168.1.4"}`, nil), endpoint, []string{"the NFS server (nixlab:nfs.server)", "free address"}},
		{"endpoint is the Proxmox host", kubeLab(`{"controlPlaneEndpoint":"192.168.1.5"}`, nil), endpoint, []string{"the Proxmox host"}},
		// Static mode: inside the node network, a host, not the gateway.
		{"static endpoint outside the network", staticKube(`{"controlPlaneEndpoint":"10.0.0.5"}`, 1), endpoint, []string{"outside nixlab:network.cidr 192.168.1.0/24", "ARP"}},
		{"static endpoint network address", staticKube(`{"controlPlaneEndpoint":"192.168.1.0"}`, 1), endpoint, []string{"network address of 192.168.1.0/24"}},
		{"static endpoint broadcast address", staticKube(`{"controlPlaneEndpoint":"192.168.1.255"}`, 1), endpoint, []string{"broadcast address of 192.168.1.0/24"}},
		{"static endpoint is the gateway", staticKube(`{"controlPlaneEndpoint":"192.168.1.1"}`, 1), endpoint, []string{"is the gateway (nixlab:network.gateway)"}},
		{"static endpoint is a worker", staticKube(`{"controlPlaneEndpoint":"192.168.1.32"}`, 1), endpoint, []string{"worker node nixlab-workers-2", "no API server runs"}},
		{"static endpoint is one of three control planes", staticKube(`{"controlPlaneEndpoint":"192.168.1.22"}`, 3), endpoint, []string{"control-plane node nixlab-control-plane-2 alone", "VIP"}},
		// The pod and service networks: form.
		{"pod CIDR without prefix", kubeLab(`{"podCidr":"10.244.0.0"}`, nil), pod, []string{"not an IPv4 network", "10.244.0.0/16"}},
		{"pod CIDR IPv6", kubeLab(`{"podCidr":"fd00:10::/56"}`, nil), pod, []string{"not an IPv4 network"}},
		{"pod CIDR host bits", kubeLab(`{"podCidr":"10.244.1.0/16"}`, nil), pod, []string{"host bits", "use 10.244.0.0/16"}},
		{"service CIDR not a network", kubeLab(`{"serviceCidr":"services"}`, nil), svc, []string{"not an IPv4 network", "10.96.0.0/12"}},
		// Sizes.
		{"pod CIDR /25", kubeLab(`{"podCidr":"10.244.0.0/25"}`, nil), pod, []string{"smaller than one node's pod range (/24", "node-cidr-mask-size"}},
		{"pod CIDR /7", kubeLab(`{"podCidr":"10.0.0.0/7"}`, nil), pod, []string{"more than 16 bits shorter", "/8 or longer"}},
		{"pod CIDR /24 for three nodes", kubeLab(`{"podCidr":"10.244.0.0/24"}`, nil), pod, []string{"holds 1 per-node /24 ranges", "have 3 nodes", "/22 holds 4"}},
		{"pod CIDR /23 for three nodes", kubeLab(`{"podCidr":"10.244.0.0/23"}`, nil), pod, []string{"holds 2 per-node /24 ranges", "have 3 nodes"}},
		{"service CIDR /11", kubeLab(`{"serviceCidr":"10.96.0.0/11"}`, nil), svc, []string{"more than 2^20 addresses", "kube-apiserver", "/12 or longer"}},
		{"service CIDR /29", kubeLab(`{"serviceCidr":"10.96.0.0/29"}`, nil), svc, []string{"10th address", "/28 or shorter"}},
		// Overlaps.
		{"pod and service overlap", kubeLab(`{"podCidr":"10.96.0.0/16"}`, nil), svc, []string{"overlaps kubernetes.podCidr 10.96.0.0/16"}},
		{"service inside pod", kubeLab(`{"serviceCidr":"10.244.128.0/20"}`, nil), svc, []string{"overlaps kubernetes.podCidr 10.244.0.0/16"}},
		{"pod overlaps the node network", staticKube(`{"podCidr":"192.168.0.0/16"}`, 1), pod, []string{"overlaps the node network nixlab:network.cidr 192.168.1.0/24"}},
		{"service overlaps the node network", staticKube(`{"serviceCidr":"192.168.1.0/28"}`, 1), svc, []string{"overlaps the node network"}},
		{"pod holds the NFS server", kubeLab(`{"podCidr":"192.168.0.0/16"}`, nil), pod, []string{"holds 192.168.1.4, the NFS server"}},
		{"service holds the NFS server", kubeLab(`{"serviceCidr":"192.168.1.0/24"}`, nil), svc, []string{"holds 192.168.1.4, the NFS server"}},
		{"pod holds the endpoint", kubeLab(`{"controlPlaneEndpoint":"10.244.3.7"}`, nil), pod, []string{"holds the control-plane endpoint 10.244.3.7"}},
		{"service holds the endpoint", kubeLab(`{"controlPlaneEndpoint":"10.100.0.1"}`, nil), svc, []string{"holds the control-plane endpoint 10.100.0.1"}},
		{"pod holds a DNS server", kubeLab(`{"podCidr":"10.0.0.0/8","serviceCidr":"172.16.0.0/12"}`, map[string]string{"nixlab:network": `{"mode":"dhcp","dns":["10.0.0.53"]}`}), pod, []string{"a DNS server (nixlab:network.dns[0])"}},
		// CNI, storage, version.
		{"unknown CNI", kubeLab(`{"cni":"cilium"}`, nil), "nixlab:kubernetes.cni", []string{"flannel (the default), calico, or none"}},
		{"class name with capitals", kubeLab(`{"storage":{"className":"NFS_Fast"}}`, nil), "nixlab:kubernetes.storage.className", []string{"DNS-1123 subdomain"}},
		{"class name too long", kubeLab(`{"storage":{"className":"`+strings.Repeat("a", 254)+`"}}`, nil), "nixlab:kubernetes.storage.className", []string{"at most 253 characters"}},
		{"absolute subDir", kubeLab(`{"storage":{"subDir":"/volumes"}}`, nil), subDir, []string{"starts with '/'", "relative to the export"}},
		{"subDir escapes the export", kubeLab(`{"storage":{"subDir":"a/../../etc"}}`, nil), subDir, []string{"'..'"}},
		{"subDir unknown placeholder", kubeLab(`{"storage":{"subDir":"${pvc.name}"}}`, nil), subDir, []string{"placeholder csi-driver-nfs does not replace", "${pvc.metadata.name}"}},
		{"subDir with a space", kubeLab(`{"storage":{"subDir":"my volumes"}}`, nil), subDir, []string{"characters a directory name here may not have"}},
		{"subDir with //", kubeLab(`{"storage":{"subDir":"a//b"}}`, nil), subDir, []string{"empty path component"}},
		{"subDir trailing slash", kubeLab(`{"storage":{"subDir":"a/"}}`, nil), subDir, []string{"empty path component"}},
		{"subDir shared by every volume", kubeLab(`{"storage":{"subDir":"volumes"}}`, nil), subDir, []string{"shared by several volumes", "${pv.metadata.name}"}},
		{"subDir per claim name only", kubeLab(`{"storage":{"subDir":"k8s/${pvc.metadata.name}"}}`, nil), subDir, []string{"shared by several volumes"}},
		{"subDir per namespace only", kubeLab(`{"storage":{"subDir":"${pvc.metadata.namespace}"}}`, nil), subDir, []string{"shared by several volumes"}},
		{"onDelete keep", kubeLab(`{"storage":{"onDelete":"keep"}}`, nil), "nixlab:kubernetes.storage.onDelete", []string{"delete (the default", "retain", "archive"}},
		{"storage without NFS", kubeLab(`{"storage":{"onDelete":"retain"}}`, map[string]string{"nixlab:nfs": "{}"}), "nixlab:kubernetes.storage", []string{"storage needs nixlab:nfs", "remove kubernetes.storage"}},
		{"storage defaultClass without NFS", kubeLab(`{"storage":{"defaultClass":false}}`, map[string]string{"nixlab:nfs": ""}), "nixlab:kubernetes.storage", []string{"storage needs nixlab:nfs"}},
		{"version with v", kubeLab(`{"version":"v1.35"}`, nil), "nixlab:kubernetes.version", []string{"major.minor", `"1.35"`}},
		{"version with patch", kubeLab(`{"version":"1.35.2"}`, nil), "nixlab:kubernetes.version", []string{"without patch"}},
		{"version 2.0", kubeLab(`{"version":"2.0"}`, nil), "nixlab:kubernetes.version", []string{"major.minor"}},
		{"version leading zero", kubeLab(`{"version":"1.035"}`, nil), "nixlab:kubernetes.version", []string{"major.minor"}},
		{"version before v1beta4", kubeLab(`{"version":"1.30"}`, nil), "nixlab:kubernetes.version", []string{"older than 1.31", "v1beta4", "nixos/flake.nix"}},
		// At least one control plane when there are nodes (the node
		// group check, which the cluster relies on).
		{"workers only", map[string]string{"nixlab:nodeGroups": `{"workers":{"role":"worker","count":2,"vmIdStart":9200}}`}, "nixlab:nodeGroups", []string{"no control-plane node"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(labLookup(t, tt.overrides))
			msg := errorFor(err, tt.key)
			if msg == "" {
				t.Fatalf("no error for %s: %v", tt.key, err)
			}
			for _, f := range tt.fix {
				if !strings.Contains(msg, f) {
					t.Errorf("%s: message lacks %q:\n%s", tt.key, f, msg)
				}
			}
		})
	}
}

// Valid Kubernetes settings pass, including the boundaries of each rule.
func TestKubernetesAccepted(t *testing.T) {
	for _, tt := range []struct {
		name      string
		overrides map[string]string
	}{
		{"the lab as is", nil},
		{"kubernetes absent", map[string]string{"nixlab:kubernetes": ""}},
		{"one control plane without endpoint", kubeLab(`{}`, nil)},
		{"two control planes with a DNS name", kubeLab(`{"controlPlaneEndpoint":"k8s.lab.example"}`, twoControlPlanes)},
		{"two control planes with a DHCP VIP", kubeLab(`{"controlPlaneEndpoint":"192.168.1.50"}`, twoControlPlanes)},
		{"two control planes, cluster disabled", kubeLab(`{"enabled":false}`, twoControlPlanes)},
		{"single-label DNS name", kubeLab(`{"controlPlaneEndpoint":"k8s"}`, nil)},
		{"static, the control plane's own address", staticKube(`{"controlPlaneEndpoint":"192.168.1.21"}`, 1)},
		{"static, three control planes and a VIP", staticKube(`{"controlPlaneEndpoint":"192.168.1.20"}`, 3)},
		{"static, VIP right after the workers", staticKube(`{"controlPlaneEndpoint":"192.168.1.33"}`, 3)},
		{"pod CIDR /24 for one node", kubeLab(`{"podCidr":"10.244.0.0/24"}`, map[string]string{"nixlab:nodeGroups": `{"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100}}`})},
		{"pod CIDR /22 for three nodes", kubeLab(`{"podCidr":"10.244.0.0/22"}`, nil)},
		{"pod CIDR /8", kubeLab(`{"podCidr":"10.0.0.0/8","serviceCidr":"172.16.0.0/12"}`, nil)},
		{"service CIDR /28", kubeLab(`{"serviceCidr":"10.96.0.0/28"}`, nil)},
		{"service CIDR /12", kubeLab(`{"serviceCidr":"172.16.0.0/12"}`, nil)},
		{"pod and service touching", kubeLab(`{"podCidr":"10.96.0.0/16","serviceCidr":"10.97.0.0/16"}`, nil)},
		{"calico", kubeLab(`{"cni":"calico"}`, nil)},
		{"no CNI", kubeLab(`{"cni":"none"}`, nil)},
		{"subDir per volume", kubeLab(`{"storage":{"subDir":"k8s/${pv.metadata.name}"}}`, nil)},
		{"subDir per claim", kubeLab(`{"storage":{"subDir":"${pvc.metadata.namespace}/${pvc.metadata.name}"}}`, nil)},
		{"storage with every setting", kubeLab(`{"storage":{"className":"nas.fast","defaultClass":false,"subDir":"k8s/${pvc.metadata.namespace}/${pvc.metadata.name}-${pv.metadata.name}","onDelete":"archive"}}`, nil)},
		{"empty storage without NFS", kubeLab(`{"storage":{}}`, map[string]string{"nixlab:nfs": "{}"})},
		{"version 1.31", kubeLab(`{"version":"1.31"}`, nil)},
		{"version 1.100", kubeLab(`{"version":"1.100"}`, nil)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseConfig(labLookup(t, tt.overrides)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Several bad Kubernetes settings are reported at once, each under its key.
func TestKubernetesErrorsAllAtOnce(t *testing.T) {
	_, err := ParseConfig(labLookup(t, kubeLab(`{"controlPlaneEndpoint":"https://x","podCidr":"10.0.0.0/30","serviceCidr":"x","cni":"weave","storage":{"onDelete":"never"},"version":"latest"}`, nil)))
	for _, key := range []string{"controlPlaneEndpoint", "podCidr", "serviceCidr", "cni", "storage.onDelete", "version"} {
		if errorFor(err, "nixlab:kubernetes."+key) == "" {
			t.Errorf("no error for %s in:\n%v", key, err)
		}
	}
}

func TestKubernetesDefaults(t *testing.T) {
	c := &Config{}
	c.ApplyDefaults()
	k := c.Kubernetes
	if !k.IsEnabled() || k.Enabled == nil || k.PodCIDR != "10.244.0.0/16" || k.ServiceCIDR != "10.96.0.0/12" || k.CNI != "flannel" || k.ControlPlaneEndpoint != "" || k.Version != "" {
		t.Errorf("defaults: %+v", k)
	}
	if k.Storage != (KubernetesStorageConfig{}) {
		t.Errorf("storage defaults without NFS: %+v", k.Storage)
	}
	c.NFS = &NFSConfig{Server: "nas", Export: "/v"}
	c.ApplyDefaults()
	s := c.Kubernetes.Storage
	if s.ClassName != "nfs" || s.DefaultClass == nil || !*s.DefaultClass || s.OnDelete != "delete" || s.SubDir != "" {
		t.Errorf("storage defaults with NFS: %+v", s)
	}
	// Given values stay, also false.
	off, no := false, false
	c = &Config{NFS: &NFSConfig{Server: "nas", Export: "/v"}, Kubernetes: KubernetesConfig{
		Enabled: &off, PodCIDR: "10.1.0.0/16", CNI: "calico",
		Storage: KubernetesStorageConfig{DefaultClass: &no, OnDelete: "retain"},
	}}
	c.ApplyDefaults()
	c.ApplyDefaults()
	k = c.Kubernetes
	if k.IsEnabled() || k.PodCIDR != "10.1.0.0/16" || k.CNI != "calico" || k.Storage.IsDefaultClass() || k.Storage.OnDelete != "retain" || k.Storage.ClassName != "nfs" {
		t.Errorf("given values overridden: %+v", k)
	}
	if (KubernetesConfig{}).IsEnabled() != true {
		t.Error("an unset enabled is not true")
	}
}

// Pulumi.yaml's default for nixlab:kubernetes is Go's (the CLI hands it
// over when the stack does not set the key), and holds no storage setting
// (which would be refused on a stack without NFS).
func TestPulumiYAMLKubernetesDefault(t *testing.T) {
	proj, err := workspace.LoadProject(filepath.Join("..", "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	decl, ok := proj.Config["kubernetes"]
	if !ok || decl.Type == nil || *decl.Type != "object" {
		t.Fatalf("Pulumi.yaml declares no object kubernetes: %+v", decl)
	}
	def, ok := decl.Default.(map[string]any)
	if !ok {
		t.Fatalf("kubernetes default is %T", decl.Default)
	}
	want := map[string]any{"enabled": true, "podCidr": DefaultPodCIDR, "serviceCidr": DefaultServiceCIDR, "cni": DefaultCNI}
	if len(def) != len(want) {
		t.Errorf("default %v, want %v", def, want)
	}
	for k, v := range want {
		if def[k] != v {
			t.Errorf("default %s = %v, want %v", k, def[k], v)
		}
	}
	for _, word := range []string{"controlPlaneEndpoint", "podCidr", "serviceCidr", "cni", "storage", "className", "defaultClass", "subDir", "onDelete", "version", "/8 to /24", "/12 to /28", "1.31"} {
		if !strings.Contains(decl.Description, word) {
			t.Errorf("description lacks %q", word)
		}
	}
}

// KubernetesEndpoint: "" for the single control plane's address, a VIP for
// an IPv4 address no node owns (every IPv4 address in DHCP mode), never
// for a DNS name or a node's own address.
func TestKubernetesEndpoint(t *testing.T) {
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		host      string
		vip       bool
	}{
		{"DHCP, unset", kubeLab(`{}`, nil), "", false},
		{"DHCP, IPv4", kubeLab(`{"controlPlaneEndpoint":"192.168.1.50"}`, nil), "192.168.1.50", true},
		{"DNS name", kubeLab(`{"controlPlaneEndpoint":"k8s.lab.example"}`, twoControlPlanes), "k8s.lab.example", false},
		{"static, unset", staticKube(`{}`, 1), "", false},
		{"static, the control plane's address", staticKube(`{"controlPlaneEndpoint":"192.168.1.21"}`, 1), "192.168.1.21", false},
		{"static, a free address", staticKube(`{"controlPlaneEndpoint":"192.168.1.20"}`, 3), "192.168.1.20", true},
		{"static, DNS name", staticKube(`{"controlPlaneEndpoint":"k8s.lab.example"}`, 3), "k8s.lab.example", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig(labLookup(t, tt.overrides))
			if err != nil {
				t.Fatal(err)
			}
			host, vip := cfg.KubernetesEndpoint()
			if host != tt.host || vip != tt.vip {
				t.Errorf("KubernetesEndpoint() = %q, %v; want %q, %v", host, vip, tt.host, tt.vip)
			}
		})
	}
}

// The lab stack file's Kubernetes block: one control plane without an
// endpoint, flannel, and the NFS storage class.
func TestLabKubernetes(t *testing.T) {
	cfg, err := ParseConfig(labLookup(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	k := cfg.Kubernetes
	if !k.IsEnabled() || k.ControlPlaneEndpoint != "" || k.CNI != CNIFlannel || k.Storage.ClassName != "nfs" || !k.Storage.IsDefaultClass() || k.Storage.OnDelete != OnDeleteDelete {
		t.Errorf("lab kubernetes: %+v", k)
	}
	if host, vip := cfg.KubernetesEndpoint(); host != "" || vip {
		t.Errorf("lab endpoint %q vip %v, want the control plane's address", host, vip)
	}
}

// A bad Kubernetes setting in a stack file is reported at its own line.
func TestKubernetesErrorsCarryLines(t *testing.T) {
	dir := projectDir(t, "config:\n  nixlab:clusterName: lab\n  nixlab:kubernetes:\n    cni: weave\n    storage:\n      onDelet: retain\n")
	_, err := planRead(dir)
	for _, want := range []string{
		"Pulumi.t.yaml:4: nixlab:kubernetes.cni: \"weave\" is not a CNI",
		"Pulumi.t.yaml:6: nixlab:kubernetes.storage.onDelet: unknown setting; did you mean onDelete?",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("lacks %q:\n%v", want, err)
		}
	}
}
