# Evaluates nixlab's NixOS modules in a rendered flake directory without
# nixpkgs: the node system (the modules flake.nix lists for it, plus the
# extra modules of settings.json) and the installer, each module called with
# the settings the flake would pass (lib/settings.nix over settings.json), a
# stand-in lib (lib.nix) and pkgs (pkgs.nix), and `config` = the merge of
# all modules' definitions plus the few nixpkgs option values they read
# (nixpkgs-options.nix). The whole merged config is forced, so a misspelled
# settings attribute, a reference to an option no module defines, a call of
# a missing lib function or a mkIf with a non-Boolean condition fails here.
#
# Merging follows nixpkgs lib/modules.nix where it matters for these checks:
# mkIf is pushed down into the top level of a module's config (so a
# condition may read config) and otherwise discharged where it stands, its
# content evaluated only when the condition is true; among the definitions
# of one attribute only those with the best (lowest) priority count
# (mkForce 50 < plain 100 < mkDefault 1000 < mkOptionDefault 1500); attribute
# sets merge by name, lists concatenate, other values must be equal.
# Option declarations (`options`) contribute their defaults. Imports from
# nixpkgs (modulesPath + "/...") are recorded, not evaluated.
{
  flakeDir,
  pkgNames,
}:
let
  inherit (builtins)
    all
    attrNames
    concatLists
    concatMap
    elem
    filter
    foldl'
    isAttrs
    isBool
    isFunction
    isList
    isPath
    isString
    length
    listToAttrs
    map
    mapAttrs
    seq
    toString
    ;

  lib = import ./lib.nix;
  pkgs = import ./pkgs.nix { names = pkgNames; };
  modulesPath = "/nixpkgs/nixos/modules";
  settings = import (flakeDir + "/lib/settings.nix") { settingsFile = flakeDir + "/settings.json"; };

  typeOf' = v: if isAttrs v then v._type or "" else "";
  isPlainAttrs = v: isAttrs v && !(v ? _type) && (v.type or null) != "derivation" && !(v ? outPath);

  fail = path: msg: throw "nixlab module evaluation: ${builtins.concatStringsSep "." path}: ${msg}";

  checkCondition =
    path: c: if isBool c then c else fail path "mkIf called with a non-Boolean condition";

  # discharge returns the definitions a raw value stands for, as
  # { priority, value } with the properties applied.
  discharge =
    path: prio: def:
    let
      t = typeOf' def;
    in
    if t == "if" then
      (if checkCondition path def.condition then discharge path prio def.content else [ ])
    else if t == "merge" then
      concatMap (discharge path prio) def.contents
    else if t == "override" then
      discharge path def.priority def.content
    else if t == "order" then
      discharge path prio def.content
    else if t == "option" then
      fail path "an option declaration among definitions (declare it under `options`)"
    else
      [
        {
          priority = prio;
          value = def;
        }
      ];

  # pushDown turns a module's top-level config (maybe mkIf/mkMerge of
  # attribute sets) into plain attribute sets whose values carry the
  # properties, like lib/modules.nix pushDownProperties.
  pushDown =
    def:
    let
      t = typeOf' def;
    in
    if t == "merge" then
      concatMap pushDown def.contents
    else if t == "if" then
      map (mapAttrs (_: v: lib.mkIf def.condition v)) (pushDown def.content)
    else if isPlainAttrs def then
      [ def ]
    else
      throw "nixlab module evaluation: a module's config must be an attribute set";

  # mergeAt merges the raw definitions of one attribute; [ ] when none is left.
  mergeAt =
    path: defs:
    let
      ds = concatMap (discharge path 100) defs;
      best = foldl' (m: d: if d.priority < m then d.priority else m) 9999 ds;
      vals = map (d: d.value) (filter (d: d.priority == best) ds);
      first = builtins.head vals;
      names = lib.unique (concatMap attrNames vals);
      children = concatMap (
        n:
        let
          merged = mergeAt (path ++ [ n ]) (concatMap (v: if v ? ${n} then [ v.${n} ] else [ ]) vals);
        in
        if merged == [ ] then
          [ ]
        else
          [
            {
              name = n;
              value = builtins.head merged;
            }
          ]
      ) names;
    in
    if ds == [ ] then
      [ ]
    else if all isPlainAttrs vals then
      [ (listToAttrs children) ]
    else if all isList vals then
      [ (concatLists vals) ]
    else if length vals == 1 || all (v: v == first) vals then
      [ first ]
    else
      fail path "conflicting definitions at the same priority";

  # deepOverride gives every leaf of a plain attribute set the priority.
  deepOverride =
    prio: v: if isPlainAttrs v then mapAttrs (_: deepOverride prio) v else lib.mkOverride prio v;

  # Option declarations: { a.b = mkOption { default = ...; }; } -> the
  # defaults as definitions at mkOptionDefault priority.
  optionDefaults =
    decls:
    if typeOf' decls == "option" then
      (if decls ? default then lib.mkOptionDefault decls.default else { })
    else if isAttrs decls then
      mapAttrs (_: optionDefaults) decls
    else
      { };

  # collect loads a module (path, function or attribute set) and its
  # imports: { defs = [ top-level config definitions ]; nixpkgs = [ imported
  # nixpkgs module paths ]; }.
  collect =
    args: m:
    let
      fn = if isPath m || isString m then import m else m;
      value = if isFunction fn then fn args else fn;
      structured = value ? config || value ? options;
      own =
        if structured then
          value.config or { }
        else
          removeAttrs value [
            "imports"
            "_file"
            "key"
            "disabledModules"
            "meta"
          ];
      imports = value.imports or [ ];
      fromNixpkgs = i: isString i && lib.hasPrefix modulesPath i;
      nixpkgsImports = filter fromNixpkgs imports;
      local = map (collect args) (filter (i: !fromNixpkgs i) imports);
    in
    {
      defs = [ own ] ++ lib.optional (value ? options) (optionDefaults value.options) ++ concatMap (l: l.defs) local;
      nixpkgs = nixpkgsImports ++ concatMap (l: l.nixpkgs) local;
    };

  evalSystem =
    specialArgs: modules:
    let
      args =
        specialArgs
        // {
          inherit
            config
            lib
            pkgs
            modulesPath
            ;
          options = { };
        };
      loaded = map (collect args) modules;
      defaults = deepOverride 1500 (import ./nixpkgs-options.nix { inherit pkgs; });
      tops = concatMap pushDown (concatMap (l: l.defs) loaded);
      config = builtins.head (mergeAt [ ] ([ defaults ] ++ tops));
    in
    {
      inherit config;
      nixpkgsImports = concatMap (l: l.nixpkgs) loaded;
    };

  node = evalSystem { nixlabSettings = settings; } (
    [
      (flakeDir + "/modules/storage.nix")
      (flakeDir + "/modules/node-base.nix")
      (flakeDir + "/modules/nfs.nix")
      (flakeDir + "/modules/kubernetes.nix")
    ]
    ++ map (p: flakeDir + "/${p}") settings.extraModules
  );

  installer = evalSystem {
    nixlabSettings = settings;
    nixlabNode = {
      inherit (node) config;
    };
  } [ (flakeDir + "/modules/installer.nix") ];

  summary = sys: {
    fileSystems = mapAttrs (_: fs: {
      device = fs.device or "";
      fsType = fs.fsType or "";
      options = fs.options or [ ];
    }) (sys.config.fileSystems or { });
    swapDevices = map (d: d.device) (sys.config.swapDevices or [ ]);
    users = attrNames (sys.config.users.users or { });
    timeZone = sys.config.time.timeZone or null;
    services = attrNames (sys.config.systemd.services or { });
    nixpkgsImports = sys.nixpkgsImports;
  };
  result = {
    node = summary node;
    installer = summary installer;
  };
in
builtins.deepSeq node.config (builtins.deepSeq installer.config result)
