# Base of every node: identity from cloud-init (hostname = VM name, user key,
# DHCP or static IPv4, DNS), guest agent, SSH with keys only, the admin user.
{
  lib,
  pkgs,
  nixlabSettings,
  ...
}:
let
  s = nixlabSettings;
in
{
  # Networking and hostname come from Proxmox's cloud-init drive at runtime
  # (the same split as nixpkgs' proxmox-image.nix). cloud-init renders
  # systemd-networkd units.
  networking.useDHCP = false;
  networking.hostName = lib.mkForce "";
  services.cloud-init = {
    enable = true;
    network.enable = true;
    # Freeform cloud.cfg (nixpkgs services/system/cloud-init.nix, settings).
    settings = {
      # The ssh module runs in cloud-config, after sshd has started with the
      # host keys it generated at first boot; by default it deletes and
      # regenerates them (ssh_deletekeys), so each node's key would change
      # once. Keep sshd's keys.
      ssh_deletekeys = false;
      ssh_genkeytypes = [ ];
      # nixlab-grow-root (modules/storage.nix) grows partition, PV, LV and
      # ext4 and verifies the result; cloud-init's growpart and resizefs
      # modules must not act on the same disk.
      growpart.mode = "off";
      resize_rootfs = false;
      # cloud-init's default (disable_root = false) also gives root the
      # stack's key as a plain login key (cc_ssh.py). With true, root's copy
      # only prints "Please login as the user ..." (and sshd refuses root
      # logins anyway).
      disable_root = true;
    };
  };
  # Applies the DNS servers cloud-init writes into the networkd units;
  # kubeadm detects resolved and points the kubelet at the real resolv.conf.
  services.resolved.enable = true;

  # Proxmox reads IPs and runs `qm guest exec` through the agent. Start it once
  # the network is online so the first report carries the real addresses.
  services.qemuGuest.enable = true;
  systemd.services.qemu-guest-agent = {
    after = [ "network-online.target" ];
    wants = [ "network-online.target" ];
  };

  # SSH: keys only, no root login. Host keys are generated on each clone's
  # first boot (the installer removes them from the template).
  services.openssh = {
    enable = true;
    settings = {
      PasswordAuthentication = false;
      KbdInteractiveAuthentication = false;
      PermitRootLogin = "no";
    };
  };

  users.users.${s.adminUser} = {
    isNormalUser = true;
    extraGroups = [ "wheel" ];
    openssh.authorizedKeys.keys = s.authorizedKeys;
  };
  security.sudo.wheelNeedsPassword = false;

  time.timeZone = s.timezone;

  nix.settings.experimental-features = [
    "nix-command"
    "flakes"
  ];
  # A roll copies the new system closure to the node with `nix copy` over SSH
  # as the admin user: the daemon accepts store paths without signatures only
  # from trusted users. nix.settings.trusted-users is a list option
  # (nixpkgs nixos/modules/config/nix.nix, nix.settings submodule); nix.nix
  # defines [ "root" ] itself and list definitions merge, root is named here
  # as well so that it stays trusted on a branch where that was the option's
  # default (which any definition replaces).
  nix.settings.trusted-users = [
    "root"
    s.adminUser
  ];

  environment.systemPackages = with pkgs; [
    # Ansible's modules run with /run/current-system/sw/bin/python3 (the
    # inventories set ansible_python_interpreter to it): NixOS ships none.
    python3
    cloud-init # `cloud-init status --wait` for the readiness check
    curl
    git
    htop
    vim
  ];

  # Matches the pinned nixpkgs branch (flake.nix: nixos-26.05).
  system.stateVersion = "26.05";
}
