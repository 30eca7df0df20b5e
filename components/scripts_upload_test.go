package components_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

// scriptFakeSSH records its argv (one argument a line, each call ended by
// --END--), ignores the options and runs the remote command string (the last
// argument) locally with bash -c. With FAKE_SSH_TRUNCATE set, a `cat >`
// command only gets the first 7 bytes of stdin: a corrupted transfer.
const scriptFakeSSH = `
{ printf '%s\n' "$@"; printf -- '--END--\n'; } >>"$FAKE_SSH_LOG"
for arg in "$@"; do
  if [[ "$arg" == UserKnownHostsFile=* ]]; then
    kh="${arg#UserKnownHostsFile=}"
    kh="${kh#\"}"
    cat "${kh%\"}" >>"$FAKE_SSH_LOG.known_hosts"
  fi
done
cmd="${!#}"
if [[ -n "${FAKE_SSH_TRUNCATE:-}" && "$cmd" == "cat >"* ]]; then
  head -c 7 | bash -c "$cmd"
  exit
fi
exec bash -c "$cmd"
`

// scriptFakePvesm maps local:iso/X to $FAKE_PVE_ROOT/iso/X; other storages fail
// like the real pvesm does.
const scriptFakePvesm = `
if [[ "${1:-}" != path || $# -ne 2 ]]; then echo "fake pvesm: unsupported: $*" >&2; exit 2; fi
case "$2" in
  local:iso/*) printf '%s\n' "$FAKE_PVE_ROOT/iso/${2#local:iso/}" ;;
  *) echo "storage '${2%%:*}' does not exist" >&2; exit 255 ;;
esac
`

const uploadFileName = "nixlab-0123456789abcdef.iso"

type uploadFixture struct {
	dir, fakeBin, log, pveRoot, iso string
}

func newUploadFixture(t *testing.T) uploadFixture {
	t.Helper()
	dir := t.TempDir()
	f := uploadFixture{
		dir:     dir,
		fakeBin: filepath.Join(dir, "bin"),
		log:     filepath.Join(dir, "ssh.log"),
		// A space and a dollar sign check the quoting of remote commands.
		pveRoot: filepath.Join(dir, "pve store $HOME"),
		iso:     filepath.Join(dir, "result/iso/nixos.iso"),
	}
	if err := os.MkdirAll(filepath.Join(f.pveRoot, "iso"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.fakeBin, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFake(t, f.fakeBin, "ssh", scriptFakeSSH)
	testutil.WriteFake(t, f.fakeBin, "pvesm", scriptFakePvesm)
	scriptWriteFile(t, f.iso, strings.Repeat("nixlab installer ISO\n", 500))
	return f
}

func (f uploadFixture) dest() string { return filepath.Join(f.pveRoot, "iso", uploadFileName) }

func (f uploadFixture) env(extra ...string) []string {
	env := []string{
		"PATH=" + testutil.PathWith(f.fakeBin),
		"HOME=" + f.dir,
		"FAKE_SSH_LOG=" + f.log,
		"FAKE_PVE_ROOT=" + f.pveRoot,
		"NIXLAB_ISO_PATH=" + f.iso,
		"NIXLAB_SSH_HOST=127.0.0.1",
		"NIXLAB_SSH_USER=root",
		"NIXLAB_SSH_PORT=22",
		"NIXLAB_SSH_KEY_FILE=",
		"NIXLAB_SSH_HOST_KEY=",
		"NIXLAB_STORAGE=local",
		"NIXLAB_ISO_FILE_NAME=" + uploadFileName,
	}
	// Later entries override earlier ones.
	for _, e := range extra {
		key := e[:strings.Index(e, "=")+1]
		env = slices.DeleteFunc(env, func(s string) bool { return strings.HasPrefix(s, key) })
		env = append(env, e)
	}
	return env
}

// calls returns the recorded ssh invocations and clears the log.
func (f uploadFixture) calls(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile(f.log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(f.log); err != nil {
		t.Fatal(err)
	}
	var calls [][]string
	for _, call := range strings.Split(strings.TrimSuffix(string(b), "--END--\n"), "--END--\n") {
		calls = append(calls, strings.Split(strings.TrimSuffix(call, "\n"), "\n"))
	}
	return calls
}

func uploadRemoteCommands(calls [][]string) []string {
	var cmds []string
	for _, c := range calls {
		cmds = append(cmds, c[len(c)-1])
	}
	return cmds
}

func uploadAnyHasPrefix(list []string, prefix string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func uploadSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestScriptUploadISO_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "upload-iso.sh")
}

func TestScriptUploadISO_UploadThenSkip(t *testing.T) {
	f := newUploadFixture(t)
	want := scriptReadFile(t, f.iso)

	res := scriptRun(t, f.dir, f.env(), "upload-iso.sh", "create")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if res.stdout != "local:iso/"+uploadFileName+"\n" {
		t.Errorf("stdout = %q", res.stdout)
	}
	if got := scriptReadFile(t, f.dest()); got != want {
		t.Errorf("uploaded content differs (%d bytes, want %d)", len(got), len(want))
	}
	if _, err := os.Stat(f.dest() + ".part"); !os.IsNotExist(err) {
		t.Errorf(".part left behind: %v", err)
	}
	cmds := uploadRemoteCommands(f.calls(t))
	if !uploadAnyHasPrefix(cmds, "cat > ") {
		t.Errorf("no streaming `cat >` call: %q", cmds)
	}
	if !uploadAnyHasPrefix(cmds, "pvesm path local:iso/"+uploadFileName) {
		t.Errorf("no pvesm path call: %q", cmds)
	}
	scriptMustContain(t, "stderr", res.stderr, "uploading", "verifying", uploadSHA256(want))

	// Same content already there: no transfer.
	res = scriptRun(t, f.dir, f.env(), "upload-iso.sh", "create")
	if res.code != 0 {
		t.Fatalf("second run: exit %d", res.code)
	}
	if res.stdout != "local:iso/"+uploadFileName+"\n" {
		t.Errorf("second run stdout = %q", res.stdout)
	}
	if cmds := uploadRemoteCommands(f.calls(t)); uploadAnyHasPrefix(cmds, "cat >") {
		t.Errorf("second run uploaded again: %q", cmds)
	}
	scriptMustContain(t, "stderr", res.stderr, "skipping the upload")
}

func TestScriptUploadISO_ReplacesDifferentFile(t *testing.T) {
	f := newUploadFixture(t)
	scriptWriteFile(t, f.dest(), "stale content")
	res := scriptRun(t, f.dir, f.env(), "upload-iso.sh", "create")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if scriptReadFile(t, f.dest()) != scriptReadFile(t, f.iso) {
		t.Error("stale file not replaced")
	}
	scriptMustContain(t, "stderr", res.stderr, "different sha256")
}

func TestScriptUploadISO_CorruptedTransfer(t *testing.T) {
	f := newUploadFixture(t)
	content := scriptReadFile(t, f.iso)
	res := scriptRun(t, f.dir, f.env("FAKE_SSH_TRUNCATE=1"), "upload-iso.sh", "create")
	if res.code == 0 {
		t.Fatal("succeeded with a corrupted transfer")
	}
	if res.stdout != "" {
		t.Errorf("stdout = %q, want nothing", res.stdout)
	}
	scriptMustContain(t, "stderr", res.stderr, "checksum mismatch", uploadSHA256(content), uploadSHA256(content[:7]))
	for _, p := range []string{f.dest(), f.dest() + ".part"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failed upload: %v", p, err)
		}
	}
}

func TestScriptUploadISO_Delete(t *testing.T) {
	f := newUploadFixture(t)
	other := filepath.Join(f.pveRoot, "iso", "nixlab-ffffffffffffffff.iso")
	scriptWriteFile(t, f.dest(), "iso")
	scriptWriteFile(t, f.dest()+".part", "partial")
	scriptWriteFile(t, other, "another template's ISO")

	res := scriptRun(t, f.dir, f.env("NIXLAB_ISO_PATH="), "upload-iso.sh", "delete")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if res.stdout != "" {
		t.Errorf("stdout = %q, want nothing", res.stdout)
	}
	entries, err := os.ReadDir(filepath.Join(f.pveRoot, "iso"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(other) {
		t.Errorf("after delete the ISO dir holds %v, want only %s", entries, filepath.Base(other))
	}

	// Already gone: still a success.
	if res := scriptRun(t, f.dir, f.env(), "upload-iso.sh", "delete"); res.code != 0 {
		t.Errorf("second delete: exit %d", res.code)
	}
}

// A delete runs with the inputs of the run that created the upload, maybe on
// another machine: a key file that is gone must not leave the ISO behind,
// while a create must refuse it.
func TestScriptUploadISO_KeyFileGone(t *testing.T) {
	f := newUploadFixture(t)
	gone := filepath.Join(f.dir, "old-checkout", "id_ed25519")
	scriptWriteFile(t, f.dest(), "iso")
	res := scriptRun(t, f.dir, f.env("NIXLAB_SSH_KEY_FILE="+gone), "upload-iso.sh", "delete")
	if res.code != 0 {
		t.Fatalf("delete exit %d: %s", res.code, res.stderr)
	}
	scriptMustContain(t, "delete stderr", res.stderr, "not readable here; trying the ssh-agent")
	if _, err := os.Stat(f.dest()); !os.IsNotExist(err) {
		t.Errorf("the ISO is still there after delete (%v)", err)
	}
	for _, call := range f.calls(t) {
		if slices.Contains(call, "-i") {
			t.Errorf("ssh got -i for a missing key: %q", call)
		}
	}
	res = scriptRun(t, f.dir, f.env("NIXLAB_SSH_KEY_FILE="+gone), "upload-iso.sh", "create")
	if res.code == 0 {
		t.Fatal("create accepted a missing key file")
	}
	scriptMustContain(t, "create stderr", res.stderr, "NIXLAB_SSH_KEY_FILE", "does not exist")
}

func TestScriptUploadISO_RejectsBadNames(t *testing.T) {
	for _, tc := range []struct{ name, env, want string }{
		{"traversal", "NIXLAB_ISO_FILE_NAME=../../etc/evil.iso", "invalid ISO file name"},
		{"not iso", "NIXLAB_ISO_FILE_NAME=nixlab.img", "invalid ISO file name"},
		{"space", "NIXLAB_ISO_FILE_NAME=nix lab.iso", "invalid ISO file name"},
		{"shell", "NIXLAB_ISO_FILE_NAME=x;reboot.iso", "invalid ISO file name"},
		{"command substitution", "NIXLAB_ISO_FILE_NAME=$(reboot).iso", "invalid ISO file name"},
		{"empty", "NIXLAB_ISO_FILE_NAME=", "invalid ISO file name"},
		{"storage space", "NIXLAB_STORAGE=lo cal", "invalid storage name"},
		{"storage colon", "NIXLAB_STORAGE=local:iso", "invalid storage name"},
		{"host option", "NIXLAB_SSH_HOST=-oProxyCommand=reboot", "invalid ssh host"},
		{"port", "NIXLAB_SSH_PORT=70000", "invalid ssh port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newUploadFixture(t)
			for _, action := range []string{"create", "delete"} {
				res := scriptRun(t, f.dir, f.env(tc.env), "upload-iso.sh", action)
				if res.code == 0 {
					t.Fatalf("%s accepted %s", action, tc.env)
				}
				scriptMustContain(t, action+" stderr", res.stderr, tc.want)
				if calls := f.calls(t); len(calls) != 0 {
					t.Errorf("%s ran ssh before validating: %q", action, calls)
				}
			}
		})
	}
}

func TestScriptUploadISO_PvesmFails(t *testing.T) {
	f := newUploadFixture(t)
	for _, action := range []string{"create", "delete"} {
		res := scriptRun(t, f.dir, f.env("NIXLAB_STORAGE=nosuch"), "upload-iso.sh", action)
		if res.code == 0 {
			t.Fatalf("%s succeeded with an unknown storage", action)
		}
		scriptMustContain(t, action+" stderr", res.stderr,
			"storage 'nosuch' does not exist", "'nosuch'", "ISO content", "nosuch:iso/"+uploadFileName)
		cmds := uploadRemoteCommands(f.calls(t))
		if len(cmds) != 1 || !strings.HasPrefix(cmds[0], "pvesm path ") {
			t.Errorf("%s: ssh calls after the failing pvesm: %q", action, cmds)
		}
	}
}

func TestScriptUploadISO_SSHArguments(t *testing.T) {
	f := newUploadFixture(t)
	key := filepath.Join(f.dir, "id_ed25519")
	scriptWriteFile(t, key, "not a real key")
	const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey host"
	spacedTmp := filepath.Join(f.dir, "my tmp")
	if err := os.MkdirAll(spacedTmp, 0o755); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name       string
		env        []string
		want       [][]string
		forbidden  []string
		knownHosts string // what ssh found in UserKnownHostsFile
	}{
		{
			name: "agent and accept-new",
			env:  []string{"NIXLAB_SSH_PORT=22"},
			want: [][]string{
				{"-o", "BatchMode=yes"}, {"-o", "ConnectTimeout=15"}, {"-p", "22"},
				{"-o", "StrictHostKeyChecking=accept-new"},
			},
			forbidden: []string{"-i", "IdentitiesOnly=yes", "StrictHostKeyChecking=yes"},
		},
		{
			name: "key and host key",
			env: []string{"NIXLAB_SSH_PORT=2222", "NIXLAB_SSH_USER=nixlab",
				"NIXLAB_SSH_KEY_FILE=" + key, "NIXLAB_SSH_HOST_KEY=" + hostKey},
			want: [][]string{
				{"-o", "BatchMode=yes"}, {"-o", "ConnectTimeout=15"}, {"-p", "2222"},
				{"-i", key}, {"-o", "IdentitiesOnly=yes"},
				{"-o", "StrictHostKeyChecking=yes"},
			},
			forbidden:  []string{"StrictHostKeyChecking=accept-new"},
			knownHosts: "[127.0.0.1]:2222 " + hostKey + "\n",
		},
		{
			// ssh splits an unquoted UserKnownHostsFile at whitespace.
			name: "host key with a temporary directory holding a space",
			env:  []string{"NIXLAB_SSH_HOST_KEY=" + hostKey, "TMPDIR=" + spacedTmp},
			want: [][]string{
				{"-o", "BatchMode=yes"}, {"-o", "StrictHostKeyChecking=yes"},
			},
			forbidden:  []string{"StrictHostKeyChecking=accept-new"},
			knownHosts: "127.0.0.1 " + hostKey + "\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Start without the ISO on the host so that every kind of call is made.
			if err := os.RemoveAll(f.dest()); err != nil {
				t.Fatal(err)
			}
			_ = os.Remove(f.log + ".known_hosts")
			res := scriptRun(t, f.dir, f.env(tc.env...), "upload-iso.sh", "create")
			if res.code != 0 {
				t.Fatalf("exit %d", res.code)
			}
			calls := f.calls(t)
			if tc.knownHosts != "" {
				seen, _ := os.ReadFile(f.log + ".known_hosts")
				if want := strings.Repeat(tc.knownHosts, len(calls)); string(seen) != want {
					t.Errorf("ssh saw known_hosts %q over %d calls, want %q in every call", seen, len(calls), tc.knownHosts)
				}
				for _, call := range calls {
					for _, a := range call {
						if p, ok := strings.CutPrefix(a, "UserKnownHostsFile="); ok {
							if strings.ContainsAny(p, " \t") && !strings.HasPrefix(p, `"`) {
								t.Errorf("unquoted known_hosts path with a space: %q", a)
							}
							if _, err := os.Stat(strings.Trim(p, `"`)); !os.IsNotExist(err) {
								t.Errorf("temporary known_hosts %s was left behind", p)
							}
						}
					}
				}
			}
			if cmds := uploadRemoteCommands(calls); !uploadAnyHasPrefix(cmds, "cat > ") {
				t.Fatalf("no upload among the ssh calls: %q", cmds)
			}
			user := "root"
			if tc.name == "key and host key" {
				user = "nixlab"
			}
			for _, call := range calls {
				if len(call) < 3 || call[len(call)-2] != user+"@127.0.0.1" {
					t.Errorf("target is not %s@127.0.0.1 right before the command: %q", user, call)
					continue
				}
				opts := call[:len(call)-2]
				for _, pair := range tc.want {
					if !slices.ContainsFunc(uploadOptPairs(opts), func(p [2]string) bool { return p == [2]string{pair[0], pair[1]} }) {
						t.Errorf("call %q lacks %q", call, pair)
					}
				}
				for _, bad := range tc.forbidden {
					if slices.Contains(opts, bad) {
						t.Errorf("call %q has %q", call, bad)
					}
				}
			}
		})
	}
}

// uploadOptPairs returns each option with its value.
func uploadOptPairs(opts []string) [][2]string {
	var out [][2]string
	for i := 0; i+1 < len(opts); i++ {
		out = append(out, [2]string{opts[i], opts[i+1]})
	}
	return out
}
