package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

// fakePulumi is a stand-in for the Pulumi CLI: it logs every invocation to
// $FAKE_LOG and answers from environment variables. It never touches a
// backend or the network.
const fakePulumi = `
echo "$*" >> "$FAKE_LOG"
while [[ "${1:-}" == --* ]]; do shift; done
case "$1 ${2:-}" in
"version ") echo "v3.200.0" ;;
"stack select")
	if [[ -n "${FAKE_NO_STACK:-}" ]]; then echo "error: no stack named '$4' found" >&2; exit 255; fi ;;
"stack init") ;;
"stack output")
	# A secret output is "[secret]" unless --show-secrets (pulumi
	# sdk/go/auto/local_workspace.go, StackOutputs, runs both and compares).
	# FAKE_KUBECONFIG_JSON, a JSON string, is the secret output kubeconfig.
	kc=""
	if [[ " $* " == *" --show-secrets "* ]]; then
		if [[ -n "${FAKE_KUBECONFIG_JSON:-}" ]]; then kc=",\"kubeconfig\":${FAKE_KUBECONFIG_JSON}"; fi
		echo '{"inventory":"[all]\nn1\n","sshPrivateKey":"KEYMATERIAL"'"${kc}"'}'
	else
		if [[ -n "${FAKE_KUBECONFIG_JSON:-}" ]]; then kc=',"kubeconfig":"[secret]"'; fi
		echo '{"inventory":"[all]\nn1\n","sshPrivateKey":"[secret]"'"${kc}"'}'
	fi ;;
"plugin ls") echo "${FAKE_PLUGINS:-[]}" ;;
"plugin install")
	if [[ -n "${FAKE_INSTALL_FAIL:-}" ]]; then echo "error: $4 $5: could not download plugin: no network" >&2; exit 255; fi ;;
"up "*|"preview "*|"refresh "*|"destroy "*)
	echo "Updating (fake): $1"
	echo "error: update failed" >&2
	echo "  nixlab:proxmox: connection refused" >&2
	exit 255 ;;
*) echo "fake pulumi: unexpected: $*" >&2; exit 99 ;;
esac
`

// allPlugins is `pulumi plugin ls --json` with every required plugin.
const allPlugins = `[{"name":"proxmoxve","kind":"resource","version":"6.18.1"},
{"name":"command","kind":"resource","version":"1.2.1"},{"name":"tls","kind":"resource","version":"5.2.0"},
{"name":"kubernetes","kind":"resource","version":"4.32.0"},{"name":"random","kind":"resource","version":"4.18.0"}]`

// fakeCLI puts fakePulumi first on PATH, gives it a project directory and
// returns that directory and the invocation log.
func fakeCLI(t *testing.T) (dir, log string) {
	t.Helper()
	bin := t.TempDir()
	testutil.WriteFake(t, bin, "pulumi", fakePulumi)
	t.Setenv("PATH", testutil.PathWith(bin))
	t.Setenv("PULUMI_HOME", t.TempDir())
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: nixlab\nruntime: go\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log = filepath.Join(t.TempDir(), "log")
	t.Setenv("FAKE_LOG", log)
	t.Setenv("FAKE_PLUGINS", allPlugins)
	return dir, log
}

// runReal runs nixlab with the real environment (the Automation API engine).
func runReal(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, &out, &errOut, defaultEnv())
	return code, out.String(), errOut.String()
}

func readLog(t *testing.T, log string) string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAutoEngineFakeCLIFailure(t *testing.T) {
	for _, args := range [][]string{{"up"}, {"preview"}, {"refresh"}, {"destroy", "--yes"}} {
		t.Run(args[0], func(t *testing.T) {
			dir, log := fakeCLI(t)
			code, stdout, stderr := runReal(t, append(args, "--dir", dir, "--stack", "dev")...)
			if code != 1 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stdout, "Updating (fake): "+args[0]) {
				t.Errorf("progress not streamed to stdout:\n%s", stdout)
			}
			want := "nixlab " + args[0] + ": error: update failed\n  nixlab:proxmox: connection refused\n"
			if !strings.HasSuffix(stderr, want) {
				t.Errorf("stderr does not end with the engine message %q:\n%s", want, stderr)
			}
			calls := readLog(t, log)
			if !strings.Contains(calls, "stack select --stack dev") || !strings.Contains(calls, "plugin ls --json") {
				t.Errorf("calls:\n%s", calls)
			}
			if strings.Contains(calls, "plugin install") {
				t.Errorf("installed a plugin although all are there:\n%s", calls)
			}
		})
	}
}

func TestAutoEngineFakeCLIMissingPlugin(t *testing.T) {
	dir, log := fakeCLI(t)
	t.Setenv("FAKE_PLUGINS", `[{"name":"command","kind":"resource","version":"1.2.1"},{"name":"tls","kind":"resource","version":"5.2.0"}]`)
	t.Setenv("FAKE_INSTALL_FAIL", "1")
	code, _, stderr := runReal(t, "up", "--dir", dir)
	want := "nixlab up: provider plugin proxmoxve v6.18.1 is missing and could not be installed " +
		"(error: proxmoxve v6.18.1: could not download plugin: no network); " +
		"install it with: pulumi plugin install resource proxmoxve v6.18.1\n"
	if code != 1 || !strings.HasSuffix(stderr, want) {
		t.Fatalf("exit %d, stderr:\n%s\nwant suffix:\n%s", code, stderr, want)
	}
	if calls := readLog(t, log); strings.Contains(calls, "up --yes") {
		t.Errorf("ran up without the plugin:\n%s", calls)
	}
}

func TestAutoEngineFakeCLIMissingStack(t *testing.T) {
	for _, args := range [][]string{{"refresh"}, {"destroy", "--yes"}, {"outputs"}} {
		t.Run(args[0], func(t *testing.T) {
			dir, log := fakeCLI(t)
			t.Setenv("FAKE_NO_STACK", "1")
			code, _, stderr := runReal(t, append(args, "--dir", dir, "--stack", "prod")...)
			if code != 1 || !strings.Contains(stderr, `stack "prod" does not exist`) {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if calls := readLog(t, log); strings.Contains(calls, "stack init") {
				t.Errorf("%s created the stack:\n%s", args[0], calls)
			}
		})
	}
}

func TestAutoEngineFakeCLIUpCreatesStack(t *testing.T) {
	for _, op := range []string{"up", "preview"} {
		t.Run(op, func(t *testing.T) {
			dir, log := fakeCLI(t)
			t.Setenv("FAKE_NO_STACK", "1")
			code, _, stderr := runReal(t, op, "--dir", dir, "--stack", "new")
			if code != 1 || !strings.HasSuffix(stderr, "connection refused\n") {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if calls := readLog(t, log); !strings.Contains(calls, "stack init new") {
				t.Errorf("%s did not create the stack:\n%s", op, calls)
			}
		})
	}
}

func TestAutoEngineFakeCLIOutputs(t *testing.T) {
	dir, log := fakeCLI(t)
	code, stdout, stderr := runReal(t, "outputs", "--dir", dir)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if want := "inventory: |\n  [all]\n  n1\nsshPrivateKey: [secret]\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	if calls := readLog(t, log); strings.Contains(calls, "--show-secrets") || strings.Contains(calls, "plugin") {
		t.Errorf("outputs without --show-secrets revealed secrets or checked plugins:\n%s", calls)
	}

	dir, log = fakeCLI(t)
	key := filepath.Join(t.TempDir(), "k")
	code, stdout, stderr = runReal(t, "ssh-key", "--dir", dir, "-o", key)
	if code != 0 {
		t.Fatalf("ssh-key: exit %d, stderr:\n%s", code, stderr)
	}
	if got, _ := os.ReadFile(key); string(got) != "KEYMATERIAL\n" || strings.Contains(stdout+stderr, "KEYMATERIAL") {
		t.Errorf("key file %q; output:\n%s%s", got, stdout, stderr)
	}
	if calls := readLog(t, log); !strings.Contains(calls, "stack output --json --show-secrets") {
		t.Errorf("ssh-key did not reveal secrets:\n%s", calls)
	}
}
