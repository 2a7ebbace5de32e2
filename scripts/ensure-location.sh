#!/usr/bin/env bash
# Usage: scripts/ensure-location.sh NAME LABEL=VALUE...
#
# Run with the inventory management workspace current (kubectl ws root:imw-1). Makes sure a
# SyncTarget and a Location named NAME exist there, the SyncTarget labelled id=NAME and the
# Location selecting it by that label, and that both carry every LABEL=VALUE given. Deletes
# the Location named `default` (kcp makes it; edge-mc does not use it), waiting up to
# $ENSURE_LOCATION_WAIT seconds (default 10) for kcp to have made it. Idempotent.
# Exit status: 0 done; 1 bad usage; 3 creating an object failed; 4 a bad label argument, or
# a label that already has another value.

set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

case "${1:-}" in
    -h|--help) usage; exit 0 ;;
esac
if (( $# < 2 )); then
    echo "$0: need a name and at least one label" >&2; usage >&2; exit 1
fi
name="$1"; shift
if [[ "$name" == "default" || ! "$name" =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]]; then
    echo "$0: the name must be a single DNS-style word other than \"default\", not \"$name\"" >&2
    exit 1
fi
for label in "$@"; do
    key="${label%%=*}"
    if [[ "$label" != *=* || "$label" == *=*=* || -z "$key" || "$label" == -* ]]; then
        echo "$0: a label must be KEY=VALUE, not \"$label\"" >&2; exit 4
    fi
    if [[ "$key" == id ]]; then
        echo "$0: the label id is set by this script (id=$name) and cannot be given" >&2; exit 4
    fi
done

if ! kubectl get synctargets.workload.kcp.io "$name" >/dev/null 2>&1; then
    kubectl create -f - <<YAML || exit 3
apiVersion: workload.kcp.io/v1alpha1
kind: SyncTarget
metadata:
  name: "$name"
  labels: {id: "$name"}
YAML
fi
if ! kubectl get locations.scheduling.kcp.io "$name" >/dev/null 2>&1; then
    kubectl create -f - <<YAML || exit 3
apiVersion: scheduling.kcp.io/v1alpha1
kind: Location
metadata:
  name: "$name"
spec:
  resource: {group: workload.kcp.io, version: v1alpha1, resource: synctargets}
  instanceSelector:
    matchLabels: {id: "$name"}
YAML
fi
# kcp makes Location `default` shortly after the first SyncTarget of a workspace, then marks
# the workspace's APIExport `kubernetes` with skip-default-object-creation=true. Wait (a
# bounded time) for that mark so that `default` is gone when this script ends, not just
# absent for now.
defaults_done() {
    [[ "$(kubectl get apiexports.apis.kcp.io kubernetes --ignore-not-found -o \
        "jsonpath={.metadata.annotations['workload\.kcp\.io/skip-default-object-creation']}")" == true ]]
}
deadline=$((SECONDS + ${ENSURE_LOCATION_WAIT:-10}))
until defaults_done || (( SECONDS >= deadline )); do
    sleep 0.2
done
kubectl delete --ignore-not-found locations.scheduling.kcp.io default

for label in "$@"; do
    key="${label%%=*}"
    value="${label#*=}"
    for kind in synctargets.workload.kcp.io locations.scheduling.kcp.io; do
        current="$(kubectl get "$kind" "$name" -o "go-template={{with .metadata.labels}}{{with index . \"$key\"}}{{.}}{{end}}{{end}}")"
        if [[ "$current" != "$value" ]]; then
            kubectl label "$kind" "$name" "$label" || exit 4
        fi
    done
done
