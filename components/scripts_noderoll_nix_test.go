package components_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/internal/testutil"
)

// The store URL node-roll.sh copies to, checked with the real nix: nix
// parses it and runs, over ssh (a fake that records its arguments and
// connects nowhere), the remote program the URL names with --stdio, which
// must be the node's nix-daemon as root; the ssh options come from
// NIX_SSHOPTS.
func TestScriptNodeRoll_RealNixStoreURL(t *testing.T) {
	nix := testutil.RequireTool(t, "nix")
	text := components.ScriptText("node-roll.sh")
	m := regexp.MustCompile(`--to "ssh-ng://\$NODE_DEST(\?[^"]*)"`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("node-roll.sh copies to no ssh-ng://$NODE_DEST URL")
	}
	if !strings.Contains(text, "copy --no-check-sigs") {
		t.Error("node-roll.sh copies without --no-check-sigs: the node's daemon would refuse the unsigned closure")
	}
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fake := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >" + args + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nix, "--extra-experimental-features", "nix-command", "store", "ping",
		"--store", "ssh-ng://nixos@127.0.0.1"+m[1])
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"NIX_SSHOPTS=-i /key -o BatchMode=yes", "HOME="+dir, "XDG_CACHE_HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("nix store ping succeeded through a fake ssh that fails:\n%s", out)
	}
	got, rerr := os.ReadFile(args)
	if rerr != nil {
		t.Fatalf("nix never ran ssh (%v):\n%s", rerr, out)
	}
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if last := lines[len(lines)-1]; last != "sudo -n /run/current-system/sw/bin/nix-daemon --stdio" {
		t.Errorf("nix runs %q on the node, want the nix-daemon as root", last)
	}
	if lines[0] != "nixos@127.0.0.1" || !strings.Contains(string(got), "\n-i\n/key\n") || !strings.Contains(string(got), "\nBatchMode=yes\n") {
		t.Errorf("ssh arguments %q: want the login and the NIX_SSHOPTS options", lines)
	}
}
