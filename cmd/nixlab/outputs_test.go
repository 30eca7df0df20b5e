package main

import (
	"encoding/json"
	"strings"
	"testing"
)

const testKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAKEYMATERIAL\n-----END OPENSSH PRIVATE KEY-----\n"

// labOutputs are outputs shaped like stack.Outputs'.
func labOutputs() map[string]Output {
	return map[string]Output{
		"templateVmId":       {Value: float64(9000)},
		"inventory":          {Value: "[control_plane]\nnixlab-control-plane-1 ansible_host=10.0.0.11\n"},
		"inventoryYaml":      {Value: "all:\n  children: {}\n"},
		"inventoryKubespray": {Value: "[kube_control_plane]\nnixlab-control-plane-1\n"},
		"nodes":              {Value: []any{map[string]any{"name": "nixlab-control-plane-1", "vmId": float64(9100)}}},
		"sshPrivateKey":      {Value: testKey, Secret: true},
		"sshKeyFile":         {Value: ".nixlab/lab/id_ed25519"},
	}
}

func TestOutputs(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		revealAlways bool
		wantShow     bool
		want         []string
		wantKey      bool
	}{
		{name: "masked", args: []string{"outputs"}, want: []string{
			"sshPrivateKey: [secret]\n", "templateVmId: 9000\n", "sshKeyFile: .nixlab/lab/id_ed25519\n",
			"inventory: |\n  [control_plane]\n  nixlab-control-plane-1 ansible_host=10.0.0.11\n",
			`nodes: [{"name":"nixlab-control-plane-1","vmId":9100}]` + "\n",
		}},
		{name: "masked even when the engine reveals", args: []string{"outputs"}, revealAlways: true,
			want: []string{"sshPrivateKey: [secret]\n"}},
		{name: "show secrets", args: []string{"outputs", "--show-secrets"}, wantShow: true, wantKey: true,
			want: []string{"sshPrivateKey: |\n  -----BEGIN OPENSSH PRIVATE KEY-----\n"}},
		{name: "json", args: []string{"outputs", "--json"}, want: []string{`"sshPrivateKey": "[secret]"`}},
		{name: "json show secrets", args: []string{"outputs", "--json", "--show-secrets", "--stack", "prod"}, wantShow: true, wantKey: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &harness{engine: &fakeEngine{outputs: labOutputs(), revealAlways: tt.revealAlways}}
			code, stdout, stderr := h.run(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if c := h.engine.calls; len(c) != 1 || c[0].op != "outputs" || c[0].showSecrets != tt.wantShow {
				t.Fatalf("engine calls %+v, want one outputs call with showSecrets=%v", c, tt.wantShow)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			if got := strings.Contains(stdout, "KEYMATERIAL"); got != tt.wantKey {
				t.Errorf("key shown = %v, want %v:\n%s", got, tt.wantKey, stdout)
			}
			if strings.Contains(tt.name, "json") {
				var m map[string]any
				if err := json.Unmarshal([]byte(stdout), &m); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, stdout)
				}
				if len(m) != len(labOutputs()) || m["templateVmId"] != float64(9000) {
					t.Errorf("JSON outputs: %v", m)
				}
				if tt.wantKey && m["sshPrivateKey"] != testKey {
					t.Errorf("sshPrivateKey = %q", m["sshPrivateKey"])
				}
			}
		})
	}
}

func TestOutputsSorted(t *testing.T) {
	h := &harness{engine: &fakeEngine{outputs: map[string]Output{"b": {Value: "2"}, "a": {Value: true}, "c": {Value: nil}}}}
	_, stdout, _ := h.run(t, "outputs")
	if want := "a: true\nb: 2\nc: null\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
}
