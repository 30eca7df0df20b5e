package components_test

import (
	"path/filepath"
	"testing"
)

// A rebuild of the node system from unchanged sources (an update: another
// checkout or state directory; pulumi-command passes the earlier stdout as
// PULUMI_COMMAND_STDOUT, provider/pkg/provider/local/commandOutputs.go run,
// v1.2.1) must give the system the nodes run: another store path means
// nixpkgs moved, and the build fails naming both and the fix. A create
// (no earlier output) and an equal path pass.
func TestScriptBuildISO_SystemRebuildMustMatch(t *testing.T) {
	f := newBuildFixture(t)
	system := filepath.Join(f.store, "0123456789abcdfghijklmnpqrsvwxyz-nixos-system-nixos-26.05.20260101.0000000")
	other := filepath.Join(f.store, "zyxwvsrqpnmlkjihgfdcba9876543210-nixos-system-nixos-26.05.20251201.0000000")
	cases := []struct {
		name   string
		before string // PULUMI_COMMAND_STDOUT; "" = unset (a create)
		code   int
		want   []string
	}{
		{name: "create", code: 0},
		{name: "update to the same system", before: system + "\n", code: 0},
		{name: "update to another system", before: other, code: 1,
			want: []string{"the node system built now, " + system, "differs from the one built before from the same sources, " + other,
				"nixpkgs moved because no flake.lock pins it", "nixos/flake.lock"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := []string{"NIXLAB_FLAKE_DIR=flake", "NIXLAB_OUT_LINK=.nixlab/system/0123456789abcdef"}
			if c.before != "" {
				env = append(env, "PULUMI_COMMAND_STDOUT="+c.before)
			}
			res := scriptRun(t, f.project, f.systemEnv(env...), "build-iso.sh", "create")
			if res.code != c.code {
				t.Fatalf("exit %d, want %d", res.code, c.code)
			}
			if c.code == 0 && res.stdout != system+"\n" {
				t.Errorf("stdout %q", res.stdout)
			}
			if c.code != 0 && res.stdout != "" {
				t.Errorf("a refused rebuild printed %q", res.stdout)
			}
			scriptMustContain(t, "stderr", res.stderr, c.want...)
		})
	}
}
