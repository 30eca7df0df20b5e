# Disk layout of the node (static: a Proxmox VM with SeaBIOS and a
# virtio-scsi disk), matching what scripts/install.sh creates:
#
#   <disk> (msdos label)
#     partition 1, 1MiB..100%  LVM PV
#       VG nixos-vg
#         LV swap  (settings.swapSizeGb GiB, absent when 0)
#         LV root  (rest, ext4, label "nixos")
#
# A clone's disk may be bigger than the template's: nixlab-grow-root grows
# partition, PV, LV and filesystem at every boot (a no-op when nothing changed).
{
  lib,
  pkgs,
  modulesPath,
  nixlabSettings,
  ...
}:
let
  s = nixlabSettings;
  vg = "nixos-vg";
in
{
  imports = [ (modulesPath + "/profiles/qemu-guest.nix") ];

  # GRUB in the MBR of the disk (BIOS boot, no ESP).
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
    # cloud-init's own growpart/resizefs modules (nixpkgs enables them by
    # default, in cloud-init.service) then find nothing left to do instead of
    # racing this unit on the same filesystem.
    before = [ "cloud-init.service" ];
    path = [
      pkgs.cloud-utils.guest # growpart (wrapped with sfdisk/sgdisk, awk, sed)
      pkgs.lvm2 # pvresize, vgs, lvextend
      pkgs.e2fsprogs # resize2fs
      pkgs.util-linux
      pkgs.coreutils # tr
    ];
    environment = {
      NIXLAB_DISK = s.disk;
      NIXLAB_PART = "1";
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
