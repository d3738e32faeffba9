#!/usr/bin/env bash
# Proves the lab end to end with the kernel stand-in for mhrouter (lab/topology.sh up --kernel-router):
# pings from both LANs (IPv4 and IPv6), 20 HTTP connections (and 10 over IPv6) seen at mh-inet from both uplinks' addresses, the VLAN 832 tag
# on the wan1 wire, and the ISP anti-spoof drop of a packet left un-NATed on purpose. Tears down on exit
# (trap), and prints `N passed, M failed` as its last line; exits non-zero on any failure.
#
# Runs under a per-run suffix (MH_SUFFIX, default -c<pid>) and holds /run/mh-lab.lock for the whole run.
set -euo pipefail
export MH_SUFFIX="${MH_SUFFIX:--c$$}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

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
check() {
	local what="$1"
	shift
	if "$@" >/dev/null 2>&1; then ok "$what"; else nok "$what"; fi
}

finish() {
	local rc=$?
	set +e
	lab_down
	local ns
	for ns in "${LAB_NAMESPACES[@]}"; do
		if lab_ns_exists "$ns"; then nok "teardown removed $ns"; fi
	done
	if ((rc != 0 && failed == 0)); then nok "script aborted (exit $rc)"; fi
	echo "$passed passed, $failed failed"
	if ((failed > 0)); then exit 1; fi
	exit 0
}

exec 9>"$LAB_LOCK"
flock -w 600 9
trap finish EXIT
trap 'exit 130' INT TERM

lab_up --kernel-router

check "ping 192.0.2.10 from mh-lan1" lab_exec "$NS_LAN1" ping -c 3 -i 0.2 -W 2 "$INET_ADDR"
check "ping 192.0.2.10 from mh-lan2" lab_exec "$NS_LAN2" ping -c 3 -i 0.2 -W 2 "$INET_ADDR"
check "ping6 2001:db8:ffff::10 from mh-lan1" lab_exec "$NS_LAN1" ping -6 -c 3 -i 0.2 -W 2 "$INET_ADDR6"
check "ping6 2001:db8:ffff::10 from mh-lan2" lab_exec "$NS_LAN2" ping -6 -c 3 -i 0.2 -W 2 "$INET_ADDR6"
check "ping the ISP1 gateway from mh-rtr over VLAN 832" lab_exec "$NS_RTR" ping -c 2 -i 0.2 -W 2 "$WAN1_GW"

# The wan1 wire carries VLAN 832: capture at the ISP side while pinging across it.
tagged="$LAB_STATE/wan1.pcap.txt"
lab_exec "$NS_ISP1" timeout 5 tcpdump -i cust -nn -e -c 4 'vlan 832 and icmp' >"$tagged" 2>/dev/null 9>&- &
tcpdump_pid=$!
sleep 1
lab_exec "$NS_RTR" ping -c 3 -i 0.2 -W 2 "$WAN1_GW" >/dev/null 2>&1 || true
wait "$tcpdump_pid" || true
if grep -q 'vlan 832' "$tagged"; then ok "frames on wan1 carry 802.1Q VID 832"; else nok "frames on wan1 carry 802.1Q VID 832"; fi

syn1_before=$(lab_inet_syns isp1)
syn2_before=$(lab_inet_syns isp2)
curl_ok=0
for i in $(seq 20); do
	ns="$NS_LAN1"
	((i % 2)) || ns="$NS_LAN2"
	if lab_exec "$ns" curl -sf --max-time 5 -o /dev/null "http://$INET_ADDR/"; then
		curl_ok=$((curl_ok + 1))
	fi
done
if ((curl_ok == 20)); then ok "20 of 20 curl connections succeeded"; else nok "only $curl_ok of 20 curl connections succeeded"; fi
syn1=$(($(lab_inet_syns isp1) - syn1_before))
syn2=$(($(lab_inet_syns isp2) - syn2_before))
echo "     connections at mh-inet: from $WAN1_ADDR (isp1): $syn1, from $WAN2_ADDR (isp2): $syn2"
if ((syn1 > 0 && syn2 > 0 && syn1 + syn2 >= 20)); then
	ok "connections reached mh-inet from both uplink addresses"
else
	nok "connections reached mh-inet from both uplink addresses"
fi
if grep -q "^$WAN1_ADDR " "$LAB_STATE/http.log" && grep -q "^$WAN2_ADDR " "$LAB_STATE/http.log"; then
	ok "HTTP server log shows both source addresses"
else
	nok "HTTP server log shows both source addresses"
fi

syn6_1_before=$(lab_inet_syns6 isp1)
syn6_2_before=$(lab_inet_syns6 isp2)
curl6_ok=0
for i in $(seq 10); do
	if lab_exec "$NS_LAN1" curl -sf --max-time 5 -o /dev/null "http://[$INET_ADDR6]/"; then
		curl6_ok=$((curl6_ok + 1))
	fi
done
syn6_1=$(($(lab_inet_syns6 isp1) - syn6_1_before))
syn6_2=$(($(lab_inet_syns6 isp2) - syn6_2_before))
echo "     IPv6 connections at mh-inet: from $WAN1_PREFIX6: $syn6_1, from $WAN2_PREFIX6: $syn6_2"
if ((curl6_ok == 10 && syn6_1 > 0 && syn6_2 > 0)); then
	ok "10 IPv6 curl connections succeeded, seen from both uplinks"
else
	nok "IPv6: $curl6_ok of 10 curl connections, $syn6_1 via isp1, $syn6_2 via isp2"
fi

check "TCP echo through the router" bash -c "echo mh-echo | ip netns exec '$NS_LAN1' timeout 5 nc -q 1 '$INET_ADDR' 7 | grep -q mh-echo"
check "UDP echo through the router" bash -c "echo mh-udp | ip netns exec '$NS_LAN2' timeout 5 nc -u -w 1 '$INET_ADDR' 7 | grep -q mh-udp"

# Anti-spoof: the kernel router leaves UDP to $SPOOF_TEST_PORT un-NATed; the ISP must drop it.
spoof_before=$(($(lab_spoof_drops isp1) + $(lab_spoof_drops isp2)))
other_before=$(lab_counter "$NS_INET" inet mhlab from_other)
for sport in 40001 40002; do
	echo spoof | lab_exec "$NS_LAN1" timeout 3 nc -u -w 1 -p "$sport" "$INET_ADDR" "$SPOOF_TEST_PORT" >/dev/null 2>&1 || true
	echo spoof | lab_exec "$NS_LAN1" timeout 3 nc -6 -u -w 1 -p "$sport" "$INET_ADDR6" "$SPOOF_TEST_PORT" >/dev/null 2>&1 || true
done
spoof=$(($(lab_spoof_drops isp1) + $(lab_spoof_drops isp2) - spoof_before))
other=$(($(lab_counter "$NS_INET" inet mhlab from_other) - other_before))
echo "     un-NATed packets dropped by the ISPs: $spoof (isp1 $(lab_spoof_drops isp1), isp2 $(lab_spoof_drops isp2)); reached mh-inet: $other"
if ((spoof >= 4 && other == 0)); then ok "ISPs drop IPv4 and IPv6 packets with a wrong source"; else nok "ISPs drop packets with a wrong source"; fi

if command -v iperf3 >/dev/null; then
	if out=$(lab_exec "$NS_LAN1" timeout 15 iperf3 -c "$INET_ADDR" -t 2 -f m 2>&1); then
		echo "     kernel baseline, iperf3 mh-lan1 -> mh-inet: $(echo "$out" | grep receiver | awk '{print $7, $8}')"
		ok "iperf3 through the kernel router"
	else
		nok "iperf3 through the kernel router"
	fi
fi
