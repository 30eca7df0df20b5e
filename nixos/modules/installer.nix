# The self-installing ISO. It boots (SeaBIOS, CD), installs the node system it
# carries in its own store onto the empty disk with scripts/install.sh, and
# powers the VM off on success. No network or binary cache is needed.
#
# Progress and failure: one line `<state>: <message>` in
# /run/nixlab-install/status (state running|done|failed), read from the
# Proxmox host with `qm guest exec <vmid> -- cat /run/nixlab-install/status`;
# the service log also goes to the console.
{
  config,
  lib,
  pkgs,
  modulesPath,
  nixlabSettings,
  nixlabNode,
  ...
}:
let
  s = nixlabSettings;
  nodeSystem = nixlabNode.config.system.build.toplevel;
  # The volume group the node mounts its root from (modules/storage.nix).
  vg = "nixos-vg";
in
{
  imports = [ (modulesPath + "/installer/cd-dvd/installation-cd-minimal.nix") ];

  # result/iso/nixlab-installer.iso (isoImage.isoName became image.fileName in
  # 25.05; image.fileName defaults to "<baseName>.iso").
  image.baseName = lib.mkForce "nixlab-installer";
  isoImage.volumeID = lib.mkForce "NIXLAB_INSTALLER"; # at most 32 characters
  # Proxmox boots it from an IDE CD with SeaBIOS: no EFI or USB boot needed.
  isoImage.makeEfiBootable = lib.mkForce false;
  isoImage.makeUsbBootable = lib.mkForce false;
  boot.loader.timeout = lib.mkForce 1;

  # The node's closure goes onto the ISO and is registered in the live store
  # at boot, so nixos-install --system copies it without network.
  isoImage.storeContents = [ nodeSystem ];

  # Lock the live system down: it boots on a shared network unattended.
  # (installation-device.nix sets empty passwords, autologin and sshd.)
  users.users.root.initialHashedPassword = lib.mkForce "!";
  users.users.nixos.initialHashedPassword = lib.mkForce "!";
  services.getty.autologinUser = lib.mkForce null;
  services.getty.helpLine = lib.mkForce ''
    nixlab unattended installer: no login. Status: /run/nixlab-install/status
  '';
  services.openssh.enable = lib.mkForce false;
  # No root shell in stage 1. 26.05 boots a systemd stage 1: emergencyAccess
  # false writes root:* into the initrd's /etc/shadow (nixos/modules/system/
  # boot/systemd/initrd.nix), so sulogin refuses. iso-image.nix adds
  # boot.shell_on_fail, which opens a root shell on a failed scripted stage 1
  # (stage-1-init.sh, fail()); boot.panic_on_fail is checked first there and
  # panics the systemd stage 1 on emergency.target (initrd.nix, panic-on-fail):
  # the VM stops, finalize reports that it stopped without "done".
  boot.initrd.systemd.emergencyAccess = lib.mkForce false;
  boot.kernelParams = [ "boot.panic_on_fail" ];

  # The pipeline reads the status file through the guest agent.
  services.qemuGuest.enable = true;

  systemd.services.nixlab-install = {
    description = "nixlab: unattended NixOS installation onto ${s.disk}";
    wantedBy = [ "multi-user.target" ];
    after = [
      "systemd-udev-settle.service"
      "local-fs.target"
      "nix-daemon.socket"
    ];
    wants = [ "nix-daemon.socket" ];
    # Everything install.sh runs: systemd units get a minimal PATH.
    path = [
      pkgs.bash
      pkgs.coreutils # also nixos-install's realpath/stat/mktemp, nixos-enter's chroot/id
      pkgs.util-linux # lsblk, wipefs, blkid, mkswap, mount, umount, swapon, swapoff
      pkgs.parted
      pkgs.lvm2 # pvs, pvcreate, vgcreate, lvcreate
      pkgs.e2fsprogs # mkfs.ext4
      pkgs.diffutils # cmp
      pkgs.findutils
      pkgs.gnugrep
      pkgs.gnused
      pkgs.gawk
      pkgs.systemd # udevadm, systemctl
      config.nix.package # nix-env, which nixos-install runs from PATH
      # The live system's own nixos-install (tools.nix defines it in
      # system.build unconditionally); its wrapper already puts nixos-enter,
      # jq and util-linux on its PATH. pkgs.nixos-install-tools would also do,
      # but it evaluates a second NixOS configuration and ships the manual.
      config.system.build.nixos-install
    ];
    environment = {
      NIXLAB_DISK = s.disk;
      NIXLAB_VG = vg;
      NIXLAB_SWAP_GB = toString s.swapSizeGb;
      # virtio-scsi disks are there at boot; two minutes cover a slow start.
      NIXLAB_DISK_WAIT_SECONDS = "120";
      NIXLAB_SYSTEM = "${nodeSystem}";
      NIXLAB_STATUS_FILE = "/run/nixlab-install/status";
      NIXLAB_MOUNT = "/mnt";
      # Up after "done" until finalize has read it and shuts the VM down;
      # an hour at the latest.
      NIXLAB_DONE_LINGER = "3600";
    };
    serviceConfig = {
      Type = "oneshot";
      ExecStart = "${pkgs.bash}/bin/bash ${../scripts/install.sh}";
      StandardOutput = "journal+console";
      StandardError = "journal+console";
      TimeoutStartSec = "infinity";
    };
  };
}
