#!/usr/bin/env bash
# Builds or removes the reference lab of shared/LAB.md (see lab/lib.sh for names, addresses and servers).
#
#   lab/topology.sh up [--kernel-router]   build it (mh-rtr left empty for mhrouter, or a Linux router)
#   lab/topology.sh down                   remove this run's namespaces and kill its recorded processes
#
# MH_SUFFIX=-x appends a suffix to every namespace name so parallel runs cannot collide. `up` holds
# /run/mh-lab.lock while it builds and fails if the namespaces exist already; a failed `up` tears down what
# it built (trap on EXIT).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	echo "usage: $0 up [--kernel-router] | down" >&2
	exit 2
}

case "${1:-}" in
up)
	shift
	exec 9>"$LAB_LOCK"
	flock -w 300 9
	trap 'rc=$?; if ((rc != 0)); then lab_log "up failed, tearing down"; lab_down; fi' EXIT
	lab_up "$@"
	;;
down)
	exec 9>"$LAB_LOCK"
	flock -w 300 9
	lab_down
	lab_log "down (suffix '${MH_SUFFIX}')"
	;;
*) usage ;;
esac
