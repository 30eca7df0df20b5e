package components_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/nixlab/nixlab/components"
)

// authorizedLine is key as one OpenSSH public key line without newline.
func authorizedLine(t *testing.T, key any) string {
	t.Helper()
	pub, err := ssh.NewPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(pub)), "\n")
}

func ed25519Line(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return authorizedLine(t, pub)
}

// dsaLine is an "ssh-dss" line with parameters of the sizes
// golang.org/x/crypto/ssh accepts (checkDSAParams: 1024-bit P, 160-bit Q);
// generating real DSA parameters takes seconds.
func dsaLine(t *testing.T) string {
	t.Helper()
	one := big.NewInt(1)
	p := new(big.Int).Add(new(big.Int).Lsh(one, 1023), one)
	q := new(big.Int).Add(new(big.Int).Lsh(one, 159), one)
	blob := ssh.Marshal(struct {
		Name       string
		P, Q, G, Y *big.Int
	}{ssh.KeyAlgoDSA, p, q, big.NewInt(2), big.NewInt(3)})
	pub, err := ssh.ParsePublicKey(blob)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(pub)), "\n")
}

// skLine is a security-key "sk-ssh-ed25519@openssh.com" line: a user key
// type, never a host key.
func skLine(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blob := ssh.Marshal(struct {
		Name        string
		KeyBytes    []byte
		Application string
	}{ssh.KeyAlgoSKED25519, pub, "ssh:"})
	key, err := ssh.ParsePublicKey(blob)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(key)), "\n")
}

func TestCheckHostKey(t *testing.T) {
	ed := ed25519Line(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec := authorizedLine(t, &ecKey.PublicKey)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaLine := authorizedLine(t, &rsaKey.PublicKey)
	edFields := strings.Fields(ed)
	privateKey := string(pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: []byte("very secret key material")}))
	privateBody := strings.Split(privateKey, "\n")[1]

	for _, tc := range []struct {
		name string
		key  string
		// want are substrings of the error; nil means the key is accepted.
		want []string
	}{
		{"ed25519", ed, nil},
		{"ed25519 with comment and newline", ed + " root@pve\n", nil},
		{"ed25519 surrounded by blanks", "  " + ed + "  ", nil},
		{"ecdsa p256", ec, nil},
		{"rsa", rsaLine, []string{components.HostKeySetting, "RSA", "SHA-1", "ssh-keyscan -t ed25519 <host>"}},
		{"dsa", dsaLine(t), []string{components.HostKeySetting, "DSA", "ssh-keyscan -t ed25519 <host>"}},
		{"security key", skLine(t), []string{"has type sk-ssh-ed25519@openssh.com", "ssh-ed25519"}},
		{"two lines", ed + "\n" + ed25519Line(t), []string{"more than one line"}},
		{"known_hosts line", "192.168.1.5 " + ed, []string{"known_hosts host name"}},
		{"authorized_keys options", "restrict " + ed, []string{"options"}},
		{"declared type differs from the blob", "ssh-rsa " + edFields[1], []string{"not an OpenSSH public key line"}},
		{"private key", privateKey, []string{"is a private key", "ssh-keyscan -t ed25519"}},
		{"empty", " \n", []string{"is empty"}},
		{"garbage", "hello world", []string{"not an OpenSSH public key line", "ssh-keyscan -t ed25519 <host>"}},
		{"type only", "ssh-ed25519", []string{"not an OpenSSH public key line"}},
		{"broken base64", "ssh-ed25519 AAAA!!!!", []string{"not an OpenSSH public key line"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := components.CheckHostKey(tc.key)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CheckHostKey refused a good key: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckHostKey accepted %q", tc.key)
			}
			var he *components.HostKeyError
			if !errors.As(err, &he) {
				t.Fatalf("error is %T, want *components.HostKeyError", err)
			}
			if !strings.HasPrefix(err.Error(), components.HostKeySetting+": ") || strings.Contains(he.Reason, components.HostKeySetting+":") {
				t.Errorf("error %q: want the setting named once, as prefix", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			// The rejected text is never echoed: a pasted private key
			// must not reach a log.
			for _, secret := range []string{privateBody, "very secret", "hello world", edFields[1], "AAAA!!!!"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q echoes the input (%q)", err, secret)
				}
			}
		})
	}
}
