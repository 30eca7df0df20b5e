# nixlab: the NixOS side.
#
#   nixosConfigurations.node       the installed system (becomes the Proxmox template)
#   nixosConfigurations.installer  the self-installing ISO that carries `node` offline
#
# Build the ISO:
#   nix build .#nixosConfigurations.installer.config.system.build.isoImage
#   -> result/iso/nixlab-installer.iso
#
# Per-lab values come from ./settings.json (written by the Go side; schema and
# validation in ./lib/settings.nix). There is no flake.lock until the first real
# build writes one: commit it for exact reproducibility.
{
  description = "nixlab: self-installing NixOS ISO and Kubernetes node template for Proxmox VE";

  # Newest stable release branch (NixOS 26.05 "Yarara"); keep system.stateVersion
  # in modules/node-base.nix in step when this moves.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs, ... }:
    let
      system = "x86_64-linux";
      lib = nixpkgs.lib;

      settings = import ./lib/settings.nix { settingsFile = ./settings.json; };

      # User modules copied by the Go side into extra/, imported into the node.
      extraModules = map (p: ./. + "/${p}") settings.extraModules;

      common = {
        nixpkgs.hostPlatform = lib.mkDefault system;
      };

      node = lib.nixosSystem {
        specialArgs = {
          nixlabSettings = settings;
        };
        modules = [
          common
          ./modules/storage.nix
          ./modules/node-base.nix
          ./modules/nfs.nix
          ./modules/kubernetes.nix
        ]
        ++ extraModules;
      };

      installer = lib.nixosSystem {
        specialArgs = {
          nixlabSettings = settings;
          nixlabNode = node;
        };
        modules = [
          common
          ./modules/installer.nix
        ];
      };
    in
    {
      nixosConfigurations = {
        inherit node installer;
      };

      packages.${system} = {
        iso = installer.config.system.build.isoImage;
        node = node.config.system.build.toplevel;
        default = self.packages.${system}.iso;
      };
    };
}
