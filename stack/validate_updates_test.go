package stack

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// updatesLab is the lab (control plane nixlab-control-plane-1, workers
// nixlab-workers-1 and -2) with nixlab:updates set to u (JSON) and more
// overrides.
func updatesLab(u string, more map[string]string) map[string]string {
	return labWith("nixlab:updates", u, more)
}

// labNodeNames are the lab's nodes as its errors list them.
const labNodeNames = "nixlab-control-plane-1, nixlab-workers-1, nixlab-workers-2"

// Every nixlab:updates rule refuses a bad value under its own key with a
// message that says what to do (the Pulumi config path: values as the
// engine hands them to the program).
func TestUpdatesRules(t *testing.T) {
	const maxU, drain, health = "nixlab:updates.maxUnavailable", "nixlab:updates.drainTimeoutMinutes", "nixlab:updates.healthTimeoutMinutes"
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		key       string
		fix       []string
	}{
		// Explicit 0 does not select the default.
		{"maxUnavailable 0", updatesLab(`{"maxUnavailable":0}`, nil), maxU, []string{"0 is out of range (it does not select the default)", "use 1 to 100", "default (1)"}},
		{"drain timeout 0", updatesLab(`{"drainTimeoutMinutes":0}`, nil), drain, []string{"0 is out of range", "use 1 to 1440", "default (10)"}},
		{"health timeout 0", updatesLab(`{"healthTimeoutMinutes":0}`, nil), health, []string{"0 is out of range", "use 1 to 1440", "default (10)"}},
		// Bounds.
		{"maxUnavailable negative", updatesLab(`{"maxUnavailable":-1}`, nil), maxU, []string{"-1 is out of range", "use 1 to 100", "control planes always roll one at a time"}},
		{"maxUnavailable 101", updatesLab(`{"maxUnavailable":101}`, nil), maxU, []string{"101 is out of range", "use 1 to 100"}},
		{"drain timeout a day and a minute", updatesLab(`{"drainTimeoutMinutes":1441}`, nil), drain, []string{"1441 is out of range", "1 to 1440 minutes", "drain"}},
		{"health timeout negative", updatesLab(`{"healthTimeoutMinutes":-5}`, nil), health, []string{"-5 is out of range", "health gate"}},
		// Types and nulls.
		{"maxUnavailable as a string", updatesLab(`{"maxUnavailable":"1"}`, nil), maxU, []string{"expected a number, got a string"}},
		{"maxUnavailable a fraction", updatesLab(`{"maxUnavailable":1.5}`, nil), maxU, []string{"not a whole number"}},
		{"maxUnavailable a percentage", updatesLab(`{"maxUnavailable":"25%"}`, nil), maxU, []string{"expected a number"}},
		{"rollback as a string", updatesLab(`{"rollback":"yes"}`, nil), "nixlab:updates.rollback", []string{"expected true or false", "without quotes"}},
		{"rollback null", updatesLab(`{"rollback":null}`, nil), "nixlab:updates.rollback", []string{"has no value", "write true or false"}},
		{"drain timeout null", updatesLab(`{"drainTimeoutMinutes":null}`, nil), drain, []string{"has no value", "whole number"}},
		{"hold null", updatesLab(`{"hold":null}`, nil), "nixlab:updates.hold", []string{"has no value", "YAML list"}},
		{"hold a single name", updatesLab(`{"hold":"nixlab-workers-1"}`, nil), "nixlab:updates.hold", []string{"expected a list, got a string"}},
		{"hold entry a number", updatesLab(`{"hold":[1]}`, nil), "nixlab:updates.hold[0]", []string{"expected a string, got the number 1"}},
		{"hold entry empty", updatesLab(`{"hold":[""]}`, nil), "nixlab:updates.hold[0]", []string{"is empty"}},
		{"updates a list", updatesLab(`["hold"]`, nil), "nixlab:updates", []string{"expected a mapping, got a list"}},
		{"updates null", updatesLab(`null`, nil), "nixlab:updates", []string{"has no value"}},
		// Unknown settings, with a guess.
		{"maxUnavailable misspelled", updatesLab(`{"maxUnavailble":2}`, nil), "nixlab:updates.maxUnavailble", []string{"unknown setting; did you mean maxUnavailable?"}},
		{"holds for hold", updatesLab(`{"holds":["nixlab-workers-1"]}`, nil), "nixlab:updates.holds", []string{"unknown setting; did you mean hold?"}},
		{"a percentage key", updatesLab(`{"maxSurge":1}`, nil), "nixlab:updates.maxSurge", []string{"unknown setting"}},
		// Held nodes: nodes of the stack, each once.
		{"hold a typo of a group", updatesLab(`{"hold":["nixlab-worker-1"]}`, nil), "nixlab:updates.hold[0]", []string{`"nixlab-worker-1" is not a node of this stack`, "did you mean nixlab-workers-1?", "<clusterName>-<group>-<i>", labNodeNames, "remove it from the list"}},
		{"hold without the cluster name", updatesLab(`{"hold":["workers-1"]}`, nil), "nixlab:updates.hold[0]", []string{`"workers-1" is not a node of this stack`, labNodeNames}},
		{"hold a VM ID", updatesLab(`{"hold":["9201"]}`, nil), "nixlab:updates.hold[0]", []string{`"9201" is not a node`, labNodeNames}},
		{"hold under another cluster name", updatesLab(`{"hold":["nixlab-workers-1"]}`, map[string]string{"nixlab:clusterName": "prod"}), "nixlab:updates.hold[0]", []string{`"nixlab-workers-1" is not a node`, "did you mean prod-workers-1?", "prod-control-plane-1, prod-workers-1, prod-workers-2"}},
		{"hold a node past the count", updatesLab(`{"hold":["nixlab-workers-1","nixlab-workers-3"]}`, nil), "nixlab:updates.hold[1]", []string{`"nixlab-workers-3" is not a node of this stack;`, labNodeNames}},
		{"hold a node twice", updatesLab(`{"hold":["nixlab-workers-2","nixlab-workers-1","nixlab-workers-2"]}`, nil), "nixlab:updates.hold[2]", []string{`"nixlab-workers-2" is already listed as updates.hold[0]`, "list each node once"}},
		{"hold without nodes", updatesLab(`{"hold":["nixlab-workers-1"]}`, map[string]string{"nixlab:nodeGroups": `{"control-plane":{"role":"control-plane","count":0,"vmIdStart":9100}}`}), "nixlab:updates.hold[0]", []string{"is not a node", "the node groups have no nodes"}},
		{"hold a token", updatesLab(`{"hold":["`+testToken+`"]}`, nil), "nixlab:updates.hold[0]", []string{"looks like a secret (not printed)", labNodeNames}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(labLookup(t, tt.overrides))
			msg := errorFor(err, tt.key)
			if msg == "" {
				t.Fatalf("no error for %s: %v", tt.key, err)
			}
			for _, f := range tt.fix {
				if !strings.Contains(msg, f) {
					t.Errorf("%s: message lacks %q:\n%s", tt.key, f, msg)
				}
			}
			if err != nil && strings.Contains(err.Error(), testToken) {
				t.Errorf("an error repeats the token:\n%v", err)
			}
		})
	}
}

// Valid update settings pass, including the boundaries of each rule, and
// are read as given.
func TestUpdatesAccepted(t *testing.T) {
	yes, no := true, false
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		want      UpdatesConfig
	}{
		{"updates absent", map[string]string{"nixlab:updates": ""}, UpdatesConfig{1, 10, 10, &yes, nil}},
		{"empty mapping", updatesLab(`{}`, nil), UpdatesConfig{1, 10, 10, &yes, nil}},
		{"lower bounds", updatesLab(`{"maxUnavailable":1,"drainTimeoutMinutes":1,"healthTimeoutMinutes":1}`, nil), UpdatesConfig{1, 1, 1, &yes, nil}},
		{"upper bounds", updatesLab(`{"maxUnavailable":100,"drainTimeoutMinutes":1440,"healthTimeoutMinutes":1440}`, nil), UpdatesConfig{100, 1440, 1440, &yes, nil}},
		{"more at once than there are workers", updatesLab(`{"maxUnavailable":5}`, nil), UpdatesConfig{5, 10, 10, &yes, nil}},
		{"rollback off", updatesLab(`{"rollback":false}`, nil), UpdatesConfig{1, 10, 10, &no, nil}},
		{"empty hold list", updatesLab(`{"hold":[]}`, nil), UpdatesConfig{1, 10, 10, &yes, []string{}}},
		{"hold a worker", updatesLab(`{"hold":["nixlab-workers-2"]}`, nil), UpdatesConfig{1, 10, 10, &yes, []string{"nixlab-workers-2"}}},
		{"hold every node", updatesLab(`{"hold":["nixlab-workers-2","nixlab-control-plane-1","nixlab-workers-1"]}`, nil),
			UpdatesConfig{1, 10, 10, &yes, []string{"nixlab-workers-2", "nixlab-control-plane-1", "nixlab-workers-1"}}},
		{"hold under another cluster name", updatesLab(`{"hold":["prod-control-plane-1"]}`, map[string]string{"nixlab:clusterName": "prod"}),
			UpdatesConfig{1, 10, 10, &yes, []string{"prod-control-plane-1"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig(labLookup(t, tt.overrides))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Updates, tt.want) {
				t.Errorf("updates %+v (rollback %v), want %+v (rollback %v)", cfg.Updates, *cfg.Updates.Rollback, tt.want, *tt.want.Rollback)
			}
		})
	}
}

// Several bad update settings are reported at once, each under its key.
func TestUpdatesErrorsAllAtOnce(t *testing.T) {
	_, err := ParseConfig(labLookup(t, updatesLab(`{"maxUnavailable":0,"drainTimeoutMinutes":2000,"healthTimeoutMinutes":-1,"hold":["x","nixlab-workers-1","nixlab-workers-1"],"typo":1}`, nil)))
	for _, key := range []string{"maxUnavailable", "drainTimeoutMinutes", "healthTimeoutMinutes", "hold[0]", "hold[2]", "typo"} {
		if errorFor(err, "nixlab:updates."+key) == "" {
			t.Errorf("no error for %s in:\n%v", key, err)
		}
	}
	if msg := errorFor(err, "nixlab:updates.hold[1]"); msg != "" {
		t.Errorf("the first of two equal entries is refused: %s", msg)
	}
}

// A node group setting of the wrong type hides the checks of the held
// nodes (they would all be "not a node"), not the other update checks.
func TestUpdatesHoldDependsOnNodeGroups(t *testing.T) {
	_, err := ParseConfig(labLookup(t, updatesLab(`{"maxUnavailable":0,"hold":["nixlab-workers-1"]}`, map[string]string{"nixlab:nodeGroups": `["workers"]`})))
	if errorFor(err, "nixlab:nodeGroups") == "" {
		t.Fatalf("no error for the node groups: %v", err)
	}
	if msg := errorFor(err, "nixlab:updates.hold[0]"); msg != "" {
		t.Errorf("a held node is refused for undecodable node groups: %s", msg)
	}
	if errorFor(err, "nixlab:updates.maxUnavailable") == "" {
		t.Errorf("the explicit 0 is not reported: %v", err)
	}
}

// The valid names an error lists stop after ten, then "...".
func TestUpdatesHoldListsAtMostTenNames(t *testing.T) {
	groups := `{"control-plane":{"role":"control-plane","count":3,"vmIdStart":9100},"workers":{"role":"worker","count":20,"vmIdStart":9200}}`
	_, err := ParseConfig(labLookup(t, updatesLab(`{"hold":["nixlab-gpu-1"]}`, map[string]string{
		"nixlab:nodeGroups": groups, "nixlab:kubernetes": `{"controlPlaneEndpoint":"k8s.lab.example"}`,
	})))
	msg := errorFor(err, "nixlab:updates.hold[0]")
	want := "nixlab-control-plane-1, nixlab-control-plane-2, nixlab-control-plane-3, nixlab-workers-1, nixlab-workers-2, " +
		"nixlab-workers-3, nixlab-workers-4, nixlab-workers-5, nixlab-workers-6, nixlab-workers-7, ... (23 nodes)"
	if !strings.Contains(msg, want) {
		t.Errorf("message lacks %q:\n%s\n(all: %v)", want, msg, err)
	}
	if strings.Contains(msg, "nixlab-workers-8") {
		t.Errorf("message lists more than ten names:\n%s", msg)
	}
}

func TestUpdatesDefaultsAndHelpers(t *testing.T) {
	c := &Config{}
	c.ApplyDefaults()
	u := c.Updates
	if u.MaxUnavailable != 1 || u.DrainTimeoutMinutes != 10 || u.HealthTimeoutMinutes != 10 || u.Rollback == nil || !*u.Rollback || u.Hold != nil {
		t.Errorf("defaults: %+v", u)
	}
	if u.DrainTimeout() != 10*time.Minute || u.HealthTimeout() != 10*time.Minute || !u.RollbackEnabled() || u.WorkersAtOnce() != 1 {
		t.Errorf("helpers on defaults: drain %v health %v rollback %v at once %d", u.DrainTimeout(), u.HealthTimeout(), u.RollbackEnabled(), u.WorkersAtOnce())
	}
	// Given values stay, also false; ApplyDefaults is idempotent.
	off := false
	c = &Config{Updates: UpdatesConfig{MaxUnavailable: 3, DrainTimeoutMinutes: 90, HealthTimeoutMinutes: 1, Rollback: &off, Hold: []string{"lab-w-2"}}}
	c.ApplyDefaults()
	c.ApplyDefaults()
	u = c.Updates
	if u.MaxUnavailable != 3 || u.DrainTimeout() != 90*time.Minute || u.HealthTimeout() != time.Minute || u.RollbackEnabled() || u.WorkersAtOnce() != 3 {
		t.Errorf("given values overridden: %+v", u)
	}
	if !u.Held("lab-w-2") || u.Held("lab-w-1") || u.Held("") || u.Held("lab-w-20") {
		t.Errorf("Held: %v %v %v %v", u.Held("lab-w-2"), u.Held("lab-w-1"), u.Held(""), u.Held("lab-w-20"))
	}
	// Without ApplyDefaults (a Config built in Go), the helpers still
	// give the defaults: no unbounded drain, rollback on.
	var zero UpdatesConfig
	if zero.DrainTimeout() != 10*time.Minute || zero.HealthTimeout() != 10*time.Minute || !zero.RollbackEnabled() || zero.WorkersAtOnce() != 1 || zero.Held("x") {
		t.Errorf("zero value: drain %v health %v rollback %v at once %d", zero.DrainTimeout(), zero.HealthTimeout(), zero.RollbackEnabled(), zero.WorkersAtOnce())
	}
}

// NodeNames are the VM names in the clone order: control-plane groups
// first, then by name, 1 to count within a group.
func TestNodeNames(t *testing.T) {
	c := &Config{ClusterName: "lab", NodeGroups: map[string]NodeGroupConfig{
		"b-workers": {Role: RoleWorker, Count: 2},
		"a-workers": {Role: RoleWorker, Count: 1},
		"cp":        {Role: RoleControlPlane, Count: 2},
		"empty":     {Role: RoleWorker, Count: 0},
		"too-many":  {Role: RoleWorker, Count: MaxNodes + 1},
	}}
	want := []string{"lab-cp-1", "lab-cp-2", "lab-a-workers-1", "lab-b-workers-1", "lab-b-workers-2"}
	if got := c.NodeNames(); !reflect.DeepEqual(got, want) {
		t.Errorf("NodeNames() = %v, want %v", got, want)
	}
	if got := (&Config{ClusterName: "lab"}).NodeNames(); len(got) != 0 {
		t.Errorf("no groups: %v", got)
	}
}

// Pulumi.yaml's default for nixlab:updates is Go's (the CLI hands it over
// when the stack does not set the key), and its description states every
// setting, its default and its bounds.
func TestPulumiYAMLUpdatesDefault(t *testing.T) {
	proj, err := workspace.LoadProject(filepath.Join("..", "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	decl, ok := proj.Config["updates"]
	if !ok || decl.Type == nil || *decl.Type != "object" {
		t.Fatalf("Pulumi.yaml declares no object updates: %+v", decl)
	}
	def, ok := decl.Default.(map[string]any)
	if !ok {
		t.Fatalf("updates default is %T", decl.Default)
	}
	want := map[string]any{
		"maxUnavailable": DefaultMaxUnavailable, "drainTimeoutMinutes": DefaultDrainTimeoutMinutes,
		"healthTimeoutMinutes": DefaultHealthTimeoutMinutes, "rollback": DefaultRollback,
	}
	if len(def) != len(want) {
		t.Errorf("default %v, want %v", def, want)
	}
	for k, v := range want {
		if fmt.Sprint(def[k]) != fmt.Sprint(v) {
			t.Errorf("default %s = %v, want %v", k, def[k], v)
		}
	}
	for _, word := range []string{
		"maxUnavailable", "drainTimeoutMinutes", "healthTimeoutMinutes", "rollback", "hold",
		fmt.Sprintf("1-%d", MaxUnavailableBound), fmt.Sprintf("%d-%d", MinRollTimeoutMinutes, MaxRollTimeoutMinutes),
		"control planes always roll one at a time", "<clusterName>-<group>-<i>",
	} {
		if !strings.Contains(decl.Description, word) {
			t.Errorf("description lacks %q", word)
		}
	}
}

// Stack files with nixlab:updates read alike by `nixlab plan` (the stack
// file loader) and `pulumi up` (the CLI's config through LoadConfigIn):
// the same errors, at the same keys, with the fix, or the same config.
func TestUpdatesReadAlikeByPlanAndUp(t *testing.T) {
	upd := func(v string) map[string]string { return map[string]string{"nixlab:updates": v} }
	updatesIs := func(want UpdatesConfig) func(*Config) string {
		return func(c *Config) string {
			if !reflect.DeepEqual(c.Updates, want) {
				return fmt.Sprintf("updates %+v, want %+v", c.Updates, want)
			}
			return ""
		}
	}
	yes, no := true, false
	cases := []fileCase{
		{name: "updates absent takes the defaults", overrides: upd(""), check: updatesIs(UpdatesConfig{1, 10, 10, &yes, nil})},
		{name: "every setting", overrides: upd("{maxUnavailable: 2, drainTimeoutMinutes: 30, healthTimeoutMinutes: 15, rollback: false, hold: [nixlab-workers-2]}"),
			check: updatesIs(UpdatesConfig{2, 30, 15, &no, []string{"nixlab-workers-2"}})},
		{name: "unprefixed updates", overrides: map[string]string{"updates": "{maxUnavailable: 2}"}, check: updatesIs(UpdatesConfig{2, 10, 10, &yes, nil})},
		{name: "maxUnavailable 0", overrides: upd("{maxUnavailable: 0}"), key: "nixlab:updates.maxUnavailable", fix: "remove the key to use the default (1)"},
		{name: "drain timeout 0", overrides: upd("{drainTimeoutMinutes: 0}"), key: "nixlab:updates.drainTimeoutMinutes", fix: "default (10)"},
		{name: "health timeout past a day", overrides: upd("{healthTimeoutMinutes: 1441}"), key: "nixlab:updates.healthTimeoutMinutes", fix: "use 1 to 1440 minutes"},
		{name: "empty rollback", overrides: upd("{rollback: }"), key: "nixlab:updates.rollback", fix: "has no value"},
		{name: "empty hold", overrides: upd("{hold: }"), key: "nixlab:updates.hold", fix: "has no value"},
		{name: "empty hold entry", overrides: upd("{hold: ['']}"), key: "nixlab:updates.hold[0]", fix: "is empty"},
		{name: "rollback yes as a string", overrides: upd("{rollback: 'yes'}"), key: "nixlab:updates.rollback", fix: "expected true or false"},
		{name: "misspelled drain timeout", overrides: upd("{drainTimeoutMins: 5}"), key: "nixlab:updates.drainTimeoutMins", fix: "unknown setting; did you mean drainTimeoutMinutes?"},
		{name: "misspelled key", overrides: map[string]string{"nixlab:update": "{}"}, key: "nixlab:update", fix: "did you mean nixlab:updates?"},
		{name: "hold an unknown node", overrides: upd("{hold: [nixlab-worker-2]}"), key: "nixlab:updates.hold[0]", fix: "did you mean nixlab-workers-2?"},
		{name: "hold a node twice", overrides: upd("{hold: [nixlab-workers-1, nixlab-workers-1]}"), key: "nixlab:updates.hold[1]", fix: "list each node once"},
		{name: "updates as a list", overrides: upd("[nixlab-workers-1]"), key: "nixlab:updates", fix: "mapping", typeLevel: true},
	}
	runFileCases(t, cases)
}

// A bad update setting in a stack file is reported at its own line, under
// both reading paths.
func TestUpdatesErrorsCarryLines(t *testing.T) {
	dir := projectDir(t, "config:\n  nixlab:clusterName: lab\n  nixlab:nodeGroups:\n    cp: {role: control-plane, count: 1, vmIdStart: 9100}\n"+
		"  nixlab:updates:\n    maxUnavailable: 0\n    hold:\n      - lab-cp-1\n      - lab-cp-2\n    rollbak: false\n")
	_, err := planRead(dir)
	want := []string{
		"Pulumi.t.yaml:6: nixlab:updates.maxUnavailable: 0 is out of range",
		`Pulumi.t.yaml:9: nixlab:updates.hold[1]: "lab-cp-2" is not a node of this stack; give a node's VM name, <clusterName>-<group>-<i>, as the nodes output lists it: lab-cp-1`,
		"Pulumi.t.yaml:10: nixlab:updates.rollbak: unknown setting; did you mean rollback?",
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("plan lacks %q:\n%v", w, err)
		}
	}
	values, ok := cliConfig(t, dir)
	if !ok {
		t.Fatal("the SDK's loader refuses the file")
	}
	values[Namespace+":apiToken"] = testToken
	_, upErr := upRead(t, dir, values)
	for _, w := range want {
		if upErr == nil || !strings.Contains(upErr.Error(), w) {
			t.Errorf("up lacks %q:\n%v", w, upErr)
		}
	}
}
