package plan

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// graphIDs assigns every resource a diagram ID: "r_" and the name with
// everything but letters and digits turned into '_', made unique with a
// numeric suffix in plan order.
func (p *Plan) graphIDs() map[string]string {
	ids := map[string]string{}
	used := map[string]bool{}
	for _, r := range p.Resources {
		base := "r_" + sanitizeID(r.Name)
		id := base
		for i := 2; used[id]; i++ {
			id = base + "_" + strconv.Itoa(i)
		}
		used[id] = true
		ids[r.URN] = id
	}
	return ids
}

// sanitizeID keeps ASCII letters and digits and maps the rest to '_'.
func sanitizeID(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// edgeID returns the diagram ID of an edge end; ends outside the plan get
// an ID of their own (and a node, see danglingEnds).
func edgeID(ids map[string]string, urn string) string {
	if id, ok := ids[urn]; ok {
		return id
	}
	return "x_" + sanitizeID(urn)
}

// danglingEnds are the edge ends that are not resources of the plan.
func (p *Plan) danglingEnds(ids map[string]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range p.Edges {
		for _, urn := range []string{e.From, e.To} {
			if _, ok := ids[urn]; !ok && !seen[urn] {
				seen[urn] = true
				out = append(out, urn)
			}
		}
	}
	return out
}

// writeMermaid writes a Mermaid flowchart: one node per resource labelled
// with its name and type, components as subgraphs holding their children,
// one arrow per dependency (from the dependency to the dependent).
func (p *Plan) writeMermaid(w io.Writer) error {
	bw := bufio.NewWriter(w)
	ids := p.graphIDs()
	label := func(name, typ string) string {
		return `["` + mermaidEscape(name) + "<br/>" + mermaidEscape(typ) + `"]`
	}
	bw.WriteString("flowchart TD\n")
	for _, g := range groupResources(p.Resources) {
		indent := "  "
		if g.Component != nil {
			c := g.Component
			fmt.Fprintf(bw, "  subgraph %s%s\n", ids[c.URN], label(c.Name, c.Type))
			bw.WriteString("    direction TB\n")
			indent = "    "
			if len(g.Members) == 0 {
				fmt.Fprintf(bw, "%s%s_empty[\"(no resources)\"]\n", indent, ids[c.URN])
			}
		}
		for _, r := range g.Members {
			fmt.Fprintf(bw, "%s%s%s\n", indent, ids[r.URN], label(r.Name, r.Type))
		}
		if g.Component != nil {
			bw.WriteString("  end\n")
		}
	}
	for _, urn := range p.danglingEnds(ids) {
		fmt.Fprintf(bw, "  %s[\"%s\"]\n", edgeID(ids, urn), mermaidEscape(urn))
	}
	for _, e := range p.Edges {
		fmt.Fprintf(bw, "  %s --> %s\n", edgeID(ids, e.From), edgeID(ids, e.To))
	}
	return bw.Flush()
}

// mermaidEscape makes text safe inside a quoted Mermaid label.
func mermaidEscape(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "\n", " ").Replace(s)
}

// writeDot writes a Graphviz digraph: one box per resource, a cluster per
// component holding its children, one edge per dependency.
func (p *Plan) writeDot(w io.Writer) error {
	bw := bufio.NewWriter(w)
	ids := p.graphIDs()
	// Components that are edge ends get an anchor node in their cluster
	// (Graphviz edges cannot end at a cluster).
	anchored := map[string]bool{}
	for _, e := range p.Edges {
		anchored[e.From], anchored[e.To] = true, true
	}
	node := func(indent, id, name, typ string) {
		fmt.Fprintf(bw, "%s%s [label=%s];\n", indent, dotQuote(id), dotQuote(name+"\n"+typ))
	}
	bw.WriteString("digraph nixlab {\n")
	bw.WriteString("  rankdir=TB;\n")
	bw.WriteString("  node [shape=box, fontname=\"Helvetica\"];\n")
	for _, g := range groupResources(p.Resources) {
		indent := "  "
		if g.Component != nil {
			c := g.Component
			fmt.Fprintf(bw, "  subgraph %s {\n", dotQuote("cluster_"+ids[c.URN]))
			fmt.Fprintf(bw, "    label=%s;\n", dotQuote(c.Name+"\n"+c.Type))
			bw.WriteString("    style=rounded;\n")
			indent = "    "
			if anchored[c.URN] || len(g.Members) == 0 {
				fmt.Fprintf(bw, "    %s [label=%s, shape=plaintext];\n", dotQuote(ids[c.URN]), dotQuote(c.Name))
			}
		}
		for _, r := range g.Members {
			node(indent, ids[r.URN], r.Name, r.Type)
		}
		if g.Component != nil {
			bw.WriteString("  }\n")
		}
	}
	for _, urn := range p.danglingEnds(ids) {
		fmt.Fprintf(bw, "  %s [label=%s, style=dashed];\n", dotQuote(edgeID(ids, urn)), dotQuote(urn))
	}
	for _, e := range p.Edges {
		fmt.Fprintf(bw, "  %s -> %s;\n", dotQuote(edgeID(ids, e.From)), dotQuote(edgeID(ids, e.To)))
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// dotQuote quotes a DOT ID or label; "\n" becomes a centered line break.
func dotQuote(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
	return `"` + s + `"`
}
