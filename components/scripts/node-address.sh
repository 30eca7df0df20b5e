#!/usr/bin/env bash
# node-address.sh — runs ON the Proxmox host: waits until the QEMU guest agent
# of a freshly cloned VM reports a usable IPv4 address (its DHCP lease) and
# prints it. Loopback interfaces and addresses, link-local (169.254/16) and
# IPv6 addresses are skipped; the first remaining address wins. Waiting here,
# rather than trusting the provider's first agent report, survives a node
# whose IPv6 address (SLAAC) shows up before its DHCPv4 lease.
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' node-address <vmid> <timeoutSeconds> <pollSeconds>
#
# stdout: exactly one line, the IPv4 address. stderr: progress and errors.
# Exit: 0 with an address; 1 when none came within the timeout or the VM does
# not exist; 2 on invalid arguments. Needs qm and perl (both on every Proxmox
# VE host).
set -euo pipefail

readonly SCRIPT_NAME="node-address"

log() {
  printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2
}

usage() {
  log "error: $*"
  printf 'usage: %s <vmid> <timeoutSeconds> <pollSeconds>\n' "$SCRIPT_NAME" >&2
  exit 2
}

# pick_ipv4 reads the agent's network-get-interfaces JSON on stdin and prints
# "ip <address>" for the first usable IPv4 address, or "seen <addresses>"
# (what the agent did report) when there is none.
pick_ipv4() {
  perl -MJSON::PP -e '
    my $in = do { local $/; <STDIN> };
    my $ifs = eval { JSON::PP->new->decode($in) };
    if (ref $ifs ne "ARRAY") { print "seen no readable report\n"; exit 0 }
    my @seen;
    for my $if (@$ifs) {
      my $name = $if->{name} // "";
      for my $a (@{ $if->{"ip-addresses"} || [] }) {
        my $ip = $a->{"ip-address"} // next;
        push @seen, "$name:$ip";
        next if $name eq "lo" || ($a->{"ip-address-type"} // "") ne "ipv4";
        next if $ip =~ /^(127\.|169\.254\.|0\.0\.0\.0$)/;
        next unless $ip =~ /^\d{1,3}(\.\d{1,3}){3}$/;
        print "ip $ip\n";
        exit 0;
      }
    }
    print "seen ", (@seen ? join(" ", @seen) : "no addresses"), "\n";
  '
}

main() {
  (( $# == 3 )) || usage "expected 3 arguments, got $#"
  local vmid="$1" timeout="$2" poll="$3"
  [[ "$vmid" =~ ^[1-9][0-9]{2,8}$ ]] || usage "invalid VM ID '$vmid': use an integer from 100 to 999999999"
  [[ "$timeout" =~ ^[1-9][0-9]{0,8}$ ]] || usage "invalid timeout '$timeout': use a positive number of seconds"
  [[ "$poll" =~ ^[1-9][0-9]{0,8}$ ]] || usage "invalid poll interval '$poll': use a positive number of seconds"

  qm status "$vmid" >/dev/null || {
    log "error: VM $vmid does not exist on this node ('qm status $vmid' failed)"
    exit 1
  }
  local deadline=$((SECONDS + timeout)) report answer last="the guest agent did not answer"
  while :; do
    if report="$(qm guest cmd "$vmid" network-get-interfaces 2>/dev/null)"; then
      answer="$(pick_ipv4 <<<"$report")"
      if [[ "$answer" == "ip "* ]]; then
        printf '%s\n' "${answer#ip }"
        return 0
      fi
      last="the agent reported ${answer#seen }"
    fi
    # The deadline counts the agent calls too, not only the sleeps.
    if (( SECONDS >= deadline )); then
      log "error: VM $vmid reported no usable IPv4 address within $timeout s ($last); check DHCP on its bridge and that qemu-guest-agent runs in the VM"
      exit 1
    fi
    sleep "$poll"
  done
}

main "$@"
