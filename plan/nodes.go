package plan

import (
	"fmt"
	"strings"

	"github.com/nixlab/nixlab/inventory"
	"github.com/nixlab/nixlab/stack"
)

// addNodes fills the node table and the inventory from the deployed lab
// and the recorded VM inputs: a node's address is its cloud-init IPv4
// config, a static address or "dhcp"; its restart inputs come from
// restart, by VM URN.
func (p *Plan) addNodes(cfg *stack.Config, lab *stack.Lab, restart map[string]Inputs) error {
	vms := map[string]Resource{} // by VM name
	for _, r := range p.Resources {
		if r.Type != typeVM {
			continue
		}
		if name, ok := r.Inputs.Get("name"); ok {
			vms[name] = r
		}
	}
	p.Nodes = []Node{}
	var inv []inventory.Node
	for _, group := range cfg.GroupOrder() {
		g, ok := lab.NodeGroups[group]
		if !ok {
			return fmt.Errorf("node group %s was not deployed", group)
		}
		for _, n := range g.Nodes {
			vm, ok := vms[n.Name]
			if !ok {
				return fmt.Errorf("node %s: its VM was not registered", n.Name)
			}
			addr, _ := vm.Inputs.Get("address")
			addr, _, _ = strings.Cut(addr, "/")
			if addr == "" || addr == Unknown {
				addr = AddressDHCP
			}
			p.Nodes = append(p.Nodes, Node{Name: n.Name, Group: group, Role: n.Role, VMID: n.VMID, Address: addr, URN: vm.URN, RestartInputs: restart[vm.URN]})
			in := inventory.Node{Name: n.Name, Role: inventory.Role(n.Role), VMID: n.VMID}
			if addr != AddressDHCP {
				in.IPv4 = addr
			}
			inv = append(inv, in)
		}
	}
	ini, err := inventory.Render(inv, stack.InventoryOptions(cfg, p.Stack), inventory.FlavorNixlab, inventory.FormatINI)
	if err != nil {
		return fmt.Errorf("rendering the inventory: %w", err)
	}
	p.Inventory = annotateUnknownAddresses(ini, p.Nodes)
	return nil
}

// annotateUnknownAddresses marks the hosts whose address is not known yet
// with comment lines, which Ansible's INI parser ignores: one at the top
// and one before each such host's line.
func annotateUnknownAddresses(ini string, nodes []Node) string {
	unknown := map[string]bool{}
	for _, n := range nodes {
		if n.Address == AddressDHCP {
			unknown[n.Name] = true
		}
	}
	if len(unknown) == 0 {
		return ini
	}
	var b strings.Builder
	b.WriteString("# Addresses are unknown until the nodes have DHCP leases (after `nixlab up`);\n")
	b.WriteString("# until then the marked hosts have no ansible_host.\n")
	for _, line := range strings.SplitAfter(ini, "\n") {
		if host, _, _ := strings.Cut(line, " "); unknown[strings.TrimSpace(host)] && !strings.HasPrefix(line, "[") {
			fmt.Fprintf(&b, "# %s: address unknown (dhcp)\n", strings.TrimSpace(host))
		}
		b.WriteString(line)
	}
	return b.String()
}
