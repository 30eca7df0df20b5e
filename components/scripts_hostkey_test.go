package components_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/internal/testutil"
)

// scriptFakeKeyscan stands in for OpenSSH's ssh-keyscan as
// openssh-portable ssh-keyscan.c (V_9_2_P1) behaves: the server's banner is
// reported as a comment on stderr (congreet: "# host:port SSH-2.0-..."),
// every key as "<host> <type> <base64>" on stdout (keyprint, with
// "[host]:port" for a port other than 22), and an unreachable host is an
// error on stderr with nothing on stdout and exit status 1 (as the real
// OpenSSH 9.2p1 ssh-keyscan does, also when the host offers no key of the
// asked type; TestScriptHostKey_RealKeyscan runs it). FAKE_KEYSCAN_OUT is
// printed as the key lines, a non-zero FAKE_KEYSCAN_EXIT makes it fail; the
// argv is logged to FAKE_KEYSCAN_LOG.
const scriptFakeKeyscan = `
printf '%s\n' "$@" >"$FAKE_KEYSCAN_LOG"
host="${!#}"
if [[ "${FAKE_KEYSCAN_EXIT:-0}" != 0 ]]; then
  echo "$host: Connection refused" >&2
  exit "$FAKE_KEYSCAN_EXIT"
fi
echo "# $host:22 SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3" >&2
printf '%s' "${FAKE_KEYSCAN_OUT:-}"
`

const (
	hkBlobA = "AAAAC3NzaC1lZDI1NTE5AAAAIJzbjOvVYvdEcAUy1V5RRl0HI9Fhrj7uu9gCwM+0bUFN"
	hkBlobB = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C7rvMydKXx8dZNlv"
	hkRSA   = "AAAAB3NzaC1yc2EAAAADAQABAAABAQC7"
)

func TestScriptHostKey_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "host-key.sh")
}

func TestScriptHostKey_FakeKeyscan(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     []string
		out     string // ssh-keyscan's stdout
		exit    string
		want    string   // stdout of host-key.sh; "" means it must fail
		wantErr []string // on stderr
		argv    []string // ssh-keyscan's arguments
	}{
		{
			name: "one ed25519 key",
			out:  "192.168.1.5 ssh-ed25519 " + hkBlobA + "\n",
			want: "ssh-ed25519 " + hkBlobA + "\n",
			argv: []string{"-T", "15", "-t", "ed25519", "-p", "22", "--", "192.168.1.5"},
		},
		{
			name: "other port, comments, blank lines and CRLF",
			env:  []string{"NIXLAB_SSH_PORT=2222", "NIXLAB_KEYSCAN_TIMEOUT=3"},
			out:  "# [192.168.1.5]:2222 SSH-2.0-OpenSSH_9.2\n\n[192.168.1.5]:2222 ssh-ed25519 " + hkBlobA + "\r\n",
			want: "ssh-ed25519 " + hkBlobA + "\n",
			argv: []string{"-T", "3", "-t", "ed25519", "-p", "2222", "--", "192.168.1.5"},
		},
		{
			name: "several key types: the ed25519 one",
			out: "192.168.1.5 ssh-rsa " + hkRSA + "\n192.168.1.5 ssh-ed25519 " + hkBlobA +
				"\n192.168.1.5 ecdsa-sha2-nistp256 AAAAE2VjZHNh\n",
			want: "ssh-ed25519 " + hkBlobA + "\n",
		},
		{
			name: "the same key twice",
			out:  "192.168.1.5 ssh-ed25519 " + hkBlobA + "\n192.168.1.5 ssh-ed25519 " + hkBlobA + "\n",
			want: "ssh-ed25519 " + hkBlobA + "\n",
		},
		{
			name:    "nothing",
			out:     "",
			wantErr: []string{"no ed25519 host key from 192.168.1.5:22", "nixlab:proxmox.ssh.host"},
		},
		{
			name:    "only an RSA key",
			out:     "192.168.1.5 ssh-rsa " + hkRSA + "\n",
			wantErr: []string{"offers no ed25519 host key", "nixlab:proxmox.ssh.hostKey"},
		},
		{
			name:    "two different ed25519 keys",
			out:     "192.168.1.5 ssh-ed25519 " + hkBlobA + "\n192.168.1.5 ssh-ed25519 " + hkBlobB + "\n",
			wantErr: []string{"more than one different ssh-ed25519 key"},
		},
		{
			name:    "malformed key",
			out:     "192.168.1.5 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIshort\n",
			wantErr: []string{"malformed ssh-ed25519 key", "not recording it"},
		},
		{
			name:    "ssh-keyscan fails",
			exit:    "1",
			wantErr: []string{"Connection refused", "no ed25519 host key from 192.168.1.5:22 (ssh-keyscan -t ed25519 -p 22 192.168.1.5 exit 1", "nixlab:proxmox.ssh.hostKey"},
		},
		{
			name:    "bad port",
			env:     []string{"NIXLAB_SSH_PORT=70000"},
			wantErr: []string{"invalid ssh port '70000' (NIXLAB_SSH_PORT)"},
		},
		{
			name:    "option-like host",
			env:     []string{"NIXLAB_SSH_HOST=-oProxyCommand=x"},
			wantErr: []string{"invalid ssh host"},
		},
		{
			name:    "no host",
			env:     []string{"NIXLAB_SSH_HOST="},
			wantErr: []string{"NIXLAB_SSH_HOST is not set"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			testutil.WriteFake(t, bin, "ssh-keyscan", scriptFakeKeyscan)
			log := filepath.Join(dir, "keyscan.log")
			env := []string{
				"PATH=" + testutil.PathWith(bin), "HOME=" + dir,
				"FAKE_KEYSCAN_LOG=" + log, "FAKE_KEYSCAN_OUT=" + tc.out, "FAKE_KEYSCAN_EXIT=" + tc.exit,
				"NIXLAB_SSH_HOST=192.168.1.5",
			}
			for _, e := range tc.env {
				key := e[:strings.Index(e, "=")+1]
				env = slices.DeleteFunc(env, func(s string) bool { return strings.HasPrefix(s, key) })
				env = append(env, e)
			}
			res := scriptRun(t, dir, env, "host-key.sh")
			if tc.want == "" {
				if res.code == 0 {
					t.Fatalf("succeeded, printing %q", res.stdout)
				}
				if res.stdout != "" {
					t.Errorf("a failed scan printed %q on stdout", res.stdout)
				}
				scriptMustContain(t, "stderr", res.stderr, tc.wantErr...)
				return
			}
			if res.code != 0 || res.stdout != tc.want {
				t.Fatalf("exit %d, stdout %q; want 0 and %q", res.code, res.stdout, tc.want)
			}
			// What the stack records passes the same check as a configured key.
			if err := components.CheckHostKey(res.stdout); err != nil {
				t.Errorf("recorded key fails CheckHostKey: %v", err)
			}
			if tc.argv != nil {
				if got := strings.Fields(scriptReadFile(t, log)); !slices.Equal(got, tc.argv) {
					t.Errorf("ssh-keyscan argv = %q, want %q", got, tc.argv)
				}
			}
		})
	}
}

// TestScriptHostKey_RealKeyscan runs host-key.sh with the real ssh-keyscan
// against an SSH server on loopback (golang.org/x/crypto/ssh) that holds an
// RSA and an ed25519 host key: the script records the ed25519 one. A server
// with only an RSA key yields a clear error.
func TestScriptHostKey_RealKeyscan(t *testing.T) {
	keyscan := testutil.RequireTool(t, "ssh-keyscan")
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edSigner, err := ssh.NewSignerFromKey(edPriv)
	if err != nil {
		t.Fatal(err)
	}
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaSigner, err := ssh.NewSignerFromKey(rsaPriv)
	if err != nil {
		t.Fatal(err)
	}
	bin := scriptToolDir(t, "bash", "cat")
	if err := os.Symlink(keyscan, filepath.Join(bin, "ssh-keyscan")); err != nil {
		t.Fatal(err)
	}
	if keygen, err := exec.LookPath("ssh-keygen"); err == nil {
		if err := os.Symlink(keygen, filepath.Join(bin, "ssh-keygen")); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("ed25519 and rsa", func(t *testing.T) {
		port := hkServe(t, rsaSigner, edSigner)
		res := scriptRun(t, t.TempDir(), []string{"PATH=" + bin, "NIXLAB_SSH_HOST=127.0.0.1",
			"NIXLAB_SSH_PORT=" + strconv.Itoa(port), "NIXLAB_KEYSCAN_TIMEOUT=5"}, "host-key.sh")
		want := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(edSigner.PublicKey())), "\n") + "\n"
		if res.code != 0 || res.stdout != want {
			t.Fatalf("exit %d, stdout %q; want the server's ed25519 key %q", res.code, res.stdout, want)
		}
		// The fingerprint to compare on the host's console, when ssh-keygen
		// is there.
		if _, err := os.Stat(filepath.Join(bin, "ssh-keygen")); err == nil {
			scriptMustContain(t, "stderr", res.stderr, "fingerprint is "+ssh.FingerprintSHA256(edSigner.PublicKey()))
		}
	})
	t.Run("rsa only", func(t *testing.T) {
		port := hkServe(t, rsaSigner)
		res := scriptRun(t, t.TempDir(), []string{"PATH=" + bin, "NIXLAB_SSH_HOST=127.0.0.1",
			"NIXLAB_SSH_PORT=" + strconv.Itoa(port), "NIXLAB_KEYSCAN_TIMEOUT=5"}, "host-key.sh")
		if res.code == 0 || res.stdout != "" {
			t.Fatalf("exit %d, stdout %q; want a failure", res.code, res.stdout)
		}
		scriptMustContain(t, "stderr", res.stderr, "no ed25519 host key from 127.0.0.1:"+strconv.Itoa(port))
	})
}

// hkServe runs an SSH server on a loopback port with the given host keys
// until the test ends; it only completes key exchanges.
func hkServe(t *testing.T, hostKeys ...ssh.Signer) int {
	t.Helper()
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	for _, k := range hostKeys {
		cfg.AddHostKey(k)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if conn, chans, reqs, err := ssh.NewServerConn(c, cfg); err == nil {
					go ssh.DiscardRequests(reqs)
					for ch := range chans {
						_ = ch.Reject(ssh.Prohibited, "test server")
					}
					_ = conn.Close()
				}
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// scriptFakeSSHRefused logs its argv to FAKE_SSH_LOG and fails as ssh does
// when the host refuses the connection (exit 255): upload-iso.sh stops at
// its first ssh call, whose options are then known.
const scriptFakeSSHRefused = `
printf '%s\n' "$@" >"$FAKE_SSH_LOG"
echo "ssh: connect to host 127.0.0.1 port 22: Connection refused" >&2
exit 255
`

// TestScriptUploadISO_KeyFileLeavesAgentOut: with a key file, upload-iso.sh
// tells ssh to use that key only and not to contact any agent
// (IdentityAgent=none), so a stale SSH_AUTH_SOCK plays no part; without one
// it relies on the agent and passes neither option. The pinned host key is
// checked strictly in both cases, and both actions pass the same options.
func TestScriptUploadISO_KeyFileLeavesAgentOut(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFake(t, bin, "ssh", scriptFakeSSHRefused)
	key := filepath.Join(dir, "id_ed25519")
	scriptWriteFile(t, key, "not a real key")
	iso := filepath.Join(dir, "nixos.iso")
	scriptWriteFile(t, iso, "iso")
	log := filepath.Join(dir, "ssh.log")
	base := []string{
		"PATH=" + testutil.PathWith(bin), "HOME=" + dir, "FAKE_SSH_LOG=" + log,
		"NIXLAB_ISO_PATH=" + iso, "NIXLAB_SSH_HOST=127.0.0.1", "NIXLAB_SSH_PORT=22",
		"NIXLAB_STORAGE=local", "NIXLAB_ISO_FILE_NAME=nixlab-0123456789abcdef.iso",
		"NIXLAB_SSH_HOST_KEY=ssh-ed25519 " + hkBlobA,
	}
	for _, tc := range []struct {
		name      string
		env       []string
		want      [][]string
		forbidden []string
	}{
		{
			name: "key file, stale agent socket",
			env:  []string{"SSH_AUTH_SOCK=" + filepath.Join(dir, "gone", "agent.sock"), "NIXLAB_SSH_KEY_FILE=" + key},
			want: [][]string{{"-i", key}, {"-o", "IdentitiesOnly=yes"}, {"-o", "IdentityAgent=none"},
				{"-o", "StrictHostKeyChecking=yes"}, {"-o", "BatchMode=yes"}},
			forbidden: []string{"StrictHostKeyChecking=accept-new"},
		},
		{
			name:      "agent",
			env:       []string{"SSH_AUTH_SOCK=" + filepath.Join(dir, "agent.sock")},
			want:      [][]string{{"-o", "StrictHostKeyChecking=yes"}, {"-o", "BatchMode=yes"}},
			forbidden: []string{"IdentityAgent=none", "IdentitiesOnly=yes", "-i", "StrictHostKeyChecking=accept-new"},
		},
	} {
		for _, action := range []string{"create", "delete"} {
			t.Run(tc.name+"/"+action, func(t *testing.T) {
				_ = os.Remove(log)
				res := scriptRun(t, dir, append(slices.Clone(base), tc.env...), "upload-iso.sh", action)
				if res.code == 0 {
					t.Fatal("succeeded although ssh failed")
				}
				argv := strings.Split(strings.TrimSuffix(scriptReadFile(t, log), "\n"), "\n")
				for _, w := range tc.want {
					if !hkHasPair(argv, w) {
						t.Errorf("ssh argv %q lacks %q", argv, w)
					}
				}
				for _, bad := range tc.forbidden {
					if slices.Contains(argv, bad) {
						t.Errorf("ssh argv %q has %q", argv, bad)
					}
				}
			})
		}
	}
}

func hkHasPair(argv, pair []string) bool {
	for i := 0; i+len(pair) <= len(argv); i++ {
		if slices.Equal(argv[i:i+len(pair)], pair) {
			return true
		}
	}
	return false
}

// hkRunFake runs host-key.sh with the fake ssh-keyscan answering one
// ed25519 key for 192.168.1.5, the given settings on top, and PATH made of
// the fake's directory followed by path (the system PATH when empty). It
// returns the result and ssh-keyscan's argv (nil when it never ran).
func hkRunFake(t *testing.T, path string, settings ...string) (scriptResult, []string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFake(t, bin, "ssh-keyscan", scriptFakeKeyscan)
	log := filepath.Join(dir, "keyscan.log")
	if path == "" {
		path = os.Getenv("PATH")
	}
	env := []string{
		"PATH=" + bin + string(os.PathListSeparator) + path, "HOME=" + dir,
		"FAKE_KEYSCAN_LOG=" + log, "FAKE_KEYSCAN_OUT=192.168.1.5 ssh-ed25519 " + hkBlobA + "\n",
		"NIXLAB_SSH_HOST=192.168.1.5",
	}
	for _, e := range settings {
		key := e[:strings.Index(e, "=")+1]
		env = slices.DeleteFunc(env, func(s string) bool { return strings.HasPrefix(s, key) })
		env = append(env, e)
	}
	res := scriptRun(t, dir, env, "host-key.sh")
	if _, err := os.Stat(log); err != nil {
		return res, nil
	}
	return res, strings.Fields(scriptReadFile(t, log))
}

// TestScriptHostKey_Settings: every accepted host, port and timeout reaches
// ssh-keyscan as given (a port in its decimal form), the bounds included;
// every rejected one fails naming the setting, before ssh-keyscan runs and
// with nothing on stdout.
func TestScriptHostKey_Settings(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings []string
		argv     []string // ssh-keyscan's; nil: must be rejected
		wantErr  string
	}{
		{name: "host name", settings: []string{"NIXLAB_SSH_HOST=pve-1.lab.example"},
			argv: []string{"-T", "15", "-t", "ed25519", "-p", "22", "--", "pve-1.lab.example"}},
		{name: "IPv6 host", settings: []string{"NIXLAB_SSH_HOST=fe80::1%vmbr0"},
			argv: []string{"-T", "15", "-t", "ed25519", "-p", "22", "--", "fe80::1%vmbr0"}},
		{name: "lowest port", settings: []string{"NIXLAB_SSH_PORT=1"},
			argv: []string{"-T", "15", "-t", "ed25519", "-p", "1", "--", "192.168.1.5"}},
		{name: "highest port", settings: []string{"NIXLAB_SSH_PORT=65535"},
			argv: []string{"-T", "15", "-t", "ed25519", "-p", "65535", "--", "192.168.1.5"}},
		{name: "port with leading zero", settings: []string{"NIXLAB_SSH_PORT=022"},
			argv: []string{"-T", "15", "-t", "ed25519", "-p", "22", "--", "192.168.1.5"}},
		{name: "shortest timeout", settings: []string{"NIXLAB_KEYSCAN_TIMEOUT=1"},
			argv: []string{"-T", "1", "-t", "ed25519", "-p", "22", "--", "192.168.1.5"}},
		{name: "longest timeout", settings: []string{"NIXLAB_KEYSCAN_TIMEOUT=9999"},
			argv: []string{"-T", "9999", "-t", "ed25519", "-p", "22", "--", "192.168.1.5"}},

		{name: "host with a space", settings: []string{"NIXLAB_SSH_HOST=pve 1"}, wantErr: "invalid ssh host 'pve 1' (NIXLAB_SSH_HOST)"},
		{name: "host with a shell character", settings: []string{"NIXLAB_SSH_HOST=pve;reboot"}, wantErr: "invalid ssh host 'pve;reboot' (NIXLAB_SSH_HOST)"},
		{name: "host that is an option", settings: []string{"NIXLAB_SSH_HOST=-v"}, wantErr: "invalid ssh host '-v' (NIXLAB_SSH_HOST)"},
		{name: "port 0", settings: []string{"NIXLAB_SSH_PORT=0"}, wantErr: "invalid ssh port '0' (NIXLAB_SSH_PORT): use 1-65535"},
		{name: "port 65536", settings: []string{"NIXLAB_SSH_PORT=65536"}, wantErr: "invalid ssh port '65536' (NIXLAB_SSH_PORT): use 1-65535"},
		{name: "port not a number", settings: []string{"NIXLAB_SSH_PORT=ssh"}, wantErr: "invalid ssh port 'ssh' (NIXLAB_SSH_PORT): use 1-65535"},
		{name: "port with six digits", settings: []string{"NIXLAB_SSH_PORT=000022"}, wantErr: "invalid ssh port '000022' (NIXLAB_SSH_PORT): use 1-65535"},
		{name: "timeout 0", settings: []string{"NIXLAB_KEYSCAN_TIMEOUT=0"}, wantErr: "invalid timeout '0' (NIXLAB_KEYSCAN_TIMEOUT): use 1-9999 seconds"},
		{name: "timeout 10000", settings: []string{"NIXLAB_KEYSCAN_TIMEOUT=10000"}, wantErr: "invalid timeout '10000' (NIXLAB_KEYSCAN_TIMEOUT): use 1-9999 seconds"},
		{name: "timeout with a unit", settings: []string{"NIXLAB_KEYSCAN_TIMEOUT=15s"}, wantErr: "invalid timeout '15s' (NIXLAB_KEYSCAN_TIMEOUT): use 1-9999 seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, argv := hkRunFake(t, "", tc.settings...)
			if tc.argv == nil {
				if res.code != 1 || res.stdout != "" {
					t.Fatalf("exit %d, stdout %q; want 1 and nothing", res.code, res.stdout)
				}
				scriptMustContain(t, "stderr", res.stderr, tc.wantErr)
				if argv != nil {
					t.Errorf("ssh-keyscan ran (%q) although the settings are invalid", argv)
				}
				return
			}
			if res.code != 0 || res.stdout != "ssh-ed25519 "+hkBlobA+"\n" {
				t.Fatalf("exit %d, stdout %q; want 0 and the key", res.code, res.stdout)
			}
			if !slices.Equal(argv, tc.argv) {
				t.Errorf("ssh-keyscan argv = %q, want %q", argv, tc.argv)
			}
		})
	}
}

// TestScriptHostKey_NoKeyscan: without ssh-keyscan the script says what to
// install or configure instead of failing on a missing command.
func TestScriptHostKey_NoKeyscan(t *testing.T) {
	path := scriptToolDir(t, "bash")
	res := scriptRun(t, t.TempDir(), []string{"PATH=" + path, "NIXLAB_SSH_HOST=192.168.1.5"}, "host-key.sh")
	if res.code != 1 || res.stdout != "" {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing", res.code, res.stdout)
	}
	scriptMustContain(t, "stderr", res.stderr, "ssh-keyscan is not installed", "nixlab:proxmox.ssh.hostKey")
}

// scriptFakeOldKeygen is an ssh-keygen from before OpenSSH 6.8, which
// added -E (release notes of 6.8; openssh-portable ssh-keygen.c V_6_6_P1:
// getopt without 'E', so "unknown option -- E", then usage(), which prints
// the usage on stderr and exit(1)s).
const scriptFakeOldKeygen = `
echo "ssh-keygen: unknown option -- E" >&2
echo "usage: ssh-keygen [options]" >&2
exit 1
`

// TestScriptHostKey_Fingerprint: the fingerprint is a convenience. The key
// is recorded, with the fingerprint the real ssh-keygen computes when it is
// there, and without one when ssh-keygen is missing or cannot compute it.
func TestScriptHostKey_Fingerprint(t *testing.T) {
	blob, err := base64.StdEncoding.DecodeString(hkBlobA)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.ParsePublicKey(blob)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path func(t *testing.T) string // the PATH after the fake ssh-keyscan
		fp   bool
	}{
		{"no ssh-keygen", func(t *testing.T) string { return scriptToolDir(t, "bash") }, false},
		{"ssh-keygen without -E", func(t *testing.T) string {
			dir := scriptToolDir(t, "bash")
			testutil.WriteFake(t, dir, "ssh-keygen", scriptFakeOldKeygen)
			return dir
		}, false},
		{"real ssh-keygen", func(t *testing.T) string { return scriptToolDir(t, "bash", "ssh-keygen") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := hkRunFake(t, tc.path(t))
			if res.code != 0 || res.stdout != "ssh-ed25519 "+hkBlobA+"\n" {
				t.Fatalf("exit %d, stdout %q; want 0 and the key", res.code, res.stdout)
			}
			scriptMustContain(t, "stderr", res.stderr, "recorded the ed25519 host key of 192.168.1.5:22")
			got := strings.Contains(res.stderr, "its fingerprint is")
			if got != tc.fp {
				t.Errorf("fingerprint shown: %v, want %v", got, tc.fp)
			}
			if tc.fp {
				scriptMustContain(t, "stderr", res.stderr, "its fingerprint is "+ssh.FingerprintSHA256(pub)+";")
			}
		})
	}
}
