package main

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/nixlab/nixlab/components"
)

// Resource types and name suffixes of the Kubernetes membership steps (the
// KubernetesCluster component: components/kubernetes_*.go). Per node after
// the first control plane (<node> is its name without the cluster-name
// prefix, e.g. workers-3: clusterBuilder.stepName), <node>-kube-join runs
// kube-join.sh on the node
// (delete: kube-leave.sh) and <node>-kube-node waits for its Node object on
// the first control plane (delete: kube-drain.sh, which cordons and drains
// it, and refuses to break etcd quorum). Every such step is
// pulumi.DeletedWith the cluster's init step, so deleting the whole cluster
// skips them.
const (
	kubernetesClusterType = components.KubernetesClusterType
	remoteCommandType     = "command:remote:Command"
	kubeInitSuffix        = "-kube-init"
	kubeJoinSuffix        = "-kube-join"
	kubeNodeSuffix        = "-kube-node"
)

// kubeMembershipNote says in what order joins and removals happen.
const kubeMembershipNote = "Nodes join one at a time, control planes first; a removed node is cordoned, drained and " +
	"deleted from the cluster (a control plane also from etcd, never below quorum) before its VM is destroyed."

// kubeStepCollector reads the engine events of a preview and keeps the
// changes to the cluster's membership: nodes that join (a create of
// <node>-kube-join), join again (a replace of it), and are drained and
// removed (a delete of <node>-kube-node); and whether the KubernetesCluster
// itself is created or deleted. Names keep the order the engine reported
// them in (the join order: each join waits for the previous node). It is
// safe for concurrent use.
type kubeStepCollector struct {
	mu                     sync.Mutex
	joins, rejoins, drains []string
	// inits are nodes where <node>-kube-init is created or replaced.
	inits            []string
	seen             map[string]bool // URN+op already counted
	created, deleted bool            // the KubernetesCluster itself
}

// observe handles one engine event.
func (c *kubeStepCollector) observe(ev events.EngineEvent) {
	if ev.ResourcePreEvent == nil {
		return
	}
	md := ev.ResourcePreEvent.Metadata
	name := resource.URN(md.URN).Name()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	key := string(md.Op) + " " + md.URN
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	switch {
	case md.Type == kubernetesClusterType && md.Op == apitype.OpCreate:
		c.created = true
	case md.Type == kubernetesClusterType && md.Op == apitype.OpDelete:
		c.deleted = true
	case md.Type != remoteCommandType:
	case strings.HasSuffix(name, kubeInitSuffix) && (md.Op == apitype.OpCreate || md.Op == apitype.OpReplace):
		c.inits = append(c.inits, strings.TrimSuffix(name, kubeInitSuffix))
	case strings.HasSuffix(name, kubeJoinSuffix) && md.Op == apitype.OpCreate:
		c.joins = append(c.joins, strings.TrimSuffix(name, kubeJoinSuffix))
	case strings.HasSuffix(name, kubeJoinSuffix) && md.Op == apitype.OpReplace:
		c.rejoins = append(c.rejoins, strings.TrimSuffix(name, kubeJoinSuffix))
	case strings.HasSuffix(name, kubeNodeSuffix) && md.Op == apitype.OpDelete:
		c.drains = append(c.drains, strings.TrimSuffix(name, kubeNodeSuffix))
	}
}

// kubeSummary is what the collector saw.
type kubeSummary struct {
	created, deleted       bool
	joins, rejoins, drains []string
	inits                  []string
}

// summary returns a copy of what was collected.
func (c *kubeStepCollector) summary() kubeSummary {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := func(s []string) []string { return append([]string(nil), s...) }
	return kubeSummary{created: c.created, deleted: c.deleted, joins: cp(c.joins), rejoins: cp(c.rejoins), drains: cp(c.drains), inits: cp(c.inits)}
}

// writeKubeSummary writes the cluster membership changes of a previewed
// update, one line each, e.g.
//
//	will create the Kubernetes cluster (kubeadm init on the first control plane, then the joins below)
//	will join: workers-3
//	will drain and remove: workers-2
//
// followed by kubeMembershipNote when a node joins or leaves. When a
// cluster is deleted its per-node removals are skipped (they are deleted
// with the cluster's init step): one line says so and no drain is listed.
// Nothing is written when the cluster's membership does not change. When
// kubeadm init is to run again on an existing cluster (the first control
// plane moved to another node or was replaced), a warning says that this
// makes a new cluster.
func writeKubeSummary(w io.Writer, s kubeSummary) {
	if s.created {
		fmt.Fprintln(w, "will create the Kubernetes cluster (kubeadm init on the first control plane, then the joins below)")
	} else if len(s.inits) > 0 {
		fmt.Fprintf(w, "warning: kubeadm init will run again on %s: that makes a NEW cluster (a new CA, the add-ons installed again), "+
			"and the nodes already joined stay in the old one. The first control plane is node 1 of the first control-plane group "+
			"in name order: keep that group first with a count above 0, or rebuild the cluster (nixlab destroy, nixlab up)\n",
			strings.Join(s.inits, ", "))
	}
	if len(s.joins) > 0 {
		fmt.Fprintf(w, "will join: %s\n", strings.Join(s.joins, ", "))
	}
	if len(s.rejoins) > 0 {
		fmt.Fprintf(w, "will join again: %s\n", strings.Join(s.rejoins, ", "))
	}
	if s.deleted {
		fmt.Fprintln(w, "will delete the Kubernetes cluster; its nodes are not drained one by one (as with destroy)")
	}
	if len(s.drains) > 0 && !s.deleted {
		fmt.Fprintf(w, "will drain and remove: %s\n", strings.Join(s.drains, ", "))
	}
	if len(s.joins)+len(s.rejoins) > 0 || (len(s.drains) > 0 && !s.deleted) {
		fmt.Fprintln(w, kubeMembershipNote)
	}
}
