package plan

import (
	"fmt"
	"io"
	"strings"
)

// Output formats of Plan.Write.
const (
	FormatText    = "text"
	FormatJSON    = "json"
	FormatMermaid = "mermaid"
	FormatDot     = "dot"
)

// Formats lists the formats Write accepts.
var Formats = []string{FormatText, FormatJSON, FormatMermaid, FormatDot}

// Write renders the plan: format "text" (default when empty), "json",
// "mermaid" or "dot".
func (p *Plan) Write(w io.Writer, format string) error {
	var err error
	switch strings.ToLower(format) {
	case "", FormatText:
		err = p.writeText(w)
	case FormatJSON:
		err = p.writeJSON(w)
	case FormatMermaid:
		err = p.writeMermaid(w)
	case FormatDot:
		err = p.writeDot(w)
	default:
		return fmt.Errorf("plan: unknown format %q; use one of %s", format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return fmt.Errorf("plan: writing %s: %w", format, err)
	}
	return nil
}

// names maps every resource's URN to its name, for display.
func (p *Plan) names() map[string]string {
	out := make(map[string]string, len(p.Resources))
	for _, r := range p.Resources {
		out[r.URN] = r.Name
	}
	return out
}

// nameIn returns the name of the resource urn in names, or the URN when
// the resource is not in the plan.
func nameIn(names map[string]string, urn string) string {
	if n, ok := names[urn]; ok {
		return n
	}
	return urn
}

// counts returns how many custom resources and components the plan has.
func (p *Plan) counts() (custom, components int) {
	for _, r := range p.Resources {
		if r.Custom {
			custom++
		} else {
			components++
		}
	}
	return custom, components
}
