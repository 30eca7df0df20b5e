# A stand-in for nixpkgs' `lib`, for evaluating nixlab's modules without
# nixpkgs (tests/nix_modules_eval_test.go). It provides the functions the
# modules use, implemented after nixpkgs lib/ (modules.nix, lists.nix,
# attrsets.nix, strings.nix, trivial.nix): the module properties keep what
# the evaluator (eval.nix) needs to apply them like lib/modules.nix does
# (mkIf keeps its condition, mkOverride its priority), the plain helpers
# return what nixpkgs' return. A module that calls a function missing here
# fails with "attribute '<name>' missing": add it, following nixpkgs.
let
  inherit (builtins)
    attrNames
    concatLists
    concatStringsSep
    elem
    filter
    foldl'
    head
    isAttrs
    isList
    listToAttrs
    map
    replaceStrings
    stringLength
    substring
    tail
    ;

  # lib/modules.nix
  mkIf = condition: content: {
    _type = "if";
    inherit condition content;
  };
  mkOverride = priority: content: {
    _type = "override";
    inherit priority content;
  };
  mkMerge = contents: {
    _type = "merge";
    inherit contents;
  };
  mkOrder = priority: content: {
    _type = "order";
    inherit priority content;
  };

  # lib/attrsets.nix
  nameValuePair = name: value: { inherit name value; };
  mapAttrs' = f: set: listToAttrs (map (n: f n set.${n}) (attrNames set));
  mapAttrsToList = f: set: map (n: f n set.${n}) (attrNames set);
  filterAttrs = pred: set: listToAttrs (filter (nv: pred nv.name nv.value) (mapAttrsToList nameValuePair set));
  recursiveUpdate =
    lhs: rhs:
    lhs
    // builtins.mapAttrs (
      n: v: if isAttrs v && lhs ? ${n} && isAttrs lhs.${n} then recursiveUpdate lhs.${n} v else v
    ) rhs;

  attrByPath =
    path: default: set:
    if path == [ ] then
      set
    else if isAttrs set && set ? ${head path} then
      attrByPath (tail path) default set.${head path}
    else
      default;

  # lib/strings.nix
  hasPrefix = pref: str: substring 0 (stringLength pref) str == pref;
  hasSuffix =
    suffix: content:
    let
      lc = stringLength content;
      ls = stringLength suffix;
    in
    lc >= ls && substring (lc - ls) lc content == suffix;
  removePrefix =
    prefix: str: if hasPrefix prefix str then substring (stringLength prefix) (stringLength str) str else str;
  escapeShellArg = arg: "'${replaceStrings [ "'" ] [ "'\\''" ] (toString arg)}'";
  concatMapStringsSep = sep: f: list: concatStringsSep sep (map f list);
  optionalString = cond: string: if cond then string else "";
  makeSearchPath =
    subDir: paths: concatStringsSep ":" (map (p: "${p}/${subDir}") (filter (x: x != null) paths));

  # lib/lists.nix
  optional = cond: elem: if cond then [ elem ] else [ ];
  optionals = cond: elems: if cond then elems else [ ];
  flatten = x: if isList x then concatLists (map flatten x) else [ x ];
  unique = foldl' (acc: e: if elem e acc then acc else acc ++ [ e ]) [ ];
  toList = x: if isList x then x else [ x ];
in
{
  inherit
    mkIf
    mkOverride
    mkMerge
    mkOrder
    nameValuePair
    mapAttrs'
    mapAttrsToList
    filterAttrs
    recursiveUpdate
    hasPrefix
    hasSuffix
    removePrefix
    escapeShellArg
    concatMapStringsSep
    optionalString
    makeSearchPath
    optional
    optionals
    flatten
    unique
    toList
    ;
  inherit (builtins)
    attrNames
    attrValues
    concatLists
    concatMap
    concatStringsSep
    elem
    filter
    foldl'
    genList
    head
    isAttrs
    isBool
    isInt
    isList
    isString
    length
    listToAttrs
    mapAttrs
    replaceStrings
    stringLength
    substring
    tail
    toJSON
    ;
  # lib/modules.nix priorities: mkOptionDefault 1500, mkDefault 1000,
  # plain definitions 100, mkForce 50; mkBefore 500, mkAfter 1500.
  mkOptionDefault = mkOverride 1500;
  mkDefault = mkOverride 1000;
  mkForce = mkOverride 50;
  mkBefore = mkOrder 500;
  mkAfter = mkOrder 1500;
  # lib/attrsets.nix
  optionalAttrs = cond: as: if cond then as else { };
  inherit attrByPath;
  # lib/strings.nix
  makeBinPath = makeSearchPath "bin";
  escapeShellArgs = concatMapStringsSep " " escapeShellArg;
  # lib/meta.nix
  getExe = drv: "${drv}/bin/${drv.meta.mainProgram or drv.pname or drv.name}";
  # lib/trivial.nix
  id = x: x;
  const = x: _: x;
  boolToString = b: if b then "true" else "false";
}
