#!/usr/bin/env bash
# finalize-template.sh — runs ON the Proxmox host. Waits until the unattended
# NixOS installer has powered the installer VM off, reporting the installer's
# progress (read through the QEMU guest agent), then detaches the installer
# CD and converts the VM into a template. Safe to re-run: a VM that already is
# a template is left alone.
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' finalize-template <vmid> <timeoutSeconds> <pollSeconds> <cdromInterface>
#
#   vmid            integer 100..999999999
#   timeoutSeconds  positive integer: how long to wait for the power-off
#   pollSeconds     positive integer: seconds between status checks
#   cdromInterface  ide0..ide3: the installer CD drive to detach
#
# stdout: progress lines and the result. stderr: errors.
# Once the installer reports "done" (it then waits, up to an hour), the VM is
# shut down here; a re-run after an interruption still finds "done".
#
# Exit: 0 when the VM is (now or already) a template; 1 on installer failure,
# a stop without the installer's "done", timeout or a failing qm; 2 on invalid
# arguments.
set -euo pipefail

readonly SCRIPT_NAME="finalize-template"
readonly STATUS_FILE="/run/nixlab-install/status"
readonly HEARTBEAT_SECONDS=120

VMID=""
TIMEOUT=""
POLL=""
CDROM=""
START=0    # microseconds, see now_us
SLEPT_US=0 # microseconds slept in the wait loop so far

log() {
  printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2
}

die() {
  log "error: $*"
  exit 1
}

usage() {
  log "error: $*"
  printf 'usage: %s <vmid> <timeoutSeconds> <pollSeconds> <cdromInterface>\n' "$SCRIPT_NAME" >&2
  exit 2
}

parse_args() {
  (( $# == 4 )) || usage "expected 4 arguments, got $#"
  VMID="$1"
  TIMEOUT="$2"
  POLL="$3"
  CDROM="$4"
  if [[ ! "$VMID" =~ ^[1-9][0-9]{2,8}$ ]]; then
    usage "invalid VM ID '$VMID': use an integer from 100 to 999999999"
  fi
  [[ "$TIMEOUT" =~ ^[1-9][0-9]{0,8}$ ]] || usage "invalid timeout '$TIMEOUT': use a positive number of seconds"
  [[ "$POLL" =~ ^[1-9][0-9]{0,8}$ ]] || usage "invalid poll interval '$POLL': use a positive number of seconds"
  [[ "$CDROM" =~ ^ide[0-3]$ ]] || usage "invalid CD-ROM interface '$CDROM': use ide0, ide1, ide2 or ide3"
}

# now_us prints the time in microseconds (EPOCHREALTIME needs bash 5; older
# bash falls back to whole seconds).
now_us() {
  if [[ -n "${EPOCHREALTIME:-}" ]]; then
    printf '%s\n' "${EPOCHREALTIME//[!0-9]/}"
  else
    printf '%s000000\n' "$(date +%s)"
  fi
}

# elapsed_us prints the microseconds spent waiting: the wall-clock time
# since START, but never less than the time slept in the wait loop. Real
# sleeps make the two agree; the slept time bounds the loop by its polls
# (at most timeout/poll naps) even when the clock does not move, e.g. under
# a test's instant `sleep`.
elapsed_us() {
  local wall=$(($(now_us) - START))
  if (( wall < SLEPT_US )); then
    printf '%s\n' "$SLEPT_US"
  else
    printf '%s\n' "$wall"
  fi
}

# elapsed prints the time since START like +2m10s (or +1h02m03s).
elapsed() {
  local s=$(($(elapsed_us) / 1000000))
  if (( s >= 3600 )); then
    printf '+%dh%02dm%02ds\n' "$((s / 3600))" "$((s % 3600 / 60))" "$((s % 60))"
  else
    printf '+%dm%02ds\n' "$((s / 60))" "$((s % 60))"
  fi
}

progress() {
  printf '[vm %s %s] %s\n' "$VMID" "$(elapsed)" "$*"
}

# duration prints a number of seconds as "N minutes" (or "N seconds").
duration() {
  local s="$1"
  if (( s % 60 == 0 )); then
    if (( s == 60 )); then printf '1 minute\n'; else printf '%d minutes\n' "$((s / 60))"; fi
  elif (( s == 1 )); then
    printf '1 second\n'
  else
    printf '%d seconds\n' "$s"
  fi
}

vm_config() {
  local config
  if ! config="$(qm config "$VMID")"; then
    die "cannot read the configuration of VM $VMID ('qm config $VMID' failed; does the VM exist on this node?)"
  fi
  printf '%s\n' "$config"
}

# vm_state prints the VM's power state (running, stopped, ...).
vm_state() {
  local out
  out="$(qm status "$VMID")" || return 1
  out="${out#status:}"
  out="${out//[[:space:]]/}"
  [[ -n "$out" ]] || return 1
  printf '%s\n' "$out"
}

AGENT_ANSWERED=0
INSTALLER_STATUS=""

# read_installer_status sets INSTALLER_STATUS to the first line of the
# installer's status file, read through the guest agent, and AGENT_ANSWERED
# to 1 once the agent has answered at all. It fails when the agent or the
# file is not there yet.
read_installer_status() {
  local out code data
  local re_code='"exitcode"[[:space:]]*:[[:space:]]*([0-9]+)'
  local re_data='"out-data"[[:space:]]*:[[:space:]]*"([^"]*)"'
  INSTALLER_STATUS=""
  out="$(qm guest exec "$VMID" -- cat "$STATUS_FILE" 2>/dev/null)" || return 1
  AGENT_ANSWERED=1
  [[ "$out" =~ $re_code ]] || return 1
  code="${BASH_REMATCH[1]}"
  (( 10#$code == 0 )) || return 1
  [[ "$out" =~ $re_data ]] || return 1
  data="${BASH_REMATCH[1]}"
  data="${data%%\\n*}"
  data="${data%%\\r*}"
  [[ -n "$data" ]] || return 1
  INSTALLER_STATUS="$data"
}

# installer_failed reports a failed install and exits.
installer_failed() {
  local message="${1#failed}"
  message="${message#:}"
  message="${message# }"
  log "installer failed on VM $VMID: ${message:-no message}"
  log "hint: open the console of VM $VMID in the Proxmox web UI to see what went wrong; the VM is left running for inspection"
  exit 1
}

timed_out() {
  local last="$1" what
  if [[ -n "$last" ]]; then
    what="$last"
  elif (( AGENT_ANSWERED == 1 )); then
    what="none (the guest agent answered, but $STATUS_FILE was never written)"
  else
    what="none (guest agent never answered)"
  fi
  log "error: VM $VMID did not power off within $(duration "$TIMEOUT"); last installer status: $what"
  log "hint: open the console of VM $VMID in the Proxmox web UI; the VM is left running for inspection"
  exit 1
}

SHUTDOWN_SENT=0

# shut_down powers the VM off once the installer reported success (it waits
# for that, so that a re-run of this script still finds "done"): a clean ACPI
# or agent shutdown, and a hard stop when that does not work. The installed
# disk is already synced and unmounted.
shut_down() {
  SHUTDOWN_SENT=1
  progress "installer finished; shutting the VM down"
  if ! qm shutdown "$VMID" --timeout 120 >&2; then
    log "warning: 'qm shutdown $VMID' did not finish; stopping the VM (its disk is already unmounted)"
    qm stop "$VMID" >&2 || die "cannot stop VM $VMID ('qm stop $VMID' failed)"
  fi
}

wait_for_poweroff() {
  local state last="" last_print failures=0 remaining nap now
  last_print="$(elapsed_us)"
  while :; do
    if state="$(vm_state)"; then
      failures=0
    else
      failures=$((failures + 1))
      (( failures < 3 )) || die "'qm status $VMID' failed $failures times in a row; giving up"
      log "warning: 'qm status $VMID' failed; retrying"
      state="unknown"
    fi
    if [[ "$state" == stopped ]]; then
      progress "VM is powered off"
      # The installer stays up after reporting success until this script
      # shuts it down (or an hour has passed), so a stop without "done" is
      # a shutdown by hand or a crash: that disk is not a template.
      if [[ "$last" != "done:"* && "$last" != "done" ]]; then
        log "error: VM $VMID stopped, but the installer never reported success (last installer status: ${last:-none}); it was shut down or crashed during the install, so it is not converted into a template"
        log "hint: look at the VM's console, then replace it to install again: pulumi up --target-replace '<URN of template-vm>' (pulumi stack --show-urns lists it)"
        exit 1
      fi
      return 0
    fi

    if read_installer_status; then
      if [[ "$INSTALLER_STATUS" != "$last" ]]; then
        last="$INSTALLER_STATUS"
        last_print="$(elapsed_us)"
        progress "$last"
      fi
      if [[ "$last" == failed:* || "$last" == failed ]]; then
        installer_failed "$last"
      fi
      if [[ "$last" == "done:"* || "$last" == "done" ]] && (( ! SHUTDOWN_SENT )); then
        shut_down
      fi
    fi

    now="$(elapsed_us)"
    if (( now - last_print >= HEARTBEAT_SECONDS * 1000000 )); then
      last_print="$now"
      progress "still waiting for the installer to power the VM off (VM $state; installer status: ${last:-none yet})"
    fi

    remaining=$((TIMEOUT * 1000000 - now))
    (( remaining > 0 )) || timed_out "$last"
    # Sleep the poll interval, or up to the deadline (rounded up) if sooner.
    nap="$POLL"
    (( nap * 1000000 <= remaining )) || nap=$(((remaining + 999999) / 1000000))
    sleep "$nap"
    SLEPT_US=$((SLEPT_US + nap * 1000000))
  done
}

detach_cdrom() {
  local config
  config="$(vm_config)"
  if ! grep -q "^$CDROM:" <<<"$config"; then
    progress "no $CDROM drive attached; nothing to detach"
    return 0
  fi
  qm set "$VMID" --delete "$CDROM" || die "cannot detach $CDROM from VM $VMID ('qm set $VMID --delete $CDROM' failed)"
  progress "detached the installer CD ($CDROM)"
}

main() {
  local config
  parse_args "$@"
  START="$(now_us)"
  config="$(vm_config)"
  if grep -q '^template:[[:space:]]*1[[:space:]]*$' <<<"$config"; then
    printf 'VM %s is already a template\n' "$VMID"
    return 0
  fi
  progress "waiting up to $(duration "$TIMEOUT") for the installer to power the VM off"
  wait_for_poweroff
  detach_cdrom
  qm template "$VMID" || die "cannot convert VM $VMID into a template ('qm template $VMID' failed)"
  printf 'VM %s is now a template\n' "$VMID"
}

main "$@"
