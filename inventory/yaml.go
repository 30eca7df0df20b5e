package inventory

import (
	"bytes"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// renderYAML writes m in the layout of Ansible's yaml inventory plugin
// (all: hosts/children/vars). The document is built from yaml.v3 nodes in
// model order, so no map iteration order leaks into the output.
func renderYAML(m model) (string, error) {
	byName := map[string]group{}
	isChild := map[string]bool{}
	for _, g := range m.groups {
		byName[g.name] = g
		for _, c := range g.children {
			isChild[c] = true
		}
	}

	var groupNode func(g group) *yaml.Node
	groupNode = func(g group) *yaml.Node {
		body := mapping()
		if len(g.hosts) > 0 {
			hosts := mapping()
			for _, h := range g.hosts {
				hosts.Content = append(hosts.Content, key(h.name), hostNode(h))
			}
			body.Content = append(body.Content, key("hosts"), hosts)
		}
		if len(g.children) > 0 {
			children := mapping()
			for _, c := range g.children {
				child := null()
				if m.nest {
					child = groupNode(byName[c])
				}
				children.Content = append(children.Content, key(c), child)
			}
			body.Content = append(body.Content, key("children"), children)
		}
		if len(g.vars) > 0 {
			body.Content = append(body.Content, key("vars"), varsNode(g.vars))
		}
		return body
	}

	all := mapping()
	if m.defineInAll {
		hosts := mapping()
		for _, h := range m.allHosts {
			hosts.Content = append(hosts.Content, key(h.name), hostNode(h))
		}
		all.Content = append(all.Content, key("hosts"), hosts)
	}
	children := mapping()
	for _, g := range m.groups {
		if m.nest && isChild[g.name] {
			continue // rendered inside its parent
		}
		children.Content = append(children.Content, key(g.name), groupNode(g))
	}
	all.Content = append(all.Content, key("children"), children)
	root := mapping(key("all"), all)

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return "", fmt.Errorf("inventory: encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("inventory: encode YAML: %w", err)
	}
	return buf.String(), nil
}

func mapping(content ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: content}
}

// null is an empty value: a host or child group referenced by name.
func null() *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
}

// key is a mapping key (group, host or variable name); quoted unless bare.
func key(s string) *yaml.Node { return scalar(str(s)) }

func scalar(v value) *yaml.Node {
	switch {
	case v.isInt:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v.n)}
	case v.addr || bare(v.s):
		// yaml.v3 still quotes a !!str that would resolve otherwise.
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.s}
	default:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.s, Style: yaml.DoubleQuotedStyle}
	}
}

// hostNode is a host's value: its variables, or empty for a reference.
func hostNode(h host) *yaml.Node {
	if h.vars == nil {
		return null()
	}
	return varsNode(h.vars)
}

func varsNode(vars []variable) *yaml.Node {
	n := mapping()
	for _, v := range vars {
		n.Content = append(n.Content, key(v.key), scalar(v.val))
	}
	return n
}
