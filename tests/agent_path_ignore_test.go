package tests

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"

	"github.com/nixlab/nixlab/internal/providermodel"
	"github.com/nixlab/nixlab/stack"
)

// remoteCommandInputs are the input properties of remote.Command, read from
// the SDK's tagged args struct (pulumi-command v1.2.1): a field added by a
// newer SDK is covered without editing this test.
func remoteCommandInputs(t *testing.T) []string {
	t.Helper()
	typ := (&remote.CommandArgs{}).ElementType()
	var out []string
	for i := 0; i < typ.NumField(); i++ {
		if tag := strings.Split(typ.Field(i).Tag.Get("pulumi"), ",")[0]; tag != "" {
			out = append(out, tag)
		}
	}
	if len(out) < 5 || !slices.Contains(out, "triggers") || !slices.Contains(out, "connection") {
		t.Fatalf("remote.Command inputs %v: the SDK's args struct changed shape", out)
	}
	return out
}

// Every nixlab remote command is never updated, only replaced by its
// triggers: every input but `triggers` is ignored, or nothing is ignored and
// its update is a no-op (a newer script or
// another connection is no reason to run a check again on a working
// machine). A replacement runs with the stored values of the ignored
// inputs (the engine applies ignoreChanges before it diffs:
// step_generator.go, generateSteps), so no command may carry a per-run
// value there: none names an agent socket.
func TestRemoteCommandsAreNeverUpdated(t *testing.T) {
	inputs := remoteCommandInputs(t)
	for _, v := range contractVariants {
		t.Run(v.name, func(t *testing.T) {
			rec, err := runMocked(t, labConfig(t, v.overrides), false, stack.Program)
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for name, reg := range rec.regs {
				if reg.TypeToken != providermodel.TypeRemoteCommand {
					continue
				}
				conn := revealed(reg.Inputs["connection"])
				if !conn.IsObject() {
					t.Fatalf("%s: connection %v", name, conn)
				}
				if sock := conn.ObjectValue()["agentSocketPath"]; sock.IsString() {
					t.Errorf("%s names the agent socket %q, a per-run value a replacement would keep", name, sock.StringValue())
				}
				checked++
				ignored := reg.RegisterRPC.GetIgnoreChanges()
				// The other way to run only on create (and replacement):
				// ignore nothing and update with a no-op (the drains around
				// VM updates, components.VMUpdateDrain; template-finalize,
				// whose create command carries the VM ID).
				if up := reg.Inputs["update"]; up.IsString() {
					if up.StringValue() != "true" || len(ignored) != 0 {
						t.Errorf("%s: update %q with ignoreChanges %v: an update must do nothing, and nothing be ignored", name, up.StringValue(), ignored)
					}
					continue
				}
				for _, in := range inputs {
					if in == "triggers" {
						if slices.Contains(ignored, in) {
							t.Errorf("%s ignores its triggers: it would never run again", name)
						}
						continue
					}
					if !slices.Contains(ignored, in) {
						t.Errorf("%s does not ignore %q: a change there would run it again as an update (ignoreChanges %v)", name, in, ignored)
					}
				}
			}
			if checked < 5 {
				t.Fatalf("only %d remote commands checked", checked)
			}
		})
	}
}

// The SDK's args struct is what the provider's schema names: the reflection
// above must see the fields nixlab sets.
func TestRemoteCommandInputsCoverWhatNixlabSets(t *testing.T) {
	inputs := remoteCommandInputs(t)
	for _, f := range []string{"connection", "create", "logging", "triggers", "environment", "stdin", "update", "delete", "addPreviousOutputInEnv"} {
		if !slices.Contains(inputs, f) {
			t.Errorf("remote.Command has no input %q (have %v)", f, inputs)
		}
	}
}
