# shellcheck shell=bash
# The reference lab of shared/LAB.md, as functions to source:
#
#  mh-lan1 198.18.1.2 ─┐                         ┌─ mh-isp1 198.51.100.1 ─┐
#                      ├─ mh-rtr ────────────────┤      (VLAN 832 on wan1) ├─ mh-inet 192.0.2.10
#  mh-lan2 198.18.2.2 ─┘  lan1 198.18.1.1         └─ mh-isp2 203.0.113.1 ──┘
#                         lan2 198.18.2.1
#                         wan1 198.51.100.2 (VLAN 832)
#                         wan2 203.0.113.2
#
# Every namespace name ends with $MH_SUFFIX (empty by default: exactly the names above), so parallel runs
# pick different suffixes; a run with the default names should hold `flock /run/mh-lab.lock` (topology.sh
# and check-topology.sh do). All links are veth pairs created inside the lab namespaces, never in the host
# namespace; only 198.18.0.0/15, 198.51.100.0/24, 203.0.113.0/24 and 192.0.2.0/24 are used.
#
# Links (interface names are stable; suffixes only apply to namespace names):
#   mh-lan1:eth0 <-> mh-rtr:lan1      mh-lan2:eth0 <-> mh-rtr:lan2
#   mh-rtr:wan1  <-> mh-isp1:cust     (every frame tagged VLAN 832; mh-isp1 terminates it with a tc BPF program)
#   mh-rtr:wan2  <-> mh-isp2:cust
#   mh-isp1:inet <-> mh-inet:isp1     point-to-point 192.0.2.1 <-> 192.0.2.10
#   mh-isp2:inet <-> mh-inet:isp2     point-to-point 192.0.2.2 <-> 192.0.2.10
#
# VLAN 832 without 8021q: this kernel has no 8021q module, no act_vlan (so option (a), `tc ... action vlan`,
# fails: "Failed to load TC action module"), no cls_matchall/flower; it has cls_bpf. So option (b): lab/bpf/
# vlan_tc.c, two tiny tc programs compiled with clang and attached with clsact in direct-action mode: ingress
# pops VID 832 (drops anything else), egress pushes it. With txvlan offload off the tag is written into the
# frame bytes, so an AF_XDP socket on mh-rtr:wan1 sees it in the data. In --kernel-router mode the same
# programs terminate the tag on mh-rtr:wan1.
#
# IPv6 (2001:db8::/32), addresses without DAD:
#   mh-lan1 2001:db8:1::2/64 (gw ::1 on lan1)      mh-lan2 2001:db8:2::2/64 (gw ::1 on lan2)
#   wan1 2001:db8:100::2/64, mh-isp1 ::1; ISP1 delegates 2001:db8:100::/48 to the customer
#   wan2 2001:db8:200::2/64, mh-isp2 ::1; ISP2 delegates 2001:db8:200::/48
#   mh-inet server 2001:db8:ffff::10 (on lo), transit 2001:db8:f1::/64 (isp1 ::1, inet ::10), 2001:db8:f2::/64
# In mhrouter mode mh-rtr has IPv6 disabled, so its kernel emits nothing (no RS, ND, MLD) on the lab links.
#
# Servers in mh-inet (PIDs recorded in $LAB_STATE/pids, killed by lab_down):
#   HTTP :80 on 192.0.2.10 and [2001:db8:ffff::10] (python3 http.server, request log with client address
#   in $LAB_STATE/http.log and http6.log), iperf3 -s :5201 (both families), TCP echo :7 (socat),
#   UDP echo :7 (socat), UDP sink :9 (socat).
# Connection counters in mh-inet (nft table inet mhlab): counters `syn_from_isp1`, `syn_from_isp2` count TCP
# SYNs to 192.0.2.10 by source 198.51.100.2 / 203.0.113.2 (`syn6_from_isp1/2`: to 2001:db8:ffff::10 from
# inside 2001:db8:100::/48 / 2001:db8:200::/48); `from_other` counts packets from any other source.
# Anti-spoof counters in each ISP (nft table inet mhisp, counter `spoofed`): packets from the customer side
# whose source is not the customer address (IPv4) or not in the delegated /48 (IPv6), dropped.

MH_SUFFIX="${MH_SUFFIX:-}"
NS_LAN1="mh-lan1${MH_SUFFIX}"
NS_LAN2="mh-lan2${MH_SUFFIX}"
NS_RTR="mh-rtr${MH_SUFFIX}"
NS_ISP1="mh-isp1${MH_SUFFIX}"
NS_ISP2="mh-isp2${MH_SUFFIX}"
NS_INET="mh-inet${MH_SUFFIX}"
LAB_NAMESPACES=("$NS_LAN1" "$NS_LAN2" "$NS_RTR" "$NS_ISP1" "$NS_ISP2" "$NS_INET")

LAN1_HOST=198.18.1.2
LAN1_GW=198.18.1.1
LAN2_HOST=198.18.2.2
LAN2_GW=198.18.2.1
WAN1_ADDR=198.51.100.2
WAN1_GW=198.51.100.1
WAN1_VLAN=832
WAN2_ADDR=203.0.113.2
WAN2_GW=203.0.113.1
ISP1_INET=192.0.2.1
ISP2_INET=192.0.2.2
INET_ADDR=192.0.2.10
LAN1_HOST6=2001:db8:1::2
LAN1_GW6=2001:db8:1::1
LAN2_HOST6=2001:db8:2::2
LAN2_GW6=2001:db8:2::1
WAN1_ADDR6=2001:db8:100::2
WAN1_GW6=2001:db8:100::1
WAN1_PREFIX6=2001:db8:100::/48
WAN2_ADDR6=2001:db8:200::2
WAN2_GW6=2001:db8:200::1
WAN2_PREFIX6=2001:db8:200::/48
INET_ADDR6=2001:db8:ffff::10
# UDP to this port from a LAN is left un-NATed by the kernel router, to show the ISP anti-spoof drop.
SPOOF_TEST_PORT=9999

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_STATE="/run/mh-lab${MH_SUFFIX:-default}"
LAB_LOCK=/run/mh-lab.lock
LAB_OFFLOADS=(tx off tso off gso off rxvlan off txvlan off)

lab_log() { echo "lab: $*" >&2; }

# Check results for lab scripts: lab_check NAME STATUS DETAIL (STATUS 0 = passed) prints PASS/FAIL and counts;
# lab_summary prints the closing `N passed, M failed` line and fails when anything did.
lab_passed=0
lab_failed=0
lab_check() {
	if [[ $2 == 0 ]]; then
		echo "PASS $1: $3"
		lab_passed=$((lab_passed + 1))
	else
		echo "FAIL $1: $3"
		lab_failed=$((lab_failed + 1))
	fi
}
lab_summary() {
	echo "$lab_passed passed, $lab_failed failed"
	((lab_failed == 0))
}

# True if a namespace of exactly this name exists.
lab_ns_exists() { ip netns list | awk '{print $1}' | grep -qxF -- "$1"; }

# Runs a command in a lab namespace.
lab_exec() {
	local ns="$1"
	shift
	ip netns exec "$ns" "$@"
}

# Starts a long-running command in a namespace in its own process group; records its PID for lab_down.
lab_spawn() {
	local ns="$1" log="$2"
	shift 2
	# 9>&-: the child must not inherit the lab lock descriptor (it would hold the lock for its lifetime).
	setsid ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null 9>&- &
	echo "$!" >>"$LAB_STATE/pids"
}

# Creates a veth pair between two lab namespaces (created inside the first, never in the host namespace).
lab_link() {
	local ns_a="$1" if_a="$2" ns_b="$3" if_b="$4"
	ip -n "$ns_a" link add "$if_a" type veth peer name "$if_b" netns "$ns_b"
	for end in "$ns_a:$if_a" "$ns_b:$if_b"; do
		# Offloads off: see LAB.md (AF_XDP sees frames as sent; VLAN tags stay in the frame bytes).
		ip netns exec "${end%%:*}" ethtool -K "${end#*:}" "${LAB_OFFLOADS[@]}" >/dev/null 2>&1 || true
		ip -n "${end%%:*}" link set "${end#*:}" up
	done
}

# Compiles the VLAN termination programs once per run.
lab_vlan_obj() {
	local obj="$LAB_STATE/vlan_tc.o"
	if [[ ! -f $obj ]]; then
		clang -O2 -target bpf -DVID="$WAN1_VLAN" -I/usr/include/"$(uname -m)"-linux-gnu \
			-c "$LAB_DIR/bpf/vlan_tc.c" -o "$obj"
	fi
	echo "$obj"
}

# Terminates VLAN $WAN1_VLAN on an interface: pop on ingress (drop other frames), push on egress.
lab_vlan_terminate() {
	local ns="$1" dev="$2" obj
	obj="$(lab_vlan_obj)"
	tc -n "$ns" qdisc add dev "$dev" clsact
	tc -n "$ns" filter add dev "$dev" ingress bpf da obj "$obj" sec tc_ingress
	tc -n "$ns" filter add dev "$dev" egress bpf da obj "$obj" sec tc_egress
}

lab_sysctl() {
	local ns="$1"
	shift
	ip netns exec "$ns" sysctl -qw "$@"
}

# An ISP: forwards between its customer link `cust` and `inet`, dropping (and counting) customer packets
# whose source is not the customer's address.
lab_isp() {
	local ns="$1" gw="$2" customer="$3" p2p="$4" gw6="$5" prefix6="$6" transit6="$7"
	ip -n "$ns" addr add "$gw/24" dev cust
	ip -n "$ns" addr add "$p2p/32" peer "$INET_ADDR/32" dev inet
	ip -n "$ns" route add 192.0.2.0/24 via "$INET_ADDR" dev inet
	ip -n "$ns" addr add "$gw6/64" dev cust nodad
	ip -n "$ns" addr add "${transit6}1/64" dev inet nodad
	ip -n "$ns" route add 2001:db8:ffff::/48 via "${transit6}10" dev inet
	ip -n "$ns" route add "$prefix6" via "${gw6%1}2" dev cust
	lab_sysctl "$ns" net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv6.conf.all.forwarding=1
	ip netns exec "$ns" nft -f - <<-EOF
		table inet mhisp {
			counter spoofed {}
			chain forward {
				type filter hook forward priority filter; policy accept;
				iifname "cust" meta nfproto ipv4 ip saddr != $customer counter name spoofed drop
				iifname "cust" meta nfproto ipv6 ip6 saddr != $prefix6 counter name spoofed drop
			}
			chain input {
				type filter hook input priority filter; policy accept;
				iifname "cust" meta nfproto ipv4 ip saddr != $customer counter name spoofed drop
				iifname "cust" meta nfproto ipv6 ip6 saddr != { $prefix6, fe80::/10 } counter name spoofed drop
			}
		}
	EOF
}

# The internet: 192.0.2.10 on both ISP links, routes back to each customer prefix via its ISP, servers.
lab_inet() {
	ip -n "$NS_INET" addr add "$INET_ADDR/32" peer "$ISP1_INET/32" dev isp1
	ip -n "$NS_INET" addr add "$INET_ADDR/32" peer "$ISP2_INET/32" dev isp2
	ip -n "$NS_INET" route add 198.51.100.0/24 via "$ISP1_INET" dev isp1
	ip -n "$NS_INET" route add 203.0.113.0/24 via "$ISP2_INET" dev isp2
	ip -n "$NS_INET" addr add "$INET_ADDR6/128" dev lo
	ip -n "$NS_INET" addr add 2001:db8:f1::10/64 dev isp1 nodad
	ip -n "$NS_INET" addr add 2001:db8:f2::10/64 dev isp2 nodad
	ip -n "$NS_INET" route add "$WAN1_PREFIX6" via 2001:db8:f1::1 dev isp1
	ip -n "$NS_INET" route add "$WAN2_PREFIX6" via 2001:db8:f2::1 dev isp2
	lab_sysctl "$NS_INET" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	ip netns exec "$NS_INET" nft -f - <<-EOF
		table inet mhlab {
			counter syn_from_isp1 {}
			counter syn_from_isp2 {}
			counter syn6_from_isp1 {}
			counter syn6_from_isp2 {}
			counter from_other {}
			chain input {
				type filter hook input priority filter; policy accept;
				ip daddr $INET_ADDR tcp flags & (syn | ack) == syn ip saddr $WAN1_ADDR counter name syn_from_isp1
				ip daddr $INET_ADDR tcp flags & (syn | ack) == syn ip saddr $WAN2_ADDR counter name syn_from_isp2
				ip6 daddr $INET_ADDR6 tcp flags & (syn | ack) == syn ip6 saddr $WAN1_PREFIX6 counter name syn6_from_isp1
				ip6 daddr $INET_ADDR6 tcp flags & (syn | ack) == syn ip6 saddr $WAN2_PREFIX6 counter name syn6_from_isp2
				meta nfproto ipv4 ip saddr != { $WAN1_ADDR, $WAN2_ADDR, $ISP1_INET, $ISP2_INET } counter name from_other
				meta nfproto ipv6 ip6 saddr != { $WAN1_PREFIX6, $WAN2_PREFIX6, 2001:db8:f1::/64, 2001:db8:f2::/64, fe80::/10 } counter name from_other
			}
		}
	EOF
	local www="$LAB_STATE/www"
	mkdir -p "$www"
	echo "mh-inet says hello" >"$www/index.html"
	lab_spawn "$NS_INET" "$LAB_STATE/http.log" /usr/bin/python3 -u -m http.server 80 --bind "$INET_ADDR" --directory "$www"
	lab_spawn "$NS_INET" "$LAB_STATE/http6.log" /usr/bin/python3 -u -m http.server 80 --bind "$INET_ADDR6" --directory "$www"
	lab_spawn "$NS_INET" "$LAB_STATE/iperf3.log" iperf3 -s
	lab_spawn "$NS_INET" "$LAB_STATE/tcp-echo.log" socat TCP4-LISTEN:7,bind="$INET_ADDR",fork,reuseaddr EXEC:/bin/cat
	lab_spawn "$NS_INET" "$LAB_STATE/udp-echo.log" socat UDP4-RECVFROM:7,bind="$INET_ADDR",fork EXEC:/bin/cat
	lab_spawn "$NS_INET" "$LAB_STATE/udp-sink.log" socat -u UDP4-RECV:9,bind="$INET_ADDR" OPEN:/dev/null
	local port
	for port in 80 5201 7; do
		local i
		for i in $(seq 50); do
			ip netns exec "$NS_INET" ss -ltnH "sport = :$port" | grep -q . && break
			sleep 0.1
		done
	done
}

# mh-rtr as a plain Linux router: VLAN 832 on wan1, SNAT per uplink, new connections spread over both
# uplinks with `numgen inc mod 2` into the conntrack mark (restored on every packet) and one routing table
# per uplink selected by that mark. The kernel baseline for benchmarks.
lab_kernel_router() {
	local ns="$NS_RTR"
	ip -n "$ns" addr add "$LAN1_GW/24" dev lan1
	ip -n "$ns" addr add "$LAN2_GW/24" dev lan2
	ip -n "$ns" addr add "$WAN1_ADDR/24" dev wan1
	ip -n "$ns" addr add "$WAN2_ADDR/24" dev wan2
	ip -n "$ns" addr add "$LAN1_GW6/64" dev lan1 nodad
	ip -n "$ns" addr add "$LAN2_GW6/64" dev lan2 nodad
	ip -n "$ns" addr add "$WAN1_ADDR6/64" dev wan1 nodad
	ip -n "$ns" addr add "$WAN2_ADDR6/64" dev wan2 nodad
	lab_vlan_terminate "$ns" wan1
	lab_sysctl "$ns" net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.conf.all.src_valid_mark=1 net.ipv6.conf.all.forwarding=1
	local dev
	for dev in lan1 lan2 wan1 wan2; do lab_sysctl "$ns" "net.ipv4.conf.$dev.rp_filter=0"; done
	ip -n "$ns" route add default via "$WAN2_GW" dev wan2
	ip -n "$ns" route add default via "$WAN1_GW" dev wan1 table 101
	ip -n "$ns" route add default via "$WAN2_GW" dev wan2 table 102
	ip -n "$ns" rule add fwmark 1 table 101 pref 1001
	ip -n "$ns" rule add fwmark 2 table 102 pref 1002
	ip -n "$ns" -6 route add default via "$WAN2_GW6" dev wan2
	ip -n "$ns" -6 route add default via "$WAN1_GW6" dev wan1 table 101
	ip -n "$ns" -6 route add default via "$WAN2_GW6" dev wan2 table 102
	ip -n "$ns" -6 rule add fwmark 1 table 101 pref 1001
	ip -n "$ns" -6 rule add fwmark 2 table 102 pref 1002
	# One inet table for both families: NAT66 masquerade stands in for NPTv6 here.
	ip netns exec "$ns" nft -f - <<-EOF
		table inet mhrtr {
			chain prerouting {
				type filter hook prerouting priority mangle; policy accept;
				iifname { "lan1", "lan2" } ct state new ct mark set numgen inc mod 2 offset 1
				iifname { "lan1", "lan2" } meta mark set ct mark
			}
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				udp dport $SPOOF_TEST_PORT return
				oifname "wan1" masquerade
				oifname "wan2" masquerade
			}
		}
	EOF
}

# Builds the topology. With --kernel-router, mh-rtr routes with the kernel; without, mh-rtr's interfaces
# are up with no addresses, ready for mhrouter (bpffs mounted for libxdp).
lab_up() {
	local kernel_router=0
	[[ ${1:-} == --kernel-router ]] && kernel_router=1
	local ns
	for ns in "${LAB_NAMESPACES[@]}"; do
		if lab_ns_exists "$ns"; then
			lab_log "namespace $ns already exists: another run is using these names (set MH_SUFFIX)"
			return 1
		fi
	done
	mkdir -p "$LAB_STATE"
	: >"$LAB_STATE/pids"
	for ns in "${LAB_NAMESPACES[@]}"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		lab_sysctl "$ns" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
	if ! ((kernel_router)); then
		lab_sysctl "$NS_RTR" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	fi
	lab_link "$NS_LAN1" eth0 "$NS_RTR" lan1
	lab_link "$NS_LAN2" eth0 "$NS_RTR" lan2
	lab_link "$NS_RTR" wan1 "$NS_ISP1" cust
	lab_link "$NS_RTR" wan2 "$NS_ISP2" cust
	lab_link "$NS_ISP1" inet "$NS_INET" isp1
	lab_link "$NS_ISP2" inet "$NS_INET" isp2

	ip -n "$NS_LAN1" addr add "$LAN1_HOST/24" dev eth0
	ip -n "$NS_LAN1" route add default via "$LAN1_GW"
	ip -n "$NS_LAN2" addr add "$LAN2_HOST/24" dev eth0
	ip -n "$NS_LAN2" route add default via "$LAN2_GW"
	ip -n "$NS_LAN1" addr add "$LAN1_HOST6/64" dev eth0 nodad
	ip -n "$NS_LAN1" -6 route add default via "$LAN1_GW6"
	ip -n "$NS_LAN2" addr add "$LAN2_HOST6/64" dev eth0 nodad
	ip -n "$NS_LAN2" -6 route add default via "$LAN2_GW6"

	lab_vlan_terminate "$NS_ISP1" cust
	lab_isp "$NS_ISP1" "$WAN1_GW" "$WAN1_ADDR" "$ISP1_INET" "$WAN1_GW6" "$WAN1_PREFIX6" 2001:db8:f1::
	lab_isp "$NS_ISP2" "$WAN2_GW" "$WAN2_ADDR" "$ISP2_INET" "$WAN2_GW6" "$WAN2_PREFIX6" 2001:db8:f2::
	lab_inet

	if ((kernel_router)); then
		lab_kernel_router
	elif ! grep -q ' /sys/fs/bpf bpf ' /proc/mounts; then
		mount -t bpf bpf /sys/fs/bpf
	fi
	lab_log "up (suffix '${MH_SUFFIX}', $( ((kernel_router)) && echo kernel router || echo 'mh-rtr empty for mhrouter'))"
}

# Removes every namespace of this run and kills the processes it recorded (by PID, with their group).
lab_down() {
	local pid ns
	if [[ -f $LAB_STATE/pids ]]; then
		while read -r pid; do
			[[ -n $pid ]] || continue
			kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		done <"$LAB_STATE/pids"
		sleep 0.2
		while read -r pid; do
			[[ -n $pid ]] || continue
			kill -KILL -- "-$pid" 2>/dev/null || true
		done <"$LAB_STATE/pids"
	fi
	for ns in "${LAB_NAMESPACES[@]}"; do
		if lab_ns_exists "$ns"; then
			ip netns del "$ns" || true
		fi
	done
	rm -rf "$LAB_STATE"
}

# Packets counted by a named nft counter: lab_counter NS FAMILY TABLE COUNTER
lab_counter() {
	ip netns exec "$1" nft list counter "$2" "$3" "$4" | sed -n 's/.*packets \([0-9]*\).*/\1/p' | head -1
}

# TCP connections (SYNs) seen at mh-inet from one ISP's customer address: lab_inet_syns isp1|isp2
lab_inet_syns() { lab_counter "$NS_INET" inet mhlab "syn_from_$1"; }

# The same over IPv6 (sources inside that ISP's delegated /48): lab_inet_syns6 isp1|isp2
lab_inet_syns6() { lab_counter "$NS_INET" inet mhlab "syn6_from_$1"; }

# Customer packets an ISP dropped for a wrong source address: lab_spoof_drops isp1|isp2
lab_spoof_drops() {
	local ns="$NS_ISP1"
	[[ $1 == isp2 ]] && ns="$NS_ISP2"
	lab_counter "$ns" inet mhisp spoofed
}

# --- mhrouter runs and the end-to-end tools (used by lab/test.sh and lab/demo.sh) ---------------------------
#
# MHROUTER              the binary (default: target/release/mhrouter of this tree)
# LAB_ROUTER_PID        PID of the mhrouter started by lab_router_start (a child of the calling shell)
# lab_router_start CONFIG LOG [ARGS...]
#                       runs `mhrouter --config CONFIG ARGS...` in $NS_RTR (stdout+stderr to LOG), records its
#                       PID for lab_down, and waits (≤ 5 s) until every uplink of CONFIG logs "in service";
#                       returns 1 if it died or not every uplink came up. Call it directly, not in $(...).
# lab_router_stop       SIGTERM to that mhrouter, waits ≤ 5 s (then SIGKILL); returns its exit status
# lab_cpu_ticks PID     user+system CPU time of a process (all threads), in clock ticks
# lab_xdp_attached NS   number of interfaces in NS with an XDP program attached
# lab_tools             writes $LAB_STATE/mhtool.py (python3, stdlib only), path in $LAB_TOOL; subcommands:
#     connloop HOST PORT --every S --seconds S --timeout S --out F   a new TCP connection every S seconds;
#                       one line per attempt: start end ok(1/0) OK|ERRNAME|TIMEOUT
#     gap F --cut T     the failure window of a connloop file around a cut at wall time T (see cmd_gap)
#     peersrv ADDR PORT TCP and UDP server: TCP sends "ip:port\n" of the peer then echoes; UDP answers
#                       "ip:port payload"; logs every new peer on stdout
#     peer HOST PORT [--count N]      N connections to a peersrv, prints the source the server saw for each
#     sticky HOST PORT --sport P --count N --every S   one TCP session from source port P, N echoed messages
#     rstwait HOST PORT --want-src A --ready F --wait S  connects until the peersrv sees source A, writes F,
#                       blocks in recv; prints "RST <time>", "EOF <time>" or "TIMEOUT"
#     udpflow HOST PORT --want-src A --ready F --every S --seconds S   a connected UDP socket whose first
#                       answer came via source A; sends every S, prints "<time> <source seen by server>"
#     udpgap F --cut T  sources before/after the cut and the longest silence of a udpflow file
#     refused HOST PORT UDP to a closed port on a connected socket: prints ECONNREFUSED or TIMEOUT
#     iperf F           bits/s, lowest interval and retransmits of an iperf3 -J file
MHROUTER="${MHROUTER:-$(cd "$LAB_DIR/.." && pwd)/target/release/mhrouter}"
LAB_ROUTER_PID=""
LAB_TOOL=""

lab_router_start() {
	local cfg="$1" log="$2"
	shift 2
	ip netns exec "$NS_RTR" "$MHROUTER" --config "$cfg" "$@" >"$log" 2>&1 </dev/null &
	LAB_ROUTER_PID=$!
	echo "$LAB_ROUTER_PID" >>"$LAB_STATE/pids"
	local want n
	want=$(grep -c '^\[\[uplink\]\]' "$cfg")
	for _ in $(seq 100); do
		[[ -d /proc/$LAB_ROUTER_PID ]] && ! grep -q '^State:.*Z' "/proc/$LAB_ROUTER_PID/status" 2>/dev/null || return 1
		n=$(grep -c 'in service for new flows' "$log")
		((n >= want)) && return 0
		sleep 0.05
	done
	return 1
}

lab_router_stop() {
	local pid="$LAB_ROUTER_PID" rc=0 wd
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	(
		sleep 5
		kill -KILL "$pid" 2>/dev/null
	) &
	wd=$!
	wait "$pid" || rc=$?
	kill "$wd" 2>/dev/null || true
	wait "$wd" 2>/dev/null || true
	LAB_ROUTER_PID=""
	return "$rc"
}

lab_cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo 0
		return
	}
	# Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
	stat="${stat##*) }"
	awk '{print $12 + $13}' <<<"$stat"
}

lab_xdp_attached() { ip -n "$1" -o link show | grep -cE ' xdp|prog/xdp' || true; }

lab_tools() {
	LAB_TOOL="$LAB_STATE/mhtool.py"
	cat >"$LAB_TOOL" <<'PY'
#!/usr/bin/env python3
"""Clients and servers of the mhrouter lab tests (written by lab/lib.sh lab_tools; stdlib only)."""
import argparse, errno, json, selectors, socket, sys, threading, time


def errname(e):
    return errno.errorcode.get(e, str(e))


def cmd_connloop(a):
    sel, pending, rows = selectors.DefaultSelector(), {}, []
    t_end = time.time() + a.seconds
    nxt = time.time()
    while True:
        t = time.time()
        if nxt <= t < t_end:
            nxt = max(nxt + a.every, t)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect((a.host, a.port))
            except BlockingIOError:
                pass
            except OSError as e:
                rows.append((t, time.time(), 0, errname(e.errno)))
                s.close()
                continue
            pending[s] = t
            sel.register(s, selectors.EVENT_WRITE)
        for s, st in list(pending.items()):
            if t - st >= a.timeout:
                sel.unregister(s)
                del pending[s]
                s.close()
                rows.append((st, t, 0, "TIMEOUT"))
        if t >= t_end and not pending:
            break
        wait = min(max(nxt - time.time(), 0.0), 0.01) if t < t_end else 0.01
        for key, _ in sel.select(wait):
            s = key.fileobj
            st = pending.pop(s)
            sel.unregister(s)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            rows.append((st, time.time(), 1 if err == 0 else 0, "OK" if err == 0 else errname(err)))
            s.close()
    with open(a.out, "w") as f:
        for r in sorted(rows):
            f.write("%.6f %.6f %d %s\n" % r)


def cmd_gap(a):
    """Failure window: from the start of the first failed attempt (started at most `guard` before the cut) to
    the start of the first successful attempt after the last failed one. Attempts that failed earlier than
    that are reported as `prefail` (they are not explained by the cut)."""
    rows = []
    for line in open(a.file):
        p = line.split()
        rows.append((float(p[0]), float(p[1]), int(p[2]), p[3]))
    rows.sort()
    after = [r for r in rows if r[0] >= a.cut - a.guard]
    prefail = sum(1 for r in rows if r[0] < a.cut - a.guard and not r[2])
    fails = [r for r in after if not r[2]]
    errs = {}
    for r in fails:
        errs[r[3]] = errs.get(r[3], 0) + 1
    out = {"attempts": len(rows), "ok": sum(r[2] for r in rows), "failed": len(fails), "prefail": prefail}
    if not fails:
        out["window_ms"] = 0
    else:
        succ = [r for r in after if r[2] and r[0] > fails[-1][0]]
        out["window_ms"] = round((succ[0][0] - fails[0][0]) * 1000) if succ else -1
        out["first_fail_vs_cut_ms"] = round((fails[0][0] - a.cut) * 1000)
        out["ok_inside_window"] = sum(1 for r in after if r[2] and fails[0][0] <= r[0] <= fails[-1][0])
    out["errors"] = ",".join("%s:%d" % kv for kv in sorted(errs.items())) or "-"
    print(" ".join("%s=%s" % kv for kv in out.items()))


def cmd_peersrv(a):
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((a.addr, a.port))
    tcp.listen(256)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((a.addr, a.port))

    def serve(c, peer):
        try:
            c.sendall(("%s:%d\n" % peer).encode())
            while True:
                d = c.recv(4096)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        finally:
            c.close()

    def accept_loop():
        while True:
            c, peer = tcp.accept()
            print("%.6f tcp %s:%d" % (time.time(), *peer), flush=True)
            threading.Thread(target=serve, args=(c, peer), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    seen = set()
    while True:
        d, peer = udp.recvfrom(4096)
        if peer not in seen:
            seen.add(peer)
            print("%.6f udp %s:%d" % (time.time(), *peer), flush=True)
        udp.sendto(("%s:%d " % peer).encode() + d, peer)


def cmd_peer(a):
    bad = 0
    for _ in range(a.count):
        try:
            with socket.create_connection((a.host, a.port), timeout=a.timeout) as s:
                print(s.makefile("rb").readline().decode().strip() or "EMPTY", flush=True)
        except OSError as e:
            print("ERROR %s" % e, flush=True)
            bad += 1
    return 1 if bad else 0


def cmd_sticky(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind(("0.0.0.0", a.sport))
    s.settimeout(3)
    s.connect((a.host, a.port))
    f, ok = s.makefile("rb"), 0
    for i in range(a.count):
        msg = b"sticky message %d\n" % i
        s.sendall(msg)
        if f.readline() == msg:
            ok += 1
        time.sleep(a.every)
    s.close()
    print("echoed %d of %d" % (ok, a.count))
    return 0 if ok == a.count else 1


def cmd_rstwait(a):
    for attempt in range(1, a.tries + 1):
        s = socket.create_connection((a.host, a.port), timeout=2)
        seen = s.makefile("rb").readline().decode().strip()
        if seen.split(":")[0] == a.want_src:
            break
        s.close()
    else:
        print("NOT_ON_UPLINK")
        return 2
    print("connected, seen as %s after %d attempt(s)" % (seen, attempt), flush=True)
    open(a.ready, "w").write(seen + "\n")
    s.settimeout(a.wait)
    try:
        d = s.recv(1)
        print("%s %.6f" % ("EOF" if not d else "DATA", time.time()))
    except ConnectionResetError:
        print("RST %.6f" % time.time())
    except socket.timeout:
        print("TIMEOUT")
    return 0


def cmd_udpflow(a):
    for attempt in range(1, a.tries + 1):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((a.host, a.port))
        s.settimeout(1)
        s.send(b"hello")
        try:
            seen = s.recv(4096).split(b" ")[0].decode()
        except OSError:
            s.close()
            continue
        if seen.split(":")[0] == a.want_src:
            break
        s.close()
    else:
        print("NOT_ON_UPLINK")
        return 2
    print("# first answer seen as %s after %d attempt(s)" % (seen, attempt), flush=True)
    open(a.ready, "w").write(seen + "\n")
    t_end, nxt, seq = time.time() + a.seconds, time.time(), 0
    while time.time() < t_end:
        if time.time() >= nxt:
            s.send(b"%d" % seq)
            seq += 1
            nxt += a.every
        s.settimeout(max(nxt - time.time(), 0.001))
        try:
            d = s.recv(4096)
            print("%.6f %s" % (time.time(), d.split(b" ")[0].decode()), flush=True)
        except socket.timeout:
            pass
        except OSError as e:
            print("# %.6f %s" % (time.time(), errname(e.errno)), flush=True)
    print("# sent %d" % seq)
    return 0


def cmd_udpgap(a):
    rows = []
    for line in open(a.file):
        if line.startswith("#") or not line.strip():
            continue
        t, src = line.split()
        rows.append((float(t), src))
    before = sorted({s for t, s in rows if t < a.cut})
    after = sorted({s for t, s in rows if t > a.cut + 1.0})
    times = [a.cut] + [t for t, _ in rows if t >= a.cut]
    gap = max((b - x for x, b in zip(times, times[1:])), default=-1)
    last = max((t for t, _ in rows), default=0)
    print("replies=%d before=%s after=%s longest_silence_after_cut_ms=%d last_reply_vs_cut_s=%.1f"
          % (len(rows), ",".join(before) or "-", ",".join(after) or "-", round(gap * 1000), last - a.cut))


def cmd_refused(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((a.host, a.port))
    s.settimeout(1)
    for i in range(1, 4):
        s.send(b"anyone there?")
        try:
            s.recv(100)
            print("ANSWERED")
            return 1
        except ConnectionRefusedError:
            print("ECONNREFUSED after %d datagram(s)" % i)
            return 0
        except socket.timeout:
            continue
    print("TIMEOUT")
    return 1


def cmd_iperf(a):
    j = json.load(open(a.file))
    iv = [i["sum"]["bits_per_second"] for i in j.get("intervals", [])]
    end = j.get("end", {})
    recv = end.get("sum_received", {}).get("bits_per_second", 0)
    retr = end.get("sum_sent", {}).get("retransmits", -1)
    print("mbps=%.1f min_interval_mbps=%.1f intervals=%d retransmits=%s error=%s" % (
        recv / 1e6, min(iv, default=0) / 1e6, len(iv), retr, json.dumps(j.get("error", "-"))))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("connloop"); c.add_argument("host"); c.add_argument("port", type=int)
    c.add_argument("--every", type=float, default=0.02); c.add_argument("--seconds", type=float, default=5)
    c.add_argument("--timeout", type=float, default=1.0); c.add_argument("--out", required=True)
    c = sub.add_parser("gap"); c.add_argument("file"); c.add_argument("--cut", type=float, required=True)
    c.add_argument("--guard", type=float, default=0.1)
    c = sub.add_parser("peersrv"); c.add_argument("addr"); c.add_argument("port", type=int)
    c = sub.add_parser("peer"); c.add_argument("host"); c.add_argument("port", type=int)
    c.add_argument("--count", type=int, default=1); c.add_argument("--timeout", type=float, default=3)
    c = sub.add_parser("sticky"); c.add_argument("host"); c.add_argument("port", type=int)
    c.add_argument("--sport", type=int, required=True); c.add_argument("--count", type=int, default=60)
    c.add_argument("--every", type=float, default=0.04)
    c = sub.add_parser("rstwait"); c.add_argument("host"); c.add_argument("port", type=int)
    c.add_argument("--want-src", required=True); c.add_argument("--ready", required=True)
    c.add_argument("--wait", type=float, default=10); c.add_argument("--tries", type=int, default=40)
    c = sub.add_parser("udpflow"); c.add_argument("host"); c.add_argument("port", type=int)
    c.add_argument("--want-src", required=True); c.add_argument("--ready", required=True)
    c.add_argument("--every", type=float, default=0.05); c.add_argument("--seconds", type=float, default=10)
    c.add_argument("--tries", type=int, default=40)
    c = sub.add_parser("udpgap"); c.add_argument("file"); c.add_argument("--cut", type=float, required=True)
    c = sub.add_parser("refused"); c.add_argument("host"); c.add_argument("port", type=int)
    c = sub.add_parser("iperf"); c.add_argument("file")
    a = p.parse_args()
    sys.exit(globals()["cmd_" + a.cmd](a) or 0)


if __name__ == "__main__":
    main()
PY
}

# mh-rtr as the well-known Linux multihoming recipe, with iptables (the kernel baseline of benches/e2e.sh):
# mangle PREROUTING restores the conntrack mark into the packet mark, NEW flows from the LANs get mark 1 or 2
# in turn (`statistic --mode nth`), the mark is saved back into conntrack; `ip rule fwmark N` selects one
# routing table per ISP (each also holds the LAN routes, so marked replies reach the LAN); SNAT per uplink;
# rp_filter off; VLAN 832 terminated on wan1 by the same tc programs as lab_kernel_router. IPv4 only. Call it
# after `lab_up` (without --kernel-router), instead of mhrouter.
lab_kernel_router_iptables() {
	local ns="$NS_RTR" dev
	ip -n "$ns" addr add "$LAN1_GW/24" dev lan1
	ip -n "$ns" addr add "$LAN2_GW/24" dev lan2
	ip -n "$ns" addr add "$WAN1_ADDR/24" dev wan1
	ip -n "$ns" addr add "$WAN2_ADDR/24" dev wan2
	lab_vlan_terminate "$ns" wan1
	lab_sysctl "$ns" net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	for dev in lan1 lan2 wan1 wan2; do lab_sysctl "$ns" "net.ipv4.conf.$dev.rp_filter=0"; done
	ip -n "$ns" route add default via "$WAN2_GW" dev wan2
	local table gw wan
	for table in 101 102; do
		if ((table == 101)); then gw=$WAN1_GW wan=wan1; else gw=$WAN2_GW wan=wan2; fi
		ip -n "$ns" route add 198.18.1.0/24 dev lan1 table "$table"
		ip -n "$ns" route add 198.18.2.0/24 dev lan2 table "$table"
		ip -n "$ns" route add default via "$gw" dev "$wan" table "$table"
	done
	ip -n "$ns" rule add fwmark 1 table 101 pref 1001
	ip -n "$ns" rule add fwmark 2 table 102 pref 1002
	ip netns exec "$ns" iptables-restore <<-EOF2
		*mangle
		:PREROUTING ACCEPT [0:0]
		-A PREROUTING -j CONNMARK --restore-mark
		-A PREROUTING -m mark ! --mark 0 -j ACCEPT
		-A PREROUTING -i lan+ -m conntrack --ctstate NEW -m statistic --mode nth --every 2 --packet 0 -j MARK --set-mark 1
		-A PREROUTING -i lan+ -m conntrack --ctstate NEW -m mark --mark 0 -j MARK --set-mark 2
		-A PREROUTING -j CONNMARK --save-mark
		COMMIT
		*nat
		:POSTROUTING ACCEPT [0:0]
		-A POSTROUTING -o wan1 -j SNAT --to-source $WAN1_ADDR
		-A POSTROUTING -o wan2 -j SNAT --to-source $WAN2_ADDR
		COMMIT
	EOF2
}

# Counters of UDP packets to the sink (192.0.2.10:9) at mh-inet, by arrival interface, in nft table
# `netdev mhe2e` (counters sink_isp1, sink_isp2, sink_direct): packets delivered through each ISP, or straight
# from a generator on the `direct` link of lab_direct_link (counted only if that link exists already). In the
# devices' ingress hook, before the IP stack, so they count every arrival. `lab_sink_counters drop` also drops
# what it counted there: no IP receive, no socket, so the sink costs the CPU it shares with a router little
# more than the hop into mh-inet (plain `lab_sink_counters` leaves them to the socat sink).
lab_sink_counters() {
	local verdict="${1:-}" direct=""
	if ip -n "$NS_INET" link show direct >/dev/null 2>&1; then
		direct="chain direct { type filter hook ingress device direct priority 0; policy accept; ip daddr $INET_ADDR udp dport 9 counter name sink_direct $verdict; }"
	fi
	ip netns exec "$NS_INET" nft -f - <<-EOF
		table netdev mhe2e {
			counter sink_isp1 {}
			counter sink_isp2 {}
			counter sink_direct {}
			chain isp1 {
				type filter hook ingress device isp1 priority 0; policy accept;
				ip saddr $WAN1_ADDR ip daddr $INET_ADDR udp dport 9 counter name sink_isp1 $verdict
			}
			chain isp2 {
				type filter hook ingress device isp2 priority 0; policy accept;
				ip saddr $WAN2_ADDR ip daddr $INET_ADDR udp dport 9 counter name sink_isp2 $verdict
			}
			$direct
		}
	EOF
}

# UDP packets counted at the sink: lab_sink_packets isp1|isp2|direct
lab_sink_packets() { lab_counter "$NS_INET" netdev mhe2e "sink_$1"; }

# A router-less link for a generator's ceiling: mh-lan1:direct <-> mh-inet:direct (veth, offloads off like
# every lab link). mh-lan1 gets 198.18.3.2/24 on it, mh-inet 198.18.3.1/24; 192.0.2.10 is local in mh-inet,
# so frames sent to mh-inet:direct's MAC and 192.0.2.10 reach the same UDP sink as routed traffic.
lab_direct_link() {
	lab_link "$NS_LAN1" direct "$NS_INET" direct
	ip -n "$NS_LAN1" addr add 198.18.3.2/24 dev direct
	ip -n "$NS_INET" addr add 198.18.3.1/24 dev direct
	lab_sysctl "$NS_INET" net.ipv4.conf.direct.rp_filter=0
}

# MAC address of an interface in a namespace: lab_mac NS IF
lab_mac() { ip netns exec "$1" cat "/sys/class/net/$2/address"; }
