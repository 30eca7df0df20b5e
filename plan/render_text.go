package plan

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/nixlab/nixlab/stack"
)

// writeText writes the human-readable plan: resources grouped by
// component, the node table, the inventory, the template hash and the
// warnings.
func (p *Plan) writeText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	custom, comps := p.counts()
	names := p.names()
	fmt.Fprintf(bw, "Plan for stack %s (project %s): a preview against an empty Proxmox host.\n", p.Stack, p.Project)
	fmt.Fprintf(bw, "Nothing was created, contacted or written; values marked %s are computed by `pulumi up`.\n\n", Unknown)

	fmt.Fprintf(bw, "Resources: %d to create (%d custom resources, %d components)\n", len(p.Resources), custom, comps)
	for _, g := range groupResources(p.Resources) {
		bw.WriteString("\n")
		if g.Component == nil {
			bw.WriteString("  (top level)\n")
		} else {
			fmt.Fprintf(bw, "  %s  [%s]\n", g.Component.Name, g.Component.Type)
		}
		if len(g.Members) == 0 {
			bw.WriteString("    (no resources)\n")
		}
		width := 0
		for _, r := range g.Members {
			width = max(width, len(r.Name))
		}
		for _, r := range g.Members {
			writeTextResource(bw, r, width, names)
		}
	}

	bw.WriteString("\nNodes\n")
	if len(p.Nodes) == 0 {
		bw.WriteString("  (none)\n")
	} else {
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tGROUP\tROLE\tVM ID\tADDRESS")
		for _, n := range p.Nodes {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", n.Name, n.Group, n.Role, n.VMID, n.Address)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if p.Network == AddressDHCP {
			bw.WriteString("  Addresses come from DHCP and are known after `nixlab up`.\n")
		}
	}

	p.writeTextKubernetes(bw)

	p.writeTextReboots(bw)

	p.writeTextRolls(bw)

	bw.WriteString("\nInventory (Ansible INI, after `nixlab up`)\n")
	bw.WriteString(p.Inventory)
	if !strings.HasSuffix(p.Inventory, "\n") {
		bw.WriteString("\n")
	}

	bw.WriteString("\nTemplate\n")
	fmt.Fprintf(bw, "  content hash  %s\n", p.ContentHash)
	fmt.Fprintf(bw, "  ISO file      %s\n", p.ISOFileName)

	if len(p.Warnings) > 0 {
		bw.WriteString("\nWarnings\n")
		for _, msg := range p.Warnings {
			fmt.Fprintf(bw, "  ! %s\n", msg)
		}
	}
	return bw.Flush()
}

// writeTextResource writes one resource: name, type and provider, then its
// key inputs and what it waits for, indented below.
func writeTextResource(w *bufio.Writer, r Resource, width int, names map[string]string) {
	fmt.Fprintf(w, "    + %-*s  %s", width, r.Name, r.Type)
	if r.Provider != "" {
		fmt.Fprintf(w, "  (provider %s)", nameIn(names, r.Provider))
	}
	w.WriteString("\n")
	if len(r.Inputs) > 0 {
		parts := make([]string, 0, len(r.Inputs))
		for _, in := range r.Inputs {
			parts = append(parts, in.Key+"="+textValue(in.Value))
		}
		fmt.Fprintf(w, "        %s\n", strings.Join(parts, " "))
	}
	if len(r.Dependencies) > 0 {
		after := make([]string, 0, len(r.Dependencies))
		for _, d := range r.Dependencies {
			after = append(after, nameIn(names, d))
		}
		fmt.Fprintf(w, "        after: %s\n", strings.Join(after, ", "))
	}
}

// textValue quotes values that would not read as one word.
func textValue(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\"'=") && v != Unknown {
		return strconv.Quote(v)
	}
	return v
}

// writeTextReboots writes what reboots the running nodes later and, after
// CompareWith, which nodes the change from the earlier plan restarts.
func (p *Plan) writeTextReboots(w *bufio.Writer) {
	if c := p.Comparison; c != nil {
		fmt.Fprintf(w, "\nReboots (compared with %s)\n", c.Against)
		var reboot, replace []string
		for _, r := range c.Restarts {
			parts := make([]string, 0, len(r.Changes))
			for _, ch := range r.Changes {
				parts = append(parts, ch.String())
			}
			line := fmt.Sprintf("%s (%s)", r.Node, strings.Join(parts, ", "))
			if r.Replace {
				replace = append(replace, line)
			} else {
				reboot = append(reboot, line)
			}
		}
		if len(reboot) == 0 {
			w.WriteString("  no node reboots\n")
		} else {
			fmt.Fprintf(w, "  will reboot: %s\n", strings.Join(reboot, ", "))
		}
		if len(replace) > 0 {
			fmt.Fprintf(w, "  will replace (destroy and clone again, disk included): %s\n", strings.Join(replace, ", "))
		}
		if len(c.Added) > 0 {
			fmt.Fprintf(w, "  new nodes: %s\n", strings.Join(c.Added, ", "))
		}
		if len(c.Removed) > 0 {
			fmt.Fprintf(w, "  removed nodes: %s\n", strings.Join(c.Removed, ", "))
		}
	} else {
		w.WriteString("\nReboots\n")
	}
	for _, line := range rebootNote {
		fmt.Fprintf(w, "  %s\n", line)
	}
	for _, line := range wrap(strings.Join(RebootSettings, ", ")+".", 96) {
		fmt.Fprintf(w, "    %s\n", line)
	}
	for _, line := range rebootHowTo {
		fmt.Fprintf(w, "  %s\n", line)
	}
}

// wrap breaks text at spaces into lines of at most width bytes (longer
// words stay whole).
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) > width:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// rebootNote explains reboots below the node table.
var rebootNote = []string{
	"A later `nixlab up` reboots a running node when a change reaches its VM's CPU, memory, network",
	"device, disk storage or cloud-init settings (the Proxmox provider, bpg v0.69.1, restarts the VM;",
	"there is no opt-out before v0.73), one node at a time: each node waits until the previous one",
	"passed its readiness check again. Settings that do this:",
}

// rebootHowTo follows the settings in the reboot note.
var rebootHowTo = []string{
	"To list the nodes an edit reboots: `nixlab plan --format json -o before.json`, edit, then",
	"`nixlab plan --against before.json` (offline), or `nixlab preview` (against the real stack).",
}

// writeTextKubernetes writes the Kubernetes section: the endpoint and how
// it is held, the networks, the CNI, the storage class, the version guard
// and the notes that go with them.
func (p *Plan) writeTextKubernetes(w *bufio.Writer) {
	k := p.Kubernetes
	if k == nil {
		return
	}
	w.WriteString("\nKubernetes\n")
	if !k.Enabled {
		w.WriteString("  disabled\n")
		for _, n := range k.Notes {
			writeWrapped(w, "  ", n)
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	endpoint := k.Endpoint
	switch k.EndpointKind {
	case EndpointVIP:
		endpoint += " (VIP, kube-vip)"
	case EndpointDNS:
		endpoint += " (DNS name)"
	case EndpointNode:
		if len(k.ControlPlanes) > 0 {
			endpoint += " (" + k.ControlPlanes[0] + "'s address)"
		}
	}
	fmt.Fprintf(tw, "  endpoint\t%s\n", endpoint)
	fmt.Fprintf(tw, "  control planes\t%s\n", listOrNone(k.ControlPlanes))
	fmt.Fprintf(tw, "  workers\t%s\n", listOrNone(k.Workers))
	fmt.Fprintf(tw, "  pod network\t%s\n", podNetwork(k.PodCIDR))
	fmt.Fprintf(tw, "  service network\t%s\n", k.ServiceCIDR)
	fmt.Fprintf(tw, "  CNI\t%s\n", k.CNI)
	if sc := k.StorageClass; sc != nil {
		line := fmt.Sprintf("%s (csi-driver-nfs on %s", sc.Name, sc.Share)
		if sc.SubDir != "" {
			line += ", subDir " + sc.SubDir
		}
		line += ", onDelete " + sc.OnDelete
		if sc.DefaultClass {
			line += ", default class"
		}
		fmt.Fprintf(tw, "  storage class\t%s)\n", line)
	} else {
		fmt.Fprintf(tw, "  storage class\tnone (no nixlab:nfs)\n")
	}
	if k.Version != "" {
		fmt.Fprintf(tw, "  version\tkubeadm %s.x on every node, or the bootstrap stops\n", k.Version)
	} else {
		fmt.Fprintf(tw, "  version\tthe template's kubeadm (no nixlab:kubernetes.version check)\n")
	}
	_ = tw.Flush()
	for _, n := range k.Notes {
		writeWrapped(w, "  ", "- "+n)
	}
}

// writeWrapped writes text wrapped at 96 columns, indented, with
// continuation lines indented two more.
func writeWrapped(w *bufio.Writer, indent, text string) {
	for i, line := range wrap(text, 96) {
		if i > 0 {
			w.WriteString("  ")
		}
		fmt.Fprintf(w, "%s%s\n", indent, line)
	}
}

// listOrNone joins names, or says none.
func listOrNone(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

// podNetwork is the pod CIDR with the number of nodes its per-node /24
// ranges hold.
func podNetwork(cidr string) string {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || p.Bits() > stack.NodeCIDRMaskSize {
		return cidr
	}
	return fmt.Sprintf("%s (a /%d per node: room for %d nodes)", cidr, stack.NodeCIDRMaskSize, 1<<(stack.NodeCIDRMaskSize-p.Bits()))
}
