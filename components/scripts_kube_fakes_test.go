package components_test

// The fake cluster the kube-*.sh tests run against: fake sudo, kubeadm,
// kubectl and systemctl that share one cluster state directory (the API
// server's view: Nodes, bootstrap tokens, the kubeadm-certs Secret, etcd
// members) while each node has its own /etc/kubernetes and /run. Every fake
// appends its argv to $FAKE_CALLS ("<tool> <args>", one call a line) so a
// test can check the order of calls and that no secret ever was an
// argument.
//
// Cluster state ($FAKE_CLUSTER):
//   api            present: the API server answers; a number N in it: it
//                  refuses the next N requests first (it is starting)
//   nodes/<n>      a Node object; content "control-plane" or "worker" (the
//                  control-plane label); nodes/<n>.notready: not Ready
//   nodes/<n>.later  the Node appears only after this many more requests
//   tokens/<id>    bootstrap token Secret: "<token> <expiry epoch>"
//   certs          kubeadm-certs Secret: "<certificate key> <expiry epoch>"
//   etcd/<n>       stacked etcd member of node n: "<hex id> <True|False>"
//                  (its static pod's Ready condition)
//   cluster-info   ConfigMap kube-public/cluster-info exists
//   cordoned/<n>, drained/<n>  what kubectl did
//   pdb            a PodDisruptionBudget blocks every eviction
//   checkfail      "dns" or "storage": that check pod never succeeds
//   applied        what `kubectl apply -f -` read
// The fakes write, for the tests only: init-config (what `kubeadm init`
// read), vip-during-init (kube-vip.yaml while init ran), modes (the
// permissions of the config file and its directory when kubeadm read it).

// kubeFakeSudo behaves like `sudo -n`: without -n it would prompt, so it
// refuses (sudo(8): -n, non-interactive: "a password is required"); with -n
// it runs the command as root (FAKE_ROOT=1 for the fakes), with stdin
// passed through.
const kubeFakeSudo = `
printf 'sudo %s\n' "$*" >>"$FAKE_CALLS"
if [[ "${1:-}" != -n ]]; then
  echo "sudo: a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper" >&2
  echo "sudo: a password is required" >&2
  exit 1
fi
shift
export FAKE_ROOT=1
exec "$@"
`

// kubeFakeSystemctl: `stop kubelet` (as root); FAKE_SYSTEMCTL_FAIL=1 makes
// it fail like systemctl for a unit that is not loaded (exit 5,
// systemctl(1) EXIT STATUS: 5 unit not loaded).
const kubeFakeSystemctl = `
printf 'systemctl %s\n' "$*" >>"$FAKE_CALLS"
[[ "$*" == "stop kubelet" ]] || { echo "fake systemctl: unexpected: $*" >&2; exit 64; }
[[ -n "${FAKE_ROOT:-}" ]] || { echo "Failed to stop kubelet.service: Access denied" >&2; exit 4; }
if [[ -n "${FAKE_SYSTEMCTL_FAIL:-}" ]]; then echo "Failed to stop kubelet.service: Unit kubelet.service not loaded." >&2; exit 5; fi
`

// kubeFakeKubeadm follows kubernetes/kubernetes cmd/kubeadm at v1.35:
//   - version -o short: the GitVersion and a newline (app/cmd/version.go
//     RunVersion, case "short").
//   - every other command needs root (app/preflight/checks.go
//     IsPrivilegedUserCheck: "user is not running as root").
//   - init: preflight (v1.35.4 checks.go InitNodeChecks: FileAvailable for
//     the static pod manifests; no check of the manifests directory
//     itself), then the phases certs (pki/ca.crt),
//     kubeconfig (admin.conf, super-admin.conf, kubelet.conf), etcd and
//     control-plane manifests, wait-control-plane, upload-config,
//     upload-certs (prints the key: app/cmd/phases/init/uploadcerts.go),
//     mark-control-plane, bootstrap-token (creates the token Secret and
//     cluster-info) and the join commands with the token and key
//     (app/cmd/init.go showJoinCommand). A kube-vip static pod that mounts
//     admin.conf on >= 1.29 has no rights during init, so the VIP never
//     comes up and upload-config fails (kube-vip/kube-vip#684).
//     FAKE_INIT_FAIL=<phase> fails in kubeconfig (after certs),
//     wait-control-plane (after the manifests; verbose output echoes the
//     config with the token) or upload-config (API up, no cluster-info).
//   - join: preflight (v1.35.4 JoinNodeChecks: FileAvailable kubelet.conf and bootstrap-kubelet.conf, for a worker
//     FileAvailable pki/ca.crt), discovery (app/discovery/token: the token's
//     Secret must exist and not be expired, else "could not find a JWS
//     signature in the cluster-info ConfigMap for token ID"; the CA hash
//     must match: pubkeypin "none of the public keys ... are pinned"), for
//     a control plane download-certs (app/phases/copycerts getSecret: the
//     kubeadm-certs message when missing or expired), kubelet-start
//     (bootstrap-kubelet.conf, then kubelet.conf and the Node), for a
//     control plane control-plane-join (etcd member, label).
//     FAKE_JOIN_FAIL=kubelet-start|control-plane-join fails there.
//   - token create --config: creates the config's token and prints it;
//     refuses an ID that exists (app/cmd/token.go RunCreateToken ->
//     phases/bootstraptoken/node CreateNewTokens, failIfExists = true).
//   - token delete <id>: app/cmd/token.go RunDeleteTokens' message.
//   - init phase upload-certs --upload-certs --config: (re)writes
//     kubeadm-certs for 2 h and prints the key.
//   - FAKE_KUBEADM_FAIL=<text>: a command containing it fails.
//   - reset -f: removes the node's etcd member when the API answers
//     (app/cmd/phases/reset/removeetcdmember.go), and the node's files.
const kubeFakeKubeadm = `
printf 'kubeadm %s\n' "$*" >>"$FAKE_CALLS"
kd="$NIXLAB_KUBE_DIR"
cl="$FAKE_CLUSTER"
now="$(date +%s)"
version="${FAKE_KUBEADM_VERSION-v1.35.2}"
# FAKE_KUBEADM_FAIL: a command whose arguments contain it fails.
if [[ -n "${FAKE_KUBEADM_FAIL:-}" && "$*" == *"$FAKE_KUBEADM_FAIL"* ]]; then
  echo "error: etcdserver: request timed out" >&2
  exit 1
fi
if [[ "$*" == "version -o short" ]]; then printf '%s\n' "$version"; exit 0; fi
if [[ -z "${FAKE_ROOT:-}" ]]; then
  printf '[preflight] Some fatal errors occurred:\n\t[ERROR IsPrivilegedUser]: user is not running as root\n' >&2
  exit 1
fi
cfgval() { sed -n -E "s/^[[:space:]]*(- )?$1: *//p" "$2" | head -n 1; }
preflight_fail() {
  echo "[preflight] Running pre-flight checks"
  printf 'error execution phase preflight: [preflight] Some fatal errors occurred:\n'
  printf '\t[ERROR %s]: %s\n' "$1" "$2"
  echo '[preflight] If you know what you are doing, you can make a check non-fatal with ` + "`--ignore-preflight-errors=...`" + `'
  echo "To see the stack trace of this error execute with --v=5 or higher"
  exit 1
}
api_up() { [[ -f "$cl/api" ]]; }
config=""
ignore=""
args=("$@")
for a in "${args[@]}"; do
  case "$a" in
    --config) ;;
    --ignore-preflight-errors=*) ignore="${a#*=}" ;;
  esac
done
for ((i = 0; i < ${#args[@]}; i++)); do
  [[ "${args[$i]}" != --config ]] || config="${args[$((i + 1))]}"
done
if [[ -n "$config" ]]; then
  [[ -r "$config" ]] || { echo "unable to read config from \"$config\"" >&2; exit 1; }
  printf 'modes %s %s\n' "$(stat -c %a "$(dirname "$config")")" "$(stat -c %a "$config")" >>"$cl/modes"
  token="$(cfgval token "$config")"
  key="$(cfgval certificateKey "$config")"
  node="$(cfgval name "$config")"
fi
case "$1 ${2:-}" in
  "init --upload-certs")
    cp "$config" "$cl/init-config"
    kv="$(cfgval kubernetesVersion "$config")"
    if [[ "$kv" != v*.*.* ]]; then
      echo "this version string is not supported: \"$kv\"" >&2
      exit 1
    fi
    [[ ! -e "$kd/manifests/kube-apiserver.yaml" ]] || preflight_fail FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml "/etc/kubernetes/manifests/kube-apiserver.yaml already exists"
    echo "[init] Using Kubernetes version: $kv"
    echo "[preflight] Running pre-flight checks"
    mkdir -p "$kd/pki" "$kd/manifests"
    cp "$FAKE_CA_CRT" "$kd/pki/ca.crt"
    echo "[certs] Generating \"ca\" certificate and key"
    if [[ "${FAKE_INIT_FAIL:-}" == kubeconfig ]]; then
      echo "error execution phase kubeconfig/admin: failure loading admin.conf" >&2
      exit 1
    fi
    for f in admin.conf super-admin.conf kubelet.conf controller-manager.conf scheduler.conf; do
      printf 'apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://10.0.0.100:6443\n  name: lab\nusers:\n- name: %s\n' "$f" >"$kd/$f"
    done
    echo "[kubeconfig] Writing \"admin.conf\" kubeconfig file"
    echo "[kubeconfig] Writing \"super-admin.conf\" kubeconfig file"
    for f in etcd kube-apiserver kube-controller-manager kube-scheduler; do echo "kind: Pod" >"$kd/manifests/$f.yaml"; done
    echo "[control-plane] Creating static Pod manifest for \"kube-apiserver\""
    if [[ "${FAKE_INIT_FAIL:-}" == wait-control-plane ]]; then
      for i in $(seq 1 25); do echo "[kubelet-check] The kubelet is not healthy after ${i}0s (line $i)"; done
      echo "I1130 11:00:00.000000    1234 initconfiguration.go:123] loaded config: bootstrapTokens: [{token: $token}] certificateKey: $key"
      echo "error execution phase wait-control-plane: couldn't initialize a Kubernetes cluster" >&2
      echo "To see the stack trace of this error execute with --v=5 or higher" >&2
      exit 1
    fi
    if [[ -f "$kd/manifests/kube-vip.yaml" ]]; then
      cp "$kd/manifests/kube-vip.yaml" "$cl/vip-during-init"
      minor="${version#v1.}"
      minor="${minor%%.*}"
      if (( minor >= 29 )) && grep -q "path: /etc/kubernetes/admin.conf" "$kd/manifests/kube-vip.yaml"; then
        echo "[api-check] The API server is healthy after 5.0s"
        echo 'error execution phase upload-config/kubeadm: could not upload the kubeadm configuration: Post "https://10.0.0.100:6443/api/v1/namespaces/kube-system/configmaps?timeout=10s": dial tcp 10.0.0.100:6443: connect: no route to host' >&2
        exit 1
      fi
    fi
    touch "$cl/api"
    echo "[api-check] The API server is healthy after 5.001750334s"
    if [[ "${FAKE_INIT_FAIL:-}" == upload-config ]]; then
      echo "error execution phase upload-config/kubeadm: could not upload the kubeadm configuration: etcdserver: request timed out" >&2
      exit 1
    fi
    mkdir -p "$cl/nodes" "$cl/tokens" "$cl/etcd"
    echo control-plane >"$cl/nodes/$node"
    echo "8e9e05c52164694d True" >"$cl/etcd/$node"
    printf '%s %s\n' "$key" $((now + 7200)) >"$cl/certs"
    printf '[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace\n[upload-certs] Using certificate key:\n%s\n' "$key"
    printf '%s %s\n' "$token" $((now + 86400)) >"$cl/tokens/${token%%.*}"
    touch "$cl/cluster-info"
    echo "[bootstrap-token] Using token: $token"
    echo "Your Kubernetes control-plane has initialized successfully!"
    printf '  kubeadm join 10.0.0.100:6443 --token %s \\\n\t--discovery-token-ca-cert-hash %s \\\n\t--control-plane --certificate-key %s\n' "$token" "$FAKE_CA_HASH" "$key"
    ;;
  "join --config")
    [[ ! -e "$kd/kubelet.conf" ]] || preflight_fail FileAvailable--etc-kubernetes-kubelet.conf "/etc/kubernetes/kubelet.conf already exists"
    [[ ! -e "$kd/bootstrap-kubelet.conf" ]] || preflight_fail FileAvailable--etc-kubernetes-bootstrap-kubelet.conf "/etc/kubernetes/bootstrap-kubelet.conf already exists"
    cp=""
    grep -q '^controlPlane:' "$config" && cp=1
    if [[ -z "$cp" && -e "$kd/pki/ca.crt" ]]; then preflight_fail FileAvailable--etc-kubernetes-pki-ca.crt "/etc/kubernetes/pki/ca.crt already exists"; fi
    echo "[preflight] Running pre-flight checks"
    api_up || { echo 'error execution phase preflight: couldn'"'"'t validate the identity of the API Server: Get "https://10.0.0.100:6443/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s": dial tcp 10.0.0.100:6443: connect: connection refused' >&2; exit 1; }
    id="${token%%.*}"
    read -r have exp <"$cl/tokens/$id" 2>/dev/null || have=""
    if [[ "$have" != "$token" ]] || { [[ "$exp" != never ]] && (( exp <= now )); }; then
      echo "error execution phase preflight: couldn't validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID \"$id\"" >&2
      exit 1
    fi
    hash="$(sed -n -E 's/^[[:space:]]*- (sha256:[0-9a-f]+)$/\1/p' "$config")"
    if [[ "$hash" != "$FAKE_CA_HASH" ]]; then
      echo "error execution phase preflight: couldn't validate the identity of the API Server: cluster CA found in cluster-info ConfigMap is invalid: none of the public keys \"$FAKE_CA_HASH\" are pinned" >&2
      exit 1
    fi
    if [[ -n "$cp" ]]; then
      echo '[download-certs] Downloading the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace'
      read -r ckey cexp <"$cl/certs" 2>/dev/null || ckey=""
      if [[ -z "$ckey" ]] || (( cexp <= now )); then
        echo 'error execution phase control-plane-prepare/download-certs: error downloading certs: error downloading the secret: Secret "kubeadm-certs" was not found in the "kube-system" Namespace. This Secret might have expired. Please, run ` + "`kubeadm init phase upload-certs --upload-certs`" + ` on a control plane to generate a new one' >&2
        exit 1
      fi
      if [[ "$ckey" != "$key" ]]; then
        echo "error execution phase control-plane-prepare/download-certs: error downloading certs: error decoding secret data with provided key: cipher: message authentication failed" >&2
        exit 1
      fi
      mkdir -p "$kd/pki"
      cp "$FAKE_CA_CRT" "$kd/pki/ca.crt"
    fi
    mkdir -p "$kd/pki"
    cp "$FAKE_CA_CRT" "$kd/pki/ca.crt"
    echo "kind: Config" >"$kd/bootstrap-kubelet.conf"
    echo "[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap"
    if [[ "${FAKE_JOIN_FAIL:-}" == kubelet-start ]]; then
      echo "error execution phase kubelet-start: timed out waiting for the condition (token $token)" >&2
      exit 1
    fi
    rm -f "$kd/bootstrap-kubelet.conf"
    echo "kind: Config" >"$kd/kubelet.conf"
    mkdir -p "$cl/nodes"
    echo worker >"$cl/nodes/$node"
    if [[ -n "$cp" ]]; then
      if [[ "${FAKE_JOIN_FAIL:-}" == control-plane-join ]]; then
        echo "error execution phase control-plane-join/etcd: error creating local etcd static pod manifest file: etcdserver: re-configuration failed due to not enough started members" >&2
        exit 1
      fi
      mkdir -p "$kd/manifests" "$cl/etcd"
      for f in etcd kube-apiserver kube-controller-manager kube-scheduler; do echo "kind: Pod" >"$kd/manifests/$f.yaml"; done
      echo "kind: Config" >"$kd/admin.conf"
      printf '%x True\n' "$((RANDOM * 65536 + RANDOM + 1))" >"$cl/etcd/$node"
      echo control-plane >"$cl/nodes/$node"
      echo "This node has joined the cluster and a new control plane instance was created:"
    else
      echo "This node has joined the cluster:"
    fi
    ;;
  "token create")
    api_up || { echo "failed to create or update bootstrap token: connection refused" >&2; exit 1; }
    id="${token%%.*}"
    if [[ -e "$cl/tokens/$id" ]]; then echo "a token with id \"$id\" already exists" >&2; exit 1; fi
    mkdir -p "$cl/tokens"
    printf '%s %s\n' "$token" $((now + 86400)) >"$cl/tokens/$id"
    printf '%s\n' "$token"
    ;;
  "token delete")
    api_up || { echo "failed to delete bootstrap token: connection refused" >&2; exit 1; }
    rm -f "$cl/tokens/$3"
    echo "bootstrap token \"$3\" deleted"
    ;;
  "init phase")
    [[ "$*" == "init phase upload-certs --upload-certs --config $config" ]] || { echo "fake kubeadm: unexpected: $*" >&2; exit 64; }
    api_up || { echo "error execution phase upload-certs: connection refused" >&2; exit 1; }
    if [[ -n "${FAKE_UPLOAD_FAIL:-}" ]]; then
      printf '[upload-certs] Using certificate key:\n%s\nerror execution phase upload-certs: error uploading certs: etcdserver: request timed out\n' "$key" >&2
      exit 1
    fi
    printf '%s %s\n' "$key" $((now + 7200)) >"$cl/certs"
    printf '[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace\n[upload-certs] Using certificate key:\n%s\n' "$key"
    ;;
  "reset -f")
    if [[ -n "${FAKE_RESET_FAIL:-}" ]]; then echo "[reset] failed to remove containers: context deadline exceeded" >&2; exit 1; fi
    me="${FAKE_NODE:-}"
    if [[ -e "$kd/manifests/etcd.yaml" ]] && api_up && [[ -n "$me" ]]; then
      rm -f "$cl/etcd/$me"
      echo "[reset] Removing info for node \"$me\" from the etcd cluster"
    fi
    echo "[reset] Stopping the kubelet service"
    echo "[reset] Deleting contents of directories: [$kd/manifests /var/lib/kubelet $kd/pki]"
    rm -rf "$kd/manifests" "$kd/pki" "$kd"/*.conf
    ;;
  *)
    echo "fake kubeadm: unexpected: $*" >&2
    exit 64
    ;;
esac
`

// kubeFakeKubectl follows kubectl v1.35 (k8s.io/kubectl): errors from the
// server as "Error from server (NotFound): <resource> \"<name>\" not
// found" (exit 1), an unreachable server as "The connection to the server
// <host>:6443 was refused - did you specify the right host or port?",
// `get --ignore-not-found` prints nothing for a missing object, jsonpath
// prints maps as JSON, `wait` prints "<kind>/<name> condition met" or
// "error: timed out waiting for the condition on <kind>/<name>", `drain`
// evicts through the eviction API and, when a PodDisruptionBudget refuses,
// retries until --timeout, then fails (pkg/drain/drain.go evictPods:
// "global timeout reached"). The kubeconfig it is given must be readable:
// admin.conf and kubelet.conf are root-only on a node.
const kubeFakeKubectl = `
printf 'kubectl %s\n' "$*" >>"$FAKE_CALLS"
cl="$FAKE_CLUSTER"
kc=""
ns=""
args=()
while (( $# > 0 )); do
  case "$1" in
    --kubeconfig) kc="$2"; shift 2 ;;
    --request-timeout=*) shift ;;
    -n) ns="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]}"
if [[ -z "${FAKE_ROOT:-}" || ! -r "$kc" ]]; then
  echo "error: error loading config file \"$kc\": open $kc: permission denied" >&2
  exit 1
fi
# FAKE_KUBECTL_FAIL: a request whose arguments contain it gets a server
# error (a 500: "Error from server (InternalError): ...").
if [[ -n "${FAKE_KUBECTL_FAIL:-}" && "$*" == *"$FAKE_KUBECTL_FAIL"* ]]; then
  echo 'Error from server (InternalError): an error on the server ("etcdserver: leader changed") has prevented the request from succeeding' >&2
  exit 1
fi
refused() { echo "The connection to the server 10.0.0.100:6443 was refused - did you specify the right host or port?" >&2; exit 1; }
[[ -f "$cl/api" ]] || refused
n="$(cat "$cl/api")"
if [[ -n "$n" ]] && (( n > 0 )); then echo $((n - 1)) >"$cl/api"; refused; fi
notfound() { echo "Error from server (NotFound): $1 \"$2\" not found" >&2; exit 1; }
node_exists() {
  local f="$cl/nodes/$1.later" k
  if [[ -f "$f" ]]; then
    k="$(cat "$f")"
    if (( k > 0 )); then echo $((k - 1)) >"$f"; return 1; fi
    rm -f "$f"
  fi
  [[ -f "$cl/nodes/$1" ]]
}
nodes() { local f; for f in "$cl"/nodes/*; do [[ -f "$f" && "$f" != *.later && "$f" != *.notready ]] && basename "$f"; done; return 0; }
case "$ns|$*" in
  "|get --raw=/readyz") echo ok ;;
  "|get node "*" -o name")
    node_exists "$3" || notfound nodes "$3"
    echo "node/$3"
    ;;
  "|get node "*" -o jsonpath={.metadata.name} {.metadata.labels}")
    node_exists "$3" || notfound nodes "$3"
    if [[ "$(cat "$cl/nodes/$3")" == control-plane ]]; then
      printf '%s {"kubernetes.io/hostname":"%s","kubernetes.io/os":"linux","node-role.kubernetes.io/control-plane":"","node.kubernetes.io/exclude-from-external-load-balancers":""}' "$3" "$3"
    else
      printf '%s {"kubernetes.io/hostname":"%s","kubernetes.io/os":"linux"}' "$3" "$3"
    fi
    ;;
  "|get nodes -l node-role.kubernetes.io/control-plane -o name")
    for n in $(nodes); do [[ "$(cat "$cl/nodes/$n")" != control-plane ]] || echo "node/$n"; done
    ;;
  "|get nodes -o name")
    for n in $(nodes); do echo "node/$n"; done
    ;;
  "kube-public|get configmap cluster-info -o name")
    [[ -f "$cl/cluster-info" ]] || notfound configmaps cluster-info
    echo "configmap/cluster-info"
    ;;
  "kube-system|get secret bootstrap-token-"*" --ignore-not-found -o jsonpath={.metadata.name} {.data.expiration}")
    id="${3#bootstrap-token-}"
    if [[ -f "$cl/tokens/$id" ]]; then
      read -r _ exp <"$cl/tokens/$id"
      if [[ "$exp" == never ]]; then
        printf '%s ' "$3"
      elif [[ ! "$exp" =~ ^[0-9]+$ ]]; then
        printf '%s %s' "$3" "$(printf '%s' "$exp" | base64)"
      else
        printf '%s %s' "$3" "$(date -u -d "@$exp" +%Y-%m-%dT%H:%M:%SZ | base64)"
      fi
    fi
    ;;
  "kube-system|get pods -l component=etcd -o jsonpath={range .items[*]}{.spec.nodeName}{\" \"}{.status.conditions[?(@.type==\"Ready\")].status}{\"\n\"}{end}")
    for f in "$cl"/etcd/*; do [[ -f "$f" ]] || continue; read -r _ ready <"$f"; printf '%s %s\n' "$(basename "$f")" "$ready"; done
    ;;
  "kube-system|get pods -l component=etcd --field-selector=status.phase=Running -o jsonpath={range .items[*]}{.metadata.name}{\" \"}{.spec.nodeName}{\"\n\"}{end}")
    for f in "$cl"/etcd/*; do [[ -f "$f" ]] || continue; read -r _ ready <"$f"; [[ "$ready" != True ]] || printf 'etcd-%s %s\n' "$(basename "$f")" "$(basename "$f")"; done
    ;;
  "kube-system|exec etcd-"*" -- etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key member "*)
    [[ -f "$cl/etcd/${2#etcd-}" ]] || notfound pods "$2"
    case "${*: -2:1} ${*: -1}" in
      "member list")
        for f in "$cl"/etcd/*; do
          [[ -f "$f" ]] || continue
          read -r id _ <"$f"
          n="$(basename "$f")"
          printf '%s, started, %s, https://%s:2380, https://%s:2379, false\n' "$id" "$n" "$n" "$n"
        done
        ;;
      "remove "*)
        id="${*: -1}"
        for f in "$cl"/etcd/*; do
          read -r have _ <"$f"
          if [[ "$have" == "$id" ]]; then rm -f "$f"; echo "Member $id removed from cluster 7e1c5d3a4b2f9e80"; exit 0; fi
        done
        echo "Error: etcdserver: member not found" >&2; exit 1
        ;;
    esac
    ;;
  "|cordon "*)
    node_exists "$2" || notfound nodes "$2"
    mkdir -p "$cl/cordoned"; touch "$cl/cordoned/$2"
    echo "node/$2 cordoned"
    ;;
  "|drain "*)
    node_exists "$2" || notfound nodes "$2"
    [[ "$*" == "drain $2 --ignore-daemonsets --delete-emptydir-data --timeout="*s ]] || { echo "fake kubectl: unexpected: $*" >&2; exit 64; }
    t="${*: -1}"
    t="${t#--timeout=}"
    mkdir -p "$cl/cordoned"; touch "$cl/cordoned/$2"
    echo "node/$2 already cordoned"
    echo "Warning: ignoring DaemonSet-managed Pods: kube-flannel/kube-flannel-ds-7xk2p, kube-system/kube-proxy-9dj4s"
    echo "evicting pod default/web-0"
    if [[ -f "$cl/pdb" ]]; then
      echo "error when evicting pods/\"web-0\" -n \"default\" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget."
      echo "error: unable to drain node \"$2\" due to error: [error when evicting pods/\"web-0\" -n \"default\": global timeout reached: $t], continuing command..."
      echo "There are pending nodes to be drained:"
      echo " $2"
      echo "error: [error when evicting pods/\"web-0\" -n \"default\": global timeout reached: $t]" >&2
      exit 1
    fi
    echo "pod/web-0 evicted"
    mkdir -p "$cl/drained"; touch "$cl/drained/$2"
    echo "node/$2 drained"
    ;;
  "|delete node "*" --ignore-not-found")
    if [[ -f "$cl/nodes/$3" ]]; then rm -f "$cl/nodes/$3"; echo "node \"$3\" deleted"; fi
    ;;
  "|wait --for=condition=Ready node --all --timeout="*)
    rc=0
    for n in $(nodes); do
      if [[ -f "$cl/nodes/$n.notready" ]]; then echo "error: timed out waiting for the condition on nodes/$n" >&2; rc=1; else echo "node/$n condition met"; fi
    done
    exit "$rc"
    ;;
  "|delete namespace nixlab-check --ignore-not-found --wait="*)
    if [[ -f "$cl/namespace" ]]; then rm -f "$cl/namespace"; echo "namespace \"nixlab-check\" deleted"; fi
    ;;
  "|apply -f -")
    cat >"$cl/applied"
    touch "$cl/namespace"
    grep -q 'kind: Namespace' "$cl/applied" || { echo "error: no objects passed to apply" >&2; exit 1; }
    echo "namespace/nixlab-check created"
    echo "pod/dns created"
    if grep -q 'kind: PersistentVolumeClaim' "$cl/applied"; then echo "persistentvolumeclaim/data created"; echo "pod/storage created"; fi
    ;;
  "nixlab-check|wait --for=jsonpath={.status.phase}=Succeeded pod --all --timeout="*)
    [[ -f "$cl/namespace" ]] || { echo "error: no matching resources found" >&2; exit 1; }
    rc=0
    for p in dns storage; do
      [[ "$p" != storage ]] || grep -q 'name: storage' "$cl/applied" || continue
      if [[ "$(cat "$cl/checkfail" 2>/dev/null)" == "$p" ]]; then echo "error: timed out waiting for the condition on pods/$p" >&2; rc=1; else echo "pod/$p condition met"; fi
    done
    exit "$rc"
    ;;
  "nixlab-check|get pods,pvc -o wide")
    printf 'NAME          READY   STATUS      RESTARTS   AGE   IP           NODE\npod/dns       0/1     %s   0          60s   10.244.1.5   w1\n' "$([[ "$(cat "$cl/checkfail" 2>/dev/null)" == dns ]] && echo Error || echo Completed)"
    if grep -q 'name: storage' "$cl/applied"; then
      printf 'pod/storage   0/1     %s   0          60s   <none>       <none>\n' "$([[ "$(cat "$cl/checkfail" 2>/dev/null)" == storage ]] && echo Pending || echo Completed)"
      printf 'NAME                         STATUS    VOLUME   CAPACITY   ACCESS MODES   STORAGECLASS\npersistentvolumeclaim/data   %s\n' "$([[ "$(cat "$cl/checkfail" 2>/dev/null)" == storage ]] && echo "Pending                                       nfs" || echo "Bound     pvc-1   1Mi        RWX            nfs")"
    fi
    ;;
  "nixlab-check|get events --sort-by=.lastTimestamp")
    echo "LAST SEEN   TYPE      REASON   OBJECT    MESSAGE"
    echo "10s         Warning   Failed   pod/dns   Error: nslookup: can't resolve 'kubernetes.default.svc.cluster.local'"
    ;;
  *)
    echo "fake kubectl: unexpected: -n $ns $*" >&2
    exit 64
    ;;
esac
`
