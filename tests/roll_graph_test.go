package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/providermodel"
	"github.com/nixlab/nixlab/stack"
)

// rollSteps are the names of the registered roll steps, sorted.
func (r *recorder) rollSteps() []string {
	var out []string
	for _, n := range r.names() {
		if strings.HasSuffix(n, "-roll") && r.regs[n].TypeToken == providermodel.TypeLocalCommand {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// rollEnv is a roll step's environment as registered.
func rollEnv(t *testing.T, r *recorder, name string) map[string]string {
	t.Helper()
	env := revealed(r.get(t, name).Inputs["environment"])
	if !env.IsObject() {
		t.Fatalf("%s: environment %v", name, env)
	}
	out := map[string]string{}
	for k, v := range env.ObjectValue() {
		if v.IsString() {
			out[string(k)] = v.StringValue()
		}
	}
	return out
}

// directlyAfter reports whether from's dependsOn names on.
func directlyAfter(t *testing.T, r *recorder, from, on string) bool {
	t.Helper()
	return slices.Contains(r.get(t, from).RegisterRPC.GetDependencies(), r.get(t, on).URN)
}

// bigConfig is haConfig with the worker group of the given size and the
// given nixlab:updates (""), and state dir.
func rollConfig(t *testing.T, state string, workers int, updates, extra map[string]string) map[string]string {
	t.Helper()
	cfg := haConfig(t, state)
	cfg["nixlab:nodeGroups"] = fmt.Sprintf(`{"control-plane":{"role":"control-plane","count":3,"vmIdStart":9100,"hostOffset":21},"workers":{"role":"worker","count":%d,"vmIdStart":9200,"hostOffset":31}}`, workers)
	for k, v := range updates {
		cfg[k] = v
	}
	for k, v := range extra {
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return cfg
}

// One roll step per node, control planes first and one at a time, then the
// workers maxUnavailable at a time; the first waits for the cluster; the
// control plane that rolls first runs `kubeadm upgrade apply`.
func TestRollStepsAreChainedControlPlanesFirst(t *testing.T) {
	cases := []struct {
		name      string
		workers   int
		updates   string
		wantSteps []string
		// wantAfter: step -> the roll step it waits for ("" = the cluster).
		wantAfter map[string]string
		first     string
	}{
		{name: "defaults", workers: 2,
			wantSteps: []string{"control-plane-1-roll", "control-plane-2-roll", "control-plane-3-roll", "workers-1-roll", "workers-2-roll"},
			wantAfter: map[string]string{"control-plane-1-roll": "", "control-plane-2-roll": "control-plane-1-roll",
				"control-plane-3-roll": "control-plane-2-roll", "workers-1-roll": "control-plane-3-roll", "workers-2-roll": "workers-1-roll"},
			first: "control-plane-1-roll"},
		{name: "two workers at a time", workers: 4, updates: `{"maxUnavailable":2}`,
			wantSteps: []string{"control-plane-1-roll", "control-plane-2-roll", "control-plane-3-roll", "workers-1-roll", "workers-2-roll", "workers-3-roll", "workers-4-roll"},
			wantAfter: map[string]string{"workers-1-roll": "control-plane-3-roll", "workers-2-roll": "control-plane-3-roll",
				"workers-3-roll": "workers-1-roll", "workers-4-roll": "workers-2-roll"},
			first: "control-plane-1-roll"},
		{name: "held nodes get no step and the chain closes over them", workers: 3,
			updates:   `{"hold":["nixlab-control-plane-1","nixlab-workers-2"]}`,
			wantSteps: []string{"control-plane-2-roll", "control-plane-3-roll", "workers-1-roll", "workers-3-roll"},
			wantAfter: map[string]string{"control-plane-2-roll": "", "control-plane-3-roll": "control-plane-2-roll",
				"workers-1-roll": "control-plane-3-roll", "workers-3-roll": "workers-1-roll"},
			first: "control-plane-2-roll"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			upd := map[string]string{}
			if c.updates != "" {
				upd["nixlab:updates"] = c.updates
			}
			rec, err := runMocked(t, rollConfig(t, "", c.workers, upd, nil), false, stack.Program)
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.rollSteps(); !slices.Equal(got, c.wantSteps) {
				t.Fatalf("roll steps %v, want %v", got, c.wantSteps)
			}
			for step, prev := range c.wantAfter {
				if prev == "" {
					for _, s := range c.wantSteps {
						if s != step && rec.dependsOn(t, step, s) {
							t.Errorf("%s, the first roll, waits for %s", step, s)
						}
					}
					if !rec.dependsOn(t, step, "workers-"+fmt.Sprint(c.workers)+"-kube-node") {
						t.Errorf("%s does not wait for the last join", step)
					}
					continue
				}
				if !directlyAfter(t, rec, step, prev) {
					t.Errorf("%s does not wait for %s", step, prev)
				}
			}
			for _, s := range c.wantSteps {
				env := rollEnv(t, rec, s)
				wantRole := "other"
				if s == c.first {
					wantRole = "first"
				}
				if env["NIXLAB_UPGRADE_ROLE"] != wantRole {
					t.Errorf("%s: NIXLAB_UPGRADE_ROLE %q, want %q", s, env["NIXLAB_UPGRADE_ROLE"], wantRole)
				}
				node := "nixlab-" + strings.TrimSuffix(s, "-roll")
				if env["NIXLAB_NODE"] != node || env["NIXLAB_KUBERNETES"] != "yes" || !strings.HasPrefix(env["NIXLAB_SYSTEM"], "/nix/store/") ||
					env["NIXLAB_NODE_USER"] != "nixos" || env["NIXLAB_ADMIN_USER"] != "nixos" {
					t.Errorf("%s: environment %v", s, env)
				}
				if hosts := strings.Fields(env["NIXLAB_KUBE_HOSTS"]); len(hosts) != 3 || hosts[0] != "nixos@192.168.1.21" {
					t.Errorf("%s: kube hosts %q, want the three control planes in roll order", s, env["NIXLAB_KUBE_HOSTS"])
				}
				stdin := rec.get(t, s).Inputs["stdin"]
				if !stdin.ContainsSecrets() {
					t.Errorf("%s: the private key on stdin is not a secret", s)
				}
				for k, v := range env {
					if strings.Contains(v, "-----BEGIN OPENSSH PRIVATE KEY-----") {
						t.Errorf("%s: %s carries a private key", s, k)
					}
				}
				if ig := rec.get(t, s).RegisterRPC.GetIgnoreChanges(); len(ig) != 0 {
					t.Errorf("%s ignores %v: a replacement would roll with the old values", s, ig)
				}
			}
		})
	}
}

// A new node system (here: another time zone, a setting baked into the node
// system) replaces exactly the roll steps of the nodes that exist, and no
// VM; nodes added in the same update are created with a step that only
// finds them on target. An unchanged config runs none.
func TestNewNodeSystemRollsEveryExistingNode(t *testing.T) {
	state := t.TempDir()
	cfg := rollConfig(t, state, 2, nil, nil)
	cfg2 := rollConfig(t, state, 3, nil, map[string]string{"nixlab:timezone": "Europe/Berlin"})
	first, second := secondRun(t, cfg, cfg2, stack.Program)

	for _, s := range first.rollSteps() {
		d := second.diffs[s]
		if !d.Replace {
			t.Errorf("%s: diff %+v, want a replacement (the roll runs)", s, d)
		}
		oldSys := rollEnv(t, first, s)["NIXLAB_SYSTEM"]
		newSys := rollEnv(t, second, s)["NIXLAB_SYSTEM"]
		if oldSys == newSys {
			t.Errorf("%s: rolls to the old system %s", s, oldSys)
		}
	}
	if _, existed := first.regs["workers-3-roll"]; existed {
		t.Fatal("workers-3 existed before")
	}
	if _, ok := second.regs["workers-3-roll"]; !ok {
		t.Error("the new node has no roll step")
	}
	for name, d := range changedResources(second) {
		if second.regs[name].TypeToken == providermodel.TypeVM && d.Replace && name != "template-vm" {
			t.Errorf("%s is replaced: nodes follow the image by rolling, not re-cloning", name)
		}
	}

	_, again := secondRun(t, cfg, cfg, stack.Program)
	for _, s := range again.rollSteps() {
		if d := again.diffs[s]; !d.Empty() {
			t.Errorf("%s changes on an unchanged config: %+v", s, d)
		}
	}
}

// A VM change that makes the provider reboot the node is wrapped: the
// node's drain runs before its VM update, its uncordon after its readiness
// check, and the next node's drain after that uncordon.
func TestRebootingVMChangeIsDrainedAndUncordoned(t *testing.T) {
	state := t.TempDir()
	cfg := rollConfig(t, state, 2, nil, nil)
	cfg2 := rollConfig(t, state, 2, nil, nil)
	cfg2["nixlab:nodeGroups"] = strings.Replace(cfg2["nixlab:nodeGroups"], `"role":"worker",`, `"role":"worker","cores":4,`, 1)
	_, second := secondRun(t, cfg, cfg2, stack.Program)
	for i := 1; i <= 2; i++ {
		n := fmt.Sprintf("workers-%d", i)
		for _, s := range []string{n + "-drain", n + "-uncordon"} {
			if d := second.diffs[s]; !d.Replace {
				t.Errorf("%s: diff %+v, want it to run (replaced)", s, d)
			}
		}
		if !directlyAfter(t, second, n, n+"-drain") {
			t.Errorf("%s is updated without waiting for its drain", n)
		}
		if !directlyAfter(t, second, n+"-uncordon", n+"-ready") {
			t.Errorf("%s-uncordon does not wait for the readiness check", n)
		}
		prev := "control-plane-3-uncordon"
		if i > 1 {
			prev = fmt.Sprintf("workers-%d-uncordon", i-1)
		}
		if !directlyAfter(t, second, n+"-drain", prev) {
			t.Errorf("%s-drain does not wait for %s: two nodes could be down at once", n, prev)
		}
	}
	for i := 1; i <= 3; i++ {
		s := fmt.Sprintf("control-plane-%d-drain", i)
		if d := second.diffs[s]; !d.Empty() {
			t.Errorf("%s runs though its VM does not change: %+v", s, d)
		}
	}
	// The drain reaches the cluster through the control planes' VM IDs
	// (the guest agent), never through anything derived from a VM.
	create := second.get(t, "workers-1-drain").Inputs["create"].StringValue()
	if !strings.HasSuffix(create, "'drain' 'nixlab-workers-1' '9200' '600' '9100' '9101' '9102'") {
		t.Errorf("workers-1-drain command ends %q", create[max(0, len(create)-80):])
	}
	if deps := second.get(t, "workers-1-drain").RegisterRPC.GetPropertyDependencies(); len(deps["create"].GetUrns()) != 0 {
		t.Errorf("the drain's command depends on %v", deps["create"].GetUrns())
	}
}

// Without Kubernetes there is nothing to drain: no drain steps, and the
// rolls only switch and check the nodes. A prebuilt ISO has no node system:
// no roll steps.
func TestRollWithoutKubernetesOrNodeSystem(t *testing.T) {
	rec, err := runMocked(t, rollConfig(t, "", 2, nil, map[string]string{"nixlab:kubernetes": `{"enabled":false}`}), false, stack.Program)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range rec.names() {
		if strings.HasSuffix(n, "-drain") || strings.HasSuffix(n, "-uncordon") {
			t.Errorf("%s registered without Kubernetes", n)
		}
	}
	if len(rec.rollSteps()) != 5 {
		t.Fatalf("roll steps %v", rec.rollSteps())
	}
	if env := rollEnv(t, rec, "workers-1-roll"); env["NIXLAB_KUBERNETES"] != "no" {
		t.Errorf("NIXLAB_KUBERNETES %q", env["NIXLAB_KUBERNETES"])
	}
	if !rec.dependsOn(t, "control-plane-1-roll", "workers-2-ready") {
		t.Error("the first roll does not wait for the last readiness check")
	}

	iso := filepath.Join(t.TempDir(), "prebuilt.iso")
	if err := os.WriteFile(iso, []byte("an ISO"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec, err = runMocked(t, rollConfig(t, "", 2, nil, map[string]string{"nixlab:template": `{"vmId":9000,"isoPath":"` + iso + `"}`}), false, stack.Program)
	if err != nil {
		t.Fatal(err)
	}
	if steps := rec.rollSteps(); len(steps) != 0 {
		t.Errorf("roll steps %v with a prebuilt ISO (it has no node system to roll)", steps)
	}
}

// A new admin user is part of the node system: the roll runs, and tells
// each node's script both the user the node logs in as (the one it was
// cloned with, from its state) and the new system's admin user, so that
// node-roll.sh refuses to switch a node whose login user the new system
// would delete.
func TestAdminUserChangeTellsTheRollBothUsers(t *testing.T) {
	state := t.TempDir()
	_, second := secondRun(t, rollConfig(t, state, 1, nil, nil), rollConfig(t, state, 1, nil, map[string]string{"nixlab:adminUser": "ops"}), stack.Program)
	for _, s := range second.rollSteps() {
		if !second.diffs[s].Replace {
			t.Errorf("%s does not run: %+v", s, second.diffs[s])
		}
		env := rollEnv(t, second, s)
		if env["NIXLAB_NODE_USER"] != "nixos" || env["NIXLAB_ADMIN_USER"] != "ops" {
			t.Errorf("%s: node user %q, admin user %q; want nixos (cloned with) and ops (the new system's)", s, env["NIXLAB_NODE_USER"], env["NIXLAB_ADMIN_USER"])
		}
	}
}
