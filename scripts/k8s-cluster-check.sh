#!/usr/bin/env bash
# Checks scripts/k8s-cluster.sh for real (docs/kubernetes.md): records the host's state, runs `up`, asserts the node
# is Ready, our images are in the cluster's Docker, a smoke deployment of the demo-app image answers /healthz and
# /version through a NodePort on 127.0.0.1, so does a per-release demo image (web:5.1.2.04, role and version from the
# image), and one of the agent image answers /healthz (and serves the console when
# the image carries it); then runs `down` and asserts nothing is left: no process, mount, link,
# directory, iptables/ip6tables rule or changed kernel setting. Exits non-zero, saying what failed, on any
# difference. Needs root; about a minute with a warm cache (the first run builds Kubernetes, about 10 minutes).
# Runs `down` on failure too. Usage: scripts/k8s-cluster-check.sh
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLUSTER=$REPO/scripts/k8s-cluster.sh
W=${K8S_CACHE_DIR:-/var/cache/upgrade-manager/k8s}
NODE_PORT=30080
AGENT_NODE_PORT=30081
RELEASE_NODE_PORT=30082
OUT=$(mktemp -d /tmp/k8s-cluster-check.XXXXXX)
FAILURES=0

log() { printf '[k8s-cluster-check %s] %s\n' "$(date -u +%T)" "$*" >&2; }
fail() {
  log "FAIL: $*"
  FAILURES=$((FAILURES + 1))
}

[ "$(id -u)" = 0 ] || {
  log "run as root"
  exit 2
}

# What `down` must give back, written to $OUT/<name>.<when>.
snapshot() {
  local when=$1
  iptables-save | { grep -v '^#' || true; } | sed 's/\[[0-9]*:[0-9]*\]//' >"$OUT/iptables.$when"
  ip6tables-save | { grep -v '^#' || true; } | sed 's/\[[0-9]*:[0-9]*\]//' >"$OUT/ip6tables.$when"
  awk '{print $5, $9}' /proc/self/mountinfo | sort >"$OUT/mounts.$when"
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort >"$OUT/links.$when"
  # counters and random values change by themselves
  sysctl -a 2>/dev/null | grep -Ev '^(fs\.(dentry-state|file-nr|inode-nr|inode-state|aio-nr|quota\.syncs)|kernel\.ns_last_pid|kernel\.random\.(uuid|entropy_avail)|kernel\.pty\.nr|net\.netfilter\.nf_conntrack_count) ' \
    >"$OUT/sysctl.$when"
  # the cluster's components, and any process in a container (other tests run demo-app outside containers)
  {
    pgrep -a -x 'kube-apiserver|kube-controller|kube-scheduler|kubelet|kube-proxy|etcd|dockerd|containerd|containerd-shim' \
      2>/dev/null || true
    local dir
    for dir in /proc/[0-9]*; do
      [ "$(readlink "$dir/root" 2>/dev/null)" = / ] || [ ! -e "$dir/root" ] || echo "${dir#/proc/} in a container: $(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null)"
    done
  } >"$OUT/processes.$when"
  local path
  for path in /var/lib/kubelet /var/log/pods /var/log/containers /run/containerd /run/dockershim.sock \
    /var/lib/docker /run/docker /var/lib/dockershim "$W/run" /sys/fs/cgroup/*/docker; do
    [ -e "$path" ] && echo "$path"
  done >"$OUT/paths.$when" || true
}

compare() {
  local name
  for name in iptables ip6tables mounts links sysctl processes paths; do
    if ! diff -u "$OUT/$name.before" "$OUT/$name.after" >"$OUT/$name.diff"; then
      fail "$name differs after down:"
      head -n 40 "$OUT/$name.diff" >&2
    fi
  done
}

# A bounded number of tries: kube-proxy programs a new endpoint a moment after the pod is Ready.
curl_nodeport() {
  local port=$1 path=$2 _
  for _ in $(seq 40); do
    if curl -sf --max-time 3 "http://127.0.0.1:$port$path"; then return 0; fi
    sleep 0.5
  done
  return 1
}

smoke_manifest() {
  cat <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: demo-smoke}
spec:
  replicas: 1
  selector: {matchLabels: {app: demo-smoke}}
  template:
    metadata: {labels: {app: demo-smoke}}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: 20
      containers:
      - name: dataservice
        image: upgrade-manager/demo-app:dev
        imagePullPolicy: Never
        args: [--role, dataservice]
        env:
        - {name: DEMO_APP, value: dataservice}
        - {name: DEMO_VERSION, value: V5.1.2.02}
        - {name: DEMO_LISTEN, value: 0.0.0.0}
        - {name: DEMO_PORT, value: "8080"}
        - {name: DEMO_VALUES, value: /etc/demo/values.yaml}
        ports: [{containerPort: 8080}]
        volumeMounts:
        - {name: values, mountPath: /etc/demo, readOnly: true}
        - {name: state, mountPath: /state}
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1, failureThreshold: 1}
      volumes:
      - name: values
        secret: {secretName: demo-smoke-values}
      - name: state
        emptyDir: {}
---
apiVersion: v1
kind: Service
metadata: {name: demo-smoke}
spec:
  type: NodePort
  selector: {app: demo-smoke}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
# a per-release image as the demo's manifests name it: role and version come from the image
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-release}
spec:
  replicas: 1
  selector: {matchLabels: {app: web-release}}
  template:
    metadata: {labels: {app: web-release}}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      containers:
      - name: web
        image: registry.example.com/dataphin/web:5.1.2.04
        imagePullPolicy: Never
        env:
        - {name: DEMO_LISTEN, value: 0.0.0.0}
        - {name: DEMO_PORT, value: "8080"}
        - {name: DEMO_VALUES, value: /etc/demo/values.yaml}
        volumeMounts:
        - {name: values, mountPath: /etc/demo, readOnly: true}
        - {name: state, mountPath: /state}
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1, failureThreshold: 1}
      volumes:
      - name: values
        secret: {secretName: demo-smoke-values}
      - name: state
        emptyDir: {}
---
apiVersion: v1
kind: Service
metadata: {name: web-release}
spec:
  type: NodePort
  selector: {app: web-release}
  ports: [{port: 80, targetPort: 8080, nodePort: 30082}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: agent-smoke}
spec:
  replicas: 1
  selector: {matchLabels: {app: agent-smoke}}
  template:
    metadata: {labels: {app: agent-smoke}}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      containers:
      - name: agent
        image: upgrade-manager/agent:dev
        imagePullPolicy: Never
        env: [{name: AGENT_ADMIN_PASSWORD, value: smoke-test-only}]
        volumeMounts: [{name: data, mountPath: /data}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
      volumes: [{name: data, emptyDir: {}}]
---
apiVersion: v1
kind: Service
metadata: {name: agent-smoke}
spec:
  type: NodePort
  selector: {app: agent-smoke}
  ports: [{port: 80, targetPort: 8080, nodePort: 30081}]
EOF
}

check_up() {
  local kubeconfig=$1
  export KUBECONFIG=$kubeconfig DOCKER_HOST=unix://$W/run/docker.sock
  local kubectl=$W/bin/kubectl docker=/usr/bin/docker
  [ "$($kubectl get node localhost -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ] ||
    fail "node localhost is not Ready"
  local image
  for image in upgrade-manager/agent:dev upgrade-manager/demo-app:dev \
    registry.example.com/dataphin/web:5.1.2.02 registry.example.com/dataphin/dataservice:5.1.2.04 \
    registry.example.com/dataphin/metadata:5.2.0.01; do
    $docker image inspect "$image" >/dev/null 2>&1 || fail "image $image is not in the cluster's Docker"
  done
  local version
  version=$($docker run --rm --network none upgrade-manager/agent:dev --version 2>&1) || true
  [[ $version == agent* ]] || fail "the agent image does not run: $version"
  $kubectl create secret generic demo-smoke-values --from-file=values.yaml="$REPO/demo/config/values-V5.1.2.02.yaml"
  smoke_manifest | $kubectl apply -f -
  local deployment
  for deployment in demo-smoke web-release agent-smoke; do
    if ! $kubectl rollout status "deployment/$deployment" --timeout=120s; then
      fail "the $deployment deployment did not become ready"
      $kubectl describe pods -l "app=$deployment" >&2 || true
      return
    fi
  done
  local health ver
  if health=$(curl_nodeport $NODE_PORT /healthz); then
    [[ $health == *'"ready"'* ]] || fail "/healthz through 127.0.0.1:$NODE_PORT answered $health"
    log "/healthz through 127.0.0.1:$NODE_PORT: $health"
  else
    fail "/healthz through 127.0.0.1:$NODE_PORT did not answer"
  fi
  if ver=$(curl_nodeport $NODE_PORT /version); then
    # no DEMO_REPLICA: the replica names itself after its host, the pod
    [[ $ver == *'"app":"dataservice"'* && $ver == *'"version":"V5.1.2.02"'* && $ver == *'"replica":"demo-smoke-'* ]] ||
      fail "/version through 127.0.0.1:$NODE_PORT answered $ver"
    log "/version through 127.0.0.1:$NODE_PORT: $ver"
  else
    fail "/version through 127.0.0.1:$NODE_PORT did not answer"
  fi
  if ver=$(curl_nodeport $RELEASE_NODE_PORT /version); then
    [[ $ver == *'"app":"web"'* && $ver == *'"version":"V5.1.2.04"'* ]] ||
      fail "the per-release image web:5.1.2.04 answered /version with $ver"
  else
    fail "/version of the per-release image through 127.0.0.1:$RELEASE_NODE_PORT did not answer"
  fi
  curl_nodeport $AGENT_NODE_PORT /healthz >/dev/null ||
    fail "the agent's /healthz through 127.0.0.1:$AGENT_NODE_PORT did not answer"
  if $docker image inspect --format '{{.Config.Env}}' upgrade-manager/agent:dev | grep -q AGENT_CONSOLE_DIR; then
    local page
    page=$(curl_nodeport $AGENT_NODE_PORT /opsconsole/v2/) || true
    if [[ $page == *'<html'* ]]; then
      log "the agent pod serves the console at 127.0.0.1:$AGENT_NODE_PORT/opsconsole/v2/"
    else
      fail "the agent image carries the console, but /opsconsole/v2/ answered: ${page:0:200}"
    fi
  else
    log "the agent image has no console (trunk or wasm-bindgen was not installed when up ran)"
  fi
}

snapshot before
[ -s "$OUT/processes.before" ] && log "warning: cluster processes already run before up:" && cat "$OUT/processes.before" >&2
up_out=$OUT/up.log
if "$CLUSTER" up >"$up_out" 2>&1; then
  last=$(tail -n 1 "$up_out")
  if [[ $last == KUBECONFIG=/* ]]; then
    check_up "${last#KUBECONFIG=}"
  else
    fail "the last line of up is not KUBECONFIG=<path>: $last"
  fi
else
  fail "up failed:"
  tail -n 40 "$up_out" >&2
fi
"$CLUSTER" down >"$OUT/down.log" 2>&1 || fail "down failed: $(tail -n 5 "$OUT/down.log")"
snapshot after
compare
if [ "$FAILURES" = 0 ]; then
  log "OK: up, node Ready, the demo-app, per-release and agent pods answered through 127.0.0.1:$NODE_PORT, :$RELEASE_NODE_PORT and :$AGENT_NODE_PORT, down left nothing"
  rm -rf "$OUT"
else
  log "$FAILURES check(s) failed; logs and snapshots in $OUT"
  exit 1
fi
