#!/usr/bin/env bash
# Throughput of one AF_XDP worker (release build of the xdp_bridge example) on the reference lab, bridging
# mh-rtr lan2 <-> wan2 at L2 (mh-isp2 gets 198.18.2.3/24 for the test), once with one UMEM shared by both
# ports (zero-copy forwarding) and once with a UMEM per port (one copy per frame). Each measurement is a
# bounded iperf3 run: TCP for 3 s, then UDP with 64-byte payloads for 3 s (packets per second).
# Numbers are from veth in copy mode on a shared machine: compare them with each other, not with NICs.
set -euo pipefail
export MH_SUFFIX="${MH_SUFFIX:--b$$}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT="$(cd "$LAB_DIR/.." && pwd)"
PROFILE="${PROFILE:-release}"

bridge_pid=""
finish() {
	set +e
	if [[ -n $bridge_pid ]] && kill -0 "$bridge_pid" 2>/dev/null; then
		kill -TERM "$bridge_pid"
		wait "$bridge_pid"
	fi
	lab_down
}

if [[ $PROFILE == release ]]; then
	(cd "$ROOT" && cargo build -q --release -p router-io --example xdp_bridge)
else
	(cd "$ROOT" && cargo build -q -p router-io --example xdp_bridge)
fi
BRIDGE="$ROOT/target/$PROFILE/examples/xdp_bridge"

exec 9>"$LAB_LOCK"
flock -w 600 9
trap finish EXIT
trap 'exit 130' INT TERM

lab_up
ip -n "$NS_ISP2" addr add 198.18.2.3/24 dev cust
ip netns exec "$NS_ISP2" nft insert rule inet mhisp input iifname cust ip saddr "$LAN2_HOST" accept
lab_spawn "$NS_ISP2" "$LAB_STATE/iperf3-isp2.log" iperf3 -s -B 198.18.2.3

for variant in shared separate; do
	args=(lan2 wan2 --seconds 30)
	[[ $variant == separate ]] && args+=(--separate-umem)
	log="$LAB_STATE/bridge-$variant.log"
	ip netns exec "$NS_RTR" "$BRIDGE" "${args[@]}" >"$log" 2>&1 9>&- &
	bridge_pid=$!
	for _ in $(seq 50); do
		grep -q running "$log" && break
		sleep 0.1
	done
	lab_exec "$NS_LAN2" ping -c 2 -i 0.2 -W 2 198.18.2.3 >/dev/null

	tcp=$(lab_exec "$NS_LAN2" timeout 15 iperf3 -c 198.18.2.3 -t 3 -f m | awk '/receiver/ {print $7, $8}')
	pps=$(lab_exec "$NS_LAN2" timeout 15 iperf3 -c 198.18.2.3 -u -l 64 -b 0 -t 3 -J |
		/usr/bin/python3 -c 'import json, sys; s = json.load(sys.stdin)["end"]["sum"]; print(int((s["packets"] - s["lost_packets"]) / s["seconds"]), "pps delivered,", s["lost_packets"], "of", s["packets"], "lost")')
	kill -TERM "$bridge_pid"
	wait "$bridge_pid" || true
	bridge_pid=""
	grep -E "port [01]:" "$log" | sed "s/^/     /"
	copies=$(sed -n 's/.* copies \([0-9]*\).*/\1/p' "$log")
	echo "$variant UMEM ($PROFILE): TCP $tcp; UDP 64 B: ${pps:-?}; frames copied by the worker: ${copies:-?}"
done
