package components

import "testing"

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
