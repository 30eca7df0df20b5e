package components

import (
	"fmt"
	"net/netip"
)

// StaticIPv4 returns host number `host` inside the network `cidr` with the
// prefix length, e.g. StaticIPv4("192.168.1.0/24", 21) = "192.168.1.21/24".
// The network and broadcast addresses are refused.
func StaticIPv4(cidr string, host int) (string, error) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() {
		return "", fmt.Errorf("%q is not an IPv4 network", cidr)
	}
	prefix = prefix.Masked()
	if prefix.Bits() > 30 {
		return "", fmt.Errorf("%s is too small for nodes; use a /30 or larger network", prefix)
	}
	size := uint64(1) << (32 - prefix.Bits())
	if host <= 0 || uint64(host) > size-2 {
		return "", fmt.Errorf("host %d is outside %s (usable hosts 1-%d)", host, prefix, size-2)
	}
	base := prefix.Addr().As4()
	n := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	n += uint32(host)
	addr := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	return fmt.Sprintf("%s/%d", addr, prefix.Bits()), nil
}
