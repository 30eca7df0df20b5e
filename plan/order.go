package plan

import (
	"container/heap"
	"sort"
)

// group is a set of resources shown together: the top of the stack (no
// component) or one component and its direct children.
type group struct {
	// Component is the component resource; nil for the top-level group.
	Component *Resource
	// Members are the group's resources (components excluded) in
	// dependency order.
	Members []Resource
}

// orderResources puts resources in plan order: top-level custom resources
// first, then each component followed by its children. Within a group,
// resources follow a topological order of their dependencies (ties broken
// by name); components follow the position of their first child, empty
// components come last by name.
func orderResources(rs []Resource) []Resource {
	var out []Resource
	for _, g := range groupResources(rs) {
		if g.Component != nil {
			out = append(out, *g.Component)
		}
		out = append(out, g.Members...)
	}
	return out
}

// groupResources groups resources by their component (see orderResources).
func groupResources(rs []Resource) []group {
	topo := topoOrder(rs)
	rank := map[string]int{}
	for i, r := range topo {
		rank[r.URN] = i
	}
	components := map[string]*group{}
	top := &group{}
	for i := range rs {
		if rs[i].Component() {
			c := rs[i]
			components[c.URN] = &group{Component: &c}
		}
	}
	for _, r := range topo {
		if g, ok := components[r.Parent]; ok {
			g.Members = append(g.Members, r)
		} else {
			top.Members = append(top.Members, r)
		}
	}
	list := make([]*group, 0, len(components))
	for _, g := range components {
		list = append(list, g)
	}
	first := func(g *group) int {
		if len(g.Members) == 0 {
			return len(topo)
		}
		return rank[g.Members[0].URN]
	}
	sort.Slice(list, func(i, j int) bool {
		fi, fj := first(list[i]), first(list[j])
		if fi != fj {
			return fi < fj
		}
		return list[i].Component.Name < list[j].Component.Name
	})
	out := []group{*top}
	for _, g := range list {
		out = append(out, *g)
	}
	return out
}

// topoOrder returns the custom resources in dependency order (Kahn's
// algorithm), choosing among ready resources by name, then URN. Resources
// on a dependency cycle (which Pulumi would refuse) come last. The ready
// set is a heap, so the order costs O((n + e) log n) for n resources and e
// dependencies, not a sort per step.
func topoOrder(rs []Resource) []Resource {
	byURN := map[string]Resource{}
	for _, r := range rs {
		if r.Custom {
			byURN[r.URN] = r
		}
	}
	waiting := map[string]int{}
	dependents := map[string][]string{}
	for urn, r := range byURN {
		for _, d := range r.Dependencies {
			if _, ok := byURN[d]; ok {
				waiting[urn]++
				dependents[d] = append(dependents[d], urn)
			}
		}
	}
	less := func(a, b string) bool {
		if byURN[a].Name != byURN[b].Name {
			return byURN[a].Name < byURN[b].Name
		}
		return a < b
	}
	ready := &urnHeap{less: less}
	for urn := range byURN {
		if waiting[urn] == 0 {
			ready.urns = append(ready.urns, urn)
		}
	}
	heap.Init(ready)
	out := make([]Resource, 0, len(byURN))
	done := map[string]bool{}
	for ready.Len() > 0 {
		next := heap.Pop(ready).(string)
		out = append(out, byURN[next])
		done[next] = true
		for _, d := range dependents[next] {
			waiting[d]--
			if waiting[d] == 0 {
				heap.Push(ready, d)
			}
		}
	}
	var rest []string
	for urn := range byURN {
		if !done[urn] {
			rest = append(rest, urn)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return less(rest[i], rest[j]) })
	for _, urn := range rest {
		out = append(out, byURN[urn])
	}
	return out
}

// urnHeap is a min-heap of URNs under less (container/heap).
type urnHeap struct {
	urns []string
	less func(a, b string) bool
}

func (h *urnHeap) Len() int           { return len(h.urns) }
func (h *urnHeap) Less(i, j int) bool { return h.less(h.urns[i], h.urns[j]) }
func (h *urnHeap) Swap(i, j int)      { h.urns[i], h.urns[j] = h.urns[j], h.urns[i] }
func (h *urnHeap) Push(x any)         { h.urns = append(h.urns, x.(string)) }
func (h *urnHeap) Pop() any {
	last := h.urns[len(h.urns)-1]
	h.urns = h.urns[:len(h.urns)-1]
	return last
}

// orderEdges sorts edges by the plan order of their ends.
func orderEdges(edges []Edge, ordered []Resource) {
	pos := map[string]int{}
	for i, r := range ordered {
		pos[r.URN] = i
	}
	at := func(urn string) int {
		if p, ok := pos[urn]; ok {
			return p
		}
		return len(ordered)
	}
	sort.Slice(edges, func(i, j int) bool {
		a, b := edges[i], edges[j]
		if at(a.From) != at(b.From) {
			return at(a.From) < at(b.From)
		}
		if at(a.To) != at(b.To) {
			return at(a.To) < at(b.To)
		}
		if a.From != b.From {
			return a.From < b.From
		}
		return a.To < b.To
	})
}
