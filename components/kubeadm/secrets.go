package kubeadm

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
)

// tokenPattern is the bootstrap token shape, k8s.io/cluster-bootstrap
// token/api/types.go BootstrapTokenPattern: a 6-character public id, a dot
// and a 16-character secret, lower-case letters and digits only.
var tokenPattern = regexp.MustCompile(`\A[a-z0-9]{6}\.[a-z0-9]{16}\z`)

// certificateKeyBytes is kubeadm's CertificateKeySize: the key that
// encrypts the uploaded control-plane certificates is an AES-256 key,
// written as 64 hex characters (cmd/kubeadm/app/apis/kubeadm/validation
// ValidateCertificateKey).
const certificateKeyBytes = 32

// caCertHashPattern is the discovery hash kubeadm prints and accepts
// (cmd/kubeadm/app/util/pubkeypin: "sha256:" and the hex SHA-256 of the
// CA's Subject Public Key Info).
var caCertHashPattern = regexp.MustCompile(`\Asha256:[0-9a-f]{64}\z`)

// CheckToken reports whether t is a bootstrap token of the form
// [a-z0-9]{6}.[a-z0-9]{16}. The error never contains the token.
func CheckToken(t string) error {
	if !tokenPattern.MatchString(t) {
		return errors.New("kubeadm: the bootstrap token is not of the form [a-z0-9]{6}.[a-z0-9]{16} (k8s.io/cluster-bootstrap BootstrapTokenPattern)")
	}
	return nil
}

// CheckCertificateKey reports whether k is a certificate key: 32 bytes as
// 64 hex characters. The error never contains the key.
func CheckCertificateKey(k string) error {
	b, err := hex.DecodeString(k)
	if err != nil {
		return errors.New("kubeadm: the certificate key is not hex encoded (kubeadm needs 32 random bytes as 64 hex characters)")
	}
	if len(b) != certificateKeyBytes {
		return fmt.Errorf("kubeadm: the certificate key has %d bytes, kubeadm needs %d (64 hex characters)", len(b), certificateKeyBytes)
	}
	return nil
}

// CheckCACertHash reports whether h is a CA certificate hash as `kubeadm
// init` prints it and kube-init.sh returns it: "sha256:" and 64 lower-case
// hex characters.
func CheckCACertHash(h string) error {
	if !caCertHashPattern.MatchString(h) {
		return fmt.Errorf("kubeadm: CA certificate hash %q is not of the form sha256:<64 hex characters>", h)
	}
	return nil
}
