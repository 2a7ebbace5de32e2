#!/usr/bin/env bash
# Usage: scripts/remove-location.sh NAME
#
# Run with the inventory management workspace current. Deletes the SyncTarget and the
# Location named NAME if they exist (silent when they do not); the mailbox controller then
# deletes the SyncTarget's mailbox workspace. Exit status: 0 done; 1 bad usage.

set -euo pipefail

case "${1:-}" in
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
if (( $# != 1 )); then
    echo "usage: $0 NAME" >&2; exit 1
fi
kubectl delete --ignore-not-found synctargets.workload.kcp.io "$1"
kubectl delete --ignore-not-found locations.scheduling.kcp.io "$1"
