package tests

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"regexp"
	"sort"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/nixlab/nixlab/stack"
)

// corpusEntry is one settings.json variation: the example settings with
// one field replaced. Both validators must agree on it.
type corpusEntry struct {
	name  string
	field string // adminUser, authorizedKeys, timezone, swapSizeGb or nfs
	value any
	// refuse says whether the entry is invalid (both must refuse it).
	refuse bool
	// goOnly, when set, says why only the Go validator can refuse the
	// entry (settings.nix has no tz database and no base64 decoder).
	goOnly string
}

// authorizedKey renders a generated public key as an authorized_keys line.
func authorizedKey(t *testing.T, pub any) string {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func generatedKeys(t *testing.T) map[string]string {
	t.Helper()
	keys := map[string]string{}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys["ed25519"] = authorizedKey(t, edPub)
	for name, curve := range map[string]elliptic.Curve{"p256": elliptic.P256(), "p384": elliptic.P384(), "p521": elliptic.P521()} {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = authorizedKey(t, &k.PublicKey)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	keys["rsa"] = authorizedKey(t, &rk.PublicKey)
	return keys
}

func nfsWith(server, export, mountPoint string, options ...string) map[string]any {
	m := map[string]any{"server": server, "export": export, "mountPoint": mountPoint}
	if options != nil {
		m["options"] = options
	}
	return m
}

func corpus(t *testing.T) []corpusEntry {
	keys := generatedKeys(t)
	ed := keys["ed25519"]
	edBlob := strings.Fields(ed)[1]
	rsaBlob := strings.Fields(keys["rsa"])[1]
	entries := []corpusEntry{
		// Admin user: form, root and system accounts (rules.json).
		{"user nixos", "adminUser", "nixos", false, ""},
		{"user ops", "adminUser", "ops", false, ""},
		{"user _svc", "adminUser", "_svc", false, ""},
		{"user of 32", "adminUser", strings.Repeat("a", 32), false, ""},
		{"user of 33", "adminUser", strings.Repeat("a", 33), true, ""},
		{"user root", "adminUser", "root", true, ""},
		{"user nobody", "adminUser", "nobody", true, ""},
		{"user sshd", "adminUser", "sshd", true, ""},
		{"user messagebus", "adminUser", "messagebus", true, ""},
		{"user nixbld", "adminUser", "nixbld", true, ""},
		{"user nixbld12", "adminUser", "nixbld12", true, ""},
		{"user nixbldx", "adminUser", "nixbldx", false, ""},
		{"user upper case", "adminUser", "Admin", true, ""},
		// Time zones.
		{"zone UTC", "timezone", "UTC", false, ""},
		{"zone Europe/Berlin", "timezone", "Europe/Berlin", false, ""},
		{"zone Etc/GMT+5", "timezone", "Etc/GMT+5", false, ""},
		{"zone with a space", "timezone", "Europe Berlin", true, ""},
		{"zone as a path", "timezone", "../etc/passwd", true, ""},
		{"zone Local", "timezone", "Local", true, ""},
		{"zone unknown", "timezone", "Mars/Olympus_Mons", true, "the tz database is not available to settings.nix"},
		// Public keys.
		{"key ed25519", "authorizedKeys", []string{ed + " me@lab"}, false, ""},
		{"key ecdsa p256", "authorizedKeys", []string{keys["p256"]}, false, ""},
		{"key ecdsa p384", "authorizedKeys", []string{keys["p384"]}, false, ""},
		{"key ecdsa p521", "authorizedKeys", []string{keys["p521"]}, false, ""},
		{"key rsa", "authorizedKeys", []string{keys["rsa"]}, false, ""},
		{"key ed25519 truncated", "authorizedKeys", []string{"ssh-ed25519 " + edBlob[:40]}, true, ""},
		{"key ed25519 one character long", "authorizedKeys", []string{"ssh-ed25519 " + edBlob + "A"}, true, ""},
		{"key under another type", "authorizedKeys", []string{"ssh-rsa " + edBlob}, true, ""},
		{"key with options", "authorizedKeys", []string{`from="10.0.0.1" ` + ed}, true, ""},
		{"key without blob", "authorizedKeys", []string{"ssh-ed25519"}, true, ""},
		{"key unknown type", "authorizedKeys", []string{"ssh-dss " + edBlob}, true, ""},
		{"key rsa truncated", "authorizedKeys", []string{"ssh-rsa " + rsaBlob[:len(rsaBlob)-20]}, true, "settings.nix does not decode the base64 of variable-length keys"},
		{"key private", "authorizedKeys", []string{"-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjE"}, true, ""},
		// Swap.
		{"swap 0", "swapSizeGb", 0, false, ""},
		{"swap at the bound", "swapSizeGb", stack.MaxSwapSizeGB, false, ""},
		{"swap past the bound", "swapSizeGb", stack.MaxSwapSizeGB + 1, true, ""},
		{"swap negative", "swapSizeGb", -1, true, ""},
		// NFS servers.
		{"server IPv4", "nfs", nfsWith("192.168.1.4", "/v", "/mnt/nfs"), false, ""},
		{"server name", "nfs", nfsWith("nas", "/v", "/mnt/nfs"), false, ""},
		{"server FQDN", "nfs", nfsWith("nas.lab.example", "/v", "/mnt/nfs"), false, ""},
		{"server IPv6", "nfs", nfsWith("fd00::4", "/v", "/mnt/nfs"), false, ""},
		{"server IPv6 in brackets", "nfs", nfsWith("[fd00::4]", "/v", "/mnt/nfs"), false, ""},
		{"server IPv6 full", "nfs", nfsWith("1:2:3:4:5:6:7:8", "/v", "/mnt/nfs"), false, ""},
		{"server IPv6 nine groups", "nfs", nfsWith("1:2:3:4:5:6:7:8:9", "/v", "/mnt/nfs"), true, ""},
		{"server IPv6 seven and ::", "nfs", nfsWith("1:2:3:4:5:6:7::", "/v", "/mnt/nfs"), false, ""},
		{"server IPv6 two ::", "nfs", nfsWith("fd00::4::1", "/v", "/mnt/nfs"), true, ""},
		{"server IPv6 mapped IPv4", "nfs", nfsWith("::ffff:192.168.1.4", "/v", "/mnt/nfs"), false, ""},
		{"server IPv6 with a zone", "nfs", nfsWith("fe80::1%eth0", "/v", "/mnt/nfs"), true, ""},
		{"server IPv6 group of 5", "nfs", nfsWith("fd00::12345", "/v", "/mnt/nfs"), true, ""},
		{"server unbalanced bracket", "nfs", nfsWith("[fd00::4", "/v", "/mnt/nfs"), true, ""},
		{"server name in brackets", "nfs", nfsWith("[nas]", "/v", "/mnt/nfs"), true, ""},
		{"server IPv4 octet 256", "nfs", nfsWith("192.168.1.256", "/v", "/mnt/nfs"), true, ""},
		{"server IPv4 three parts", "nfs", nfsWith("192.168.1", "/v", "/mnt/nfs"), true, ""},
		{"server IPv4 leading zero", "nfs", nfsWith("192.168.01.4", "/v", "/mnt/nfs"), true, ""},
		{"server name starting with -", "nfs", nfsWith("-nas", "/v", "/mnt/nfs"), true, ""},
		{"server with a space", "nfs", nfsWith("nas box", "/v", "/mnt/nfs"), true, ""},
		// NFS exports.
		{"export /", "nfs", nfsWith("nas", "/", "/mnt/nfs"), false, ""},
		{"export Synology", "nfs", nfsWith("nas", "/volume1/k8s-cluster-storage", "/mnt/nfs"), false, ""},
		{"export relative", "nfs", nfsWith("nas", "volume1", "/mnt/nfs"), true, ""},
		{"export with ..", "nfs", nfsWith("nas", "/v/../etc", "/mnt/nfs"), true, ""},
		{"export trailing slash", "nfs", nfsWith("nas", "/v/", "/mnt/nfs"), true, ""},
		{"export with a space", "nfs", nfsWith("nas", "/v w", "/mnt/nfs"), true, ""},
		{"export with a comma", "nfs", nfsWith("nas", "/v,w", "/mnt/nfs"), true, ""},
		// NFS mount points over system paths.
		{"mount /mnt/nfs", "nfs", nfsWith("nas", "/v", "/mnt/nfs"), false, ""},
		{"mount /srv/nfs", "nfs", nfsWith("nas", "/v", "/srv/nfs"), false, ""},
		{"mount /opt/nfs", "nfs", nfsWith("nas", "/v", "/opt/nfs"), false, ""},
		{"mount /data", "nfs", nfsWith("nas", "/v", "/data"), false, ""},
		{"mount /", "nfs", nfsWith("nas", "/v", "/"), true, ""},
		{"mount /opt", "nfs", nfsWith("nas", "/v", "/opt"), true, ""},
		{"mount /opt/cni", "nfs", nfsWith("nas", "/v", "/opt/cni"), true, ""},
		{"mount /opt/cni/bin", "nfs", nfsWith("nas", "/v", "/opt/cni/bin"), true, ""},
		{"mount /var", "nfs", nfsWith("nas", "/v", "/var"), true, ""},
		{"mount /var/lib/nfs", "nfs", nfsWith("nas", "/v", "/var/lib/nfs"), true, ""},
		{"mount /nix/store/x", "nfs", nfsWith("nas", "/v", "/nix/store/x"), true, ""},
		{"mount /etc", "nfs", nfsWith("nas", "/v", "/etc"), true, ""},
		{"mount /home/nixos", "nfs", nfsWith("nas", "/v", "/home/nixos"), true, ""},
		{"mount /variable is not /var", "nfs", nfsWith("nas", "/v", "/variable"), false, ""},
		{"mount trailing slash", "nfs", nfsWith("nas", "/v", "/mnt/nfs/"), true, ""},
		{"mount with //", "nfs", nfsWith("nas", "/v", "/mnt//nfs"), true, ""},
		{"mount with .", "nfs", nfsWith("nas", "/v", "/mnt/./nfs"), true, ""},
		{"mount with ..", "nfs", nfsWith("nas", "/v", "/mnt/../etc"), true, ""},
		{"mount relative", "nfs", nfsWith("nas", "/v", "mnt/nfs"), true, ""},
		// NFS options.
		{"options default", "nfs", nfsWith("nas", "/v", "/mnt/nfs", "nfsvers=4.1", "hard"), false, ""},
		{"option with a comma", "nfs", nfsWith("nas", "/v", "/mnt/nfs", "hard,intr"), true, ""},
		{"option intr", "nfs", nfsWith("nas", "/v", "/mnt/nfs", "intr"), true, ""},
		{"option with a space", "nfs", nfsWith("nas", "/v", "/mnt/nfs", "nfsvers= 4"), true, ""},
	}
	return entries
}

// settingsKeyRe finds the settings key in a settings.nix error.
var settingsKeyRe = regexp.MustCompile(`nixlab settings: ([A-Za-z.]+):`)

// goSettingsKey maps a stack key to the settings.json key it renders into.
func goSettingsKey(key string) string {
	key = strings.TrimPrefix(key, stack.Namespace+":")
	switch {
	case strings.HasPrefix(key, "extraAuthorizedKeys"):
		return "authorizedKeys"
	case key == "template.swapSizeGb":
		return "swapSizeGb"
	}
	if i := strings.IndexByte(key, '['); i >= 0 {
		key = key[:i]
	}
	return key
}

// goVerdict validates the lab config with the entry's field set as the
// stack config holds it; it returns the settings keys refused.
func goVerdict(t *testing.T, e corpusEntry) []string {
	t.Helper()
	raw, err := json.Marshal(e.value)
	if err != nil {
		t.Fatal(err)
	}
	overrides := map[string]string{}
	switch e.field {
	case "adminUser", "timezone":
		overrides["nixlab:"+e.field] = e.value.(string)
	case "authorizedKeys":
		overrides["nixlab:extraAuthorizedKeys"] = string(raw)
	case "swapSizeGb":
		// A disk big enough for any swap (Go also keeps 6 GB for /, which
		// settings.nix cannot know); the groups take the template's disk.
		overrides["nixlab:template"] = `{"swapSizeGb":` + string(raw) + `,"diskSizeGb":100}`
		overrides["nixlab:nodeGroups"] = `{"cp":{"role":"control-plane","count":1,"vmIdStart":9100}}`
	case "nfs":
		overrides["nixlab:nfs"] = string(raw)
	default:
		t.Fatalf("corpus field %s", e.field)
	}
	values := labConfig(t, overrides)
	_, err = stack.ParseConfig(func(k string) (string, bool) { v, ok := values[k]; return v, ok })
	var refused []string
	for _, ke := range flatKeyErrors(err) {
		refused = append(refused, goSettingsKey(ke.Key))
	}
	sort.Strings(refused)
	return refused
}

func flatKeyErrors(err error) []*stack.KeyError {
	if err == nil {
		return nil
	}
	var ke *stack.KeyError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*stack.KeyError
		for _, e := range j.Unwrap() {
			out = append(out, flatKeyErrors(e)...)
		}
		return out
	}
	if errors.As(err, &ke) {
		return []*stack.KeyError{ke}
	}
	return []*stack.KeyError{{Key: "?", Msg: err.Error()}}
}

// nixVerdict evaluates settings.nix on the example settings with the
// entry's field set; it returns the refused settings key ("" if none).
func nixVerdict(t *testing.T, e corpusEntry) string {
	t.Helper()
	settings := map[string]any{
		"adminUser": "nixos", "authorizedKeys": []string{}, "timezone": "UTC", "disk": "/dev/sda",
		"swapSizeGb": 2, "nfs": nil, "extraModules": []string{},
	}
	settings[e.field] = e.value
	b, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, err := evalSettings(t, writeSettings(t, string(b)))
	if err == nil {
		return ""
	}
	m := settingsKeyRe.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("settings.nix failed without a settings key: %s", stderr)
	}
	return m[1]
}

// TestValidatorsAgreeOnCorpus feeds the Go validator (stack.ParseConfig)
// and the Nix one (lib/settings.nix under nix-instantiate --eval) the same
// values: both accept or both refuse, naming the same setting.
func TestValidatorsAgreeOnCorpus(t *testing.T) {
	for _, e := range corpus(t) {
		t.Run(e.name, func(t *testing.T) {
			goRefused := goVerdict(t, e)
			nixRefused := nixVerdict(t, e)
			if got := len(goRefused) > 0; got != e.refuse {
				t.Errorf("Go refuses: %v (%v), want %v", got, goRefused, e.refuse)
			}
			wantNix := e.refuse && e.goOnly == ""
			if got := nixRefused != ""; got != wantNix {
				t.Errorf("settings.nix refuses: %v (%q), want %v", got, nixRefused, wantNix)
			}
			if nixRefused != "" {
				found := false
				for _, k := range goRefused {
					found = found || k == nixRefused
				}
				if !found {
					t.Errorf("settings.nix refuses %s, Go refuses %v", nixRefused, goRefused)
				}
			}
		})
	}
}

// TestNixBracketsIPv6Servers: the mount device needs "[addr]:/export".
func TestNixBracketsIPv6Servers(t *testing.T) {
	for server, want := range map[string]string{"fd00::4": "[fd00::4]", "[fd00::4]": "[fd00::4]", "192.168.1.4": "192.168.1.4"} {
		got, stderr, err := evalSettings(t, writeSettings(t, `{"nfs":{"server":"`+server+`","export":"/v"}}`))
		if err != nil {
			t.Fatalf("%s: %v\n%s", server, err, stderr)
		}
		if s := got["nfs"].(map[string]any)["server"]; s != want {
			t.Errorf("server %s rendered as %v, want %s", server, s, want)
		}
	}
}

// settings.nix fills absent settings with the defaults the Go side uses
// (the Go side always renders every field; the Nix defaults serve
// settings.example.json and hand-written settings, and must not drift).
func TestNixDefaultsAreTheStackDefaults(t *testing.T) {
	got, stderr, err := evalSettings(t, writeSettings(t, `{"nfs":{"server":"nas","export":"/v"}}`))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	nfs := got["nfs"].(map[string]any)
	var options []string
	for _, o := range nfs["options"].([]any) {
		options = append(options, o.(string))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"adminUser", got["adminUser"], stack.DefaultAdminUser},
		{"timezone", got["timezone"], stack.DefaultTimezone},
		{"swapSizeGb", got["swapSizeGb"], float64(stack.DefaultSwapSizeGB)},
		{"nfs.mountPoint", nfs["mountPoint"], stack.DefaultNFSMountPoint},
		{"nfs.options", strings.Join(options, ","), strings.Join(stack.DefaultNFSOptions, ",")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("settings.nix default %s = %v, the stack's is %v", c.name, c.got, c.want)
		}
	}
}
