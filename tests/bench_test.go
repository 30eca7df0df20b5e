package tests

import (
	"fmt"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/stack"
)

// BenchmarkDeployGraph measures building the whole stack graph (config,
// content hash, template pipeline, clones, readiness checks, inventories)
// under Pulumi mocks, for clusters of 3, 30 and 300 nodes.
func BenchmarkDeployGraph(b *testing.B) {
	for _, size := range []struct{ controlPlanes, workers int }{{1, 2}, {3, 27}, {3, 297}} {
		nodes := size.controlPlanes + size.workers
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			cfg := benchConfig(b, size.controlPlanes, size.workers)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rec := newRecorder()
				err := pulumi.RunErr(withLab(func(ctx *pulumi.Context, _ *stack.Config, lab *stack.Lab) error {
					_, err := await(ctx, lab.Inventory)
					return err
				}), pulumi.WithMocks("nixlab", "lab", rec), func(ri *pulumi.RunInfo) {
					ri.Config = cfg
					ri.ConfigSecretKeys = []string{"nixlab:apiToken"}
					ri.DryRun = true
				})
				if err != nil {
					b.Fatal(err)
				}
				// provider, key, template + 4 children, one component per
				// group, and per node a VM, its DHCP address lookup and its
				// readiness check.
				if got := len(rec.regs); got != 7+2+3*nodes {
					b.Fatalf("%d resources registered for %d nodes", got, nodes)
				}
			}
		})
	}
}

func benchConfig(b *testing.B, controlPlanes, workers int) map[string]string {
	b.Helper()
	b.Setenv("SSH_AUTH_SOCK", "/nonexistent/agent.sock") // nothing dials under mocks
	return map[string]string{
		"nixlab:proxmox":  `{"endpoint":"https://192.168.1.5:8006/","node":"pve"}`,
		"nixlab:apiToken": testToken,
		"nixlab:stateDir": b.TempDir(),
		"nixlab:nfs":      `{"server":"192.168.1.4","export":"/volume1/k8s-cluster-storage"}`,
		"nixlab:nodeGroups": fmt.Sprintf(`{"control-plane":{"role":"control-plane","count":%d,"vmIdStart":10000},"workers":{"role":"worker","count":%d,"vmIdStart":20000}}`,
			controlPlanes, workers),
	}
}
