// Package inventory renders nixlab nodes into Ansible inventories.
//
// It is pure Go with no Pulumi types in its API: the stack resolves the
// nodes' outputs and hands plain [Node] values to [Render] (or the [INI] and
// [YAML] shorthands for the nixlab flavour).
//
// Two layouts ([Flavor]) are supported, each in INI or YAML ([Format]):
//
//   - [FlavorNixlab]: groups control_plane and workers, both children of
//     k8s_cluster. Hosts carry their variables in their group. The groups
//     Kubernetes users expect are there too, listing the hosts by name:
//     kube_control_plane and etcd (the control planes: kubeadm runs a
//     stacked etcd member on each) and kube_node (as in Kubespray).
//   - [FlavorKubespray]: the groups Kubespray expects, kube_control_plane,
//     etcd (the control planes), kube_node (the workers, or the control
//     planes when there are no workers) and k8s_cluster with children
//     kube_control_plane and kube_node. Hosts are defined once, with their
//     variables, under all; the groups list them by name.
//
// Every host gets ansible_host (Kubespray also ip and access_ip) when its
// address is known, nixlab_vm_id and nixlab_role. The connection settings
// ([Options]) are group variables of k8s_cluster, so they reach every node.
// They include ansible_python_interpreter, by default [NixOSPython]: NixOS
// has no /usr/bin/python3 (nor any other path Ansible's interpreter
// discovery tries), so without it every module but raw fails on the nodes.
//
// Values that YAML (1.1, as Ansible reads it) or Ansible's INI parsing
// (Python literals) would turn into anything but the same string, such as a
// user "no", a host called "1.5" or a key path with quotes, are quoted.
// Values are otherwise passed verbatim, so Jinja expressions in them are
// templated by Ansible as usual.
//
// Input is validated before anything is rendered. Hosts are ordered by a
// natural sort of their names (node-2 before node-10), whatever order the
// nodes come in, so the output is byte-for-byte deterministic. Both formats
// are read by ansible-inventory (ansible-core's ini and yaml plugins).
package inventory

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode"
)

// Role is a node's role in the Kubernetes cluster.
type Role string

// The node roles.
const (
	// RoleControlPlane is a Kubernetes control-plane node.
	RoleControlPlane Role = "control-plane"
	// RoleWorker is a Kubernetes worker node.
	RoleWorker Role = "worker"
)

// Node is one cluster node.
type Node struct {
	// Name is the inventory host name, which is also the VM name, e.g.
	// "nixlab-workers-1". Letters, digits, '-', '.' and '_', starting
	// with a letter or digit.
	Name string
	// Role is the node's Kubernetes role.
	Role Role
	// VMID is the node's Proxmox VM ID (100-999999999).
	VMID int
	// IPv4 is the node's address without prefix length, e.g.
	// "192.168.1.31". "" means not known (e.g. DHCP before deployment);
	// the host then has no ansible_host (nor ip/access_ip).
	IPv4 string
	// User, when set, is this host's own ansible_user, overriding
	// Options.User: a node keeps the login user it was cloned with when
	// the configured admin user changes later.
	User string
}

// Options are the connection settings, rendered as group variables of
// k8s_cluster.
type Options struct {
	// User is ansible_user, the account Ansible logs in as. Required.
	User string
	// PrivateKeyFile is ansible_ssh_private_key_file: the path of the SSH
	// private key, never the key material. Omitted when empty.
	PrivateKeyFile string
	// KnownHostsFile, when set, gives ssh its own known_hosts file and
	// accepts a new node's host key on first contact
	// (ansible_ssh_common_args), so that `ansible -i` works at once on
	// freshly cloned nodes without a prompt per host.
	KnownHostsFile string
	// PythonInterpreter is ansible_python_interpreter, the absolute path
	// of Python on the nodes. Empty means [NixOSPython].
	PythonInterpreter string
}

// NixOSPython is where a NixOS system that has python3 in
// environment.systemPackages puts it (the system profile's bin directory,
// /run/current-system/sw/bin). nixlab's node image ships python3 for
// Ansible; Ansible's interpreter discovery (INTERPRETER_PYTHON_FALLBACK:
// /usr/bin/python3, /usr/libexec/platform-python, ...) never looks there.
const NixOSPython = "/run/current-system/sw/bin/python3"

// pythonInterpreter is the ansible_python_interpreter opts render.
func (o Options) pythonInterpreter() string {
	if o.PythonInterpreter == "" {
		return NixOSPython
	}
	return o.PythonInterpreter
}

// Flavor is the group layout of an inventory.
type Flavor string

// The inventory flavours.
const (
	// FlavorNixlab has groups control_plane and workers, children of
	// k8s_cluster, plus kube_control_plane, etcd and kube_node as in
	// FlavorKubespray.
	FlavorNixlab Flavor = "nixlab"
	// FlavorKubespray has the groups Kubespray expects: kube_control_plane,
	// etcd, kube_node, and k8s_cluster with children kube_control_plane
	// and kube_node.
	FlavorKubespray Flavor = "kubespray"
)

// Format is the file format of an inventory.
type Format string

// The inventory formats.
const (
	// FormatINI is Ansible's INI inventory format (ini plugin).
	FormatINI Format = "ini"
	// FormatYAML is Ansible's YAML inventory format (yaml plugin); save
	// it with a .yaml or .yml extension.
	FormatYAML Format = "yaml"
)

// Group names used by the flavours.
const (
	groupK8sCluster       = "k8s_cluster"
	groupControlPlane     = "control_plane"
	groupWorkers          = "workers"
	groupKubeControlPlane = "kube_control_plane"
	groupKubeNode         = "kube_node"
	groupEtcd             = "etcd"
)

// Proxmox's VM ID range.
const (
	minVMID = 100
	maxVMID = 999999999
)

// INI renders the nixlab-flavoured inventory in INI format.
func INI(nodes []Node, opts Options) (string, error) {
	return Render(nodes, opts, FlavorNixlab, FormatINI)
}

// YAML renders the nixlab-flavoured inventory in YAML format.
func YAML(nodes []Node, opts Options) (string, error) {
	return Render(nodes, opts, FlavorNixlab, FormatYAML)
}

// Render validates nodes and opts and renders them as an inventory of the
// given flavour and format. Zero nodes are allowed and give empty groups.
// The result ends with a newline and depends only on the set of nodes, not
// on their order. A validation error names the offending node (by index and
// name) or option and the field; all problems are reported at once.
func Render(nodes []Node, opts Options, flavor Flavor, format Format) (string, error) {
	if err := validate(nodes, opts, flavor, format); err != nil {
		return "", err
	}
	m := buildModel(sortedNodes(nodes), opts, flavor)
	switch format {
	case FormatINI:
		return renderINI(m), nil
	default:
		return renderYAML(m)
	}
}

// groupNames are the groups each flavour defines, plus Ansible's implicit
// groups; no host may be called like one of them.
func groupNames(flavor Flavor) []string {
	implicit := []string{"all", "ungrouped"}
	if flavor == FlavorKubespray {
		return append(implicit, groupKubeControlPlane, groupEtcd, groupKubeNode, groupK8sCluster)
	}
	return append(implicit, groupControlPlane, groupWorkers, groupK8sCluster, groupKubeControlPlane, groupEtcd, groupKubeNode)
}

func validate(nodes []Node, opts Options, flavor Flavor, format Format) error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("inventory: "+format, args...))
	}
	switch flavor {
	case FlavorNixlab, FlavorKubespray:
	default:
		add("unknown flavor %q (want %q or %q)", flavor, FlavorNixlab, FlavorKubespray)
	}
	switch format {
	case FormatINI, FormatYAML:
	default:
		add("unknown format %q (want %q or %q)", format, FormatINI, FormatYAML)
	}

	switch {
	case opts.User == "":
		add("Options.User (ansible_user) is empty")
	case strings.IndexFunc(opts.User, badValueRune) >= 0:
		add("Options.User (ansible_user) %q contains whitespace or control characters", opts.User)
	}
	switch {
	case strings.Contains(opts.PrivateKeyFile, "PRIVATE KEY"):
		add("Options.PrivateKeyFile (ansible_ssh_private_key_file) looks like key material; pass the key's path")
	case strings.IndexFunc(opts.PrivateKeyFile, badValueRune) >= 0:
		add("Options.PrivateKeyFile (ansible_ssh_private_key_file) %q contains whitespace, newlines or control characters", opts.PrivateKeyFile)
	}

	if strings.IndexFunc(opts.KnownHostsFile, badValueRune) >= 0 || strings.ContainsAny(opts.KnownHostsFile, `'"`) {
		add("Options.KnownHostsFile %q contains whitespace, quotes or control characters", opts.KnownHostsFile)
	}
	if py := opts.PythonInterpreter; py != "" && (!strings.HasPrefix(py, "/") || strings.IndexFunc(py, badValueRune) >= 0) {
		add("Options.PythonInterpreter (ansible_python_interpreter) %q must be an absolute path without whitespace or control characters, e.g. %s", py, NixOSPython)
	}

	reserved := groupNames(flavor)
	names := map[string]int{}
	vmids := map[int]int{}
	ips := map[string]int{}
	for i, n := range nodes {
		node := fmt.Sprintf("nodes[%d] (%q)", i, n.Name)
		switch {
		case n.Name == "":
			node = fmt.Sprintf("nodes[%d]", i)
			add("%s: Name is empty", node)
		case strings.IndexFunc(n.Name, badNameRune) >= 0 || !isAlnum(n.Name[0]):
			add("%s: Name is not a valid inventory host name (letters, digits, '-', '.', '_', starting with a letter or digit)", node)
		case slices.Contains(reserved, n.Name):
			add("%s: Name clashes with the inventory group %q", node, n.Name)
		default:
			if j, dup := names[n.Name]; dup {
				add("%s: Name duplicates nodes[%d]", node, j)
			} else {
				names[n.Name] = i
			}
		}

		switch n.Role {
		case RoleControlPlane, RoleWorker:
		case "":
			add("%s: Role is empty (want %q or %q)", node, RoleControlPlane, RoleWorker)
		default:
			add("%s: unknown Role %q (want %q or %q)", node, n.Role, RoleControlPlane, RoleWorker)
		}

		if n.VMID < minVMID || n.VMID > maxVMID {
			add("%s: VMID %d is outside Proxmox's range %d-%d", node, n.VMID, minVMID, maxVMID)
		} else if j, dup := vmids[n.VMID]; dup {
			add("%s: VMID %d duplicates nodes[%d]", node, n.VMID, j)
		} else {
			vmids[n.VMID] = i
		}

		if strings.IndexFunc(n.User, badValueRune) >= 0 {
			add("%s: User (ansible_user) %q contains whitespace or control characters", node, n.User)
		}
		if n.IPv4 != "" {
			if err := checkIPv4(n.IPv4); err != nil {
				add("%s: IPv4 %q %v", node, n.IPv4, err)
			} else if j, dup := ips[n.IPv4]; dup {
				add("%s: IPv4 %s duplicates nodes[%d]", node, n.IPv4, j)
			} else {
				ips[n.IPv4] = i
			}
		}
	}
	return errors.Join(errs...)
}

// checkIPv4 accepts a canonical dotted-quad unicast IPv4 address.
func checkIPv4(s string) error {
	if strings.Contains(s, "/") {
		return errors.New("must be an address without prefix length")
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || !addr.Is4() || addr.String() != s {
		return errors.New("is not a dotted IPv4 address")
	}
	if addr.IsUnspecified() || addr.IsMulticast() || addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return errors.New("is not a host address")
	}
	return nil
}

// badNameRune reports runes not allowed in inventory host names.
func badNameRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_')
}

// badValueRune reports runes not allowed in connection settings.
func badValueRune(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar
}

// sortedNodes returns a copy of nodes in natural order of their names.
func sortedNodes(nodes []Node) []Node {
	out := slices.Clone(nodes)
	slices.SortFunc(out, func(a, b Node) int { return naturalCompare(a.Name, b.Name) })
	return out
}

// naturalCompare orders strings so that runs of digits compare by their
// numeric value ("node-2" < "node-10"); other runs compare bytewise. Ties
// (such as "n01" and "n1") fall back to a plain comparison, so the order is
// total.
func naturalCompare(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if isDigit(ca) && isDigit(cb) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na := strings.TrimLeft(a[si:i], "0")
			nb := strings.TrimLeft(b[sj:j], "0")
			if len(na) != len(nb) {
				return cmpInt(len(na), len(nb))
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			continue
		}
		if ca != cb {
			return cmpInt(int(ca), int(cb))
		}
		i++
		j++
	}
	if c := cmpInt(len(a)-i, len(b)-j); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
