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
#
# Names, keys, hosts and paths are checked by the rule set in ./rules.json,
# which the Go validator (stack.Config.Validate) reads too: one rule set,
# and tests/validators_corpus_test.go feeds both validators the same corpus.
# Only what needs data Nix does not have here stays Go-only: whether a
# well-formed time zone exists in the tz database, and a full parse of a
# public key's contents (Nix checks its type, base64 form, the type name
# encoded in it and, for fixed-size types, its length).
{ settingsFile }:
let
  inherit (builtins)
    all
    any
    attrNames
    concatStringsSep
    elem
    elemAt
    filter
    fromJSON
    genList
    head
    isAttrs
    isBool
    isInt
    isList
    isString
    length
    match
    readFile
    split
    stringLength
    substring
    throw
    toJSON
    typeOf
    ;

  raw = fromJSON (readFile settingsFile);

  rules = fromJSON (readFile ./rules.json);

  matches = re: s: match re s != null;

  # A path component "." or "..".
  hasDotComponent = p: matches "(.*/)?[.][.]?(/.*)?" p;

  # p is t or below t.
  under = t: p: p == t || substring 0 (stringLength t + 1) p == t + "/";

  # Dotted decimal, four numbers 0-255 without leading zeros.
  isIPv4 =
    s:
    let
      m = match "([0-9]{1,3})[.]([0-9]{1,3})[.]([0-9]{1,3})[.]([0-9]{1,3})" s;
    in
    m != null && all (o: (o == "0" || matches "[1-9][0-9]*" o) && fromJSON o <= 255) m;

  # An IPv6 address as Go's net/netip parses it (no zone): 8 groups of 1-4
  # hex digits, or fewer around one "::", the last two may be an IPv4.
  isIPv6 =
    s:
    let
      halves = filter isString (split "::" s);
      groupsOf = part: if part == "" then [ ] else filter isString (split ":" part);
      first = groupsOf (elemAt halves 0);
      second = if length halves == 2 then groupsOf (elemAt halves 1) else [ ];
      lastHalf = if length halves == 2 then second else first;
      v4 = lastHalf != [ ] && isIPv4 (elemAt lastHalf (length lastHalf - 1));
      groups = first ++ second;
      hexes = if v4 then genList (elemAt groups) (length groups - 1) else groups;
      count = length hexes + (if v4 then 2 else 0);
    in
    length halves <= 2
    && all (matches "[0-9A-Fa-f]{1,4}") hexes
    && (if length halves == 2 then count <= 7 else count == 8);

  # Why h is no host name, IPv4 or IPv6 address (bare or in brackets), or
  # null (stack/rules.go hostProblem).
  hostProblem =
    h:
    let
      bm = match "[[](.*)[]]" h;
      inner = if bm == null then h else head bm;
      bracketed = bm != null;
    in
    if !bracketed && (matches "[[].*" h || matches ".*[]]" h) then
      "has unbalanced brackets"
    else if matches rules.ipv6Pattern inner then
      (if isIPv6 inner then null else "is not a valid IPv6 address")
    else if bracketed then
      "has brackets but no IPv6 address inside"
    else if h != "" && matches "[0-9.]+" h then
      (if isIPv4 h then null else "is not a valid IPv4 address (four numbers 0-255 without leading zeros)")
    else if !matches rules.hostNamePattern h || stringLength h > 253 then
      "is not a host name or IP address"
    else
      null;

  # Why p cannot be the NFS mount point, or null (stack/rules.go
  # mountPointProblem).
  mountPointProblem =
    p:
    let
      trees = filter (t: under t p) rules.systemTrees;
      hidden = filter (under p) rules.systemPaths;
    in
    if !matches rules.pathPattern p then
      "is not an absolute path (no trailing '/', no '//'); use e.g. /mnt/nfs"
    else if hasDotComponent p then
      "holds a '.' or '..' component; use a plain path such as /mnt/nfs"
    else if trees != [ ] then
      "is inside the system directory ${head trees}; use a dedicated directory such as /mnt/nfs"
    else if hidden != [ ] then
      "would hide ${head hidden}, which the node needs; use a dedicated directory such as /mnt/nfs"
    else
      null;

  # Why p is no NFS export path, or null (stack/rules.go exportProblem).
  exportProblem =
    p:
    if p == "/" then
      null
    else if !matches rules.pathPattern p then
      "is not an absolute export path"
    else if hasDotComponent p then
      "holds a '.' or '..' component"
    else
      null;

  # "<type> <base64> [comment]" with a known type whose encoded name starts
  # the blob, and the exact length for fixed-size types (stack/rules.go
  # authorizedKeyForm).
  keyFormOk =
    k:
    let
      m = match "([^ ]+) ([^ ]+)( [^\n]*)?" k;
      type = elemAt m 0;
      blob = elemAt m 1;
      prefix = rules.sshKeyBlobPrefixes.${type} or "";
    in
    m != null
    && elem type rules.sshKeyTypes
    && prefix != ""
    && matches rules.sshKeyBlobPattern blob
    && substring 0 (stringLength prefix) blob == prefix
    && (!(rules.sshKeyBlobLengths ? ${type}) || stringLength blob == rules.sshKeyBlobLengths.${type});

  reservedUser = u: elem u rules.reservedUsers || any (re: matches re u) rules.reservedUserPatterns;

  # Checked by fn (a problem text or null) after str's type check.
  checked =
    key: fn: v:
    if !isString v then
      fail key "must be a string, got ${describe v}"
    else
      let
        problem = fn v;
      in
      if problem == null then v else fail key "${toJSON v} ${problem}";

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
      v = get raw "adminUser" "nixos";
    in
    if v == "root" then
      fail "adminUser" "must not be \"root\" (root login is disabled)"
    else
      checked "adminUser" (
        u:
        if !matches rules.userPattern u then
          "is not a lower-case user name (letters, digits, _ and -, at most 32 characters)"
        else if reservedUser u then
          "is a system account on NixOS nodes; use an ordinary name such as nixos"
        else
          null
      ) v;

  authorizedKeys =
    let
      v = get raw "authorizedKeys" [ ];
      # The entry is not repeated: it might be a private key pasted by mistake.
      checkKey =
        k:
        if !isString k then
          fail "authorizedKeys" "must be a list of strings, got ${describe k} in it"
        else if keyFormOk k then
          k
        else
          fail "authorizedKeys" "an entry is not an OpenSSH public key line (\"<type> <base64> [comment]\"; wrong type, truncated or extra text)";
    in
    if !isList v then fail "authorizedKeys" "must be a list of strings, got ${describe v}" else map checkKey v;

  timezone = checked "timezone" (
    tz:
    if matches rules.timezonePattern tz && tz != "Local" then
      null
    else
      "is not a tz database name such as \"UTC\" or \"Europe/Berlin\""
  ) (get raw "timezone" "UTC");

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
    else if v > rules.maxSwapSizeGb then
      fail "swapSizeGb" "must be at most ${toString rules.maxSwapSizeGb}, got ${toString v}"
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
        options = get v "options" defaultNfsOptions;
        checkOption = checked "nfs.options" (
          o:
          if !matches rules.nfsOptionPattern o then
            "is not a single mount option (no spaces or commas)"
          else if elem o rules.obsoleteNfsOptions then
            "is obsolete on current kernels and ignored; remove it"
          else
            null
        );
        server = checked "nfs.server" hostProblem (
          v.server or (fail "nfs.server" "is required when nfs is set")
        );
      in
      {
        # As the mount device needs it: an IPv6 address in brackets.
        server = if matches rules.ipv6Pattern server then "[${server}]" else server;
        export = checked "nfs.export" exportProblem (
          v.export or (fail "nfs.export" "is required when nfs is set")
        );
        mountPoint = checked "nfs.mountPoint" mountPointProblem (get v "mountPoint" "/mnt/nfs");
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
