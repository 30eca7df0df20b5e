package plan

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// writeText writes the human-readable plan: resources grouped by
// component, the node table, the inventory, the template hash and the
// warnings.
func (p *Plan) writeText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	custom, comps := p.counts()
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
			p.writeTextResource(bw, r, width)
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
func (p *Plan) writeTextResource(w *bufio.Writer, r Resource, width int) {
	fmt.Fprintf(w, "    + %-*s  %s", width, r.Name, r.Type)
	if r.Provider != "" {
		fmt.Fprintf(w, "  (provider %s)", p.nameOf(r.Provider))
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
		names := make([]string, 0, len(r.Dependencies))
		for _, d := range r.Dependencies {
			names = append(names, p.nameOf(d))
		}
		fmt.Fprintf(w, "        after: %s\n", strings.Join(names, ", "))
	}
}

// textValue quotes values that would not read as one word.
func textValue(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\"'=") && v != Unknown {
		return strconv.Quote(v)
	}
	return v
}
