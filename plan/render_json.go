package plan

import (
	"encoding/json"
	"errors"
	"fmt"
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

// ReadJSON reads a plan written with format "json" (for CompareWith). It
// refuses a document that is not such a plan.
func ReadJSON(r io.Reader) (*Plan, error) {
	var p Plan
	dec := json.NewDecoder(r)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("plan: reading a JSON plan: %w", err)
	}
	if p.Project == "" || p.Stack == "" || p.Nodes == nil {
		return nil, errors.New("plan: not a JSON plan (no project, stack or nodes); write one with `nixlab plan --format json -o <file>`")
	}
	return &p, nil
}
