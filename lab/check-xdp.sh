#!/usr/bin/env bash
# router-io on the reference lab (mh-rtr left to userspace): the xdp_bridge example bridges mh-rtr's lan1 and
# wan1 through one AF_XDP worker, with wan1 a tagged port (VLAN 832 pushed/popped in userspace). mh-isp1
# gets a temporary second address on the LAN's subnet (198.18.1.3) so that mh-lan1 can reach it at L2:
#
#   mh-lan1 198.18.1.2 -- lan1 [AF_XDP worker: pop/push 832] wan1 == VLAN 832 == cust (tc BPF) mh-isp1 198.18.1.3
#
# Shows: the bind mode veth gives, AF_XDP seeing the 802.1Q tag in the frame bytes (sent by mh-isp1's tc
# program), ping and TCP through the worker, SIGTERM stopping it cleanly, no XDP program left attached.
# Last line: `N passed, M failed`; non-zero exit on failure; tears everything down (trap).
set -euo pipefail
export MH_SUFFIX="${MH_SUFFIX:--x$$}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT="$(cd "$LAB_DIR/.." && pwd)"

passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   - $*"
}
nok() {
	failed=$((failed + 1))
	echo "FAIL - $*"
}
bridge_pid=""
finish() {
	local rc=$?
	set +e
	if [[ -n $bridge_pid ]] && kill -0 "$bridge_pid" 2>/dev/null; then
		kill -TERM "$bridge_pid"
		wait "$bridge_pid"
	fi
	lab_down
	if ((rc != 0 && failed == 0)); then nok "script aborted (exit $rc)"; fi
	echo "$passed passed, $failed failed"
	((failed == 0))
}

(cd "$ROOT" && cargo build -q -p router-io --example xdp_bridge)
BRIDGE="$ROOT/target/debug/examples/xdp_bridge"

exec 9>"$LAB_LOCK"
flock -w 600 9
trap finish EXIT
trap 'exit 130' INT TERM

lab_up
ip -n "$NS_ISP1" addr add 198.18.1.3/24 dev cust
# Let the LAN host through the ISP's anti-spoof input rule for this check only.
ip netns exec "$NS_ISP1" nft insert rule inet mhisp input iifname cust ip saddr "$LAN1_HOST" accept

log="$LAB_STATE/xdp_bridge.log"
ip netns exec "$NS_RTR" "$BRIDGE" lan1 "wan1:$WAN1_VLAN" --seconds 60 >"$log" 2>&1 9>&- &
bridge_pid=$!
for _ in $(seq 50); do
	grep -q running "$log" && break
	kill -0 "$bridge_pid" 2>/dev/null || break
	sleep 0.1
done
grep -E "bound in" "$log" | sed 's/^/     /' || true
if grep -q running "$log"; then ok "AF_XDP sockets bound on mh-rtr lan1 and wan1"; else nok "AF_XDP sockets bound on mh-rtr lan1 and wan1"; fi
if ip -n "$NS_RTR" link show dev wan1 | grep -q xdp; then ok "XDP program attached while running"; else nok "XDP program attached while running"; fi

if lab_exec "$NS_LAN1" ping -c 5 -i 0.2 -W 2 198.18.1.3 >/dev/null; then
	ok "ping mh-lan1 -> mh-isp1 across the AF_XDP worker and VLAN 832"
else
	nok "ping mh-lan1 -> mh-isp1 across the AF_XDP worker and VLAN 832"
fi

lab_spawn "$NS_ISP1" "$LAB_STATE/iperf3-isp1.log" iperf3 -s -B 198.18.1.3 -1
sleep 0.5
if out=$(lab_exec "$NS_LAN1" timeout 15 iperf3 -c 198.18.1.3 -t 2 -f m 2>&1); then
	echo "     iperf3 through the AF_XDP worker (debug build, VLAN push/pop): $(echo "$out" | grep receiver | awk '{print $7, $8}')"
	ok "TCP through the AF_XDP worker"
else
	nok "TCP through the AF_XDP worker"
fi

kill -TERM "$bridge_pid"
rc=0
wait "$bridge_pid" || rc=$?
bridge_pid=""
sed 's/^/     /' "$log" | grep -vE "^     libbpf|^     libxdp" || true
if ((rc == 0)) && grep -q "sockets closed" "$log"; then ok "SIGTERM stops the worker cleanly"; else nok "SIGTERM stops the worker cleanly (exit $rc)"; fi
tagged=$(sed -n 's/.*tagged frames seen \([0-9]*\).*/\1/p' "$log")
if [[ ${tagged:-0} -gt 0 ]]; then ok "AF_XDP saw 802.1Q VID $WAN1_VLAN in the frame bytes ($tagged frames)"; else nok "AF_XDP saw 802.1Q tags"; fi
if ip -n "$NS_RTR" link show | grep -q xdp; then nok "no XDP program left attached"; else ok "no XDP program left attached"; fi
