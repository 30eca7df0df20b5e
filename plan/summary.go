package plan

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/nixlab/nixlab/stack"
)

// Type tokens the summaries know.
const (
	typeVM             = "proxmoxve:VM/virtualMachine:VirtualMachine"
	typeProxmox        = "pulumi:providers:proxmoxve"
	typeLocalCommand   = "command:local:Command"
	typeRemoteCommand  = "command:remote:Command"
	typePrivateKey     = "tls:index/privateKey:PrivateKey"
	typeNixOSTemplate  = "nixlab:index:NixOSTemplate"
	typeK8sNodeGroup   = "nixlab:index:K8sNodeGroup"
	maxSummaryValueLen = 120

	typeK8sProvider    = "pulumi:providers:kubernetes"
	typeHelmRelease    = "kubernetes:helm.sh/v3:Release"
	typeStorageClass   = "kubernetes:storage.k8s.io/v1:StorageClass"
	typeNamespace      = "kubernetes:core/v1:Namespace"
	typeRandomString   = "random:index/randomString:RandomString"
	typeRandomPassword = "random:index/randomPassword:RandomPassword"
	typeRandomBytes    = "random:index/randomBytes:RandomBytes"
	typeRandomID       = "random:index/randomId:RandomId"
)

// summarize picks the key inputs of a registration by its type. Secret
// values are never read: they summarize as Secret.
func summarize(r *registration, byURN map[string]*registration, vms vmIndex) Inputs {
	in := r.inputs
	var s Inputs
	add := func(key string, v resource.PropertyValue) {
		if v.IsNull() {
			return
		}
		s = append(s, Input{Key: key, Value: describe(v)})
	}
	switch r.typ {
	case typeProxmox:
		add("endpoint", get(in, "endpoint"))
		add("insecure", get(in, "insecure"))
		add("apiToken", get(in, "apiToken"))
		add("sshUser", get(in, "ssh", "username"))
		add("sshAgent", get(in, "ssh", "agent"))
		add("sshNode", get(in, "ssh", "nodes", "0", "address"))
	case typePrivateKey:
		add("algorithm", get(in, "algorithm"))
	case typeLocalCommand:
		add("create", script(get(in, "create")))
		add("delete", script(get(in, "delete")))
	case typeRemoteCommand:
		add("create", script(get(in, "create")))
		// pulumi-command keeps the whole connection secret.
		if conn := get(in, "connection"); conn.IsSecret() || conn.IsComputed() || conn.IsOutput() {
			add("connection", conn)
		} else {
			add("host", get(in, "connection", "host"))
			add("user", get(in, "connection", "user"))
		}
	case typeK8sProvider:
		add("clusterIdentifier", get(in, "clusterIdentifier"))
		add("kubeconfig", get(in, "kubeconfig"))
	case typeHelmRelease:
		add("chart", get(in, "chart"))
		add("version", get(in, "version"))
		add("repo", get(in, "repositoryOpts", "repo"))
		add("namespace", get(in, "namespace"))
	case typeStorageClass:
		add("name", get(in, "metadata", "name"))
		add("provisioner", get(in, "provisioner"))
		add("parameters", get(in, "parameters"))
		add("reclaimPolicy", get(in, "reclaimPolicy"))
	case typeNamespace:
		add("name", get(in, "metadata", "name"))
	case typeRandomString, typeRandomPassword, typeRandomBytes, typeRandomID:
		add("length", get(in, "length"))
		add("byteLength", get(in, "byteLength"))
	case typeVM:
		add("vmId", get(in, "vmId"))
		add("name", get(in, "name"))
		add("cores", get(in, "cpu", "cores"))
		add("memoryMb", get(in, "memory", "dedicated"))
		add("diskGb", get(in, "disks", "0", "size"))
		add("datastore", get(in, "disks", "0", "datastoreId"))
		if clone := get(in, "clone"); !clone.IsNull() {
			s = append(s, Input{Key: "clone", Value: cloneSource(r, byURN, vms)})
			add("address", get(in, "initialization", "ipConfigs", "0", "ipv4", "address"))
		}
	}
	return s
}

// get walks objects (by key) and arrays (by index) and stops early at a
// secret or unknown value, which it returns as it is.
func get(m resource.PropertyMap, path ...string) resource.PropertyValue {
	v := resource.NewObjectProperty(m)
	for _, p := range path {
		if v.IsSecret() || v.IsComputed() || v.IsOutput() {
			return v
		}
		switch {
		case v.IsObject():
			v = v.ObjectValue()[resource.PropertyKey(p)]
		case v.IsArray():
			i, err := strconv.Atoi(p)
			arr := v.ArrayValue()
			if err != nil || i < 0 || i >= len(arr) {
				return resource.NewNullProperty()
			}
			v = arr[i]
		default:
			return resource.NewNullProperty()
		}
	}
	return v
}

// describe renders a value for the summary: secrets as Secret, values
// only known after `pulumi up` as Unknown.
func describe(v resource.PropertyValue) string {
	switch {
	case v.IsSecret():
		return Secret
	case v.IsComputed():
		return Unknown
	case v.IsOutput():
		o := v.OutputValue()
		switch {
		case o.Secret:
			return Secret
		case !o.Known:
			return Unknown
		}
		return describe(o.Element)
	case v.IsNull():
		return ""
	case v.IsString():
		return truncate(v.StringValue())
	case v.IsNumber():
		return strconv.FormatFloat(v.NumberValue(), 'f', -1, 64)
	case v.IsBool():
		return strconv.FormatBool(v.BoolValue())
	case v.IsArray():
		parts := make([]string, 0, len(v.ArrayValue()))
		for _, e := range v.ArrayValue() {
			parts = append(parts, describe(e))
		}
		return truncate("[" + strings.Join(parts, ", ") + "]")
	case v.IsObject():
		obj := v.ObjectValue()
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, string(k))
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+": "+describe(obj[resource.PropertyKey(k)]))
		}
		return truncate("{" + strings.Join(parts, ", ") + "}")
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN.Name())
	}
	return fmt.Sprintf("(%s)", v.TypeString())
}

// truncate keeps summaries on one line and short.
func truncate(s string) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	if len(s) > maxSummaryValueLen {
		return s[:maxSummaryValueLen-3] + "..."
	}
	return s
}

// script summarizes a command line of the form nixlab's components build
// (`bash -c '<script>' <name> <args>...`) as "<name>.sh <args>"; the
// embedded script text is left out. Other commands are shown truncated.
func script(v resource.PropertyValue) resource.PropertyValue {
	if !v.IsString() {
		return v
	}
	// The script itself (word 2, many kilobytes) is not needed: skip it.
	words, ok := shellWordsSkipping(v.StringValue(), 2)
	if !ok || len(words) < 4 || words[0] != "bash" || words[1] != "-c" {
		return v
	}
	return resource.NewStringProperty(strings.Join(append([]string{words[3] + ".sh"}, words[4:]...), " "))
}

// shellWords splits a POSIX shell command line of plain and single-quoted
// words (what the components' shell quoting produces). It reports false
// for anything else (double quotes, expansions). A word made of one piece
// (the common case: a quoted script of many kilobytes) is a substring of
// s, not a copy.
func shellWords(s string) ([]string, bool) {
	return shellWordsSkipping(s, -1)
}

// shellWordsSkipping is shellWords with the word at index skip left empty
// (not assembled); skip < 0 skips nothing.
func shellWordsSkipping(s string, skip int) ([]string, bool) {
	var words []string
	w := word{skip: skip == 0}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, false
			}
			w.add(s[i+1 : i+1+j])
			i += j + 1
		case c == '\\' && i+1 < len(s):
			w.add(s[i+1 : i+2])
			i++
		case c == ' ' || c == '\t' || c == '\n':
			if w.started {
				words = append(words, w.String())
				w = word{skip: len(words) == skip}
			}
		case strings.IndexByte("\"$`;&|<>(){}*?", c) >= 0:
			return nil, false
		default:
			// A run of plain characters is one piece.
			j := i + 1
			for j < len(s) && strings.IndexByte(" \t\n'\\\"$`;&|<>(){}*?", s[j]) < 0 {
				j++
			}
			w.add(s[i:j])
			i = j - 1
		}
	}
	if w.started {
		words = append(words, w.String())
	}
	return words, true
}

// word is a shell word being read: its first piece, and a builder once it
// has more than one.
type word struct {
	started bool
	skip    bool // keep no text
	first   string
	more    *strings.Builder
}

func (w *word) add(piece string) {
	switch {
	case w.skip:
		w.started = true
	case !w.started:
		w.started, w.first = true, piece
	case w.more == nil:
		w.more = &strings.Builder{}
		w.more.WriteString(w.first)
		w.more.WriteString(piece)
	default:
		w.more.WriteString(piece)
	}
}

func (w *word) String() string {
	if w.more != nil {
		return w.more.String()
	}
	return w.first
}

// vmIndex finds VM registrations by their (known) VM ID. It is built
// once per plan, so naming every clone's source is linear in the number of
// resources (a scan of all registrations per clone made `plan` quadratic).
type vmIndex map[float64]*registration

// newVMIndex indexes the VMs among regs by their known vmId input. When
// two VMs claim one ID (which Proxmox would refuse), the first by URN wins,
// so the summary does not depend on map order.
func newVMIndex(regs []*registration) vmIndex {
	idx := vmIndex{}
	for _, r := range regs {
		if r.typ != typeVM {
			continue
		}
		id := get(r.inputs, "vmId")
		if !id.IsNumber() {
			continue
		}
		if prev, ok := idx[id.NumberValue()]; !ok || r.urn < prev.urn {
			idx[id.NumberValue()] = r
		}
	}
	return idx
}

// cloneSource names the VM a clone is made from: the registered VM with
// the clone's source VM ID, or, while that ID is unknown, the VM among the
// clone input's dependencies.
func cloneSource(r *registration, byURN map[string]*registration, vms vmIndex) string {
	id := get(r.inputs, "clone", "vmId")
	if id.IsNumber() {
		if src, ok := vms[id.NumberValue()]; ok && src.urn != r.urn {
			return fmt.Sprintf("%s (VM %s)", src.name, describe(get(src.inputs, "vmId")))
		}
		return "VM " + describe(id)
	}
	for _, urn := range r.propDeps["clone"] {
		if src, ok := byURN[urn]; ok && src.typ == typeVM && src.urn != r.urn {
			return fmt.Sprintf("%s (VM %s)", src.name, describe(get(src.inputs, "vmId")))
		}
	}
	return describe(id)
}

// Kubernetes is the plan's summary of nixlab:kubernetes: what the cluster
// bootstrap after the readiness checks will set up.
type Kubernetes struct {
	// Enabled is false when nixlab:kubernetes.enabled is false: the
	// nodes end Kubernetes-ready, without a cluster.
	Enabled bool `json:"enabled"`
	// Endpoint is the API server URL every node and the kubeconfig use,
	// https://<host>:6443; the host is Unknown while it is a DHCP node's
	// address.
	Endpoint string `json:"endpoint"`
	// EndpointKind says where the endpoint's host comes from: "node" (the
	// single control plane's own address), "vip" (an address kube-vip
	// holds on the control planes) or "dns" (a name the user resolves).
	EndpointKind string `json:"endpointKind"`
	// ControlPlanes are the control-plane nodes in join order (the first
	// runs kubeadm init), Workers the worker nodes.
	ControlPlanes []string `json:"controlPlanes"`
	Workers       []string `json:"workers"`
	// PodCIDR and ServiceCIDR are the pod and Service networks.
	PodCIDR     string `json:"podCidr"`
	ServiceCIDR string `json:"serviceCidr"`
	// CNI is flannel, calico or none.
	CNI string `json:"cni"`
	// StorageClass is the csi-driver-nfs StorageClass, nil without NFS.
	StorageClass *StorageClass `json:"storageClass,omitempty"`
	// Version is the kubeadm major.minor every node must have ("" when
	// nixlab:kubernetes.version is not set: any).
	Version string `json:"version,omitempty"`
	// Notes are what the operator should know about this setup.
	Notes []string `json:"notes"`
}

// StorageClass is the NFS StorageClass of the cluster.
type StorageClass struct {
	Name         string `json:"name"`
	DefaultClass bool   `json:"defaultClass"`
	// Share is the NFS export, server:/path.
	Share    string `json:"share"`
	SubDir   string `json:"subDir,omitempty"`
	OnDelete string `json:"onDelete"`
}

// Endpoint kinds of Kubernetes.EndpointKind.
const (
	EndpointNode = "node"
	EndpointVIP  = "vip"
	EndpointDNS  = "dns"
)

// apiServerPort is kube-apiserver's port on the endpoint (kubeadm's
// default bind port, cmd/kubeadm/app/constants KubeAPIServerPort = 6443).
const apiServerPort = "6443"

// summarizeKubernetes describes the cluster the config asks for; nodes
// are the plan's nodes (control planes first, in join order).
func summarizeKubernetes(cfg *stack.Config, nodes []Node) *Kubernetes {
	k := cfg.Kubernetes
	s := &Kubernetes{
		Enabled: k.IsEnabled(), PodCIDR: k.PodCIDR, ServiceCIDR: k.ServiceCIDR, CNI: k.CNI, Version: k.Version,
		ControlPlanes: []string{}, Workers: []string{}, Notes: []string{},
	}
	firstAddr := ""
	for _, n := range nodes {
		if n.Role == stack.RoleControlPlane {
			if len(s.ControlPlanes) == 0 {
				firstAddr = n.Address
			}
			s.ControlPlanes = append(s.ControlPlanes, n.Name)
		} else {
			s.Workers = append(s.Workers, n.Name)
		}
	}
	if !s.Enabled {
		s.Notes = append(s.Notes, "nixlab:kubernetes.enabled is false: `nixlab up` ends with Kubernetes-ready nodes and no cluster")
		return s
	}
	host, vip := cfg.KubernetesEndpoint()
	switch {
	case host == "":
		s.EndpointKind = EndpointNode
		host = firstAddr
		if host == AddressDHCP || host == "" {
			host = Unknown
		}
		first := "the control plane"
		if len(s.ControlPlanes) > 0 {
			first = s.ControlPlanes[0]
		}
		s.Notes = append(s.Notes, fmt.Sprintf("the endpoint is %s's own address (no kube-vip); growing to more control planes later needs a VIP or DNS name in nixlab:kubernetes.controlPlaneEndpoint, set from the start: changing the endpoint later means new certificates and kubeconfigs", first))
	case vip:
		s.EndpointKind = EndpointVIP
		s.Notes = append(s.Notes, "kube-vip holds the VIP on the control planes (a static pod each, ARP): it must be a free address on the node network")
		if cfg.Network.Mode != stack.NetworkStatic {
			s.Notes = append(s.Notes, "DHCP: keep the VIP outside the DHCP pool (reserve it on the router), or a node may be leased it")
		}
	case isIP(host):
		s.EndpointKind = EndpointNode // a node's static address
		s.Notes = append(s.Notes, "the endpoint is a control plane's own address (no kube-vip)")
	default:
		s.EndpointKind = EndpointDNS
		s.Notes = append(s.Notes, "nixlab runs no load balancer for a DNS endpoint: the name must resolve (for every node and for you) to the control planes or a load balancer in front of them")
	}
	if host == Unknown {
		s.Endpoint = "https://" + Unknown + ":" + apiServerPort
	} else {
		s.Endpoint = "https://" + host + ":" + apiServerPort
	}
	if cfg.NFS != nil {
		st := k.Storage
		s.StorageClass = &StorageClass{
			Name: st.ClassName, DefaultClass: st.IsDefaultClass(), Share: cfg.NFS.Server + ":" + cfg.NFS.Export,
			SubDir: st.SubDir, OnDelete: st.OnDelete,
		}
	}
	if s.CNI == stack.CNINone {
		s.Notes = append(s.Notes, "cni none: install a CNI yourself; until then the nodes stay NotReady (the cluster is reported up without waiting for Ready nodes)")
	}
	return s
}

// isIP reports whether host is an IP address (not a DNS name).
func isIP(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}
