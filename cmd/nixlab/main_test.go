package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
)

// call is one recorded engine call.
type call struct {
	op          string
	stack, dir  string
	showSecrets bool
}

// fakeEngine records calls and answers with canned results. Like the real
// engine, it masks secrets unless asked to reveal them (revealAlways turns
// that off, to check that nixlab masks on its own).
type fakeEngine struct {
	calls        []call
	err          error
	outputs      map[string]Output
	revealAlways bool
	// events are the engine events Preview sends to req.OnEvent (before
	// failing with err, if set), as the Automation API does.
	events []events.EngineEvent
}

func (f *fakeEngine) record(op string, req Request, show bool) error {
	f.calls = append(f.calls, call{op: op, stack: req.Stack, dir: req.Dir, showSecrets: show})
	return f.err
}

func (f *fakeEngine) Up(_ context.Context, req Request) error { return f.record("up", req, false) }
func (f *fakeEngine) Preview(_ context.Context, req Request) error {
	if req.OnEvent != nil {
		for _, ev := range f.events {
			req.OnEvent(ev)
		}
	}
	return f.record("preview", req, false)
}
func (f *fakeEngine) Refresh(_ context.Context, req Request) error {
	return f.record("refresh", req, false)
}
func (f *fakeEngine) Destroy(_ context.Context, req Request) error {
	return f.record("destroy", req, false)
}

func (f *fakeEngine) Outputs(_ context.Context, req Request, showSecrets bool) (map[string]Output, error) {
	if err := f.record("outputs", req, showSecrets); err != nil {
		return nil, err
	}
	outs := map[string]Output{}
	for k, o := range f.outputs {
		if o.Secret && !showSecrets && !f.revealAlways {
			o.Value = secretMask
		}
		outs[k] = o
	}
	return outs, nil
}

// harness runs nixlab against a fake engine.
type harness struct {
	engine         *fakeEngine
	noPulumi       bool // LookPath fails
	enginesCreated int
}

func (h *harness) env() Env {
	return Env{
		NewEngine: func() Engine { h.enginesCreated++; return h.engine },
		LookPath: func(file string) (string, error) {
			if h.noPulumi {
				return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
			}
			return "/usr/local/bin/" + file, nil
		},
	}
}

func (h *harness) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	return h.runCtx(t, t.Context(), args...)
}

func (h *harness) runCtx(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if h.engine == nil {
		h.engine = &fakeEngine{}
	}
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut, h.env())
	return code, out.String(), errOut.String()
}

func TestLifecycleStackSelection(t *testing.T) {
	tests := []struct {
		args []string
		want call
	}{
		{[]string{"up"}, call{op: "up", stack: "lab", dir: "."}},
		{[]string{"up", "--stack", "prod", "--dir", "/tmp"}, call{op: "up", stack: "prod", dir: "/tmp"}},
		{[]string{"up", "-stack=prod", "-dir=/tmp"}, call{op: "up", stack: "prod", dir: "/tmp"}},
		{[]string{"up", "-s", "prod"}, call{op: "up", stack: "prod", dir: "."}},
		{[]string{"preview"}, call{op: "preview", stack: "lab", dir: "."}},
		{[]string{"preview", "--stack", "dev"}, call{op: "preview", stack: "dev", dir: "."}},
		{[]string{"refresh"}, call{op: "refresh", stack: "lab", dir: "."}},
		{[]string{"refresh", "--dir", "/tmp"}, call{op: "refresh", stack: "lab", dir: "/tmp"}},
		{[]string{"destroy", "--yes"}, call{op: "destroy", stack: "lab", dir: "."}},
		{[]string{"destroy", "--yes", "--stack", "prod"}, call{op: "destroy", stack: "prod", dir: "."}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			h := &harness{}
			code, _, stderr := h.run(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if len(h.engine.calls) != 1 || h.engine.calls[0] != tt.want {
				t.Fatalf("engine calls %+v, want [%+v]", h.engine.calls, tt.want)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args     []string
		wantErr  string // in stderr
		wantFlag string // the command's usage, in stderr
	}{
		{[]string{"up", "--bogus"}, "flag provided but not defined: -bogus", "-stack"},
		{[]string{"preview", "--stack"}, "flag needs an argument", "-dir"},
		{[]string{"refresh", "extra"}, `unexpected argument "extra"`, "-stack"},
		{[]string{"up", "--stack", ""}, "--stack must not be empty", "-stack"},
		{[]string{"destroy", "--yes=maybe"}, "invalid boolean value", "-yes"},
		{[]string{"outputs", "--jsn"}, "flag provided but not defined", "-show-secrets"},
		{[]string{"inventory", "--format", "xml"}, `--format "xml": want ini, yaml or kubespray`, "-output"},
		{[]string{"ssh-key", "--force"}, "flag provided but not defined", "-output"},
		{[]string{"kubeconfig", "--show-secrets"}, "flag provided but not defined", "-output"},
		{[]string{"kubeconfig", "-s", ""}, "--stack must not be empty", "-stack"},
		{[]string{"plan", "--format", "svg"}, `--format "svg": want text, json, mermaid or dot`, "-format"},
		{[]string{"plan", "--dir", "/nonexistent-nixlab"}, `--dir "/nonexistent-nixlab" does not exist`, "-dir"},
		{[]string{"up", "--dir", "/nonexistent-nixlab"}, `--dir "/nonexistent-nixlab" does not exist`, "-dir"},
		{[]string{"plan", "--dir", "main_test.go"}, `--dir "main_test.go" is a file, not a directory`, "-dir"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			h := &harness{}
			code, stdout, stderr := h.run(t, tt.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) || !strings.Contains(stderr, "Usage: nixlab "+tt.args[0]) || !strings.Contains(stderr, tt.wantFlag) {
				t.Errorf("stderr lacks %q, the usage or %q:\n%s", tt.wantErr, tt.wantFlag, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty:\n%s", stdout)
			}
			if len(h.engine.calls) != 0 {
				t.Errorf("engine called: %+v", h.engine.calls)
			}
		})
	}
}

func TestTopLevelUsage(t *testing.T) {
	tests := []struct {
		args       []string
		wantCode   int
		wantStdout bool // usage on stdout (else on stderr)
		want       string
	}{
		{nil, 2, false, "Commands:"},
		{[]string{"deploy"}, 2, false, `unknown command "deploy"`},
		{[]string{"--up"}, 2, false, "Commands:"},
		{[]string{"--help"}, 0, true, "Commands:"},
		{[]string{"-h"}, 0, true, "Commands:"},
		{[]string{"help"}, 0, true, "Commands:"},
		{[]string{"help", "inventory"}, 0, true, "-format"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.args), func(t *testing.T) {
			h := &harness{}
			code, stdout, stderr := h.run(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d", code, tt.wantCode)
			}
			got, other := stderr, stdout
			if tt.wantStdout {
				got, other = stdout, stderr
			}
			if !strings.Contains(got, tt.want) || other != "" {
				t.Errorf("want %q in the usage stream only; stdout:\n%s\nstderr:\n%s", tt.want, stdout, stderr)
			}
			for _, cmd := range commands() {
				if strings.Contains(tt.want, "Commands") && !strings.Contains(got, cmd.name) {
					t.Errorf("usage does not list %s", cmd.name)
				}
			}
		})
	}
}

func TestSubcommandHelp(t *testing.T) {
	flagsOf := map[string][]string{
		"up":         {"-stack", "-dir"},
		"preview":    {"-stack", "-dir"},
		"refresh":    {"-stack", "-dir"},
		"destroy":    {"-stack", "-dir", "-yes"},
		"outputs":    {"-stack", "-dir", "-json", "-show-secrets"},
		"inventory":  {"-stack", "-dir", "-format", "-output", "-o "},
		"ssh-key":    {"-stack", "-dir", "-output", "-o "},
		"kubeconfig": {"-stack", "-s ", "-dir", "-output", "-o "},
		"plan":       {"-stack", "-dir", "-format", "-output", "-o "},
	}
	if len(flagsOf) != len(commands()) {
		t.Fatalf("test covers %d commands, nixlab has %d", len(flagsOf), len(commands()))
	}
	for name, flags := range flagsOf {
		for _, help := range []string{"--help", "-h", "-help"} {
			t.Run(name+" "+help, func(t *testing.T) {
				// Help works without the Pulumi CLI, too.
				h := &harness{noPulumi: true}
				code, stdout, stderr := h.run(t, name, help)
				if code != 0 || stderr != "" {
					t.Fatalf("exit %d, stderr:\n%s", code, stderr)
				}
				if !strings.Contains(stdout, "Usage: nixlab "+name) {
					t.Errorf("no usage line:\n%s", stdout)
				}
				for _, f := range flags {
					if !strings.Contains(stdout, "  "+f) {
						t.Errorf("help does not mention %s:\n%s", f, stdout)
					}
				}
				if h.enginesCreated != 0 {
					t.Error("help created an engine")
				}
			})
		}
	}
}

func TestDestroyNeedsYes(t *testing.T) {
	h := &harness{}
	code, stdout, stderr := h.run(t, "destroy", "--stack", "prod")
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, want := range []string{`stack "prod"`, "node VMs", "template VM", "--yes"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if stdout != "" || len(h.engine.calls) != 0 || h.enginesCreated != 0 {
		t.Errorf("stdout %q, engine calls %+v", stdout, h.engine.calls)
	}

	h = &harness{}
	if code, _, stderr := h.run(t, "destroy", "--yes"); code != 0 || len(h.engine.calls) != 1 || h.engine.calls[0].op != "destroy" {
		t.Fatalf("destroy --yes: exit %d, calls %+v, stderr:\n%s", code, h.engine.calls, stderr)
	}
}

func TestEngineErrors(t *testing.T) {
	engineErr := &EngineError{
		Msg: "error: update failed: proxmoxve:index/vm:VirtualMachine (template): 500 storage 'local-lvm' does not exist",
		Err: errors.New("failed to run update: exit status 255"),
	}
	for _, args := range [][]string{
		{"up"}, {"preview"}, {"refresh"}, {"destroy", "--yes"}, {"outputs"}, {"inventory"}, {"ssh-key"}, {"kubeconfig"},
	} {
		t.Run(args[0], func(t *testing.T) {
			h := &harness{engine: &fakeEngine{err: engineErr}}
			code, stdout, stderr := h.run(t, args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			if !strings.Contains(stderr, "nixlab "+args[0]+": ") || !strings.Contains(stderr, engineErr.Msg) {
				t.Errorf("stderr lacks the engine message:\n%s", stderr)
			}
			if strings.Contains(stderr, "exit status 255") {
				t.Errorf("stderr shows the wrapped error instead of the engine message:\n%s", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout: %q", stdout)
			}
		})
	}
}

func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	h := &harness{engine: &fakeEngine{err: context.Canceled}}
	code, _, stderr := h.runCtx(t, ctx, "up")
	if code != 130 || stderr != "nixlab up: up interrupted\n" {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestMissingPulumiCLI(t *testing.T) {
	for _, args := range [][]string{
		{"up"}, {"preview"}, {"refresh"}, {"destroy"}, {"destroy", "--yes"}, {"outputs"}, {"inventory"}, {"ssh-key"}, {"kubeconfig"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			h := &harness{noPulumi: true}
			code, stdout, stderr := h.run(t, args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			want := "nixlab " + args[0] + ": the Pulumi CLI is not installed (needed for `nixlab " + args[0] + "`); " +
				"install it: curl -fsSL https://get.pulumi.com | sh (or see https://www.pulumi.com/docs/install/), " +
				"then `pulumi login` (or `pulumi login --local`). `nixlab plan` works without it.\n"
			if stderr != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
			}
			if stdout != "" || h.enginesCreated != 0 {
				t.Errorf("stdout %q, engines created %d", stdout, h.enginesCreated)
			}
		})
	}
}
