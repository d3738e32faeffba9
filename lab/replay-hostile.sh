#!/usr/bin/env bash
# Replays hostile frames through the live dataplane: mhrouter in mh-rtr takes COUNT malformed and corrupted
# frames on lan1 (and a fifth as many on wan2, from the ISP side) while ordinary traffic flows from mh-lan2.
# Shows: mhrouter stays up; every frame it received is accounted for (rx = forwarded + consumed + drops by
# reason); no LAN source escapes un-NATed (the ISPs' anti-spoof counters stay at 0); ordinary traffic keeps
# flowing (pings answered, every HTTP request served). Last line: `N passed, M failed`.
#
# usage: lab/replay-hostile.sh [COUNT]   (default 1000000; root)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-1000000}
export MH_SUFFIX=${MH_SUFFIX:--rp$$}
# shellcheck source=lab/lib.sh
source lab/lib.sh

work=$(mktemp -d /tmp/mh-replay.XXXXXX)
rtr_pid=
cleanup() {
	[[ -n $rtr_pid ]] && kill -TERM "$rtr_pid" 2>/dev/null || true
	lab_down
	[[ ${KEEP:-0} == 1 ]] && cp "$work/rtr.log" /tmp/mh-replay-rtr.log && cp "$work"/replay-*.log /tmp/ 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --quiet -p router-bin
cargo build --release --quiet -p router-core --example hostile_pcap
bin=target/release/mhrouter
lab_up

mac_lan1=$(ip netns exec "$NS_RTR" cat /sys/class/net/lan1/address)
mac_wan2=$(ip netns exec "$NS_RTR" cat /sys/class/net/wan2/address)
target/release/examples/hostile_pcap "$work/lan.pcap" "$COUNT" "$mac_lan1" 1
target/release/examples/hostile_pcap "$work/wan.pcap" $((COUNT / 5)) "$mac_wan2" 2

ip netns exec "$NS_RTR" "$bin" --config config/lab.toml >"$work/rtr.log" 2>&1 &
rtr_pid=$!
for _ in $(seq 50); do
	(($(grep -c 'in service for new flows' "$work/rtr.log" || true) >= 2)) && break
	sleep 0.1
done

# Ordinary traffic from mh-lan2 during the whole replay (bounded).
ip netns exec "$NS_LAN2" ping -q -i 0.05 -c 300 -W 1 "$INET_ADDR" >"$work/ping.log" 2>&1 &
ping_pid=$!
(
	ok=0
	for _ in $(seq 100); do
		code=$(ip netns exec "$NS_LAN2" curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$INET_ADDR/" || true)
		[[ $code == 200 ]] && ok=$((ok + 1))
		sleep 0.1
	done
	echo "$ok" >"$work/curl.ok"
) &
curl_pid=$!

start=$(date +%s.%N)
ip netns exec "$NS_LAN1" tcpreplay -q -i eth0 --pps 100000 "$work/lan.pcap" >"$work/replay-lan.log" 2>&1 || true
ip netns exec "$NS_ISP2" tcpreplay -q -i cust --pps 100000 "$work/wan.pcap" >"$work/replay-wan.log" 2>&1 || true
took=$(echo "$(date +%s.%N) - $start" | bc)
wait "$ping_pid" || true
wait "$curl_pid" || true

alive=1
kill -0 "$rtr_pid" 2>/dev/null || alive=0
kill -TERM "$rtr_pid" 2>/dev/null || true
rc=0
wait "$rtr_pid" || rc=$?
rtr_pid=

sent_lan=$(sed -n 's/.*Successful packets: *\([0-9]*\).*/\1/p' "$work/replay-lan.log" | head -1)
sent_wan=$(sed -n 's/.*Successful packets: *\([0-9]*\).*/\1/p' "$work/replay-wan.log" | head -1)
line=$(grep 'pipeline: rx' "$work/rtr.log" | tail -1)
rx=$(sed -n 's/.*pipeline: rx \([0-9]*\) .*/\1/p' <<<"$line")
fwd=$(sed -n 's/.* forwarded \([0-9]*\) .*/\1/p' <<<"$line")
con=$(sed -n 's/.* consumed \([0-9]*\) .*/\1/p' <<<"$line")
drops=$(grep 'pipeline:   drop ' "$work/rtr.log" | awk '{s += $NF} END {print s + 0}')
kdrop=$(grep -o 'kernel_rx_dropped [0-9]*\|kernel_rx_ring_full [0-9]*' "$work/rtr.log" | awk '{s += $2} END {print s + 0}')
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$work/ping.log")
curl_ok=$(cat "$work/curl.ok")

echo "replayed ${sent_lan:-0} frames on lan1 and ${sent_wan:-0} on wan2 in ${took}s"
grep 'pipeline:   drop ' "$work/rtr.log" | sed 's/^mhrouter: pipeline:   /  /'
lab_check "router stays up" $((alive == 1 && rc == 0 ? 0 : 1)) "alive through the replay, exit status $rc"
lab_check "every frame accounted for" $((rx == fwd + con + drops ? 0 : 1)) \
	"rx $rx = forwarded $fwd + consumed $con + dropped $drops (by reason above)"
lab_check "nothing lost unseen" $((rx + kdrop >= ${sent_lan:-0} + ${sent_wan:-0} ? 0 : 1)) \
	"rx $rx + kernel ring drops $kdrop >= replayed $((${sent_lan:-0} + ${sent_wan:-0}))"
lab_check "the replay was at least the asked count" $((${sent_lan:-0} >= COUNT * 99 / 100 ? 0 : 1)) "${sent_lan:-0} of $COUNT"
spoof=$(($(lab_spoof_drops isp1) + $(lab_spoof_drops isp2)))
lab_check "no LAN source escaped un-NATed" $((spoof == 0 ? 0 : 1)) "ISP anti-spoof drops: $spoof"
lab_check "ordinary pings kept flowing" "$(awk -v l="${loss:-100}" 'BEGIN {print (l <= 1) ? 0 : 1}')" "loss ${loss:-?}%"
lab_check "ordinary HTTP kept flowing" $((curl_ok == 100 ? 0 : 1)) "$curl_ok/100 requests served"
lab_summary
