# Optional NFS mount (settings.nfs != null), e.g. the lab's Synology share for
# persistent volumes.
#
# The mount must never block boot when the NAS is down: it is an automount
# (mounted on first access, not at boot: x-systemd.automount + noauto), ordered
# after the network (_netdev), allowed to fail (nofail), and unmounted again
# when idle (x-systemd.idle-timeout). The user's options (nfsvers, hard,
# rsize/wsize, ...) follow. `intr` is obsolete on current kernels.
{ lib, nixlabSettings, ... }:
let
  nfs = nixlabSettings.nfs;
  enabled = nfs != null;
in
{
  config = lib.mkIf enabled {
    boot.supportedFilesystems = [ "nfs" ];

    # optionalAttrs, not just mkIf: the attribute name reads nfs.mountPoint,
    # which must not be evaluated when nfs is null.
    fileSystems = lib.optionalAttrs enabled {
      ${nfs.mountPoint} = {
        device = "${nfs.server}:${nfs.export}";
        fsType = "nfs";
        options = [
          "x-systemd.automount"
          "noauto"
          "_netdev"
          "nofail"
          "x-systemd.idle-timeout=600"
          "x-systemd.mount-timeout=30"
        ]
        ++ nfs.options;
      };
    };
  };
}
