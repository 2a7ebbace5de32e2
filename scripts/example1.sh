#!/usr/bin/env bash
# Plays the "2023q1 PoC Example Scenario" (all five stages) with the scenario's own commands.
#
# The only substitutions, as README.md explains:
#   - `python -m edgemc.cmd NAME` for `go run ./cmd/NAME` (run in the background and stopped
#     at exit, instead of being interrupted by hand once their work is done);
#   - $EDGE_KUBECONFIG (the edge-clusters.kubeconfig that `up` writes) for ~/.kube/config;
#   - no `kind create cluster` (`up` provides the florin and guilder clusters).
# Waiting for the controllers' results replaces "wait a minute" in the scenario text.
#
# Usage: KUBECONFIG=<a copy of .kcp/admin.kubeconfig> EDGE_KUBECONFIG=<.kcp/edge-clusters.kubeconfig> \
#          scripts/example1.sh [--controllers-running] [--workdir DIR]
#   --controllers-running   the central controllers already run (as under `up`); do not start them
#   --workdir DIR           where the generated files and controller logs go (default: a temp dir)
# Needs kubectl and the `kubectl ws` plugin on PATH. Exit status: 0 when every stage's result
# appeared, 1 on bad usage, 2 when a stage's result did not appear in time.

set -euo pipefail

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

start_controllers=yes
workdir=""
while (( $# )); do
    case "$1" in
        --controllers-running) start_controllers=no ;;
        --workdir) workdir="${2:?--workdir needs a directory}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "$0: unknown argument $1" >&2; usage >&2; exit 1 ;;
    esac
    shift
done
: "${KUBECONFIG:?set KUBECONFIG to a copy of the kcp admin.kubeconfig}"
: "${EDGE_KUBECONFIG:?set EDGE_KUBECONFIG to the edge clusters kubeconfig}"
PYTHON="${PYTHON:-python3}"
TIMEOUT="${EXAMPLE_TIMEOUT:-90}"

repo="$(cd "$(dirname "$0")/.." && pwd)"
workdir="${workdir:-$(mktemp -d)}"
mkdir -p "$workdir"
ln -sfn "$repo/scripts" "$workdir/scripts"
ln -sfn "$repo/config" "$workdir/config"
cd "$workdir"

pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

stage() { printf '\n========== %s ==========\n' "$*"; }
show() { printf '\n$ %s\n' "$*"; "$@"; }

# wait_for DESCRIPTION COMMAND...: run COMMAND until it succeeds, for at most $TIMEOUT seconds.
wait_for() {
    local what="$1"; shift
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if (( SECONDS >= deadline )); then
            echo "example1: gave up after ${TIMEOUT}s waiting for $what" >&2
            exit 2
        fi
        sleep 0.5
    done
}

# The seed runs each controller in the foreground of a shell in root:espw; here it runs in
# the background with a snapshot of the kubeconfig, so that the `kubectl ws` commands that
# follow do not move it to another workspace while it starts.
run_controller() {
    local name="$1"; shift
    echo "\$ $PYTHON -m edgemc.cmd $name $* &   (log: $workdir/$name.log)"
    cp "$KUBECONFIG" "$workdir/$name.kubeconfig"
    KUBECONFIG="$workdir/$name.kubeconfig" "$PYTHON" -m edgemc.cmd "$name" "$@" \
        >"$workdir/$name.log" 2>&1 &
    pids+=("$!")
}

mailbox_of() {
    kubectl get Workspace --no-headers \
        -o "custom-columns=NAME:.metadata.name,SYNCTARGET:.metadata.annotations['edge\.kcp\.io/sync-target-name']" \
        | awk -v st="$1" '$2 == st { print $1 }'
}
has_mailbox() { [ -n "$(mailbox_of "$1")" ]; }
edge() { KUBECONFIG="$EDGE_KUBECONFIG" kubectl --context "kind-$1" "${@:2}"; }
deployment_ready() {
    [ "$(edge "$1" get deploy -n "$2" "$3" -o 'jsonpath={.status.readyReplicas}')" = "1" ]
}
page_says() { curl -fsS "http://localhost:$1" | grep -q "$2"; }

stage "Stage 1: inventory, edge service provider workspace, mailboxes, syncers"
kubectl ws root
kubectl ws create imw-1 --enter
scripts/ensure-location.sh florin  env=prod
scripts/ensure-location.sh guilder env=prod extended=si

kubectl ws root
kubectl ws create espw --enter
kubectl create -f config/crds
kubectl create -f config/exports

if [ "$start_controllers" = yes ]; then
    run_controller mailbox-controller -v=2
fi
wait_for "the mailbox workspace of florin" has_mailbox florin
wait_for "the mailbox workspace of guilder" has_mailbox guilder
show kubectl get Workspace -o "custom-columns=NAME:.metadata.name,SYNCTARGET:.metadata.annotations['edge\.kcp\.io/sync-target-name'],CLUSTER:.spec.cluster"

scripts/mailbox-prep.sh guilder
KUBECONFIG="$EDGE_KUBECONFIG" kubectl apply --context kind-guilder -f guilder-syncer.yaml
kubectl ws root:espw
scripts/mailbox-prep.sh florin
KUBECONFIG="$EDGE_KUBECONFIG" kubectl apply --context kind-florin -f florin-syncer.yaml

stage "Stage 2: workload management workspaces, EdgePlacements, edge scheduling"
kubectl ws root
kubectl ws create my-org --enter
kubectl ws create wmw-c --enter
kubectl apply -f - <<EOF
apiVersion: apis.kcp.io/v1alpha1
kind: APIBinding
metadata:
  name: bind-kube
spec:
  reference:
    export:
      path: "root:compute"
      name: kubernetes
EOF
wait_for "the Kubernetes APIs in wmw-c" kubectl get deployments
kubectl apply -f - <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: commonstuff
  labels: {common: "si"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  namespace: commonstuff
  name: httpd-htdocs
data:
  index.html: |
    <!DOCTYPE html>
    <html>
      <body>
        This is a common web site.
      </body>
    </html>
---
apiVersion: apps/v1
kind: Deployment
metadata:
  namespace: commonstuff
  name: commond
spec:
  selector: {matchLabels: {app: common} }
  template:
    metadata:
      labels: {app: common}
    spec:
      containers:
      - name: httpd
        image: library/httpd:2.4
        ports:
        - name: http
          containerPort: 80
          hostPort: 8081
          protocol: TCP
        volumeMounts:
        - name: htdocs
          readOnly: true
          mountPath: /usr/local/apache2/htdocs
      volumes:
      - name: htdocs
        configMap:
          name: httpd-htdocs
          optional: false
EOF
kubectl apply -f - <<EOF
apiVersion: apis.kcp.io/v1alpha1
kind: APIBinding
metadata:
  name: bind-espw
spec:
  reference:
    export:
      path: root:espw
      name: edge.kcp.io
EOF
wait_for "the edge API in wmw-c" kubectl get edgeplacements
kubectl apply -f - <<EOF
apiVersion: edge.kcp.io/v1alpha1
kind: EdgePlacement
metadata:
  name: edge-placement-c
spec:
  locationSelectors:
  - matchLabels: {"env":"prod"}
  namespaceSelector:
    matchLabels: {"common":"si"}
  nonNamespacedObjects:
  - apiGroup: apis.kcp.io
    resources: [ "apibindings" ]
    resourceNames: [ "bind-kube" ]
  upsync:
  - apiGroup: "group1.test"
    resources: ["sprockets", "flanges"]
    namespaces: ["orbital"]
    names: ["george", "cosmo"]
  - apiGroup: "group2.test"
    resources: ["cogs"]
    names: ["william"]
EOF

kubectl ws root:my-org
kubectl ws create wmw-s --enter
kubectl apply -f - <<EOF
apiVersion: apis.kcp.io/v1alpha1
kind: APIBinding
metadata:
  name: bind-kube
spec:
  reference:
    export:
      path: "root:compute"
      name: kubernetes
EOF
wait_for "the Kubernetes APIs in wmw-s" kubectl get deployments
kubectl apply -f - <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: specialstuff
  labels: {special: "si"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  namespace: specialstuff
  name: httpd-htdocs
data:
  index.html: |
    <!DOCTYPE html>
    <html>
      <body>
        This is a special web site.
      </body>
    </html>
---
apiVersion: apps/v1
kind: Deployment
metadata:
  namespace: specialstuff
  name: speciald
spec:
  selector: {matchLabels: {app: special} }
  template:
    metadata:
      labels: {app: special}
    spec:
      containers:
      - name: httpd
        image: library/httpd:2.4
        ports:
        - name: http
          containerPort: 80
          hostPort: 8082
          protocol: TCP
        volumeMounts:
        - name: htdocs
          readOnly: true
          mountPath: /usr/local/apache2/htdocs
      volumes:
      - name: htdocs
        configMap:
          name: httpd-htdocs
          optional: false
EOF
kubectl apply -f - <<EOF
apiVersion: apis.kcp.io/v1alpha1
kind: APIBinding
metadata:
  name: bind-espw
spec:
  reference:
    export:
      path: root:espw
      name: edge.kcp.io
EOF
wait_for "the edge API in wmw-s" kubectl get edgeplacements
kubectl apply -f - <<EOF
apiVersion: edge.kcp.io/v1alpha1
kind: EdgePlacement
metadata:
  name: edge-placement-s
spec:
  locationSelectors:
  - matchLabels: {"env":"prod","extended":"si"}
  namespaceSelector: 
    matchLabels: {"special":"si"}
  nonNamespacedObjects:
  - apiGroup: apis.kcp.io
    resources: [ "apibindings" ]
    resourceNames: [ "bind-kube" ]
  upsync:
  - apiGroup: "group1.test"
    resources: ["sprockets", "flanges"]
    namespaces: ["orbital"]
    names: ["george", "cosmo"]
  - apiGroup: "group3.test"
    resources: ["widgets"]
    names: ["*"]
EOF

kubectl ws root:espw
if [ "$start_controllers" = yes ]; then
    run_controller scheduler
fi
kubectl ws root:my-org:wmw-c
wait_for "SinglePlacementSlice edge-placement-c" \
    sh -c '[ "$(kubectl get SinglePlacementSlice edge-placement-c -o "jsonpath={.destinations[*].syncTargetName}")" = "florin guilder" ]'
show kubectl get SinglePlacementSlice -o yaml
kubectl ws root:my-org:wmw-s
wait_for "SinglePlacementSlice edge-placement-s" \
    sh -c '[ "$(kubectl get SinglePlacementSlice edge-placement-s -o "jsonpath={.destinations[*].syncTargetName}")" = "guilder" ]'
show kubectl get SinglePlacementSlice -o yaml

stage "Stage 3: placement translation into the mailbox workspaces"
kubectl ws root:espw
if [ "$start_controllers" = yes ]; then
    run_controller placement-translator
fi
florin_mb="$(mailbox_of florin)"
guilder_mb="$(mailbox_of guilder)"

kubectl ws "$florin_mb"
wait_for "commond in florin's mailbox" kubectl get deployment -n commonstuff commond
wait_for "florin's SyncerConfig" kubectl get SyncerConfig the-one
show kubectl get SyncerConfig the-one -o yaml
show kubectl get ns
show kubectl get deployments -A

kubectl ws root:espw
kubectl ws "$guilder_mb"
wait_for "speciald in guilder's mailbox" kubectl get deployment -n specialstuff speciald
wait_for "commond in guilder's mailbox" kubectl get deployment -n commonstuff commond
wait_for "guilder's SyncerConfig with two namespaces" \
    sh -c '[ "$(kubectl get SyncerConfig the-one -o "jsonpath={.spec.namespaceScope.namespaces[*]}")" = "commonstuff specialstuff" ]'
show kubectl get SyncerConfig the-one -o yaml
show kubectl get deployments -A

stage "Stage 4: the edge syncers' effects on the edge clusters"
wait_for "commond 1/1 on florin" deployment_ready florin commonstuff commond
wait_for "commond 1/1 on guilder" deployment_ready guilder commonstuff commond
wait_for "speciald 1/1 on guilder" deployment_ready guilder specialstuff speciald
show edge florin get ns
show edge florin get deploy -A
show edge guilder get ns
show edge guilder get deploy -A
wait_for "the common web site on florin (port 8081)" page_says 8081 "This is a common web site."
wait_for "the special web site on guilder (port 8082)" page_says 8082 "This is a special web site."
wait_for "the common web site on guilder (port 8083)" page_says 8083 "This is a common web site."
show curl -sS http://localhost:8081
show curl -sS http://localhost:8082
show curl -sS http://localhost:8083

stage "Stage 5: status summarization"
kubectl ws root:espw
if [ "$start_controllers" = yes ]; then
    run_controller status-summarizer
fi
kubectl ws root:my-org:wmw-c
wait_for "the summary of commond (2 of 2 ready)" \
    sh -c '[ "$(kubectl get deploy -n commonstuff commond -o "jsonpath={.status.readyReplicas}")" = "2" ]'
show kubectl get statussummaries -n commonstuff
show kubectl get deploy -n commonstuff
kubectl ws root:my-org:wmw-s
wait_for "the summary of speciald (1 of 1 ready)" \
    sh -c '[ "$(kubectl get deploy -n specialstuff speciald -o "jsonpath={.status.readyReplicas}")" = "1" ]'
show kubectl get statussummaries -n specialstuff
show kubectl get deploy -n specialstuff

stage "The example scenario is complete"
