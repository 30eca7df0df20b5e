package stack

import (
	"context"
	"testing"

	pulumiinternals "github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// TestProviderArgsTokenIsSecret looks at what Deploy hands the Proxmox SDK,
// before proxmoxve.NewProvider wraps the token in a secret of its own: the
// token must already be one (the config value is a plain Go string there).
func TestProviderArgsTokenIsSecret(t *testing.T) {
	cfg := &Config{APIToken: Secret("root@pam!nixlab=0badc0de-1234-4321-abcd-0123456789ab")}
	args := providerArgs(cfg)
	if args.ApiToken == nil {
		t.Fatal("no API token in the provider args")
	}
	res, err := pulumiinternals.UnsafeAwaitOutput(context.Background(), args.ApiToken.ToStringPtrOutput())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Secret {
		t.Error("the API token is handed to the Proxmox SDK in plain text")
	}
	if v, ok := res.Value.(*string); !ok || v == nil || *v != cfg.APIToken.Reveal() {
		t.Errorf("token = %v", res.Value)
	}
}
