package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Plan is the offline preview of one stack.
type Plan struct {
	// Project and Stack name the Pulumi project and stack.
	Project string `json:"project"`
	Stack   string `json:"stack"`
	// Network is the node addressing mode, "dhcp" or "static".
	Network string `json:"network"`
	// ContentHash is the SHA-256 of the template inputs (nix sources and
	// baked-in settings); it names the ISO and triggers rebuilds.
	ContentHash string `json:"contentHash"`
	// ISOFileName is the installer ISO's file name on the Proxmox host.
	ISOFileName string `json:"isoFileName"`
	// Resources are every registered resource, components included, in
	// plan order: top-level resources first, then each component followed
	// by its children, each group in dependency order.
	Resources []Resource `json:"resources"`
	// Edges are the dependencies between resources, deduplicated and
	// sorted in plan order.
	Edges []Edge `json:"edges"`
	// Nodes are the cluster's nodes, control planes first.
	Nodes []Node `json:"nodes"`
	// Kubernetes summarizes the cluster nixlab:kubernetes asks for.
	Kubernetes *Kubernetes `json:"kubernetes"`
	// Updates is how a new node system rolls through the nodes.
	Updates *Updates `json:"updates"`
	// Inventory is the nixlab-flavoured Ansible INI inventory as it will
	// look after `pulumi up`. Hosts whose address is not known yet (DHCP)
	// are marked with comment lines.
	Inventory string `json:"inventory"`
	// Warnings are problems that do not stop the plan but would stop or
	// affect `pulumi up`.
	Warnings []string `json:"warnings"`
	// Comparison is set by CompareWith: which nodes the change from an
	// earlier plan reboots or replaces.
	Comparison *Comparison `json:"comparison,omitempty"`
}

// Resource is one registered resource.
type Resource struct {
	URN  string `json:"urn"`
	Type string `json:"type"`
	Name string `json:"name"`
	// Parent is the URN of the parent resource; empty for resources at the
	// top of the stack.
	Parent string `json:"parent,omitempty"`
	// Custom is true for provider-managed resources, false for components.
	Custom bool `json:"custom"`
	// Provider is the URN of the explicit provider instance; empty for the
	// default provider of the resource's package (and for components).
	Provider string `json:"provider,omitempty"`
	// Dependencies are the URNs this resource waits for, sorted.
	Dependencies []string `json:"dependencies"`
	// Inputs summarize the key inputs for the resource's type. Secret
	// values read "[secret]", values only known after `pulumi up` read
	// "(known after up)".
	Inputs Inputs `json:"inputs"`
}

// Component reports whether the resource is a component resource.
func (r Resource) Component() bool { return !r.Custom }

// Input is one summarized input value.
type Input struct {
	Key   string
	Value string
}

// Inputs is an ordered input summary. It marshals to a JSON object whose
// keys keep their order.
type Inputs []Input

// MarshalJSON writes the inputs as one JSON object in order.
func (in Inputs) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range in {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(kv.Key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(kv.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object into the inputs, keeping the order of
// its keys (what MarshalJSON wrote).
func (in *Inputs) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		*in = nil
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("inputs: want a JSON object, got %v", tok)
	}
	out := Inputs{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("inputs: want a key, got %v", tok)
		}
		var value string
		if err := dec.Decode(&value); err != nil {
			return fmt.Errorf("inputs: %s: %w", key, err)
		}
		out = append(out, Input{Key: key, Value: value})
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	*in = out
	return nil
}

// Get returns the value of key and whether it is summarized.
func (in Inputs) Get(key string) (string, bool) {
	for _, kv := range in {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// Edge is one dependency: To waits for From. Both are URNs.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Node is one cluster node.
type Node struct {
	// Name is the VM name and host name, <cluster>-<group>-<i>.
	Name string `json:"name"`
	// Group is the node group, Role its Kubernetes role.
	Group string `json:"group"`
	Role  string `json:"role"`
	// VMID is the node's fixed Proxmox VM ID.
	VMID int `json:"vmId"`
	// Address is the static IPv4 address (without prefix length), or
	// AddressDHCP when the address is only known after `nixlab up`.
	Address string `json:"address"`
	// URN is the node's VM resource.
	URN string `json:"urn"`
	// RestartInputs are the VM's inputs whose change restarts the running
	// node: by a reboot (the provider restarts the VM after changing its
	// CPU, memory, network device, disk storage or cloud-init; see
	// components.RebootFields) or by replacing the VM (clone source, VM
	// ID, login user and SSH keys). Keys are property paths, values are
	// summarized. CompareWith compares them.
	RestartInputs Inputs `json:"restartInputs"`
}

// AddressDHCP is Node.Address of a node that gets its address by DHCP.
const AddressDHCP = "dhcp"

// Unknown and Secret are the summaries of values that cannot be shown.
const (
	Unknown = "(known after up)"
	Secret  = "[secret]"
)
