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
// argument) locally with bash -c, whose exit status it returns, as ssh(1)
// does. With FAKE_SSH_TRUNCATE set, a `cat >` command only gets the first 7
// bytes of stdin: a corrupted transfer. With FAKE_SSH_FAIL set, a command
// starting with that text fails like a lost connection: ssh's own errors
// exit 255 (OpenSSH ssh(1), EXIT STATUS).
const scriptFakeSSH = `
{ printf '%s\n' "$@"; printf -- '--END--\n'; } >>"$FAKE_SSH_LOG"
if [[ -n "${FAKE_SSH_FAIL:-}" && "${!#}" == "$FAKE_SSH_FAIL"* ]]; then
  echo "Connection to ${@: -2:1} closed by remote host." >&2
  exit 255
fi
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

// scriptFakePvesm answers `pvesm status --storage S --content iso` and
// `pvesm path VOLID` from $FAKE_PVE_STORAGES, one storage a line:
// "<id> <type> <content,list> <active|inactive|disabled> <path>". It follows
// pve-storage 9.1.7 (proxmox/pve-storage):
//   - A failing pvesm is a Perl die: message on stderr, exit 255 (pve-common
//     PVE::CLIHandler::run_cli_handler does not catch it).
//   - status (PVE::API2::Storage::Status, index, and PVE::Storage::
//     storage_info): with --content, only enabled storages that have one of
//     the content types are listed; a --storage not listed fails with
//     "400 Parameter verification failed." / "storage: No such storage."
//     (raise_param_exc). The table is printed by PVE::CLI::pvesm's
//     $print_status: a header, then name, type, active|inactive|disabled,
//     total, used, available (KiB) and a percentage.
//   - path (PVE::CLI::pvesm path -> PVE::Storage::path -> the plugin's
//     filesystem_path): an unknown storage dies "storage 'X' does not exist"
//     (storage_config); a file-based storage (dir, nfs, cifs) maps
//     iso/<name>.iso|.img to <path>/template/iso/<name> (Plugin::
//     parse_volname, get_subdir) WITHOUT checking the content types; LVM
//     storages die "unable to parse lvm volume name 'iso/...'"
//     (LVMPlugin/LvmThinPlugin::parse_volname).
const scriptFakePvesm = `
storage_line() {
  local id type content state path
  while read -r id type content state path; do
    if [[ "$id" == "$1" ]]; then
      printf '%s %s %s %s %s\n' "$id" "$type" "$content" "$state" "$path"
      return 0
    fi
  done <"$FAKE_PVE_STORAGES"
  return 1
}
case "${1:-}" in
  status)
    [[ "$2 $4" == "--storage --content" && $# -eq 5 ]] || { echo "fake pvesm: unsupported: $*" >&2; exit 2; }
    read -r id type content state path < <(storage_line "$3") || true
    if [[ -z "${id:-}" || ",$content," != *",$5,"* || "$state" == disabled ]]; then
      printf '400 Parameter verification failed.\nstorage: No such storage.\n' >&2
      exit 255
    fi
    printf '%-6s %10s %10s %15s %15s %15s %8s\n' Name Type Status 'Total (KiB)' 'Used (KiB)' 'Available (KiB)' '%'
    if [[ "$state" == active ]]; then
      printf '%-6s %10s %10s %15d %15d %15d % 7.2f%%\n' "$id" "$type" active 98497780 10264084 83184148 10.42
    else
      printf '%-6s %10s %10s %15d %15d %15d % 7.2f%%\n' "$id" "$type" inactive 0 0 0 0
    fi
    ;;
  path)
    [[ $# -eq 2 ]] || { echo "fake pvesm: unsupported: $*" >&2; exit 2; }
    if [[ ! "$2" =~ ^([A-Za-z][A-Za-z0-9._-]*[A-Za-z0-9]):(.+)$ ]]; then
      printf "400 Parameter verification failed.\nvolume: unable to parse volume ID '%s'\n" "$2" >&2
      exit 255
    fi
    sid="${BASH_REMATCH[1]}" volname="${BASH_REMATCH[2]}"
    if ! read -r id type content state path < <(storage_line "$sid"); then
      echo "storage '$sid' does not exist" >&2
      exit 255
    fi
    case "$type" in
      dir | nfs | cifs)
        shopt -s nocasematch
        if [[ "$volname" =~ ^iso/([^/]+\.(iso|img))$ ]]; then
          printf '%s/template/iso/%s\n' "$path" "${BASH_REMATCH[1]}"
          exit 0
        fi
        echo "unable to parse directory volume name '$volname'" >&2
        exit 255
        ;;
      lvm | lvmthin)
        echo "unable to parse lvm volume name '$volname'" >&2
        exit 255
        ;;
    esac
    echo "fake pvesm: unsupported storage type $type" >&2
    exit 2
    ;;
  *)
    echo "fake pvesm: unsupported: $*" >&2
    exit 2
    ;;
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
	if err := os.MkdirAll(filepath.Join(f.pveRoot, "template", "iso"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.fakeBin, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFake(t, f.fakeBin, "ssh", scriptFakeSSH)
	testutil.WriteFake(t, f.fakeBin, "pvesm", scriptFakePvesm)
	// The reference host's storages, plus one of each kind the script must
	// refuse.
	scriptWriteFile(t, filepath.Join(dir, "storage.cfg"), strings.Join([]string{
		"local dir iso,vztmpl,backup,snippets active " + f.pveRoot,
		"local-lvm lvmthin images,rootdir active -",
		"backups dir backup active " + filepath.Join(dir, "backups"),
		"nas nfs iso,images inactive " + filepath.Join(dir, "nas"),
		"old dir iso disabled " + filepath.Join(dir, "old"),
		// A storage ID that is also the first word of pvesm status' header.
		"Name dir iso active " + filepath.Join(dir, "name"),
	}, "\n")+"\n")
	scriptWriteFile(t, f.iso, strings.Repeat("nixlab installer ISO\n", 500))
	return f
}

func (f uploadFixture) dest() string {
	return filepath.Join(f.pveRoot, "template", "iso", uploadFileName)
}

func (f uploadFixture) env(extra ...string) []string {
	env := []string{
		"PATH=" + testutil.PathWith(f.fakeBin),
		"HOME=" + f.dir,
		"FAKE_SSH_LOG=" + f.log,
		"FAKE_PVE_STORAGES=" + filepath.Join(f.dir, "storage.cfg"),
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
	if strings.Contains(res.stderr, "warning") {
		t.Errorf("a warning although the .part was removed: %q", res.stderr)
	}
	for _, p := range []string{f.dest(), f.dest() + ".part"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failed upload: %v", p, err)
		}
	}
}

func TestScriptUploadISO_Delete(t *testing.T) {
	f := newUploadFixture(t)
	other := filepath.Join(f.pveRoot, "template", "iso", "nixlab-ffffffffffffffff.iso")
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
	entries, err := os.ReadDir(filepath.Join(f.pveRoot, "template", "iso"))
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
		{"host dash", "NIXLAB_SSH_HOST=-pve", "invalid ssh host"},
		{"host shell", "NIXLAB_SSH_HOST=pve;reboot", "invalid ssh host"},
		{"host empty", "NIXLAB_SSH_HOST=", "NIXLAB_SSH_HOST is not set"},
		{"user dash", "NIXLAB_SSH_USER=-lroot", "invalid ssh user"},
		{"user space", "NIXLAB_SSH_USER=ro ot", "invalid ssh user"},
		{"port", "NIXLAB_SSH_PORT=70000", "invalid ssh port"},
		{"port zero", "NIXLAB_SSH_PORT=0", "invalid ssh port"},
		{"port above range", "NIXLAB_SSH_PORT=65536", "invalid ssh port"},
		{"port text", "NIXLAB_SSH_PORT=22a", "invalid ssh port"},
		{"file name starting with a dot", "NIXLAB_ISO_FILE_NAME=.hidden.iso", "invalid ISO file name"},
		{"host key garbage", "NIXLAB_SSH_HOST_KEY=garbage", "NIXLAB_SSH_HOST_KEY is not one OpenSSH public key line"},
		{"host key two lines", "NIXLAB_SSH_HOST_KEY=ssh-ed25519 AAAA host\nssh-rsa BBBB evil", "NIXLAB_SSH_HOST_KEY is not one OpenSSH public key line"},
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

// A storage that cannot take the ISO is refused before anything is sent,
// naming the setting and the fix; `pvesm path` alone would hand out a path
// for a directory storage without ISO content.
func TestScriptUploadISO_StorageRefused(t *testing.T) {
	for _, tc := range []struct {
		storage   string
		want      []string
		pathCalls int // pvesm path calls expected (only when status passed)
	}{
		{"nosuch", []string{"No such storage", "storage 'nosuch' (nixlab:proxmox.isoStorage)", "does not allow ISO images", "exit 255", "Content"}, 0},
		{"backups", []string{"No such storage", "storage 'backups' (nixlab:proxmox.isoStorage)", "does not allow ISO images"}, 0},
		{"local-lvm", []string{"No such storage", "storage 'local-lvm' (nixlab:proxmox.isoStorage)"}, 0},
		{"old", []string{"No such storage", "storage 'old' (nixlab:proxmox.isoStorage)", "is disabled"}, 0},
		{"nas", []string{"storage 'nas' (nixlab:proxmox.isoStorage, type nfs)", "is inactive", "reachable"}, 0},
	} {
		t.Run(tc.storage, func(t *testing.T) {
			f := newUploadFixture(t)
			for _, action := range []string{"create", "delete"} {
				res := scriptRun(t, f.dir, f.env("NIXLAB_STORAGE="+tc.storage), "upload-iso.sh", action)
				if res.code != 1 {
					t.Fatalf("%s: exit %d with storage %s, want 1", action, res.code, tc.storage)
				}
				if res.stdout != "" {
					t.Errorf("%s: stdout %q", action, res.stdout)
				}
				scriptMustContain(t, action+" stderr", res.stderr, tc.want...)
				cmds := uploadRemoteCommands(f.calls(t))
				if want := "pvesm status --storage " + tc.storage + " --content iso"; len(cmds) != 1 || cmds[0] != want {
					t.Errorf("%s: ssh calls %q, want only %q", action, cmds, want)
				}
			}
			if _, err := os.Stat(filepath.Join(f.dir, "backups")); !os.IsNotExist(err) {
				t.Errorf("something was written into the backup-only storage (%v)", err)
			}
		})
	}
}

// The fake follows pvesm: `path` maps an iso/ volume of a directory storage
// without ISO content to a path (no content check), which is why the script
// asks `pvesm status --content iso` first.
func TestScriptUploadISO_FakePvesmFollowsProxmox(t *testing.T) {
	f := newUploadFixture(t)
	bash := testutil.RequireTool(t, "bash")
	pvesm := filepath.Join(f.fakeBin, "pvesm")
	for _, tc := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"path", "backups:iso/x.iso"}, 0, filepath.Join(f.dir, "backups", "template", "iso", "x.iso") + "\n", ""},
		{[]string{"path", "local:iso/X.IMG"}, 0, filepath.Join(f.pveRoot, "template", "iso", "X.IMG") + "\n", ""},
		{[]string{"path", "local:iso/x.qcow2"}, 255, "", "unable to parse directory volume name 'iso/x.qcow2'"},
		{[]string{"path", "local-lvm:iso/x.iso"}, 255, "", "unable to parse lvm volume name 'iso/x.iso'"},
		{[]string{"path", "nosuch:iso/x.iso"}, 255, "", "storage 'nosuch' does not exist"},
		{[]string{"path", "x.iso"}, 255, "", "unable to parse volume ID 'x.iso'"},
		{[]string{"status", "--storage", "backups", "--content", "iso"}, 255, "", "storage: No such storage."},
		{[]string{"status", "--storage", "backups", "--content", "backup"}, 0, "backups", ""},
		{[]string{"status", "--storage", "old", "--content", "iso"}, 255, "", "No such storage"},
	} {
		res := scriptRunArgv(t, f.dir, f.env(), append([]string{bash, pvesm}, tc.args...))
		if res.code != tc.code || !strings.Contains(res.stdout, tc.out) || !strings.Contains(res.stderr, tc.err) {
			t.Errorf("pvesm %q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				tc.args, res.code, res.stdout, res.stderr, tc.code, tc.out, tc.err)
		}
	}
}

// `pvesm path` failing or answering something unusable after the storage
// check (e.g. a file name the storage cannot hold) is an error too.
func TestScriptUploadISO_PvesmPathFails(t *testing.T) {
	f := newUploadFixture(t)
	// Same storage id, but now an LVM storage with ISO content listed: status
	// passes, path fails like LvmThinPlugin::parse_volname.
	scriptWriteFile(t, filepath.Join(f.dir, "storage.cfg"), "local lvmthin iso,images active -\n")
	res := scriptRun(t, f.dir, f.env(), "upload-iso.sh", "create")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1", res.code)
	}
	scriptMustContain(t, "stderr", res.stderr, "unable to parse lvm volume name", "cannot resolve local:iso/"+uploadFileName,
		"'pvesm path' failed (exit 255", "file-based storage")
	cmds := uploadRemoteCommands(f.calls(t))
	if len(cmds) != 2 || !strings.HasPrefix(cmds[1], "pvesm path ") {
		t.Errorf("ssh calls %q, want status then path only", cmds)
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

func TestScriptUploadISO_Usage(t *testing.T) {
	f := newUploadFixture(t)
	for _, args := range [][]string{nil, {"upload"}, {"create", "delete"}, {"--help"}} {
		res := scriptRun(t, f.dir, f.env(), "upload-iso.sh", args...)
		if res.code != 2 {
			t.Errorf("args %q: exit %d, want 2", args, res.code)
		}
		if !strings.Contains(res.stderr, "usage: upload-iso.sh create|delete") || res.stdout != "" {
			t.Errorf("args %q: stdout %q, stderr %q", args, res.stdout, res.stderr)
		}
		if calls := f.calls(t); len(calls) != 0 {
			t.Errorf("args %q: ssh called: %q", args, calls)
		}
	}
}

// The port range ends are accepted, and a leading zero is not octal.
func TestScriptUploadISO_PortBounds(t *testing.T) {
	for port, want := range map[string]string{"1": "1", "65535": "65535", "0022": "22", "08": "8"} {
		f := newUploadFixture(t)
		res := scriptRun(t, f.dir, f.env("NIXLAB_SSH_PORT="+port), "upload-iso.sh", "create")
		if res.code != 0 {
			t.Errorf("port %s: exit %d", port, res.code)
			continue
		}
		for _, call := range f.calls(t) {
			if !slices.ContainsFunc(uploadOptPairs(call), func(p [2]string) bool { return p == [2]string{"-p", want} }) {
				t.Errorf("port %s: call %q lacks -p %s", port, call, want)
			}
		}
	}
}

// Each ssh step that fails stops the script with an error naming the step,
// and nothing claims success.
func TestScriptUploadISO_SSHStepFails(t *testing.T) {
	for _, tc := range []struct {
		action, fail, want string
		existing           bool // the ISO is already on the host
	}{
		{"create", "pvesm status", "'pvesm status' exit 255", false},
		{"create", "pvesm path", "'pvesm path' failed (exit 255", false},
		{"create", "if test -f", "cannot check for an existing", false},
		{"create", "cat > ", "failed (ssh exit 255", false},
		{"create", "mv -f", "cannot move", false},
		{"delete", "rm -f", "cannot remove", true},
	} {
		t.Run(tc.action+" "+tc.fail, func(t *testing.T) {
			f := newUploadFixture(t)
			if tc.existing {
				scriptWriteFile(t, f.dest(), "iso")
			}
			res := scriptRun(t, f.dir, f.env("FAKE_SSH_FAIL="+tc.fail), "upload-iso.sh", tc.action)
			if res.code != 1 {
				t.Fatalf("exit %d, want 1", res.code)
			}
			if res.stdout != "" {
				t.Errorf("stdout %q, want nothing", res.stdout)
			}
			scriptMustContain(t, "stderr", res.stderr, "closed by remote host", tc.want)
			if tc.action == "create" {
				if _, err := os.Stat(f.dest()); !os.IsNotExist(err) {
					t.Errorf("the ISO is in place after a failed upload (%v)", err)
				}
			}
		})
	}
}

func TestScriptUploadISO_ISOPathMissing(t *testing.T) {
	f := newUploadFixture(t)
	for env, want := range map[string]string{
		"NIXLAB_ISO_PATH=": "NIXLAB_ISO_PATH is not set",
		"NIXLAB_ISO_PATH=" + filepath.Join(f.dir, "no.iso"): "does not exist or is not a readable file",
		"NIXLAB_ISO_PATH=" + f.dir:                          "does not exist or is not a readable file",
	} {
		res := scriptRun(t, f.dir, f.env(env), "upload-iso.sh", "create")
		if res.code != 1 || !strings.Contains(res.stderr, want) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", env, res.code, res.stderr, want)
		}
		if calls := f.calls(t); len(calls) != 0 {
			t.Errorf("%s: ssh called: %q", env, calls)
		}
	}
}

// The header of `pvesm status` is not a storage, even for a storage called
// "Name" (a valid storage ID).
func TestScriptUploadISO_StorageNamedLikeTheHeader(t *testing.T) {
	f := newUploadFixture(t)
	// Proxmox creates template/iso when it activates a dir storage
	// (PVE::Storage::Plugin::activate_storage).
	if err := os.MkdirAll(filepath.Join(f.dir, "name", "template", "iso"), 0o755); err != nil {
		t.Fatal(err)
	}
	res := scriptRun(t, f.dir, f.env("NIXLAB_STORAGE=Name"), "upload-iso.sh", "create")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if res.stdout != "Name:iso/"+uploadFileName+"\n" {
		t.Errorf("stdout %q", res.stdout)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "name", "template", "iso", uploadFileName)); err != nil {
		t.Errorf("ISO not uploaded into the storage's iso directory: %v", err)
	}
}

// A `pvesm status` that succeeds without listing the storage (not what
// pve-storage does, but what an output format change would look like) is an
// error, not a pass.
func TestScriptUploadISO_StatusWithoutTheStorage(t *testing.T) {
	f := newUploadFixture(t)
	testutil.WriteFake(t, f.fakeBin, "pvesm", `
if [[ "$1" == status ]]; then printf 'Name Type Status\n'; exit 0; fi
echo "unexpected: $*" >&2
exit 2
`)
	res := scriptRun(t, f.dir, f.env(), "upload-iso.sh", "create")
	if res.code != 1 || !strings.Contains(res.stderr, "storage not listed") {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
	if cmds := uploadRemoteCommands(f.calls(t)); len(cmds) != 1 {
		t.Errorf("ssh calls after the status check: %q", cmds)
	}
}

// An answer of `pvesm path` that is no absolute path ending in the file name
// (not what pve-storage prints, but what a plugin with another layout could)
// stops the upload before anything is written.
func TestScriptUploadISO_UnexpectedPath(t *testing.T) {
	for _, answer := range []string{"relative/" + uploadFileName, "/var/lib/vz/template/iso/other.iso", "/a/" + uploadFileName + "\n/b/" + uploadFileName} {
		f := newUploadFixture(t)
		testutil.WriteFake(t, f.fakeBin, "pvesm", `
if [[ "$1" == status ]]; then printf 'Name Type Status\nlocal dir active 1 1 1 1%%\n'; exit 0; fi
printf '%s\n' "$FAKE_PATH_ANSWER"
`)
		res := scriptRun(t, f.dir, f.env("FAKE_PATH_ANSWER="+answer), "upload-iso.sh", "create")
		if res.code != 1 || !strings.Contains(res.stderr, "unexpected answer from 'pvesm path local:iso/"+uploadFileName) {
			t.Errorf("answer %q: exit %d, stderr %q", answer, res.code, res.stderr)
		}
		if cmds := uploadRemoteCommands(f.calls(t)); len(cmds) != 2 {
			t.Errorf("answer %q: ssh calls after pvesm path: %q", answer, cmds)
		}
	}
}

// A key file path that is a directory is no key file.
func TestScriptUploadISO_KeyFileIsADirectory(t *testing.T) {
	f := newUploadFixture(t)
	res := scriptRun(t, f.dir, f.env("NIXLAB_SSH_KEY_FILE="+f.dir), "upload-iso.sh", "create")
	if res.code != 1 || !strings.Contains(res.stderr, "NIXLAB_SSH_KEY_FILE) does not exist or is not readable") {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
}

// Sizes in the log: bytes below a MiB, MiB with two decimals from 1 MiB on.
func TestScriptUploadISO_LogsTheSize(t *testing.T) {
	for size, want := range map[int64]string{1048575: "(1048575 bytes)", 1048576: "(1.00 MiB)", 1572864: "(1.50 MiB)"} {
		f := newUploadFixture(t)
		if err := os.Truncate(f.iso, size); err != nil {
			t.Fatal(err)
		}
		res := scriptRun(t, f.dir, f.env(), "upload-iso.sh", "create")
		if res.code != 0 || !strings.Contains(res.stderr, "uploading "+f.iso+" "+want) {
			t.Errorf("size %d: exit %d, want %q in stderr %q", size, res.code, want, res.stderr)
		}
	}
}
