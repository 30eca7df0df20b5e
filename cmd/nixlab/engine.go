package main

import (
	"context"
	"io"
	"os/exec"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
)

// Engine runs the stack lifecycle operations. The real one, [autoEngine],
// drives the Pulumi Automation API; tests substitute a fake that records the
// calls, so nothing in the tests reaches a Pulumi backend.
type Engine interface {
	// Up deploys the stack (creating it when it does not exist yet).
	Up(ctx context.Context, req Request) error
	// Preview shows what Up would change (creating the stack when it does
	// not exist yet, as `pulumi preview` does).
	Preview(ctx context.Context, req Request) error
	// Refresh reconciles the state of an existing stack with the real
	// resources.
	Refresh(ctx context.Context, req Request) error
	// Destroy deletes every resource of an existing stack.
	Destroy(ctx context.Context, req Request) error
	// Outputs returns the outputs of an existing stack. Unless showSecrets
	// is set, secret outputs are never decrypted: their Value is the mask
	// the engine reports ("[secret]").
	Outputs(ctx context.Context, req Request, showSecrets bool) (map[string]Output, error)
}

// Request selects the stack an operation works on and where its live
// progress goes.
type Request struct {
	// Stack is the stack name, e.g. "lab".
	Stack string
	// Dir is the project directory, holding Pulumi.yaml and
	// Pulumi.<stack>.yaml (shared with the Pulumi CLI).
	Dir string
	// Stdout receives the engine's live progress.
	Stdout io.Writer
	// Stderr receives the engine's error stream and nixlab's notices.
	Stderr io.Writer
	// OnEvent, when set, receives the engine's events of a preview in the
	// order the engine sent them, from one goroutine at a time. Preview
	// returns only after the last event was handed over.
	OnEvent func(events.EngineEvent)
}

// Output is one stack output.
type Output struct {
	// Value is the output's value as decoded from JSON (string, float64,
	// bool, []any, map[string]any or nil).
	Value any
	// Secret reports whether the output is a Pulumi secret.
	Secret bool
}

// Env is what run needs from the outside world; tests replace both fields.
type Env struct {
	// NewEngine returns the engine for the lifecycle and output commands.
	// It is only called once the Pulumi CLI was found.
	NewEngine func() Engine
	// LookPath finds an executable on PATH, like [exec.LookPath].
	LookPath func(file string) (string, error)
}

// defaultEnv is the production environment: the Automation API engine and
// the real PATH.
func defaultEnv() Env {
	return Env{
		NewEngine: func() Engine { return newAutoEngine() },
		LookPath:  exec.LookPath,
	}
}

// EngineError is a failed engine operation. Its message is what the engine
// said on stderr (trimmed), which is what the user needs to see; the
// underlying error, with the full command output, stays reachable through
// Unwrap.
type EngineError struct {
	Msg string
	Err error
}

func (e *EngineError) Error() string { return e.Msg }

func (e *EngineError) Unwrap() error { return e.Err }
