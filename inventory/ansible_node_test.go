package inventory

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

// nodeStandInSetup runs as the "remote" side of every ssh call Ansible
// makes to the stand-in node, inside a private mount namespace (unshare
// -m), so nothing it mounts is seen outside. It makes the namespace look
// like a NixOS node as far as Python goes: the only usable python3 is
// /run/current-system/sw/bin/python3 (the system profile, where
// environment.systemPackages puts it; NixOS has no /usr/bin/python3), every
// python on the usual paths (Ansible's INTERPRETER_PYTHON_FALLBACK list:
// python3.x and python on PATH, /usr/bin/python3, /usr/libexec/platform-python,
// /usr/bin/python) is overmounted by an empty file that cannot be executed,
// and PATH is the plain /usr/bin:/bin of a non-interactive ssh command.
// Then it runs the command ssh was given, with /bin/sh -c, like sshd does.
const nodeStandInSetup = `
set -euo pipefail
real="$(readlink -f "$STANDIN_PYTHON")"
empty="$STANDIN_DIR/not-python"
: >"$empty"
chmod 0644 "$empty"
mount -t tmpfs -o mode=0755 nixlab-standin-run /run
mkdir -p /run/current-system/sw/bin
: >/run/current-system/sw/bin/python3
mount --bind "$real" /run/current-system/sw/bin/python3
IFS=: read -r -a dirs <<<"$STANDIN_HIDE_PATH"
for d in /usr/bin /bin /usr/local/bin /usr/sbin /sbin /usr/libexec "${dirs[@]}"; do
  for f in "$d"/python*; do
    [[ -e "$f" && ! -d "$f" ]] || continue
    mount --bind "$empty" "$f"
  done
done
export PATH=/usr/bin:/bin HOME="$STANDIN_DIR/home"
mkdir -p "$HOME"
exec /bin/sh -c "$1"
`

// nodeStandInSSH is the ssh executable Ansible's ssh connection plugin runs
// (ansible_ssh_executable): it connects nowhere. Ansible's
// _build_command puts the host and then the remote command last; -O control
// requests (ControlPersist checks) succeed. The command runs through
// nodeStandInSetup in a fresh mount namespace, with ssh's stdin (module
// data, piped file transfers) passed through.
const nodeStandInSSH = `
printf '%s\n' "$*" >>"$STANDIN_DIR/ssh-calls"
for a in "$@"; do [[ "$a" != -O ]] || exit 0; done
cmd="${@: -1}"
unshare_args=(--mount --propagation private)
[[ "$(id -u)" == 0 ]] || unshare_args=(--map-root-user "${unshare_args[@]}")
exec unshare "${unshare_args[@]}" -- bash "$STANDIN_DIR/setup.sh" "$cmd"
`

// requireMountNamespace skips (or fails with NIXLAB_REQUIRE_TOOLS=1) when
// this machine cannot make a private mount namespace.
func requireMountNamespace(t *testing.T) {
	t.Helper()
	unshare := testutil.RequireTool(t, "unshare")
	args := []string{"--mount", "--propagation", "private", "true"}
	if os.Getuid() != 0 {
		args = append([]string{"--map-root-user"}, args...)
	}
	if out, err := exec.Command(unshare, args...).CombinedOutput(); err != nil {
		msg := "cannot create a mount namespace (unshare " + strings.Join(args, " ") + "): " + err.Error() + ": " + string(out)
		if os.Getenv("NIXLAB_REQUIRE_TOOLS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; set NIXLAB_REQUIRE_TOOLS=1 to make this a failure")
	}
}

// ansiblePython returns the Python that the ansible script runs on (its
// shebang): a real interpreter binary with ansible's module_utils needs met,
// where a python3 on PATH may be a wrapper (pyenv shims) that execs another.
func ansiblePython(t *testing.T, ansible string) string {
	t.Helper()
	data, err := os.ReadFile(ansible)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(strings.TrimPrefix(first, "#!"))
	if !strings.HasPrefix(first, "#!") || len(fields) == 0 {
		t.Fatalf("%s has no shebang line", ansible)
	}
	py := fields[0]
	if filepath.Base(py) == "env" && len(fields) > 1 {
		py = testutil.RequireTool(t, fields[1])
	}
	return py
}

// adhocResult is one host's result in the json stdout callback's output.
type adhocResult struct {
	Failed       bool           `json:"failed"`
	Msg          string         `json:"msg"`
	RC           int            `json:"rc"`
	Ping         string         `json:"ping"`
	Facts        map[string]any `json:"ansible_facts"`
	Stdout       string         `json:"stdout"`
	ModuleStderr string         `json:"module_stderr"`
}

// runAdhoc runs the real `ansible <host> -m module -a args` against the
// inventory file through the stand-in ssh and returns the host's result
// (as ansible-core's tree callback writes it) and everything ansible
// printed.
func runAdhoc(t *testing.T, bin, dir, inventoryFile, host, module, args string) (adhocResult, string, error) {
	t.Helper()
	tree := t.TempDir()
	cmd := exec.Command(bin, host, "-i", inventoryFile, "-m", module, "-a", args)
	cmd.Dir = dir
	cmd.Env = append(ansibleEnv(t, dir),
		"ANSIBLE_SSH_EXECUTABLE="+filepath.Join(dir, "ssh"),
		// The stand-in has no sftp server: copy files with dd over the
		// same ssh (the "piped" method of the ssh connection plugin).
		"ANSIBLE_SSH_TRANSFER_METHOD=piped",
		// ansible-core's tree callback writes each host's result as JSON.
		"ANSIBLE_LOAD_CALLBACK_PLUGINS=1",
		"ANSIBLE_CALLBACKS_ENABLED=ansible.builtin.tree",
		"ANSIBLE_CALLBACK_TREE_DIR="+tree,
		"STANDIN_DIR="+dir,
		"STANDIN_PYTHON="+ansiblePython(t, bin),
		"STANDIN_HIDE_PATH="+os.Getenv("PATH"),
	)
	var printed bytes.Buffer
	cmd.Stdout, cmd.Stderr = &printed, &printed
	err := cmd.Run()
	data, rerr := os.ReadFile(filepath.Join(tree, host))
	if rerr != nil {
		t.Fatalf("ansible %s -m %s wrote no result (%v, exit %v):\n%s", host, module, rerr, err, printed.String())
	}
	var res adhocResult
	if jerr := json.Unmarshal(data, &res); jerr != nil {
		t.Fatalf("ansible %s -m %s: unreadable result %v:\n%s", host, module, jerr, data)
	}
	return res, printed.String(), err
}

// TestAnsibleModulesRunOnNixOSPython runs the real ansible with real
// modules (not raw) against a node stand-in whose only Python is where
// NixOS puts it, through the inventory Render writes: the modules run on
// /run/current-system/sw/bin/python3. Without ansible_python_interpreter
// in the inventory the same call fails, so the setting is what makes it
// work.
func TestAnsibleModulesRunOnNixOSPython(t *testing.T) {
	bin := testutil.RequireTool(t, "ansible")
	testutil.RequireTool(t, "bash")
	requireMountNamespace(t)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "setup.sh"), []byte(nodeStandInSetup), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFake(t, dir, "ssh", nodeStandInSSH)
	const host = "nixlab-workers-1"
	ini, err := Render([]Node{{Name: host, Role: RoleWorker, VMID: 9200, IPv4: "127.0.0.1"}},
		Options{User: "nixos", PrivateKeyFile: ".nixlab/lab/id_ed25519"}, FlavorNixlab, FormatINI)
	if err != nil {
		t.Fatal(err)
	}
	with := filepath.Join(dir, "inventory.ini")
	if err := os.WriteFile(with, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("ping", func(t *testing.T) {
		t.Parallel()
		res, printed, err := runAdhoc(t, bin, dir, with, host, "ansible.builtin.ping", "")
		if err != nil || res.Failed || res.Ping != "pong" || strings.Contains(printed, "[WARNING]") {
			t.Fatalf("ping failed or warned (%v): %+v\n%s", err, res, printed)
		}
		// It went through the stand-in, to the inventory's ansible_host.
		calls, err := os.ReadFile(filepath.Join(dir, "ssh-calls"))
		if err != nil || !strings.Contains(string(calls), " 127.0.0.1 ") {
			t.Errorf("the stand-in ssh was not called for 127.0.0.1 (%v):\n%s", err, calls)
		}
	})
	t.Run("setup reports the interpreter", func(t *testing.T) {
		t.Parallel()
		res, printed, err := runAdhoc(t, bin, dir, with, host, "ansible.builtin.setup", "gather_subset=!all filter=ansible_python")
		if err != nil || res.Failed {
			t.Fatalf("setup failed (%v): %+v\n%s", err, res, printed)
		}
		py, _ := res.Facts["ansible_python"].(map[string]any)
		if got := py["executable"]; got != NixOSPython {
			t.Errorf("module ran on %v, want %s\n%s", got, NixOSPython, printed)
		}
	})
	t.Run("command", func(t *testing.T) {
		t.Parallel()
		// The module runs inside the stand-in: /usr/bin/python3 is not
		// usable there.
		res, printed, err := runAdhoc(t, bin, dir, with, host, "ansible.builtin.command", "/bin/sh -c 'test -x /usr/bin/python3 && echo usable || echo hidden'")
		if err != nil || res.Failed || res.Stdout != "hidden" {
			t.Fatalf("command: %v %+v\n%s", err, res, printed)
		}
	})
	t.Run("fails without the interpreter setting", func(t *testing.T) {
		t.Parallel()
		var kept []string
		for _, line := range strings.Split(ini, "\n") {
			if !strings.HasPrefix(line, "ansible_python_interpreter=") {
				kept = append(kept, line)
			}
		}
		if len(kept) == len(strings.Split(ini, "\n")) {
			t.Fatalf("the inventory sets no ansible_python_interpreter:\n%s", ini)
		}
		without := filepath.Join(dir, "without.ini")
		if err := os.WriteFile(without, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		res, printed, err := runAdhoc(t, bin, dir, without, host, "ansible.builtin.ping", "")
		if err == nil || res.Ping == "pong" {
			t.Fatalf("ping succeeded without ansible_python_interpreter, so the stand-in has Python elsewhere: %+v\n%s", res, printed)
		}
		// Interpreter discovery finds nothing and falls back to
		// /usr/bin/python3, which a NixOS node does not have.
		if !strings.Contains(res.Msg, "MODULE FAILURE") || !strings.Contains(res.ModuleStderr, "/usr/bin/python3") {
			t.Errorf("failed, but not for want of Python: %+v\n%s", res, printed)
		}
	})
}
