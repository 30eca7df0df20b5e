package inventory

import (
	"strconv"
	"strings"
)

// value is one inventory variable value: a string or an integer.
type value struct {
	s     string
	n     int
	isInt bool
	// addr marks a validated dotted-quad address, safe unquoted in
	// both formats although it starts with a digit.
	addr bool
}

func str(s string) value  { return value{s: s} }
func addr(s string) value { return value{s: s, addr: true} }
func num(n int) value     { return value{n: n, isInt: true} }

// variable is one key=value pair; keys are fixed identifiers.
type variable struct {
	key string
	val value
}

// host is a host with its variables (nil when only referenced by name).
type host struct {
	name string
	vars []variable
}

// group is one inventory group. Group order, host order and variable order
// are the output order.
type group struct {
	name     string
	hosts    []host
	children []string
	vars     []variable
}

// model is a flavour's inventory independent of the file format.
type model struct {
	// allHosts are defined under all with their variables (Kubespray);
	// when defineInAll is false hosts carry their variables in groups.
	defineInAll bool
	allHosts    []host
	// groups in output order. With nest set, the YAML renders a group's
	// children inside it (each child belongs to exactly one parent);
	// otherwise every group sits under all.children and children are
	// referenced by name.
	nest   bool
	groups []group
}

// buildModel lays out validated, sorted nodes for a flavour.
func buildModel(nodes []Node, opts Options, flavor Flavor) model {
	connection := []variable{{"ansible_user", str(opts.User)}}
	if opts.PrivateKeyFile != "" {
		connection = append(connection, variable{"ansible_ssh_private_key_file", str(opts.PrivateKeyFile)})
	}
	if opts.KnownHostsFile != "" {
		connection = append(connection, variable{"ansible_ssh_common_args",
			str("-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=" + opts.KnownHostsFile)})
	}
	connection = append(connection, variable{"ansible_python_interpreter", str(opts.pythonInterpreter())})
	var controlPlanes, workers []Node
	for _, n := range nodes {
		if n.Role == RoleControlPlane {
			controlPlanes = append(controlPlanes, n)
		} else {
			workers = append(workers, n)
		}
	}

	// kube_node is every node that runs workloads: the workers, or the
	// control planes when there are no workers (nixlab then removes the
	// control-plane taint, as kubespray does for such a cluster).
	kubeNode := workers
	if len(kubeNode) == 0 {
		kubeNode = controlPlanes
	}

	if flavor == FlavorKubespray {
		m := model{defineInAll: true}
		for _, n := range nodes {
			var vars []variable
			if n.IPv4 != "" {
				vars = append(vars,
					variable{"ansible_host", addr(n.IPv4)},
					variable{"ip", addr(n.IPv4)},
					variable{"access_ip", addr(n.IPv4)})
			}
			vars = append(vars, nixlabVars(n)...)
			m.allHosts = append(m.allHosts, host{name: n.Name, vars: vars})
		}
		m.groups = []group{
			{name: groupKubeControlPlane, hosts: refs(controlPlanes)},
			{name: groupEtcd, hosts: refs(controlPlanes)},
			{name: groupKubeNode, hosts: refs(kubeNode)},
			{name: groupK8sCluster, children: []string{groupKubeControlPlane, groupKubeNode}, vars: connection},
		}
		return m
	}

	return model{
		nest: true,
		groups: []group{
			{name: groupControlPlane, hosts: defs(controlPlanes)},
			{name: groupWorkers, hosts: defs(workers)},
			{name: groupK8sCluster, children: []string{groupControlPlane, groupWorkers}, vars: connection},
			// The groups Kubernetes playbooks (kubespray's among them)
			// target, referencing the hosts defined above.
			{name: groupKubeControlPlane, hosts: refs(controlPlanes)},
			{name: groupEtcd, hosts: refs(controlPlanes)},
			{name: groupKubeNode, hosts: refs(kubeNode)},
		},
	}
}

// nixlabVars are the per-host variables every flavour sets, plus the host's
// own login user when it has one.
func nixlabVars(n Node) []variable {
	vars := []variable{
		{"nixlab_vm_id", num(n.VMID)},
		{"nixlab_role", str(string(n.Role))},
	}
	if n.User != "" {
		vars = append(vars, variable{"ansible_user", str(n.User)})
	}
	return vars
}

// defs are hosts with their variables (nixlab flavour).
func defs(nodes []Node) []host {
	out := make([]host, 0, len(nodes))
	for _, n := range nodes {
		var vars []variable
		if n.IPv4 != "" {
			vars = append(vars, variable{"ansible_host", addr(n.IPv4)})
		}
		out = append(out, host{name: n.Name, vars: append(vars, nixlabVars(n)...)})
	}
	return out
}

// refs are hosts referenced by name only.
func refs(nodes []Node) []host {
	out := make([]host, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, host{name: n.Name})
	}
	return out
}

// reservedWords resolve to booleans, nulls or special floats in YAML 1.1
// (PyYAML, which Ansible uses) or YAML 1.2, or to Python constants in
// ast.literal_eval (which Ansible's ini plugin applies to values); compared
// case-insensitively.
var reservedWords = map[string]bool{
	"y": true, "n": true, "yes": true, "no": true, "true": true, "false": true,
	"on": true, "off": true, "null": true, "none": true, "~": true,
	".inf": true, ".nan": true,
}

// bare reports whether s can be written unquoted and still reads back as the
// same string in both formats: in YAML (1.1 and 1.2) a plain scalar that
// resolves to a string, and in Ansible's INI a value that ast.literal_eval
// rejects (so it stays a string). Deliberately conservative: it must start
// with a letter, '_', '/', '~' or '.' (not followed by a digit) and contain
// only letters, digits and "._-/~@+".
func bare(s string) bool {
	if s == "" || reservedWords[strings.ToLower(s)] {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 {
			if !(letter || c == '_' || c == '/' || c == '~' || c == '.') {
				return false
			}
			if c == '.' && len(s) > 1 && isDigit(s[1]) {
				return false
			}
			continue
		}
		if !(letter || isDigit(c) || strings.IndexByte("._-/~@+", c) >= 0) {
			return false
		}
	}
	return true
}

// pythonQuote renders s as a Python string literal, which Ansible's ini
// plugin turns back into s. s holds no control characters (validated).
func pythonQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\\', '\'':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// iniVarsValue renders v for a :vars section line. Ansible's ini plugin
// (ansible-core plugins/inventory/ini.py, _parse_variable_definition) splits
// the line at the first '=' and hands the rest, stripped, to
// ast.literal_eval (_parse_value): a Python string literal comes back as
// its string, anything literal_eval rejects stays the text it is.
func iniVarsValue(v value) string {
	switch {
	case v.isInt:
		return strconv.Itoa(v.n)
	case v.addr || bare(v.s):
		return v.s
	default:
		return pythonQuote(v.s)
	}
}

// iniHostValue renders v for a key=value pair on a host line. Ansible's ini
// plugin (_parse_host_definition) first splits the line with shlex (POSIX
// mode, '#' comments), which removes one level of quotes, and then applies
// ast.literal_eval to each value: a non-bare value is therefore a Python
// string literal inside shell double quotes (where shlex honours only
// backslash-escaped '\' and '"'). A bare value survives both unchanged.
func iniHostValue(v value) string {
	if v.isInt || v.addr || bare(v.s) {
		return iniVarsValue(v)
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(pythonQuote(v.s)) + `"`
}
