package plan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/internal/testutil"
	"github.com/nixlab/nixlab/stack"
)

// benchPlanner builds the plan of a stack with one control plane and
// nodes-1 workers. Validation caps a stack at stack.MaxNodes nodes, so the
// stack file holds a valid small group and the program raises the worker
// count in the parsed config before stack.Deploy: everything after loading
// the config (the graph, the engine, ordering, summaries, nodes, inventory)
// is what `nixlab plan` runs.
func benchPlanner(tb testing.TB, nodes int) func() (*Plan, error) {
	tb.Helper()
	dir := tb.TempDir()
	project, err := os.ReadFile(filepath.Join(testutil.RepoRoot(tb), "Pulumi.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	groups := "    control-plane: {role: control-plane, count: 1, vmIdStart: 9100}\n" +
		"    workers: {role: worker, count: 1, vmIdStart: 10000}"
	for name, content := range map[string]string{
		"Pulumi.yaml":       string(project),
		"Pulumi.bench.yaml": stackYAML("", dhcpNetwork, groups),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	proj, err := readProject(dir)
	if err != nil {
		tb.Fatal(err)
	}
	sc, err := readStackConfig(dir, "bench", proj)
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := stack.ParseConfigIn(sc.lookup, dir)
	if err != nil {
		tb.Fatal(err)
	}
	workers := cfg.NodeGroups["workers"]
	workers.Count = nodes - 1
	cfg.NodeGroups["workers"] = workers
	program := func(ctx *pulumi.Context) (*stack.Config, *stack.Lab, error) {
		lab, err := stack.Deploy(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		for name, value := range stack.Outputs(ctx, cfg, lab) {
			ctx.Export(name, value)
		}
		return cfg, lab, nil
	}
	return func() (*Plan, error) {
		return buildPlan(context.Background(), proj, "bench", sc, stackFilePath(dir, "bench"), program, dir)
	}
}

// BenchmarkPlan measures building a plan (the whole stack graph under the
// plan's engine, ordering, summaries, nodes and inventory) and rendering
// it as text, for 10, 100 and 1000 nodes. The ns/node metric is the cost
// per node: it stays flat as the node count grows because the plan is
// linear in the node count (TestPlanIsLinear checks it).
func BenchmarkPlan(b *testing.B) {
	b.Setenv("SSH_AUTH_SOCK", "")
	for _, nodes := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			plan := benchPlanner(b, nodes)
			cpu0 := testutil.CPUTime(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p, err := plan()
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Nodes) != nodes {
					b.Fatalf("%d nodes planned, want %d", len(p.Nodes), nodes)
				}
				if err := p.Write(discard{}, FormatText); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(nodes), "ns/node")
			// CPU time (user + system, all threads) is steadier than wall
			// time on a shared machine.
			b.ReportMetric(float64((testutil.CPUTime(b)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// discard is io.Discard without the import.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
