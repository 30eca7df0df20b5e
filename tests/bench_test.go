package tests

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/internal/testutil"
	"github.com/nixlab/nixlab/stack"
)

// nodeResource matches the names of a node's resources: its VM, its DHCP
// address lookup and its readiness check.
var nodeResource = regexp.MustCompile(`^(control-plane|workers)-\d+(-address|-ready)?$`)

// BenchmarkDeployGraph measures building the whole stack graph (content
// hash, template pipeline, clones, readiness checks, inventories) under
// Pulumi mocks, for clusters of 10, 100 and 1000 nodes. Validation caps a
// stack at stack.MaxNodes nodes, so the config is parsed with one worker
// and the worker count is raised in Go before stack.Deploy: the graph is
// what is measured, with Kubernetes off (BenchmarkDeployGraphKubernetes
// measures it on). ns/node must stay flat (the graph is linear).
func BenchmarkDeployGraph(b *testing.B) {
	benchDeploy(b, []int{10, 100, 1000}, false, nodeResource, func(nodes int) int { return 3 * nodes })
}

// kubeNodeStep matches the names of a node's Kubernetes steps.
var kubeNodeStep = regexp.MustCompile(`^(control-plane|workers)-\d+-kube-(init|prepare|join|node)$`)

// BenchmarkDeployGraphKubernetes measures building the whole stack graph
// with the Kubernetes cluster (secrets, init, three steps per joining node,
// kubeconfig, provider, add-ons, check) under Pulumi mocks, for 3, 30 and
// 300 nodes (one control plane). ns/node must stay flat: each node adds a
// fixed number of resources, and no step's inputs grow with the node count.
func BenchmarkDeployGraphKubernetes(b *testing.B) {
	benchDeploy(b, []int{3, 30, 300}, true, kubeNodeStep, func(nodes int) int { return 1 + 3*(nodes-1) })
}

// rollNodeStep matches the names of a node's Day-2 steps: its roll and the
// drain and uncordon around a VM update that reboots it.
var rollNodeStep = regexp.MustCompile(`^(control-plane|workers)-\d+-(roll|drain|uncordon)$`)

// BenchmarkDeployGraphRoll measures the same graph as
// BenchmarkDeployGraphKubernetes and checks that it holds the Day-2 steps
// of every node (roll, drain, uncordon: components.RollingUpdate and
// components.VMUpdateDrain): ns/node must stay flat, each roll step's
// inputs are the same size whatever the node count (the control planes'
// list of kubectl hosts is one shared output).
func BenchmarkDeployGraphRoll(b *testing.B) {
	benchDeploy(b, []int{3, 30, 300}, true, rollNodeStep, func(nodes int) int { return 3 * nodes })
}

// benchDeploy runs stack.Deploy under Pulumi mocks for each node count,
// with or without the Kubernetes cluster, checks that want(nodes)
// resources match perNode (the graph really has that many nodes), and
// reports ns/node and CPU time per run (user + system, all threads:
// steadier than wall time on a shared machine).
func benchDeploy(b *testing.B, counts []int, kubernetes bool, perNode *regexp.Regexp, want func(nodes int) int) {
	for _, nodes := range counts {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			cfg := benchConfig(b, nodes)
			cfg.Kubernetes.Enabled = &kubernetes
			cpu0 := testutil.CPUTime(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rec := newRecorder()
				program := func(ctx *pulumi.Context) error {
					lab, err := stack.Deploy(ctx, cfg)
					if err != nil {
						return err
					}
					_, err = await(ctx, lab.Inventory)
					return err
				}
				err := pulumi.RunErr(program, pulumi.WithMocks("nixlab", "lab", rec), func(ri *pulumi.RunInfo) {
					ri.DryRun = true
				})
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for name := range rec.regs {
					if perNode.MatchString(name) {
						got++
					}
				}
				if got != want(nodes) {
					b.Fatalf("%d resources matching %s registered for %d nodes, want %d", got, perNode, nodes, want(nodes))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(nodes), "ns/node")
			b.ReportMetric(float64((testutil.CPUTime(b)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// benchConfig is a parsed lab config with one control plane and nodes-1
// workers.
func benchConfig(b *testing.B, nodes int) *stack.Config {
	b.Helper()
	b.Setenv("SSH_AUTH_SOCK", "/nonexistent/agent.sock") // nothing dials under mocks
	raw := map[string]string{
		"nixlab:proxmox":    `{"endpoint":"https://192.168.1.5:8006/","node":"pve"}`,
		"nixlab:apiToken":   testToken,
		"nixlab:stateDir":   b.TempDir(),
		"nixlab:nfs":        `{"server":"192.168.1.4","export":"/volume1/k8s-cluster-storage"}`,
		"nixlab:nodeGroups": `{"control-plane":{"role":"control-plane","count":1,"vmIdStart":10000},"workers":{"role":"worker","count":1,"vmIdStart":20000}}`,
	}
	cfg, err := stack.ParseConfig(func(key string) (string, bool) { v, ok := raw[key]; return v, ok })
	if err != nil {
		b.Fatal(err)
	}
	workers := cfg.NodeGroups["workers"]
	workers.Count = nodes - 1
	cfg.NodeGroups["workers"] = workers
	return cfg
}
