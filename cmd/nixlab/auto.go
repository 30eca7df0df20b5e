package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/stack"
)

// projectName is the Pulumi project; Pulumi.yaml in the project directory
// is authoritative, this is only the Automation API's fallback.
const projectName = "nixlab"

// secretMask is how the engine prints a secret it was not asked to reveal.
const secretMask = "[secret]"

// autoEngine is the Engine on the Pulumi Automation API: an inline-source
// stack (stack.Program runs inside this process) in a local workspace on the
// project directory, so Pulumi.yaml, Pulumi.<stack>.yaml and the backend
// login are shared with the Pulumi CLI.
//
// up and preview upsert the stack, as `pulumi up`/`pulumi preview` after
// `pulumi stack init` would: a first deployment needs no extra step.
// refresh, destroy and outputs select it instead: they only mean something
// for a stack that exists, and upserting would silently create an empty stack
// for a mistyped --stack (and then report success for nothing done).
type autoEngine struct {
	program func(dir string) pulumi.RunFunc
	plugins []Plugin
}

// newAutoEngine returns the engine for stack.Program with the provider
// plugins of the running binary. The program runs inside this process, whose
// working directory may not be the project's: stack.ProgramIn resolves the
// config's relative paths against the project directory, as the Pulumi CLI
// would by running the program there.
func newAutoEngine() *autoEngine {
	return &autoEngine{program: stack.ProgramIn, plugins: buildPlugins()}
}

// Up implements Engine.
func (e *autoEngine) Up(ctx context.Context, req Request) error {
	s, err := e.open(ctx, req, true, true)
	if err != nil {
		return err
	}
	_, err = s.Up(ctx, optup.ProgressStreams(req.Stdout), optup.ErrorProgressStreams(req.Stderr))
	return engineError(err)
}

// Preview implements Engine. With req.OnEvent set, the engine's events
// (optpreview.EventStreams) are passed to it.
func (e *autoEngine) Preview(ctx context.Context, req Request) error {
	s, err := e.open(ctx, req, true, true)
	if err != nil {
		return err
	}
	opts := []optpreview.Option{optpreview.ProgressStreams(req.Stdout), optpreview.ErrorProgressStreams(req.Stderr)}
	var eventsDone chan struct{}
	if req.OnEvent != nil {
		// The auto package sends every event to the channel and closes it
		// once the engine's event stream ended (auto.Stack.Preview,
		// tailLogs); it must be drained all along or the preview stalls.
		ch := make(chan events.EngineEvent)
		eventsDone = make(chan struct{})
		go func() {
			defer close(eventsDone)
			for ev := range ch {
				req.OnEvent(ev)
			}
		}()
		opts = append(opts, optpreview.EventStreams(ch))
	}
	if _, err := s.Preview(ctx, opts...); err != nil {
		// After a failure the channel may stay open (the engine may never
		// have connected); the draining goroutine ends with the process.
		return engineError(err)
	}
	if eventsDone != nil {
		// On success the auto package has closed the channel, or is
		// closing it right after its own (the same loop closes all).
		<-eventsDone
	}
	return nil
}

// Refresh implements Engine.
func (e *autoEngine) Refresh(ctx context.Context, req Request) error {
	s, err := e.open(ctx, req, false, true)
	if err != nil {
		return err
	}
	_, err = s.Refresh(ctx, optrefresh.ProgressStreams(req.Stdout), optrefresh.ErrorProgressStreams(req.Stderr))
	return engineError(err)
}

// Destroy implements Engine.
func (e *autoEngine) Destroy(ctx context.Context, req Request) error {
	s, err := e.open(ctx, req, false, true)
	if err != nil {
		return err
	}
	_, err = s.Destroy(ctx, optdestroy.ProgressStreams(req.Stdout), optdestroy.ErrorProgressStreams(req.Stderr))
	return engineError(err)
}

// Outputs implements Engine. With showSecrets it uses Stack.Outputs (which
// decrypts every secret); without, it runs `pulumi stack output --json`
// only, so secrets are neither decrypted nor held in memory, and no secrets
// passphrase is needed.
func (e *autoEngine) Outputs(ctx context.Context, req Request, showSecrets bool) (map[string]Output, error) {
	s, err := e.open(ctx, req, false, false)
	if err != nil {
		return nil, err
	}
	if showSecrets {
		om, err := s.Outputs(ctx)
		if err != nil {
			return nil, engineError(err)
		}
		outs := make(map[string]Output, len(om))
		for k, v := range om {
			outs[k] = Output{Value: v.Value, Secret: v.Secret}
		}
		return outs, nil
	}
	ws := s.Workspace()
	var env []string
	if home := ws.PulumiHome(); home != "" {
		env = append(env, "PULUMI_HOME="+home)
	}
	for k, v := range ws.GetEnvVars() {
		env = append(env, k+"="+v)
	}
	stdout, stderr, _, err := ws.PulumiCommand().Run(ctx, ws.WorkDir(), nil, nil, nil, env,
		"stack", "output", "--json", "--stack", s.Name())
	if err != nil {
		msg := strings.TrimSpace(stderr)
		if msg == "" {
			msg = "pulumi stack output: " + err.Error()
		}
		return nil, &EngineError{Msg: msg, Err: err}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		return nil, fmt.Errorf("decode `pulumi stack output --json`: %w", err)
	}
	outs := make(map[string]Output, len(raw))
	for k, r := range raw {
		var v any
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("decode stack output %s: %w", k, err)
		}
		// The same test Stack.Outputs uses: the engine masks secrets,
		// also nested ones, with the sentinel.
		outs[k] = Output{Value: v, Secret: strings.Contains(string(r), secretMask)}
	}
	return outs, nil
}

// open returns the stack of req in a local workspace on req.Dir, upserting
// or selecting it (see autoEngine). With checkPlugins the provider plugins
// are checked (and installed when missing) first.
func (e *autoEngine) open(ctx context.Context, req Request, upsert, checkPlugins bool) (auto.Stack, error) {
	dir, err := projectDir(req.Dir)
	if err != nil {
		return auto.Stack{}, err
	}
	var s auto.Stack
	if upsert {
		s, err = auto.UpsertStackInlineSource(ctx, req.Stack, projectName, e.program(dir), auto.WorkDir(dir))
	} else {
		s, err = auto.SelectStackInlineSource(ctx, req.Stack, projectName, e.program(dir), auto.WorkDir(dir))
		if err != nil && auto.IsSelectStack404Error(err) {
			return auto.Stack{}, fmt.Errorf("stack %q does not exist in the current Pulumi backend (deploy it with `nixlab up --stack %s`, or check `pulumi whoami`)", req.Stack, req.Stack)
		}
	}
	if err != nil {
		return auto.Stack{}, fmt.Errorf("stack %s: %w", req.Stack, engineError(err))
	}
	if checkPlugins {
		if err := ensurePlugins(ctx, workspacePlugins{s.Workspace()}, e.plugins, req.Stderr); err != nil {
			return auto.Stack{}, err
		}
	}
	return s, nil
}

// projectDir returns dir as an absolute path after checking that it holds
// Pulumi.yaml; without it the Automation API would invent a default project
// and deploy nothing useful.
func projectDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("project directory %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(abs, "Pulumi.yaml")); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s holds no Pulumi.yaml: run nixlab in the nixlab project directory or pass --dir", abs)
		}
		return "", fmt.Errorf("project directory: %w", err)
	}
	return abs, nil
}

// engineError turns an Automation API error into an *EngineError carrying
// the engine's own message; nil stays nil.
func engineError(err error) error {
	if err == nil {
		return nil
	}
	return &EngineError{Msg: engineMessage(err), Err: err}
}

// engineMessage is the part of an Automation API error a user needs: the
// Pulumi CLI's stderr, trimmed. The auto package keeps it in an unexported
// type whose Error() ends with "\nstderr: <text>\n"; errors without it (or
// with an empty stderr) give their first line.
func engineMessage(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "\nstderr: "); i >= 0 {
		if msg := strings.TrimSpace(s[i+len("\nstderr: "):]); msg != "" {
			return msg
		}
		s = s[:i]
	}
	first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return first
}
