// Package nixos holds nixlab's NixOS side: the flake (installer ISO and node
// system), its modules, the pure settings helper and the installer scripts.
package nixos

import "embed"

// Sources are the NixOS sources: flake.nix (and flake.lock once committed),
// lib/, modules/ and scripts/. The Go side renders these, plus the
// settings.json it generates, into a build directory and runs nix there.
// settings.json and settings.example.json are deliberately not embedded.
// Every other file of this directory (except Go files) must be: the content
// hash covers exactly this tree, and a components test fails when a file is
// left out (TestHashedTreeIsTheWholeNixOSDirectory).
//
//go:embed flake.* lib modules scripts
var Sources embed.FS
