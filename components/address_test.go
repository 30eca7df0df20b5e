package components

import "testing"

func TestPickIPv4(t *testing.T) {
	cases := []struct {
		name  string
		names []string
		addrs [][]string
		want  string
	}{
		{"nothing reported yet", nil, nil, ""},
		{"only loopback", []string{"lo"}, [][]string{{"127.0.0.1"}}, ""},
		{"skips lo and link-local", []string{"lo", "ens18"}, [][]string{{"127.0.0.1"}, {"169.254.1.2", "192.168.1.50"}}, "192.168.1.50"},
		{"link-local only", []string{"lo", "ens18"}, [][]string{{"127.0.0.1"}, {"169.254.1.2"}}, ""},
		{"first usable interface wins", []string{"lo", "ens18", "cni0"}, [][]string{{"127.0.0.1"}, {"10.0.0.5"}, {"10.244.0.1"}}, "10.0.0.5"},
		{"interface without address", []string{"lo", "ens18", "ens19"}, [][]string{{"127.0.0.1"}, {}, {"10.0.1.9"}}, "10.0.1.9"},
		{"loopback address on another interface", []string{"dummy0", "ens18"}, [][]string{{"127.0.0.2"}, {"10.0.0.7"}}, "10.0.0.7"},
		{"garbage and IPv6 ignored", []string{"ens18"}, [][]string{{"fe80::1", "not-an-ip", "0.0.0.0", "172.16.0.4"}}, "172.16.0.4"},
		{"more address lists than names", []string{"lo"}, [][]string{{"127.0.0.1"}, {"192.168.7.7"}}, "192.168.7.7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := PickIPv4(c.names, c.addrs); got != c.want {
				t.Errorf("PickIPv4 = %q, want %q", got, c.want)
			}
		})
	}
}

func TestStaticIPv4(t *testing.T) {
	cases := []struct {
		cidr    string
		host    int
		want    string
		wantErr bool
	}{
		{"192.168.1.0/24", 21, "192.168.1.21/24", false},
		{"192.168.1.77/24", 1, "192.168.1.1/24", false}, // host bits in the CIDR are masked
		{"10.0.0.0/16", 300, "10.0.1.44/16", false},
		{"192.168.1.0/24", 254, "192.168.1.254/24", false},
		{"192.168.1.0/24", 255, "", true}, // broadcast
		{"192.168.1.0/24", 0, "", true},   // network address
		{"192.168.1.0/31", 1, "", true},
		{"fd00::/64", 1, "", true},
		{"nonsense", 1, "", true},
	}
	for _, c := range cases {
		got, err := StaticIPv4(c.cidr, c.host)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("StaticIPv4(%s, %d) = %q, %v; want %q (error %v)", c.cidr, c.host, got, err, c.want, c.wantErr)
		}
	}
}
