package components

import (
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func TestTemplateArgsCheck(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "/run/agent.sock")
	valid := NixOSTemplateArgs{NodeName: pulumi.String("pve"), VMID: 9000, Host: ProxmoxHost{Address: "pve"}}
	cases := []struct {
		name   string
		mutate func(*NixOSTemplateArgs)
		want   string
	}{
		{"valid", func(*NixOSTemplateArgs) {}, ""},
		{"no node", func(a *NixOSTemplateArgs) { a.NodeName = nil }, "NodeName is required"},
		{"VM ID too low", func(a *NixOSTemplateArgs) { a.VMID = 99 }, "VMID 99"},
		{"no host", func(a *NixOSTemplateArgs) { a.Host.Address = "" }, "Host.Address"},
		{"timeout too short", func(a *NixOSTemplateArgs) { a.InstallTimeout = 30 * time.Second }, "InstallTimeout"},
		// A failure must show within a minute or two.
		{"poll slower than a minute", func(a *NixOSTemplateArgs) { a.PollInterval = 90 * time.Second }, "PollInterval 1m30s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := valid
			c.mutate(&a)
			err := a.withDefaults().check()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("valid args refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
}
