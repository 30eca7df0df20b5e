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

  environment.systemPackages = with pkgs; [
    cloud-init # `cloud-init status --wait` for the readiness check
    curl
    git
    htop
    vim
  ];

  # Matches the pinned nixpkgs branch (flake.nix: nixos-26.05).
  system.stateVersion = "26.05";
}
