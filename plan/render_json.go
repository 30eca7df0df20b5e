package plan

import (
	"encoding/json"
	"io"
)

// jsonPlan is the JSON document: the plan plus the resource count.
type jsonPlan struct {
	*Plan
	ResourceCount int `json:"resourceCount"`
}

// writeJSON writes the plan as one indented JSON document. Field order is
// fixed, lists are in plan order, so the output is stable.
func (p *Plan) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(jsonPlan{Plan: p, ResourceCount: len(p.Resources)})
}
