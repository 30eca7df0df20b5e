#!/usr/bin/env bash
# node-address.sh — runs ON the Proxmox host: waits until the QEMU guest agent
# of a freshly cloned VM reports the IPv4 address (its DHCP lease) of the NIC
# that is the VM's net0, and prints it.
#
# Only an address on the guest interface whose hardware address is net0's MAC
# counts: a node also has docker0, cni0, flannel.1, ... whose addresses
# (172.17.0.1 and the like) may show up before the lease does. net0's MAC is
# read from `qm config <vmid>`, whose line has the form
#   net0: virtio=BC:24:11:AA:BB:01,bridge=vmbr0,firewall=0
# (<model>=<MAC>, or macaddr=<MAC>: Proxmox's network device format, see
# qm.conf(5) "net[n]" and PVE::QemuServer::parse_net; bpg/terraform-provider-
# proxmox v0.69.1 proxmox/nodes/vms/custom_network_device.go reads the same
# keys). The agent's answer to `qm guest cmd <vmid> network-get-interfaces` is
# the QGA GuestNetworkInterface list (qemu qga/qapi-schema.json: name,
# hardware-address as lower-case xx:xx:..., ip-addresses [{ip-address,
# ip-address-type ipv4|ipv6, prefix}], statistics); the MACs are compared
# case-insensitively. Every interface with that MAC counts (a bridge or VLAN on
# top of the NIC inherits it). On it, loopback (127/8), link-local
# (169.254/16) and IPv6 addresses are skipped; an address with a prefix
# shorter than /32 (a lease) is preferred over a /32 one (such as a
# kube-vip virtual IP); the first remaining address wins. The script keeps
# polling until that interface has one or the timeout passes.
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' node-address <vmid> <timeoutSeconds> <pollSeconds>
#
# stdout: exactly one line, the IPv4 address. stderr: progress and errors.
# Exit: 0 with an address; 1 when none came within the timeout, the VM does
# not exist or has no net0 MAC; 2 on invalid arguments. Needs qm, timeout
# (coreutils) and perl with JSON::PP (all on every Proxmox VE host). Every
# agent call is bounded by timeout, so the script ends by the deadline even
# when the agent hangs.
set -euo pipefail

readonly SCRIPT_NAME="node-address"
# Longest one agent call may take (a hung agent must not stall the wait; the
# call is also cut at the overall deadline).
readonly AGENT_CALL_TIMEOUT=30

log() {
  printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2
}

usage() {
  log "error: $*"
  printf 'usage: %s <vmid> <timeoutSeconds> <pollSeconds>\n' "$SCRIPT_NAME" >&2
  exit 2
}

# net0_mac reads `qm config` output on stdin and prints net0's MAC in lower
# case, or nothing when there is no net0 line or it has no MAC.
net0_mac() {
  local line item value
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" == "net0: "* ]] || continue
    value="${line#net0: }"
    local -a items=()
    IFS=',' read -r -a items <<<"$value"
    for item in "${items[@]}"; do
      # <model>=<MAC> or macaddr=<MAC>; other keys (bridge=, tag=, ...) never
      # hold a MAC-shaped value.
      if [[ "$item" =~ ^[a-z0-9_]+=(([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2})$ ]]; then
        printf '%s\n' "${BASH_REMATCH[1],,}"
        return 0
      fi
    done
    return 0
  done
}

# pick_ipv4 MAC reads the agent's network-get-interfaces JSON on stdin and
# prints "ip <address>" for net0's usable IPv4 address, or "seen <what the
# agent did report>" when there is none yet.
pick_ipv4() {
  perl -MJSON::PP -e '
    my $mac = lc $ARGV[0];
    my $in = do { local $/; <STDIN> };
    my $ifs = eval { JSON::PP->new->decode($in) };
    if (ref $ifs ne "ARRAY") { print "seen no readable report\n"; exit 0 }
    my (@mine, @other, @lease, @host);
    for my $if (@$ifs) {
      next if ref $if ne "HASH";
      my $name = $if->{name} // "?";
      my $hw = lc($if->{"hardware-address"} // "");
      my @ips;
      for my $a (@{ $if->{"ip-addresses"} || [] }) {
        my $ip = $a->{"ip-address"} // next;
        push @ips, $ip;
        next if $hw ne $mac;
        next if ($a->{"ip-address-type"} // "") ne "ipv4";
        next unless $ip =~ /^\d{1,3}(\.\d{1,3}){3}$/;
        next if $ip =~ /^(127\.|169\.254\.|0\.0\.0\.0$)/;
        if (($a->{prefix} // 32) < 32) { push @lease, $ip } else { push @host, $ip }
      }
      my $desc = "$name (" . ($hw eq "" ? "no MAC" : $hw) . "): " . (@ips ? join(" ", @ips) : "no addresses");
      if ($hw eq $mac) { push @mine, $desc } else { push @other, $desc }
    }
    if (@lease || @host) { print "ip ", (@lease, @host)[0], "\n"; exit 0 }
    if (!@mine) {
      print "seen no interface with net0 MAC $mac; ",
        (@other ? "reported: " . join("; ", @other) : "no interfaces"), "\n";
      exit 0;
    }
    print "seen no usable IPv4 address on net0 (", join("; ", @mine), ")",
      (@other ? "; other interfaces, not used: " . join("; ", @other) : ""), "\n";
  ' "$1"
}

main() {
  (( $# == 3 )) || usage "expected 3 arguments, got $#"
  local vmid="$1" timeout="$2" poll="$3"
  [[ "$vmid" =~ ^[1-9][0-9]{2,8}$ ]] || usage "invalid VM ID '$vmid': use an integer from 100 to 999999999"
  [[ "$timeout" =~ ^[1-9][0-9]{0,8}$ ]] || usage "invalid timeout '$timeout': use a positive number of seconds"
  [[ "$poll" =~ ^[1-9][0-9]{0,8}$ ]] || usage "invalid poll interval '$poll': use a positive number of seconds"

  local config mac
  config="$(qm config "$vmid")" || {
    log "error: VM $vmid does not exist on this node ('qm config $vmid' failed)"
    exit 1
  }
  mac="$(net0_mac <<<"$config")"
  if [[ -z "$mac" ]]; then
    log "error: VM $vmid has no net0 with a MAC address in 'qm config $vmid'; the node needs its network device net0 on the bridge"
    exit 1
  fi

  local deadline=$((SECONDS + timeout)) report answer last="the guest agent did not answer" call rc
  while :; do
    call=$((deadline - SECONDS))
    (( call >= 1 )) || call=1
    (( call <= AGENT_CALL_TIMEOUT )) || call=$AGENT_CALL_TIMEOUT
    rc=0
    report="$(timeout --kill-after=5 "$call" qm guest cmd "$vmid" network-get-interfaces 2>/dev/null)" || rc=$?
    if (( rc == 124 || rc == 137 )); then
      last="the guest agent did not answer within $call s"
    elif (( rc == 0 )); then
      answer="$(pick_ipv4 "$mac" <<<"$report")"
      if [[ "$answer" == "ip "* ]]; then
        printf '%s\n' "${answer#ip }"
        return 0
      fi
      last="the agent reported ${answer#seen }"
    fi
    # The deadline counts the agent calls too, not only the sleeps.
    if (( SECONDS >= deadline )); then
      log "error: VM $vmid reported no usable IPv4 address on net0 (MAC $mac) within $timeout s ($last); check DHCP on its bridge and that qemu-guest-agent runs in the VM"
      exit 1
    fi
    sleep "$poll"
  done
}

main "$@"
