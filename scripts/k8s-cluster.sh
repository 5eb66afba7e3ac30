#!/usr/bin/env bash
# A one-node Kubernetes 1.20 cluster on this machine, for the cluster tests (docs/kubernetes.md):
#   scripts/k8s-cluster.sh up       build Kubernetes once (cached), clear what an interrupted run left, start the
#                                   cluster, build our images into its Docker; the last line is KUBECONFIG=<path>
#   scripts/k8s-cluster.sh down     stop it and leave nothing behind (processes, mounts, links, rules, sysctls, dirs)
#   scripts/k8s-cluster.sh status   what runs, and the environment the tests need
#   scripts/k8s-cluster.sh build    only the cached Kubernetes build
#   scripts/k8s-cluster.sh images   rebuild our images into the running cluster's Docker
# Needs root. Kubernetes is built from Debian's own source package (nothing can be pulled from a registry here),
# following the verified recipe in docs/kubernetes.md; the cache lives outside the repository.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Cache of the Kubernetes build (about 3.3 GB) and, under run/, the state of the running cluster.
W=${K8S_CACHE_DIR:-/var/cache/upgrade-manager/k8s}
# Cargo target directory of the static (musl) agent and demo builds and of the console's release build, kept.
MUSL_TARGET=${K8S_MUSL_TARGET_DIR:-/var/cache/upgrade-manager/musl-target}
B=$W/bin
R=$W/run
STAMP=v1.20.2-oomadj0
K8S_DIR=kubernetes-1.20.2
KUBE_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
# Kernel settings the cluster's processes change (kubelet, kube-proxy, dockerd): saved by `up`, restored by `down`.
SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet net.ipv4.ip_forward
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables)
# Host paths the kubelet and Docker's containerd create whatever their flags say: removed by `down` if `up` made them.
HOST_DIRS=(/var/lib/kubelet /var/log/pods /var/log/containers /run/containerd)
APISERVER=https://127.0.0.1:16443
# Images `up` builds (docs/kubernetes.md); the demo's per-release images are named by its version packages.
AGENT_IMAGE=upgrade-manager/agent:dev
DEMO_IMAGE=upgrade-manager/demo-app:dev
# The kubelet and every other component: never probe a cloud metadata service.
export AWS_EC2_METADATA_DISABLED=true
export DOCKER_HOST=unix://$R/docker.sock
DOCKER=/usr/bin/docker # Debian's 20.10 client; /usr/local/bin/docker is another one
export PATH=$HOME/.cargo/bin:$PATH

log() { printf '[k8s-cluster %s] %s\n' "$(date -u +%T)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

need_root() { [ "$(id -u)" = 0 ] || die "run as root (it starts dockerd and the kubelet and changes iptables)"; }

# --- install and build (cached) ---------------------------------------------------------------------------------

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  [ -x /usr/bin/docker ] || missing+=(docker.io)
  command -v etcd >/dev/null || missing+=(etcd-server etcd-client)
  command -v conntrack >/dev/null || missing+=(conntrack)
  command -v nft >/dev/null || missing+=(nftables)
  command -v musl-gcc >/dev/null || missing+=(musl-tools)
  for tool in iptables openssl curl gcc; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if ! built; then
    command -v go >/dev/null || missing+=(golang-go)
    command -v rsync >/dev/null || missing+=(rsync)
    [ -f /usr/include/stdio.h ] || missing+=(libc6-dev)
  fi
  [ ${#missing[@]} = 0 ] && return
  log "installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

built() {
  [ "$(cat "$B/.stamp" 2>/dev/null)" = "$STAMP" ] || return 1
  local bin
  for bin in "${KUBE_BINARIES[@]}" pause; do [ -x "$B/$bin" ] || return 1; done
}

build() {
  install_packages
  if built; then
    log "Kubernetes $STAMP: cached in $B"
    return
  fi
  local started=$SECONDS
  mkdir -p "$W/src" "$B" "$W/home"
  # deb-src entries derived from the existing sources (never a typed mirror host name)
  if [ ! -f /etc/apt/sources.list.d/debian-src.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
      >/etc/apt/sources.list.d/debian-src.sources
    apt-get update -q
  fi
  cd "$W/src"
  compgen -G 'kubernetes_*.orig.tar.gz' >/dev/null || apt-get source --download-only kubernetes
  local tarball
  tarball=$(compgen -G 'kubernetes_*.orig.tar.gz' | head -1)
  log "building Kubernetes from $tarball (about 10 minutes)"
  rm -rf "$K8S_DIR"
  tar xzf "$tarball"
  cd "$K8S_DIR"
  # No CAP_SYS_RESOURCE here: a negative oom_score_adj makes runc fail ("can't get final child's PID from pipe").
  sed -i 's/defaultSandboxOOMAdj int = -998/defaultSandboxOOMAdj int = 0/' pkg/kubelet/dockershim/docker_sandbox.go
  sed -i 's/guaranteedOOMScoreAdj int = -997/guaranteedOOMScoreAdj int = 0/' pkg/kubelet/qos/policy.go
  grep -q 'defaultSandboxOOMAdj int = 0' pkg/kubelet/dockershim/docker_sandbox.go || die "OOM-adj patch did not apply"
  grep -q 'guaranteedOOMScoreAdj int = 0' pkg/kubelet/qos/policy.go || die "OOM-adj patch did not apply"
  GOPROXY=off GOFLAGS=-mod=vendor HOME=$W/home CGO_ENABLED=0 \
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubelet cmd/kube-proxy cmd/kubectl" \
    GOLDFLAGS="-s -w"
  local bin
  for bin in "${KUBE_BINARIES[@]}"; do install -m755 "_output/bin/$bin" "$B/"; done
  gcc -static -Os -DVERSION=3.2 -o "$B/pause" build/pause/linux/pause.c
  echo "$STAMP" >"$B/.stamp"
  cd "$REPO"
  log "Kubernetes built in $((SECONDS - started)) s"
}

# --- our static binaries and images -----------------------------------------------------------------------------

# The agent and demo-app as static musl binaries, and the console's release build when trunk is installed.
build_binaries() {
  local started=$SECONDS
  if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
    log "adding the x86_64-unknown-linux-musl target"
    rustup target add x86_64-unknown-linux-musl >&2
  fi
  (cd "$REPO" && CC_x86_64_unknown_linux_musl=musl-gcc CARGO_TARGET_DIR=$MUSL_TARGET \
    cargo build --release --locked --target x86_64-unknown-linux-musl -p agent -p demo --bins) >&2
  if command -v trunk >/dev/null && command -v wasm-bindgen >/dev/null; then
    (cd "$REPO" && CARGO_TARGET_DIR=$MUSL_TARGET trunk build --release --cargo-profile wasm-release --offline \
      --dist "$MUSL_TARGET/console") >&2
  else
    rm -rf "$MUSL_TARGET/console"
    log "trunk or wasm-bindgen is not installed (scripts/setup.sh installs them): the agent image has no console"
  fi
  log "static binaries built in $((SECONDS - started)) s"
}

# Every (application, role, image) of the demo's version packages, e.g. "web web registry.example.com/dataphin/web:5.1.2.04".
demo_release_images() {
  local file
  for file in "$REPO"/demo/versions/src/*/version.yaml; do
    awk -v version="$(sed -n 's/^version: *//p' "$file")" '
      /^  - name: / { app = $3 }
      /^    local: / { role = $0; sub(/.*--role, */, "", role); sub(/[],].*/, "", role) }
      /^    image: / { print version, app, role, $2 }' "$file"
  done
}

# `docker import` of a directory holding static binaries (no builder, no base image, nothing pulled).
import_image() {
  local dir=$1 name=$2
  shift 2
  tar -C "$dir" -c . | $DOCKER import "$@" - "$name" >/dev/null
}

import_images() {
  local started=$SECONDS stage=$R/image-stage
  rm -rf "$stage" && mkdir -p "$stage"/{agent/data,demo/state}
  install -m755 "$MUSL_TARGET/x86_64-unknown-linux-musl/release/agent" "$stage/agent/agent"
  install -m755 "$MUSL_TARGET/x86_64-unknown-linux-musl/release/demo-app" "$stage/demo/demo-app"
  local console_env=()
  if [ -f "$MUSL_TARGET/console/index.html" ]; then
    cp -a "$MUSL_TARGET/console" "$stage/agent/console"
    console_env=(-c 'ENV AGENT_CONSOLE_DIR=/console')
  fi
  import_image "$stage/agent" "$AGENT_IMAGE" -c 'ENTRYPOINT ["/agent"]' -c 'CMD ["serve"]' \
    -c 'ENV AGENT_LISTEN=0.0.0.0:8080 AGENT_DATA_DIR=/data' "${console_env[@]}"
  import_image "$stage/demo" "$DEMO_IMAGE" -c 'ENTRYPOINT ["/demo-app"]' -c 'ENV DEMO_STATE_DIR=/state'
  # One image per application and release, named as the demo's manifests name them; the same static binary,
  # with the role and version baked in (identical layers: stored once).
  local version app role image
  while read -r version app role image; do
    import_image "$stage/demo" "$image" -c 'ENTRYPOINT ["/demo-app"]' -c "CMD [\"--role\", \"$role\"]" \
      -c "ENV DEMO_APP=$app DEMO_VERSION=$version DEMO_STATE_DIR=/state"
  done < <(demo_release_images)
  rm -rf "$stage"
  $DOCKER image prune -f >/dev/null # the images a re-import replaced
  log "images imported in $((SECONDS - started)) s$([ ${#console_env[@]} = 0 ] && echo ' (agent without console)'):"
  $DOCKER images --format '  {{.Repository}}:{{.Tag}} {{.Size}}' | { grep -v 'k8s.gcr.io/pause' || true; } >&2
}

# --- processes ---------------------------------------------------------------------------------------------------

# Processes of this cluster: the components by their binary and run dir, Docker's containerd and shims.
our_pids() {
  local pid exe cache_re
  cache_re=$(printf '%s' "$W" | sed 's/[][\.*^$+?(){}|]/\\&/g')
  for pid in $(pgrep -f -- "$cache_re/(bin|run)/" || true); do
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
    case "${exe##*/}" in
      kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kube-proxy | etcd | dockerd | \
        containerd | containerd-shim | containerd-shim-runc-v2 | runc | docker-proxy) echo "$pid" ;;
    esac
  done
}

# Processes inside the containers of our dockerd (in the /docker cgroups `up` created).
container_pids() {
  local created=$R/created-dirs cg
  [ -f "$created" ] || return 0
  while read -r cg; do
    [[ $cg == /sys/fs/cgroup/*/docker ]] || continue
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null || true
  done <"$created"
}

start() {
  local name=$1
  shift
  setsid "$@" >"$R/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$R/pids/$name.pid"
}

# Polls `check` every 0.2 s for up to `timeout` s; fails at once, with its log's tail, if `name` has died.
wait_for() {
  local name=$1 timeout=$2
  shift 2
  local started=$SECONDS deadline=$((SECONDS + timeout)) pid
  pid=$(cat "$R/pids/$name.pid")
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$R/logs/$name.log" >&2
      die "$name exited (logs in $R/logs; 'down' clears what runs)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$R/logs/$name.log" >&2
      die "$name not ready after ${timeout} s (logs in $R/logs; 'down' clears what runs)"
    fi
    sleep 0.2
  done
  log "$name: $1 ok after $((SECONDS - started)) s"
}

# SIGTERM to the processes named in run/pids (together), SIGKILL to those still there after `grace` s.
stop() {
  local grace=$1 name pid pids=() ours
  shift
  ours=$(our_pids)
  for name in "$@"; do
    pid=$(cat "$R/pids/$name.pid" 2>/dev/null) || continue
    rm -f "$R/pids/$name.pid"
    grep -qx "$pid" <<<"$ours" || continue # a stale pid file: that pid is not ours any more
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  local deadline=$((SECONDS + grace))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# --- up ----------------------------------------------------------------------------------------------------------

save_host_state() {
  local key value cg
  : >"$R/sysctl.orig"
  for key in "${SYSCTLS[@]}"; do
    value=$(sysctl -n "$key" 2>/dev/null) || continue
    printf '%s=%s\n' "$key" "$value" >>"$R/sysctl.orig"
  done
  nft list tables >"$R/nft-tables.orig"
  : >"$R/created-dirs"
  for key in "${HOST_DIRS[@]}"; do [ -e "$key" ] || echo "$key" >>"$R/created-dirs"; done
  for cg in /sys/fs/cgroup/*/; do
    [ -L "${cg%/}" ] && continue
    [ -e "${cg}docker" ] || echo "${cg}docker" >>"$R/created-dirs"
  done
}

make_pki() {
  local p=$R/pki
  mkdir -p "$p"
  (
    cd "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=k8slab-ca \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    cert() { # name, subject, extensions
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" -days 365 \
        -out "$1.crt" -extfile <(printf '%s\n' basicConstraints=critical,CA:FALSE \
          keyUsage=critical,digitalSignature,keyEncipherment "$3")
      rm "$1.csr"
    }
    cert apiserver /CN=kube-apiserver "extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:198.51.100.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" extendedKeyUsage=clientAuth
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
    # A test cluster: every component's token is in system:masters.
    : >tokens.csv
    for who in admin kube-controller-manager kube-scheduler kubelet kube-proxy; do
      openssl rand -hex 24 >"$who.token"
      printf '%s,%s,%s,"system:masters"\n' "$(cat "$who.token")" "$who" "$who" >>tokens.csv
    done
  ) >/dev/null 2>&1 || die "making the certificates in $p failed"
  chmod 600 "$p"/*.key "$p"/*.token "$p/tokens.csv"
}

write_kubeconfig() { # who -> run/<who>.kubeconfig
  cat >"$R/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: k8slab
  cluster: {server: "$APISERVER", certificate-authority-data: $(base64 -w0 "$R/pki/ca.crt")}
users:
- name: k8slab-$1
  user: {token: $(cat "$R/pki/$1.token")}
contexts:
- name: k8slab
  context: {cluster: k8slab, user: k8slab-$1, namespace: default}
current-context: k8slab
EOF
  chmod 600 "$R/$1.kubeconfig"
}

kubectl() { "$B/kubectl" --kubeconfig "$R/admin.kubeconfig" "$@"; }

node_ready() {
  [ "$(kubectl get node localhost -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

start_dockerd() {
  mkdir -p "$R/docker/data" "$R/docker/exec"
  start dockerd dockerd -H "unix://$R/docker.sock" --data-root "$R/docker/data" --exec-root "$R/docker/exec" \
    --pidfile "$R/docker/dockerd.pid" --bip 172.17.0.1/16 --iptables=false --ip-masq=false \
    --storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs
  wait_for dockerd 60 $DOCKER info
  tar -C "$B" -c pause | $DOCKER import -c 'ENTRYPOINT ["/pause"]' - k8s.gcr.io/pause:3.2 >/dev/null
}

start_etcd() {
  start etcd etcd --name k8slab --data-dir "$R/etcd" \
    --listen-client-urls http://127.0.0.1:12379 --advertise-client-urls http://127.0.0.1:12379 \
    --listen-peer-urls http://127.0.0.1:12380 --initial-advertise-peer-urls http://127.0.0.1:12380 \
    --initial-cluster k8slab=http://127.0.0.1:12380 --listen-metrics-urls http://127.0.0.1:12381
  wait_for etcd 60 curl -sf http://127.0.0.1:12379/health
}

start_apiserver() {
  local p=$R/pki
  start kube-apiserver "$B/kube-apiserver" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port=16443 --insecure-port=0 --etcd-servers=http://127.0.0.1:12379 \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" --client-ca-file="$p/ca.crt" \
    --token-auth-file="$p/tokens.csv" --anonymous-auth=false \
    --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range=198.51.100.0/24 --endpoint-reconciler-type=none --authorization-mode=Node,RBAC \
    --kubelet-client-certificate="$p/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$p/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=Hostname,InternalIP
  wait_for kube-apiserver 90 curl -sf --cacert "$p/ca.crt" -H "Authorization: Bearer $(cat "$p/admin.token")" \
    "$APISERVER/readyz"
  local who
  for who in admin kube-controller-manager kube-scheduler kubelet kube-proxy; do write_kubeconfig $who; done
}

start_controllers() {
  start kube-controller-manager "$B/kube-controller-manager" --kubeconfig="$R/kube-controller-manager.kubeconfig" \
    --leader-elect=false --port=0 --bind-address=127.0.0.1 --secure-port=17257 --controllers='*,-nodeipam' \
    --service-account-private-key-file="$R/pki/sa.key" --root-ca-file="$R/pki/ca.crt"
  start kube-scheduler "$B/kube-scheduler" --kubeconfig="$R/kube-scheduler.kubeconfig" \
    --leader-elect=false --port=0 --bind-address=127.0.0.1 --secure-port=17259
  wait_for kube-controller-manager 60 curl -skf https://127.0.0.1:17257/healthz
  wait_for kube-scheduler 60 curl -skf https://127.0.0.1:17259/healthz
}

start_kubelet() {
  mkdir -p "$R/kubelet/pki" "$R/kubelet/volume-plugins" "$R/dockershim" "$R/cni/net.d" "$R/cni/bin"
  cat >"$R/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: "$R/pki/ca.crt"}
authorization: {mode: AlwaysAllow}
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
volumePluginDir: "$R/kubelet/volume-plugins"
EOF
  AWS_EC2_METADATA_DISABLED=true start kubelet "$B/kubelet" --config="$R/kubelet.yaml" \
    --kubeconfig="$R/kubelet.kubeconfig" --container-runtime=docker --docker-endpoint="unix://$R/docker.sock" \
    --container-runtime-endpoint="unix://$R/dockershim.sock" --image-service-endpoint="unix://$R/dockershim.sock" \
    --root-dir="$R/kubelet" --cert-dir="$R/kubelet/pki" --experimental-dockershim-root-directory="$R/dockershim" \
    --pod-infra-container-image=k8s.gcr.io/pause:3.2 --network-plugin= \
    --cni-conf-dir="$R/cni/net.d" --cni-bin-dir="$R/cni/bin" --feature-gates=DevicePlugins=false \
    --hostname-override=localhost --node-ip=172.17.0.1
  wait_for kubelet 60 curl -sf http://127.0.0.1:10248/healthz
  wait_for kubelet 90 node_ready
}

start_kube_proxy() {
  cat >"$R/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$R/kube-proxy.kubeconfig"}
mode: iptables
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
hostnameOverride: localhost
clusterCIDR: 172.17.0.0/16
nodePortAddresses: ["127.0.0.1/32"]
oomScoreAdj: 0
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {minSyncPeriod: 0s, syncPeriod: 30s}
EOF
  start kube-proxy "$B/kube-proxy" --config="$R/kube-proxy.yaml"
  wait_for kube-proxy 60 curl -sf http://127.0.0.1:10256/healthz
}

up() {
  need_root
  build
  # Compile before anything runs: a build error then leaves no cluster behind.
  build_binaries
  clear_leftovers
  local started=$SECONDS
  mkdir -p "$R/logs" "$R/pids"
  save_host_state
  make_pki
  start_dockerd
  start_etcd
  start_apiserver
  start_controllers
  start_kubelet
  start_kube_proxy
  wait_for kube-controller-manager 60 kubectl get serviceaccount default
  log "cluster up in $((SECONDS - started)) s"
  import_images
  cat >"$R/env" <<EOF
export KUBECONFIG=$R/admin.kubeconfig
export DOCKER_HOST=unix://$R/docker.sock
export PATH=$B:\$PATH
EOF
  log "node Ready; for a shell: source $R/env"
  echo "KUBECONFIG=$R/admin.kubeconfig"
}

# --- down --------------------------------------------------------------------------------------------------------

# Deletes the rules jumping to KUBE-*/DOCKER* chains in the built-in chains, then flushes and deletes those chains.
clear_firewall() {
  local tool table rule chain
  for tool in iptables ip6tables; do
    for table in filter nat mangle raw; do
      $tool -t $table -S >/dev/null 2>&1 || continue
      while read -r rule; do
        eval "$tool -t $table ${rule/#-A/-D}" || true
      done < <({ $tool -t $table -S | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE-|DOCKER)' || true; })
      while read -r chain; do $tool -t $table -F "$chain"; done < <({ $tool -t $table -S | awk '/^-N (KUBE-|DOCKER)/ {print $2}' || true; })
      while read -r chain; do $tool -t $table -X "$chain"; done < <({ $tool -t $table -S | awk '/^-N (KUBE-|DOCKER)/ {print $2}' || true; })
    done
  done
}

# iptables-nft creates the nf_tables tables it first uses: delete those `up` created once no rule is left in them,
# so that iptables-save prints exactly what it printed before `up`.
drop_created_tables() {
  [ -f "$R/nft-tables.orig" ] || return 0
  local family table tool rules
  while read -r _ family table; do
    grep -qx "table $family $table" "$R/nft-tables.orig" && continue
    case $family in
      ip) tool=iptables ;;
      ip6) tool=ip6tables ;;
      *) continue ;;
    esac
    case $table in filter | nat | mangle | raw | security) ;; *) continue ;; esac
    rules=$($tool -t "$table" -S 2>/dev/null | grep -v '^-P ' || true)
    if [ -z "$rules" ]; then nft delete table "$family" "$table"; fi
  done < <(nft list tables)
}

unmount_run() {
  local mnt
  # deepest first; the kubelet bind-mounts its root dir onto itself, volumes are tmpfs under it
  while read -r mnt; do umount "$mnt" 2>/dev/null || umount -l "$mnt"; done < <(
    awk -v root="$R" '$5 == root || index($5, root "/") == 1 {print length($5), $5}' /proc/self/mountinfo |
      sort -rn | cut -d' ' -f2-
  )
}

restore_host_state() {
  local line path
  if [ -f "$R/sysctl.orig" ]; then
    while read -r line; do sysctl -q -w "$line" >/dev/null || log "could not restore $line"; done <"$R/sysctl.orig"
  fi
  if [ -f "$R/created-dirs" ]; then
    while read -r path; do
      [ -e "$path" ] || continue
      if [[ $path == /sys/fs/cgroup/* ]]; then
        find "$path" -depth -type d -exec rmdir {} + 2>/dev/null || log "could not remove cgroup $path"
      else
        rm -rf "$path"
      fi
    done <"$R/created-dirs"
  fi
}

# Stops everything in the order of the recipe; also what `up` runs first, to clear an interrupted run.
teardown() {
  local pid
  # the kubelet before the containers, else it recreates them
  stop 15 kube-proxy kubelet
  if [ -S "$R/docker.sock" ] && $DOCKER info >/dev/null 2>&1; then
    $DOCKER ps -aq | xargs -r $DOCKER rm -f >/dev/null 2>&1 || true
  fi
  stop 30 dockerd
  stop 15 kube-scheduler kube-controller-manager kube-apiserver
  stop 15 etcd
  # anything left by a run whose pid files are gone or stale (killed script, killed dockerd)
  for pid in $(our_pids) $(container_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    [ -z "$(our_pids)$(container_pids)" ] && break
    sleep 0.1
  done
  clear_firewall
  drop_created_tables
  unmount_run
  if ip link show docker0 >/dev/null 2>&1; then ip link del docker0; fi
  restore_host_state
  rm -rf "$R"
}

# Cheap when nothing is left; `up` therefore always starts a fresh cluster.
clear_leftovers() {
  [ -e "$R" ] && log "clearing what an earlier run left in $R"
  teardown
}

down() {
  need_root
  local started=$SECONDS
  teardown
  log "down in $((SECONDS - started)) s"
}

status() {
  if [ ! -d "$R/pids" ]; then
    echo "down"
    return
  fi
  local file name pid
  for file in "$R"/pids/*.pid; do
    name=$(basename "$file" .pid)
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then echo "$name running (pid $pid)"; else echo "$name NOT running"; fi
  done
  if [ -f "$R/admin.kubeconfig" ]; then kubectl get nodes -o wide 2>&1 || true; fi
  if [ -f "$R/env" ]; then cat "$R/env"; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  build)
    need_root
    build
    ;;
  images)
    need_root
    [ -S "$R/docker.sock" ] || die "the cluster is not up (scripts/k8s-cluster.sh up)"
    build_binaries
    import_images
    ;;
  *) die "usage: $0 up|down|status|build|images" ;;
esac
