# nixlab settings: read settings.json (written by the Go side next to
# flake.nix), fill in defaults and validate every key.
#
# Pure on purpose: builtins only, no nixpkgs, so that `nix-instantiate --eval`
# of a plain Nix (2.8 and later) can check it without network access:
#
#   nix-instantiate --eval --strict --json \
#     -E 'import ./lib/settings.nix { settingsFile = ./settings.example.json; }'
#
# Errors are thrown as "nixlab settings: <key>: <what is wrong>".
{ settingsFile }:
let
  inherit (builtins)
    all
    attrNames
    concatStringsSep
    elem
    filter
    fromJSON
    isAttrs
    isBool
    isInt
    isList
    isString
    match
    readFile
    stringLength
    throw
    toJSON
    typeOf
    ;

  raw = fromJSON (readFile settingsFile);

  fail = key: msg: throw "nixlab settings: ${key}: ${msg}";

  describe = v: if isString v then toJSON v else "a ${typeOf v}";

  # Reject keys we do not know: a typo must not silently become a default.
  checkKeys =
    where: known: attrs:
    let
      unknown = filter (k: !(elem k known)) (attrNames attrs);
    in
    if unknown == [ ] then
      true
    else
      fail (if where == "" then unknown' unknown else "${where}.${unknown' unknown}")
        "unknown key (known keys: ${concatStringsSep ", " known})";
  unknown' = ks: concatStringsSep ", " ks;

  get = attrs: key: default: if attrs ? ${key} && attrs.${key} != null then attrs.${key} else default;

  # String that matches a POSIX ERE (whole string).
  str =
    key: re: what: v:
    if !isString v then
      fail key "must be a string, got ${describe v}"
    else if match re v == null then
      fail key "${describe v} is not valid: ${what}"
    else
      v;

  topKeys = [
    "adminUser"
    "authorizedKeys"
    "timezone"
    "disk"
    "swapSizeGb"
    "nfs"
    "extraModules"
  ];

  nfsKeys = [
    "server"
    "export"
    "mountPoint"
    "options"
  ];

  defaultNfsOptions = [
    "nfsvers=4.1"
    "hard"
    "rsize=1048576"
    "wsize=1048576"
  ];

  adminUser =
    let
      v = str "adminUser" "[a-z_][a-z0-9_-]{0,31}" "a lower-case user name (letters, digits, _ and -)" (
        get raw "adminUser" "nixos"
      );
    in
    if v == "root" then fail "adminUser" "must not be \"root\" (root login is disabled)" else v;

  authorizedKeys =
    let
      v = get raw "authorizedKeys" [ ];
      checkKey =
        k:
        str "authorizedKeys" "(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( [^\n]*)?"
          "an OpenSSH public key line (\"<type> <base64> [comment]\")"
          k;
    in
    if !isList v then fail "authorizedKeys" "must be a list of strings, got ${describe v}" else map checkKey v;

  timezone = str "timezone" "[A-Za-z0-9_+/-]+" "a tz database name such as \"UTC\" or \"Europe/Berlin\"" (
    get raw "timezone" "UTC"
  );

  disk =
    let
      v = str "disk" "/dev/[A-Za-z0-9_./-]+" "a block device path under /dev/ (e.g. /dev/sda)" (
        get raw "disk" "/dev/sda"
      );
    in
    if match "(.*/)?\\.\\.(/.*)?" v != null then fail "disk" "${describe v} must not contain .. components" else v;

  swapSizeGb =
    let
      v = get raw "swapSizeGb" 2;
    in
    if isBool v || !isInt v then
      fail "swapSizeGb" "must be a whole number of GiB, got ${describe v}"
    else if v < 0 then
      fail "swapSizeGb" "must not be negative, got ${toString v}"
    else if v > 1024 then
      fail "swapSizeGb" "must be at most 1024, got ${toString v}"
    else
      v;

  nfs =
    let
      v = raw.nfs or null;
    in
    if v == null then
      null
    else if !isAttrs v then
      fail "nfs" "must be null or an object, got ${describe v}"
    else
      assert checkKeys "nfs" nfsKeys v;
      let
        mountPoint =
          str "nfs.mountPoint" "/[A-Za-z0-9_./-]*" "an absolute path (e.g. /mnt/nfs)"
            (get v "mountPoint" "/mnt/nfs");
        options = get v "options" defaultNfsOptions;
        checkOption = o: str "nfs.options" "[A-Za-z0-9_.=:/+-]+" "a single mount option without spaces or commas" o;
      in
      {
        server = str "nfs.server" "[A-Za-z0-9._-]+|[[][0-9A-Fa-f:.]+[]]" "a host name or IP address" (
          v.server or (fail "nfs.server" "is required when nfs is set")
        );
        export = str "nfs.export" "/[^ \t\n,]*" "an export path starting with \"/\"" (
          v.export or (fail "nfs.export" "is required when nfs is set")
        );
        mountPoint =
          if mountPoint == "/" || match "(.*/)?\\.\\.(/.*)?" mountPoint != null then
            fail "nfs.mountPoint" "${describe mountPoint} is not allowed (not /, no ..)"
          else
            mountPoint;
        options =
          if !isList options then
            fail "nfs.options" "must be a list of strings, got ${describe options}"
          else
            map checkOption options;
      };

  extraModules =
    let
      v = get raw "extraModules" [ ];
      checkPath =
        p:
        let
          s = str "extraModules" "[A-Za-z0-9_.+-][A-Za-z0-9_./+-]*" "a relative path inside the flake directory (e.g. extra/00-my.nix)" p;
        in
        if match "(.*/)?\\.\\.(/.*)?" s != null then
          fail "extraModules" "${describe s} must not contain .. components"
        else
          s;
    in
    if !isList v then fail "extraModules" "must be a list of strings, got ${describe v}" else map checkPath v;

  result = {
    inherit
      adminUser
      authorizedKeys
      timezone
      disk
      swapSizeGb
      nfs
      extraModules
      ;
  };
in
if !isAttrs raw then
  fail "settings.json" "must hold a JSON object, got ${describe raw}"
else
  assert checkKeys "" topKeys raw;
  builtins.deepSeq result result
