package kubeadm

import (
	"strings"
	"testing"
)

func TestClusterSpecValidate(t *testing.T) {
	good := ClusterSpec{ClusterName: "nixlab", Endpoint: labEndpoint, PodCIDR: "10.244.0.0/16", ServiceCIDR: "10.96.0.0/12"}
	cases := []struct {
		name    string
		mutate  func(*ClusterSpec)
		wantErr string // substring; "" = valid
	}{
		{"defaults", func(*ClusterSpec) {}, ""},
		{"dns endpoint", func(s *ClusterSpec) { s.Endpoint = "api.lab.example.org" }, ""},
		{"widest pod cidr /8", func(s *ClusterSpec) { s.PodCIDR = "10.0.0.0/8"; s.ServiceCIDR = "172.16.0.0/12" }, ""},
		{"narrowest pod cidr /24", func(s *ClusterSpec) { s.PodCIDR = "10.244.0.0/24" }, ""},
		{"narrowest service cidr /28", func(s *ClusterSpec) { s.ServiceCIDR = "10.96.0.0/28" }, ""},
		{"empty cluster name", func(s *ClusterSpec) { s.ClusterName = "" }, "cluster name is empty"},
		{"bad cluster name", func(s *ClusterSpec) { s.ClusterName = "Lab_1" }, "DNS-1123"},
		{"empty endpoint", func(s *ClusterSpec) { s.Endpoint = "" }, "nixlab:kubernetes.controlPlaneEndpoint is empty"},
		{"endpoint with port", func(s *ClusterSpec) { s.Endpoint = "192.0.2.11:6443" }, "nixlab:kubernetes.controlPlaneEndpoint"},
		{"endpoint url", func(s *ClusterSpec) { s.Endpoint = "https://api.lab" }, "without scheme or port"},
		{"ipv6 endpoint", func(s *ClusterSpec) { s.Endpoint = "2001:db8::1" }, "only IPv4"},
		{"pod cidr not a cidr", func(s *ClusterSpec) { s.PodCIDR = "10.244.0.0" }, "nixlab:kubernetes.podCidr"},
		{"pod cidr host bits", func(s *ClusterSpec) { s.PodCIDR = "10.244.1.0/16" }, "use 10.244.0.0/16"},
		{"pod cidr too narrow", func(s *ClusterSpec) { s.PodCIDR = "10.244.0.0/25" }, "between /8 and /24"},
		{"pod cidr too wide", func(s *ClusterSpec) { s.PodCIDR = "10.0.0.0/7" }, "between /8 and /24"},
		{"ipv6 pod cidr", func(s *ClusterSpec) { s.PodCIDR = "fd00::/48" }, "only IPv4"},
		{"service cidr too wide", func(s *ClusterSpec) { s.ServiceCIDR = "10.96.0.0/11" }, "nixlab:kubernetes.serviceCidr"},
		{"service cidr too narrow", func(s *ClusterSpec) { s.ServiceCIDR = "10.96.0.0/29" }, "between /12 and /28"},
		{"overlap", func(s *ClusterSpec) { s.ServiceCIDR = "10.244.0.0/20" }, "overlaps"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.mutate(&s)
			err := s.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestSecretShapes(t *testing.T) {
	cases := []struct {
		name  string
		check func(string) error
		value string
		ok    bool
	}{
		{"token", CheckToken, testToken, true},
		{"token upper case", CheckToken, "ABCDEF.0123456789abcdef", false},
		{"token short secret", CheckToken, "abcdef.0123456789abcde", false},
		{"token no dot", CheckToken, "abcdef0123456789abcdef", false},
		{"token trailing newline", CheckToken, testToken + "\n", false},
		{"key", CheckCertificateKey, testKey, true},
		{"key upper-case hex", CheckCertificateKey, strings.ToUpper(testKey), true},
		{"key 16 bytes", CheckCertificateKey, testKey[:32], false},
		{"key not hex", CheckCertificateKey, "zz" + testKey[2:], false},
		{"key empty", CheckCertificateKey, "", false},
		{"hash", CheckCACertHash, testCAHash, true},
		{"hash without prefix", CheckCACertHash, strings.TrimPrefix(testCAHash, "sha256:"), false},
		{"hash short", CheckCACertHash, testCAHash[:len(testCAHash)-2], false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check(tc.value)
			if (err == nil) != tc.ok {
				t.Fatalf("ok = %v, error %v", tc.ok, err)
			}
		})
	}
}

// TestErrorsNeverContainSecrets: a malformed token or key is still a
// secret; the errors of every renderer describe the rule only.
func TestErrorsNeverContainSecrets(t *testing.T) {
	spec := renderCases()[0].spec
	badToken := "s3cretA.0123456789abcdef" // upper case, 7-character id
	badKey := "c0ffee" + testKey[:50]      // 28 bytes
	calls := map[string]func() error{
		"InitConfig token":     func() error { _, err := InitConfig(spec, "n", badToken, testKey); return err },
		"InitConfig key":       func() error { _, err := InitConfig(spec, "n", testToken, badKey); return err },
		"JoinConfig token":     func() error { _, err := JoinConfig(spec, "n", false, badToken, testCAHash, ""); return err },
		"JoinConfig key":       func() error { _, err := JoinConfig(spec, "n", true, testToken, testCAHash, badKey); return err },
		"TokenConfig token":    func() error { _, err := TokenConfig(spec, badToken, testKey); return err },
		"TokenConfig key":      func() error { _, err := TokenConfig(spec, testToken, badKey); return err },
		"CheckCertificateKey":  func() error { return CheckCertificateKey(badKey) },
		"CheckToken":           func() error { return CheckToken(badToken) },
		"InitConfig bad node":  func() error { _, err := InitConfig(spec, "Bad_Node", testToken, testKey); return err },
		"JoinConfig bad hash":  func() error { _, err := JoinConfig(spec, "n", true, testToken, "md5:00", testKey); return err },
		"InitConfig bad spec":  func() error { _, err := InitConfig(ClusterSpec{}, "n", testToken, testKey); return err },
		"TokenConfig bad spec": func() error { _, err := TokenConfig(ClusterSpec{}, testToken, testKey); return err },
	}
	for name, call := range calls {
		err := call()
		if err == nil {
			t.Errorf("%s: accepted bad input", name)
			continue
		}
		for _, secret := range []string{badToken, badKey, testToken, testKey, "s3cretA", "0123456789abcdef"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error %q contains a secret", name, err)
			}
		}
	}
}
