package components

import (
	"fmt"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// nodeStep is one SSH command step on a node: the single home of what every
// such step shares (DESIGN.md, "One home for SSH command steps"). A step is
// its script and arguments (the script is a file under scripts/), the node
// it runs on, what it waits for, and optionally a secret on stdin and a
// delete script. run registers it as a remote.Command with the standard
// rules:
//   - the connection logs in with the stack's key, made a secret here;
//   - the command is never updated, only replaced when its triggers change
//     (remoteCommandIgnoreChanges): a newer script, another connection or
//     another stdin is no reason to run it again on a working node;
//   - stdin is made a secret whatever the caller passed: it is where
//     tokens and keys travel, never on the command line;
//   - progress is logged (stdout and stderr) unless the step says otherwise;
//   - a step with a delete script is deleted before it is replaced.
type nodeStep struct {
	// Name is the resource name.
	Name string
	// Host and User reach the node; the user is the one it was cloned with.
	Host, User pulumi.StringInput
	// Script and Args are the create command: scripts/<Script> run by bash
	// with Args as positional parameters (scriptCommand). No secret may be
	// in Args: they are part of the command line.
	Script string
	Args   []string
	// DeleteScript and DeleteArgs, when set, run when the step is deleted
	// (with the inputs stored at its creation).
	DeleteScript string
	DeleteArgs   []string
	// Stdin is fed to the script; it is always made a secret.
	Stdin pulumi.StringInput
	// Triggers replace the step (it runs again) when they change.
	Triggers pulumi.Array
	// Logging defaults to stdout and stderr.
	Logging remote.Logging
	// SecretStdout makes the engine store stdout as a secret
	// (AdditionalSecretOutputs): the step prints a secret.
	SecretStdout bool
	// After are the resources the step waits for.
	After []pulumi.Resource
	// DeletedWith skips the delete script when that resource is deleted in
	// the same operation (pulumi.DeletedWith): `destroy` does not undo each
	// step of a cluster that goes away whole.
	DeletedWith pulumi.Resource
}

// noOpUpdate is the update command of commands that must only run on
// create (and so on replacement): an update stores the new inputs and runs
// nothing. Such a command ignores no input, because the engine keeps
// ignored inputs at their old values also when it replaces a resource
// (pulumi/pulumi pkg/resource/deploy/step_generator.go, generateSteps,
// processIgnoreChanges): its replacement runs with this run's values. Used
// by the template's finalize, the roll steps and the drains around VM
// updates.
const noOpUpdate = "true"

// stepRunner registers node steps of one component with the stack's key.
type stepRunner struct {
	ctx    *pulumi.Context
	parent pulumi.Resource
	// key is the stack's private key; it is made a secret by the
	// connection.
	key pulumi.StringInput
}

// nodeConnection is how every node step (the readiness check, the
// Kubernetes steps) logs in to a node: the same for every run (no agent
// socket of nixlab's own, see host_agent.go). The private key is made a
// secret here, by nixlab, whatever the caller passed.
func nodeConnection(host, user pulumi.StringInput, key pulumi.StringInput) remote.ConnectionArgs {
	return remote.ConnectionArgs{
		Host:       host,
		User:       user,
		PrivateKey: pulumi.ToSecret(key).(pulumi.StringOutput),
		// The node may still be booting: keep dialling for a while.
		DialErrorLimit: pulumi.Int(60),
		PerDialTimeout: pulumi.Int(10),
	}
}

// run registers the step.
func (r stepRunner) run(s nodeStep) (*remote.Command, error) {
	if s.Host == nil || s.User == nil {
		return nil, fmt.Errorf("step %s: no node to run on", s.Name)
	}
	hasDelete := s.DeleteScript != ""
	logging := s.Logging
	if logging == "" {
		logging = remote.LoggingStdoutAndStderr
	}
	args := &remote.CommandArgs{
		Connection: nodeConnection(s.Host, s.User, r.key),
		Create:     pulumi.String(scriptCommand(s.Script, s.Args...)),
		Triggers:   s.Triggers,
		Logging:    logging,
	}
	if hasDelete {
		args.Delete = pulumi.String(scriptCommand(s.DeleteScript, s.DeleteArgs...))
	}
	if s.Stdin != nil {
		args.Stdin = pulumi.ToSecret(s.Stdin).(pulumi.StringOutput)
	}
	opts := []pulumi.ResourceOption{
		pulumi.Parent(r.parent),
		// Never updated, only replaced by its triggers (see nodeStep).
		pulumi.IgnoreChanges(remoteCommandIgnoreChanges()),
	}
	if len(s.After) > 0 {
		opts = append(opts, pulumi.DependsOn(s.After))
	}
	if s.DeletedWith != nil {
		opts = append(opts, pulumi.DeletedWith(s.DeletedWith))
	}
	if hasDelete {
		// The engine replaces create-first by default: the new step runs,
		// then the old step's delete (pulumi/pulumi pkg/resource/deploy/
		// step_generator.go, continueStepsFromDiff). For a step whose
		// delete undoes it on the same node (kube-leave.sh resets the node
		// the new join just checked), that order would undo the
		// replacement; the old step must be deleted first.
		opts = append(opts, pulumi.DeleteBeforeReplace(true))
	}
	if s.SecretStdout {
		opts = append(opts, pulumi.AdditionalSecretOutputs([]string{"stdout"}))
	}
	cmd, err := remote.NewCommand(r.ctx, s.Name, args, opts...)
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", s.Name, err)
	}
	return cmd, nil
}
