# Values of nixpkgs options that nixlab's modules read through `config` but
# do not define themselves: what nixpkgs' own modules give them, at
# mkOptionDefault priority so that any nixlab definition wins. Each entry
# names the nixpkgs file (NixOS 26.05) that defines it. A module reading an
# option that is neither defined by a nixlab module nor listed here fails
# the evaluation test ("attribute ... missing"): check the option in nixpkgs
# and add it here with its source.
{ pkgs }:
{
  # nixos/modules/config/nix.nix: nix.package, default pkgs.nix.
  nix.package = pkgs.nix;
  system.build = {
    # nixos/modules/system/activation/top-level.nix: the system closure.
    toplevel = pkgs.nixos-system;
    # nixos/modules/installer/tools/tools.nix: system.build.nixos-install,
    # pkgs.nixos-install.override { nix = config.nix.package; }.
    nixos-install = pkgs.nixos-install;
  };
}
