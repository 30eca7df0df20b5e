# Disk layout of the node (static: a Proxmox VM with SeaBIOS and a
# virtio-scsi disk), matching what scripts/install.sh creates:
#
#   <disk> (GPT label: no 2 TiB limit, unlike msdos)
#     partition 1, 1MiB..2MiB  BIOS boot partition (bios_grub): GRUB's core.img
#     partition 2, 2MiB..100%  LVM PV
#       VG nixos-vg
#         LV swap  (settings.swapSizeGb GiB, absent when 0)
#         LV root  (rest, ext4, label "nixos")
#
# A clone's disk may be bigger than the template's: nixlab-grow-root grows
# partition, PV, LV and filesystem at every boot (a no-op when nothing changed)
# and fails when they do not fill the disk afterwards.
{
  lib,
  pkgs,
  modulesPath,
  nixlabSettings,
  ...
}:
let
  s = nixlabSettings;
  # The LVM volume group. One name for the installer (installer.nix passes
  # it to install.sh), the mounts below and grow-root (NIXLAB_VG).
  vg = "nixos-vg";
in
{
  imports = [ (modulesPath + "/profiles/qemu-guest.nix") ];

  # GRUB for SeaBIOS on a GPT disk: grub-install (i386-pc, run by nixpkgs'
  # install-grub.pl for boot.loader.grub.device) writes boot.img into the
  # protective MBR and embeds core.img into the partition flagged bios_grub
  # (GRUB manual, "BIOS installation": GPT needs a BIOS Boot Partition).
  # No ESP: the VM boots with SeaBIOS.
  boot.loader.grub = {
    enable = true;
    device = s.disk;
  };

  # virtio-scsi disk, IDE/SATA CD-ROM and the device mapper for LVM.
  boot.initrd.availableKernelModules = [
    "virtio_pci"
    "virtio_scsi"
    "virtio_blk"
    "sd_mod"
    "sr_mod"
    "ata_piix"
    "uhci_hcd"
    "dm_mod"
  ];
  # Only consulted with a systemd stage 1; the scripted stage 1 always
  # activates LVM.
  boot.initrd.services.lvm.enable = true;

  fileSystems."/" = {
    device = "/dev/${vg}/root";
    fsType = "ext4";
  };

  swapDevices = lib.optional (s.swapSizeGb > 0) { device = "/dev/${vg}/swap"; };

  systemd.services.nixlab-grow-root = {
    description = "nixlab: grow partition, LVM PV, root LV and ext4 to fill the disk";
    wantedBy = [ "multi-user.target" ];
    after = [ "local-fs.target" ];
    # cloud-init's own growpart and resizefs modules are off (node-base.nix);
    # running first also keeps any cloud-init step that looks at the disk
    # from seeing it half grown.
    before = [ "cloud-init.service" ];
    # Everything grow-root.sh runs. It finds the disk and partition itself
    # (lsblk --inverse from the root LV), so neither is configured here.
    path = [
      pkgs.cloud-utils.guest # growpart (wrapped with sfdisk/sgdisk, awk, sed)
      pkgs.lvm2 # pvs, pvresize, vgs, lvextend
      pkgs.e2fsprogs # resize2fs, dumpe2fs
      pkgs.util-linux # lsblk
      pkgs.coreutils # cat, tr, sort, mktemp, rm
      pkgs.gnugrep
      pkgs.gnused
      pkgs.gawk
    ];
    environment = {
      NIXLAB_VG = vg;
      NIXLAB_LV = "root";
    };
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      ExecStart = "${pkgs.bash}/bin/bash ${../scripts/grow-root.sh}";
    };
  };
}
