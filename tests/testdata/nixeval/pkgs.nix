# A stand-in for nixpkgs' `pkgs`: every attribute the modules name (the test
# collects them from the module sources: `pkgs.<name>` and the lists under
# `with pkgs;`) is a derivation-like attribute set whose string form is a
# store path, "/nix/store/<hash>-<name>", like a real package's outPath.
# Sub-attributes the modules use (pkgs.cloud-utils.guest, an output) come as
# "<name>.<sub>" entries. The trivial builders are functions returning the
# same kind of value.
{ names }:
let
  inherit (builtins)
    filter
    hashString
    head
    listToAttrs
    match
    substring
    ;

  drv =
    name: subs:
    let
      self = {
        type = "derivation";
        inherit name;
        pname = name;
        outPath = "/nix/store/${substring 0 32 (hashString "sha256" name)}-${name}";
        drvPath = "/nix/store/${substring 0 32 (hashString "sha256" "drv ${name}")}-${name}.drv";
        outputs = [ "out" ] ++ subs;
        out = self;
        meta.mainProgram = name;
      }
      // listToAttrs (
        map (s: {
          name = s;
          value = drv "${name}-${s}" [ ];
        }) subs
      );
    in
    self;

  # "a.b" -> { top = "a"; sub = "b"; }
  split' =
    n:
    let
      m = match "([^.]+)[.](.+)" n;
    in
    if m == null then
      {
        top = n;
        sub = null;
      }
    else
      {
        top = head m;
        sub = builtins.elemAt m 1;
      };
  parsed = map split' names;
  tops = builtins.foldl' (acc: p: if builtins.elem p.top acc then acc else acc ++ [ p.top ]) [ ] parsed;
  subsOf = t: map (p: p.sub) (filter (p: p.top == t && p.sub != null) parsed);

  builder =
    name: _:
    drv name [ ];
  builders = {
    writeText = builder;
    writeScript = builder;
    writeScriptBin = builder;
    writeShellScript = builder;
    writeShellScriptBin = builder;
    writeTextFile = a: drv a.name [ ];
    runCommand =
      name: _: _:
      drv name [ ];
    symlinkJoin = a: drv a.name [ ];
  };
in
listToAttrs (
  map (t: {
    name = t;
    value = drv t (subsOf t);
  }) tops
)
// builders
