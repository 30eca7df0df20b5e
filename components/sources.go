package components

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/nixlab/nixlab/nixos"
)

// NodeSettings are the settings baked into the NixOS image. They are written
// as settings.json next to flake.nix and read there by nixos/lib/settings.nix;
// the JSON field names are that contract. Every field is part of the content
// hash, so changing one rebuilds the ISO and the template.
type NodeSettings struct {
	// AdminUser is the login user (wheel, passwordless sudo, key-only SSH).
	AdminUser string `json:"adminUser"`
	// AuthorizedKeys are baked into the admin user's authorized keys; per
	// node keys arrive by cloud-init instead.
	AuthorizedKeys []string `json:"authorizedKeys"`
	// Timezone is an IANA zone name.
	Timezone string `json:"timezone"`
	// Disk is the install target, /dev/sda for scsi0 on virtio-scsi.
	Disk string `json:"disk"`
	// SwapSizeGB sizes the swap LV; 0 creates none.
	SwapSizeGB int `json:"swapSizeGb"`
	// NFS, when not nil, is mounted on every node.
	NFS *NFSSettings `json:"nfs"`
	// ExtraModules is filled by nixlab: the flake-relative paths of the
	// user's extra modules (see NixOSTemplateArgs.ExtraModules).
	ExtraModules []string `json:"extraModules"`
}

// NFSSettings describe the NFS mount of every node.
type NFSSettings struct {
	Server     string   `json:"server"`
	Export     string   `json:"export"`
	MountPoint string   `json:"mountPoint"`
	Options    []string `json:"options"`
}

// DefaultDisk is the install target of the template VM's scsi0 disk.
const DefaultDisk = "/dev/sda"

// hashDomain versions the image hash input layout; bump it when the layout
// of buildSources changes so old and new hashes never collide.
const hashDomain = "nixlab-template-sources-v1\n"

// nodeSystemHashDomain separates the node-system hash from the image hash:
// the two never agree, even over the same files.
const nodeSystemHashDomain = "nixlab-node-system-v1\n"

// installerOnlyFiles are the files of the rendered flake that only the
// installer ISO is built from, never the node system
// (nixosConfigurations.node): flake.nix imports modules/installer.nix into
// `installer` alone, and only installer.nix names scripts/install.sh (its
// nixlab-install service). Every other file is a node input: flake.nix
// (it defines `node`), lib/settings.nix and lib/rules.json (the settings
// every module reads), the four node modules, scripts/grow-root.sh
// (storage.nix), settings.json, flake.lock when present, and the user's
// extra modules. An edit here changes the image hash (a new ISO and
// template) but not the node-system hash (no roll of running nodes).
// TestNodeSystemNeverReadsInstallerOnlyFiles fails when a node input comes
// to reference one of these.
var installerOnlyFiles = []string{"modules/installer.nix", "scripts/install.sh"}

// buildSources is the complete input of an ISO build: every file of the
// rendered flake directory by its path relative to that directory.
type buildSources map[string][]byte

// newBuildSources gathers the embedded nix sources, the user's extra modules
// (copied as extra/NN-<name>.nix) and the settings.json rendered from s.
func newBuildSources(s NodeSettings, extraModules []string) (buildSources, error) {
	return newBuildSourcesFrom(nixos.Sources, s, extraModules)
}

// newBuildSourcesFrom is newBuildSources over the nix sources in tree (every
// regular file, by its slash-separated path); tests hand it altered copies
// of the embedded tree.
func newBuildSourcesFrom(tree fs.FS, s NodeSettings, extraModules []string) (buildSources, error) {
	src := buildSources{}
	err := fs.WalkDir(tree, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(tree, p)
		src[p] = b
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading embedded nix sources: %w", err)
	}
	s.ExtraModules = []string{}
	for i, m := range extraModules {
		b, err := os.ReadFile(m)
		if err != nil {
			return nil, fmt.Errorf("extra NixOS module %d: %w", i, err)
		}
		rel := fmt.Sprintf("extra/%02d-%s", i, filepath.Base(m))
		src[rel] = b
		s.ExtraModules = append(s.ExtraModules, rel)
	}
	if s.AuthorizedKeys == nil {
		s.AuthorizedKeys = []string{}
	}
	if s.NFS != nil && s.NFS.Options == nil {
		n := *s.NFS
		n.Options = []string{}
		s.NFS = &n
	}
	settings, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rendering settings.json: %w", err)
	}
	src["settings.json"] = append(settings, '\n')
	return src, nil
}

// paths returns the file paths in a stable order.
func (b buildSources) paths() []string {
	paths := make([]string, 0, len(b))
	for p := range b {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// hash is the image hash: the SHA-256 over every path and content,
// length-prefixed so that no two different trees can produce the same byte
// stream.
func (b buildSources) hash() string {
	return b.digest(hashDomain, nil)
}

// nodeSystemHash is the node-system hash: the same digest over every file
// but the installer-only ones, under its own domain.
func (b buildSources) nodeSystemHash() string {
	return b.digest(nodeSystemHashDomain, installerOnlyFiles)
}

// digest hashes domain, then every file not in skip by path and content.
func (b buildSources) digest(domain string, skip []string) string {
	h := sha256.New()
	_, _ = io.WriteString(h, domain)
	for _, p := range b.paths() {
		if slices.Contains(skip, p) {
			continue
		}
		fmt.Fprintf(h, "%d:%s\n%d:", len(p), p, len(b[p]))
		_, _ = h.Write(b[p])
		_, _ = io.WriteString(h, "\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// render writes the tree into dir, replacing what was there. The write is
// atomic: a sibling temporary directory is renamed into place, so a build
// never sees a half-written tree.
func (b buildSources) render(dir, seedLock string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, p := range b.paths() {
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(dst, b[p], mode); err != nil {
			return err
		}
	}
	if err := b.seedLock(tmp, seedLock); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// ContentHash returns the SHA-256 content hash (the image hash: every file
// of the rendered flake, installer and node) of a template built from the
// embedded nix sources with these settings and extra modules: the value that
// triggers rebuilds and names the ISO. Clone-time settings (node counts,
// sizes, addresses) are not inputs, so they never change it.
func ContentHash(s NodeSettings, extraModules []string) (string, error) {
	src, err := newBuildSources(s, extraModules)
	if err != nil {
		return "", err
	}
	return src.hash(), nil
}

// NodeSystemHash returns the node-system hash of a template built from the
// embedded nix sources with these settings and extra modules: a SHA-256
// over what nixosConfigurations.node is built from (every source but
// installerOnlyFiles), domain-separated from ContentHash. It decides
// whether running nodes must be rolled to a new system; an installer-only
// edit changes ContentHash but not this.
func NodeSystemHash(s NodeSettings, extraModules []string) (string, error) {
	src, err := newBuildSources(s, extraModules)
	if err != nil {
		return "", err
	}
	return src.nodeSystemHash(), nil
}

// PrebuiltISOHash returns the content hash used for a prebuilt ISO: derived
// from the ISO file's own SHA-256, so a different ISO means a new template.
func PrebuiltISOHash(isoPath string) (string, error) {
	f, err := os.Open(isoPath)
	if err != nil {
		return "", fmt.Errorf("prebuilt ISO: %w", err)
	}
	defer f.Close()
	file := sha256.New()
	if _, err := io.Copy(file, f); err != nil {
		return "", fmt.Errorf("prebuilt ISO %s: %w", isoPath, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "nixlab-prebuilt-iso-v1\n%x\n", file.Sum(nil))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// seedLock copies the flake.lock at seed (the lock of the last build,
// build-iso.sh's NIXLAB_LOCK_COPY) into the rendered tree dir when the
// sources carry none (nixos/flake.lock not committed), so that every build
// of this state directory uses the nixpkgs the first one resolved: without
// it, each newly rendered tree (a new image hash, an installer-only edit)
// would resolve the moving nixpkgs branch again, and new clones would run
// another system than the nodes. The seeded lock is not part of either
// hash (it is an output of the first build, not an input): a committed
// nixos/flake.lock is, and it wins. A missing seed is not an error.
func (b buildSources) seedLock(dir, seed string) error {
	if _, committed := b["flake.lock"]; committed || seed == "" {
		return nil
	}
	lock, err := os.ReadFile(seed)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the flake.lock of the last build: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "flake.lock"), lock, 0o644)
}
