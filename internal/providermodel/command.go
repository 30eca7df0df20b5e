package providermodel

import (
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Sources cited by the command rules (pulumi/pulumi-command v1.2.1).
const (
	srcConnection    = "provider/pkg/provider/remote/connection.go Connection.Annotate"
	srcRemoteInputs  = "provider/pkg/provider/remote/command.go CommandInputs"
	srcRemoteCreate  = "provider/pkg/provider/remote/commandController.go Command.Create"
	srcCommonInputs  = "provider/pkg/provider/common/inputs.go ResourceInputs (triggers: replaceOnChanges)"
	srcLocalCreate   = "provider/pkg/provider/local/commandController.go Command.Create"
	srcCommandOutput = "provider/pkg/provider/local/base.go BaseOutputs (stdout, stderr)"
)

// connectionDefaults are the remote connection's defaults (SetDefault in
// Connection.Annotate).
var connectionDefaults = resource.PropertyMap{
	"user":           resource.NewStringProperty("root"),
	"port":           resource.NewNumberProperty(22),
	"dialErrorLimit": resource.NewNumberProperty(10),
	"perDialTimeout": resource.NewNumberProperty(15),
}

var remoteCommandRules = []Rule{
	{
		Name:   "connection-defaults-filled",
		Source: srcConnection + " (user root, port 22, dialErrorLimit 10, perDialTimeout 15)",
		Check: func(in resource.PropertyMap) {
			v, ok := in["connection"]
			if !ok {
				return
			}
			secret := v.IsSecret()
			if secret {
				v = v.SecretValue().Element
			}
			if !v.IsObject() {
				return
			}
			for k, d := range connectionDefaults {
				setDefault(v.ObjectValue(), k, d)
			}
			if secret {
				in["connection"] = resource.MakeSecret(v)
			}
		},
	},
	{
		Name: "state-is-inputs-plus-output",
		Source: srcRemoteCreate + " (state = inputs + stdout/stderr; no Read: state is never refreshed from " +
			"the host); " + srcCommandOutput,
		Read: readCommandOutput,
	},
	{
		Name:   "connection-secret",
		Source: srcRemoteInputs + " (connection: provider:\"secret\")",
		Read: func(state resource.PropertyMap, _ Env) {
			if v, ok := state["connection"]; ok && !v.IsSecret() {
				state["connection"] = resource.MakeSecret(v)
			}
		},
	},
}

var localCommandRules = []Rule{
	{
		Name:   "state-is-inputs-plus-output",
		Source: srcLocalCreate + " (state = inputs + stdout/stderr; no defaults, no secret fields); " + srcCommandOutput,
		Read:   readCommandOutput,
	},
}

func readCommandOutput(state resource.PropertyMap, env Env) {
	if env.Preview {
		return
	}
	state["stdout"] = resource.NewStringProperty(env.Stdout)
	state["stderr"] = resource.NewStringProperty("")
}

// commandOutputs are the command state's fields that are not inputs.
var commandOutputs = map[resource.PropertyKey]bool{"stdout": true, "stderr": true, "assets": true, "archive": true}

// commandDiff compares a command's inputs with its state as infer's default
// diff does: every input field by value (secrecy aside, an unset optional
// field equals an absent one); a change of `triggers` replaces the resource
// (srcCommonInputs), any other change updates it (re-runs update or create).
func commandDiff(state, cfg resource.PropertyMap) DiffResult {
	var d DiffResult
	for _, k := range unionKeys(state, cfg) {
		if commandOutputs[k] {
			continue
		}
		s, c := unwrap(state[k]), unwrap(cfg[k])
		if s.IsNull() && c.IsNull() || s.DeepEquals(c) {
			continue
		}
		d.Changed = append(d.Changed, string(k))
		if k == "triggers" {
			d.Replace = true
		}
	}
	return d
}
