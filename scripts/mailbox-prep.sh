#!/usr/bin/env bash
# Usage: scripts/mailbox-prep.sh [-o FILE] [--syncer-image REF] SYNCTARGET
#
# Run with the edge service provider workspace current (kubectl ws root:espw). Finds the
# mailbox workspace of SYNCTARGET (by its edge.kcp.io/sync-target-name annotation), enters
# it, creates the syncer's identity there and writes FILE (default SYNCTARGET-syncer.yaml):
# the manifest to `kubectl apply` in the edge cluster. The work is done by
# `python -m edgemc.cmd syncer-gen` ($PYTHON, default python3, with edgemc installed).
# Exit status: 0 done; 1 bad usage or generation failed; 2 not in the ESPW; 5 no mailbox
# workspace for SYNCTARGET; 6 more than one.

set -euo pipefail

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

output=""
image=""
target=""
while (( $# )); do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        -o) output="${2:?-o needs a file name}"; shift ;;
        --syncer-image) image="${2:?--syncer-image needs an image reference}"; shift ;;
        -*) echo "$0: unknown flag $1" >&2; usage >&2; exit 1 ;;
        *)
            if [[ -n "$target" ]]; then echo "$0: only one SYNCTARGET" >&2; exit 1; fi
            target="$1" ;;
    esac
    shift
done
if [[ -z "$target" ]]; then
    echo "$0: missing SYNCTARGET" >&2; usage >&2; exit 1
fi

if ! kubectl get apiexports.apis.kcp.io edge.kcp.io >/dev/null 2>&1; then
    echo "$0: the current workspace has no APIExport edge.kcp.io; run kubectl ws root:espw first" >&2
    exit 2
fi

find_mailboxes() {
    kubectl get workspaces.tenancy.kcp.io --no-headers \
        -o "custom-columns=NAME:.metadata.name,SYNCTARGET:.metadata.annotations['edge\.kcp\.io/sync-target-name']" \
        | awk -v st="$target" '$2 == st { print $1 }'
}
mailboxes="$(find_mailboxes)"
deadline=$((SECONDS + ${MAILBOX_PREP_WAIT:-15}))  # seconds to wait for the mailbox
while [[ -z "$mailboxes" ]] && (( SECONDS < deadline )); do
    sleep 1
    mailboxes="$(find_mailboxes)"
done
count="$(printf '%s' "$mailboxes" | grep -c . || true)"
if (( count == 0 )); then
    echo "$0: found no mailbox workspace for SyncTarget $target (is the mailbox controller running?)" >&2
    exit 5
fi
if (( count > 1 )); then
    echo "$0: found $count mailbox workspaces for SyncTarget $target:" $mailboxes >&2
    exit 6
fi

kubectl ws "$mailboxes"
args=("$target" -o "${output:-$target-syncer.yaml}")
if [[ -n "$image" ]]; then args+=(--syncer-image "$image"); fi
"${PYTHON:-python3}" -m edgemc.cmd syncer-gen "${args[@]}" || exit 1
