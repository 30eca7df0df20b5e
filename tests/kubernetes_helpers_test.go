package tests

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/nixlab/nixlab/stack"
)

// Names of the cluster's resources (components.NewKubernetesCluster).
const (
	kubeComponent  = stack.KubernetesClusterName
	kubeconfigStep = "kube-kubeconfig"
	kubeCheckStep  = "kube-check"
	kubeProvider   = "kube-provider"
	kubeInitLab    = "control-plane-1-kube-init"
)

// kubeNodeSteps are the steps of a node other than the first control plane,
// in order.
var kubeNodeSteps = []string{"-kube-prepare", "-kube-join", "-kube-node"}

// haConfig is a static stack with three control planes behind a VIP and
// two workers.
func haConfig(t *testing.T, state string) map[string]string {
	t.Helper()
	cfg := labConfig(t, map[string]string{
		"nixlab:network":    `{"mode":"static","cidr":"192.168.1.0/24","gateway":"192.168.1.1"}`,
		"nixlab:nodeGroups": `{"control-plane":{"role":"control-plane","count":3,"vmIdStart":9100,"hostOffset":21},"workers":{"role":"worker","count":2,"vmIdStart":9200,"hostOffset":31}}`,
		"nixlab:kubernetes": `{"controlPlaneEndpoint":"192.168.1.50","cni":"flannel","storage":{"className":"nfs","onDelete":"retain"}}`,
	})
	if state != "" {
		cfg["nixlab:stateDir"] = state
	}
	return cfg
}

// byURN maps every registered URN to its resource name.
func (r *recorder) byURN() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	for name, reg := range r.regs {
		out[reg.URN] = name
	}
	return out
}

// dependsOn reports whether resource `from` depends on `on`, directly or
// through other resources (RegisterResourceRequest.dependencies, the
// engine's order of creation and, reversed, of deletion).
func (r *recorder) dependsOn(t *testing.T, from, on string) bool {
	t.Helper()
	names := r.byURN()
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		reg := r.get(t, n)
		if reg.RegisterRPC == nil {
			continue
		}
		for _, d := range reg.RegisterRPC.GetDependencies() {
			dn := names[d]
			if dn == on {
				return true
			}
			stack = append(stack, dn)
		}
	}
	return false
}

// kubeResources are the names of every resource under the cluster
// component, the component excluded.
func (r *recorder) kubeResources() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for name, reg := range r.regs {
		if reg.RegisterRPC != nil && strings.Contains(reg.RegisterRPC.GetParent(), "KubernetesCluster") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// nodeSteps lists node res's kube steps.
func nodeSteps(res string) []string {
	out := make([]string, len(kubeNodeSteps))
	for i, s := range kubeNodeSteps {
		out[i] = res + s
	}
	return out
}

// mustState is a resource's state in a run.
func mustState(t *testing.T, r *recorder, name string) resState {
	t.Helper()
	st, ok := r.stateSnapshot()[name]
	if !ok {
		t.Fatalf("%s has no state", name)
	}
	return st
}

// stringState is a string property of a state, secret or not.
func stringState(t *testing.T, st resState, key string) string {
	t.Helper()
	v := revealed(st.State[resource.PropertyKey(key)])
	if !v.IsString() {
		t.Fatalf("%s: state %s is %v, not a string", st.ID, key, v)
	}
	return v.StringValue()
}

// nodeResources are the resources of one node of the lab (DHCP, Kubernetes
// on) by resource name, sorted: its VM, address lookup, the drain and
// uncordon around VM updates, its Kubernetes steps, readiness check and
// roll step.
func nodeResources(node string) []string {
	var out []string
	for _, s := range []string{"", "-address", "-drain", "-kube-join", "-kube-node", "-kube-prepare", "-ready", "-roll", "-uncordon"} {
		out = append(out, node+s)
	}
	return out
}
