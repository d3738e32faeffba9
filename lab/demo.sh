#!/usr/bin/env bash
# A one-minute tour of mhrouter in the namespace lab (shared/LAB.md): builds the lab, starts the router, sends
# traffic from both LANs and shows it leaving by both ISPs, measures throughput, cuts ISP1 inside mh-isp1 and
# shows the failover (router timeline and the measured gap for new connections), restores ISP1, tears down.
#
#   scripts/demo          (installs deps, builds, then runs this)
#   lab/demo.sh           (needs target/release/mhrouter, or MHROUTER=/path)
#
# Root only. Bounded in time (mhrouter runs with --for 120s; every client has a timeout); teardown by trap.
# Runs under a per-run suffix (MH_SUFFIX, default -d<pid>) and holds /run/mh-lab.lock.
set -uo pipefail
export MH_SUFFIX="${MH_SUFFIX:--d$$}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $(id -u) -ne 0 ]]; then
	echo "demo: needs root (network namespaces, AF_XDP)" >&2
	exit 1
fi
if [[ ! -x $MHROUTER ]]; then
	echo "demo: $MHROUTER not built; run scripts/demo (or cargo build --release -p router-bin)" >&2
	exit 1
fi

bold=$'\e[1m'
dim=$'\e[2m'
off=$'\e[0m'
[[ -t 1 ]] || bold="" dim="" off=""
heading() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
say() { echo "   $*"; }
now() { date +%s.%N; }
ROUTER_LOG=""
LOG_SHOWN=0
# Prints the router's log lines written since the last call (its own lines, not libbpf's).
router_news() {
	local total
	total=$(wc -l <"$ROUTER_LOG")
	tail -n +"$((LOG_SHOWN + 1))" "$ROUTER_LOG" | head -n "$((total - LOG_SHOWN))" |
		grep -E '^mhrouter:|^router-io:' | sed "s/^/   ${dim}|${off} /"
	LOG_SHOWN=$total
}
# curls N times from a namespace; prints how many reached mh-inet via isp1 / isp2.
spread() {
	local n="$1"
	shift
	local s1 s2 ok=0 ns
	s1=$(lab_inet_syns isp1)
	s2=$(lab_inet_syns isp2)
	for ns in "$@"; do
		for _ in $(seq "$n"); do
			lab_exec "$ns" curl -s -o /dev/null --max-time 3 "http://$INET_ADDR/" && ok=$((ok + 1))
		done
	done
	say "$ok of $((n * $#)) HTTP requests answered; connections seen at mh-inet: from isp1 ($WAN1_ADDR) $(($(lab_inet_syns isp1) - s1)), from isp2 ($WAN2_ADDR) $(($(lab_inet_syns isp2) - s2))"
}

finish() {
	set +e
	heading "Teardown"
	if [[ -n $LAB_ROUTER_PID ]]; then
		lab_router_stop
		say "mhrouter stopped (exit $?); its last words:"
		router_news
	fi
	lab_down
	local left=0 ns
	for ns in "${LAB_NAMESPACES[@]}"; do lab_ns_exists "$ns" && left=1; done
	((left)) && say "some namespaces are still there: ip netns list" || say "all mh-*$MH_SUFFIX namespaces removed; nothing left running"
}

exec 9>"$LAB_LOCK"
flock -w 600 9 || {
	echo "demo: another lab run holds $LAB_LOCK" >&2
	exit 1
}
trap finish EXIT
trap 'exit 130' INT TERM

heading "1. The lab: six network namespaces joined by veth pairs"
cat <<EOF
    mh-lan1 $LAN1_HOST ─┐                      ┌─ mh-isp1 $WAN1_GW ─┐
                        ├─ mh-rtr (mhrouter) ──┤  (VLAN $WAN1_VLAN on wan1)    ├─ mh-inet $INET_ADDR
    mh-lan2 $LAN2_HOST ─┘                      └─ mh-isp2 $WAN2_GW ──┘
   (namespace names end in $MH_SUFFIX so that the demo never collides with another lab run)
   each ISP drops packets whose source is not its customer address: without working SNAT nothing gets through
EOF
lab_up || exit 1
lab_tools
say "lab up: HTTP, iperf3 and echo servers running in $NS_INET"

heading "2. Start mhrouter on mh-rtr's interfaces (config/lab.toml: isp1 and isp2, weight 1:1)"
ROUTER_LOG="$LAB_STATE/mhrouter.log"
say "ip netns exec $NS_RTR $(basename "$MHROUTER") --config config/lab.toml --for 120s"
lab_router_start "$LAB_DIR/../config/lab.toml" "$ROUTER_LOG" --for 120s
rc=$?
router_news
if ((rc != 0)); then
	say "mhrouter did not bring its uplinks up; see above"
	exit 1
fi
say "uplinks start Down and are put in service once their health probes answer"

heading "3. Traffic from both LANs leaves by both ISPs (new flows are shared 1:1, each sticks to its uplink)"
lab_exec "$NS_LAN1" ping -c 2 -i 0.2 -W 1 "$INET_ADDR" | grep -E 'bytes from|received' | sed 's/^/   mh-lan1 ping: /'
spread 20 "$NS_LAN1" "$NS_LAN2"

heading "4. Throughput: iperf3 for 5 s from mh-lan1 to mh-inet through mhrouter (one worker, AF_XDP copy mode on veth)"
out=$(lab_exec "$NS_LAN1" timeout 20 iperf3 -c "$INET_ADDR" -t 5 -f m 2>&1)
echo "$out" | grep -E 'sender|receiver' | sed 's/^/   /'

heading "5. Failover: ISP1's customer link goes down inside mh-isp1 while mh-lan1 opens a connection every 20 ms"
loop="$LAB_STATE/connloop.txt"
lab_exec "$NS_LAN1" timeout 20 python3 "$LAB_TOOL" connloop "$INET_ADDR" 7 --every 0.02 --seconds 4 --timeout 0.9 --out "$loop" &
loop_pid=$!
sleep 1.5
cut=$(now)
say "$(date +%T.%3N)  ip -n $NS_ISP1 link set cust down"
ip -n "$NS_ISP1" link set cust down
wait "$loop_pid"
say "the router's failover timeline:"
router_news
gap=$(python3 "$LAB_TOOL" gap "$loop" --cut "$cut")
ms=$(sed -n 's/.*window_ms=\([-0-9]*\).*/\1/p' <<<"$gap")
say "connection attempts: $(sed -n 's/.*attempts=\([0-9]*\) ok=\([0-9]*\) failed=\([0-9]*\).*/\1 made, \2 succeeded, \3 failed/p' <<<"$gap")"
say "${bold}new connections failed for ${ms} ms${off} (first failed attempt to the first success after the last failure)"
say "now every new connection leaves by isp2:"
spread 10 "$NS_LAN1" "$NS_LAN2"

heading "6. ISP1 restored"
say "$(date +%T.%3N)  ip -n $NS_ISP1 link set cust up"
ip -n "$NS_ISP1" link set cust up
for _ in $(seq 40); do
	grep -c 'uplink isp1: in service' "$ROUTER_LOG" | grep -q '^[2-9]' && break
	sleep 0.1
done
router_news
spread 10 "$NS_LAN1" "$NS_LAN2"
