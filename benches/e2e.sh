#!/usr/bin/env bash
# End-to-end comparison: mhrouter against the Linux kernel configured like the well-known multihoming recipe
# (lab_kernel_router_iptables in lab/lib.sh: iptables mangle CONNMARK restore/save, `statistic --mode nth`
# marks NEW flows 1/2, `ip rule fwmark` -> one table per ISP, SNAT per uplink, rp_filter off), in the same
# reference topology, with the same generator and the same cores, in one invocation.
#
#   sudo benches/e2e.sh                 # ROUNDS=2 WINDOW=10 FLOWS="1000 100000" GEN_CPU=0 RTR_CPU=1 PEERS_CPU=0
#   sudo GEN=trafgen PEERS_CPU=1 benches/e2e.sh   # the arrangement of runs A-V in benches/E2E.md
#
# Two labs are up side by side (per-run namespace suffixes -e2e<pid>k and -e2e<pid>x): in the first mh-rtr is
# the kernel recipe, in the second it runs target/release/mhrouter. For each flow count the three
# measurements run back to back (ceiling, kernel, mhrouter) so they see the same machine load:
#   generator  64-byte frames (60 B + FCS on a wire) of UDP from LAN1 to 192.0.2.10:9 into mh-lan1's veth,
#              pinned to GEN_CPU, as fast as it can; exactly 1000 flows (source ports 1024..2023 from
#              198.18.1.2) or exactly 100000 flows (32 source addresses 198.18.1.2..33 times 3125 source ports
#              1024..4148, both stepped per packet: lcm(32, 3125) = 100000)
#              GEN=xdp (default): e2e-xdpgen, an XDP program run by BPF_PROG_RUN in live-frames mode (needs
#              clang and libbpf-dev), which hands the frames to the veth peer as XDP frames, as a NIC's driver
#              does: no skb for an XDP program (mhrouter), an skb built around the frame by the peer's NAPI for
#              the stack (kernel, ceiling). The receiving veths (mh-rtr lan1 in both labs, mh-inet direct) then
#              need NAPI: GRO is turned on for the kernel's and the ceiling's (it creates veth's NAPI; it merges
#              no plain UDP) and, like mhrouter's, their NAPI is threaded and its kthread pinned (RTR_CPU for
#              the routers, PEERS_CPU for the ceiling's sink), no RPS
#              GEN=trafgen: trafgen (netsniff-ng, TX_RING). Its frames reach the peer as skbs, which veth copies
#              into a fresh page before an XDP program can see them (a cost no NIC has, on mhrouter's side only);
#              the receive work is steered by RPS (rps_cpus = RTR_CPU on mh-rtr lan1/lan2, PEERS_CPU on
#              mh-inet direct)
#   PEERS_CPU  where the lab's other parties do their receive work: the ISP namespaces' forwarding and mh-inet's
#              sink (RPS on mh-isp1/mh-isp2 cust, or threaded NAPI with PEERS_VIA=napi). Default GEN_CPU: the
#              router's CPU does the router's work only, as a router whose ISPs are other boxes; both routers
#              then pay the hand-over to another CPU (RPS hash, backlog, IPI) on transmit. PEERS_CPU=RTR_CPU:
#              the ISP and inet hops run on the router's CPU inside each router's transmit (runs A-V), which
#              both pay and which dilutes the ratios. The generator then shares GEN_CPU with the peers: a
#              router that forwards more leaves it less CPU, so a fast router may not be kept fully busy
#              (the "router CPU busy" figure shows it)
#   PEERS_FWD  how the ISPs forward the sink's packets. tc (default): e2e-isp.bpf.c on each ISP's customer link
#              (tc ingress, in front of the VLAN termination) checks the packet is the customer's own UDP to the
#              sink, pops the tag, decrements the TTL, rewrites the MACs and redirects it to the ISP's inet link;
#              anything else (a spoofed source included) goes on through the ISP's stack and its nft filter.
#              stack: everything through the ISP's stack (routing, nft, neighbours: ~1.8 us per packet on
#              PEERS_CPU, which the generator shares; before the eighth round of benches/E2E.md). The same for
#              both routers: it only changes how much of GEN_CPU the generator keeps
#   window     WINDOW seconds of steady state, after 1.5 s of warm-up (every flow created), packets counted
#              at mh-inet by nft counters in its links' ingress hook (UDP to port 9 from each ISP's SNAT address)
#   ceiling    the same generator into mh-inet over a router-less veth (mh-lan1:direct <-> mh-inet:direct),
#              the sink's receive work on PEERS_CPU like the routed runs' sink
#   kernel     forwarding, conntrack and SNAT run on RTR_CPU (GEN=xdp: in lan1's NAPI kthread; trafgen: in
#              softirq, veth's receive path being netif_rx to the backlog of the steered CPU)
#   mhrouter   [workers] cores = [RTR_CPU]; lan1/lan2 put in threaded NAPI with the NAPI kthreads pinned to
#              RTR_CPU, so the AF_XDP receive copy (veth is copy mode) also runs on RTR_CPU, not on the
#              generator's CPU (set MH_THREADED_NAPI=0 to leave it in the sender's softirq). Those kthreads
#              run at nice MH_NAPI_NICE (19) and the worker sleeps after MH_IDLE_ROUNDS (2) empty rounds
#              ([workers] idle_rounds): at equal priority the NAPI kthread copies every frame the generator
#              offers (~4x what the worker can forward) and the AF_XDP ring drops most of them after the copy;
#              below the worker, it runs when the worker has drained the ring and sleeps, and the surplus is
#              dropped at the veth before any work (MH_NAPI_NICE=0 MH_IDLE_ROUNDS=64: the old behaviour).
#              MH_COPY_FILL=N sets [workers] copy_fill (frames lent to each fill ring; default mhrouter's)
#   MH_XDP_MODE=skb  binds mhrouter's ports in generic XDP (RPS steers lan1/lan2 to RTR_CPU; no NAPI kthreads)
#   SINK       drop (default): mh-inet counts the sink's packets in nft ingress (netdev) and drops them there;
#              socket: they go on to a socat UDP socket, whose receive then shares PEERS_CPU with the peers
#   GAP=T      (GEN=trafgen only) paces the generator with a gap of T between packets (trafgen -t, e.g. 20us;
#              sendto per packet, the real rate is set by nanosleep's resolution and shown as "offered") in
#              every window: CPU cost at a low, equal-ish load meant to be below both routers' capacity.
#              trafgen's -b rate is not used: it sends each second's packets in one burst, which overflows both
#              routers. (e2e-xdpgen cannot pace: every BPF_PROG_RUN call costs ~20 ms of set-up here.)
#   FLOOR=1    (default) also runs the floor (benches/src/floor.rs, bin xsk-floor) in mhrouter's place after
#              mhrouter's window: the same ports, rings, worker loop, core and NAPI set-up, with a stateless
#              forwarder (quick IPv4 checks, next uplink in turn, source address replaced, TTL and checksums,
#              Ethernet header and tag). Its router CPU per packet is the least any AF_XDP router pays in this
#              lab; printed as "floor/kernel" next to the targets. FLOOR=0 skips it.
#   PERF=1     also profiles RTR_CPU with perf for 5 s of each routed window (perf-*.txt in the run directory;
#              its overhead is in those windows' numbers, so profile in a separate invocation)
#   iperf3     one TCP stream LAN1 -> 192.0.2.10 for WINDOW seconds through each router (client on GEN_CPU)
# CPU-seconds per million delivered packets (see benches/E2E.md for the method and its limits):
#   S = delta(irq + softirq) of both CPUs from /proc/stat minus the idle background rate (measured before
#       each round with no traffic); includes ksoftirqd; tick sampled (USER_HZ 100, CONFIG_HZ 250)
#   P = router processes' own CPU (utime + stime from /proc/PID/stat): mhrouter (all threads) and the NAPI
#       kthreads of lan1/lan2; for the kernel (and the ceiling) with GEN=xdp the receiving veth's NAPI kthread,
#       where forwarding then runs as system time; nothing with GEN=trafgen
#   G = the ceiling run's S per packet delivered (generator transmit + sink receive), times packets delivered
#   router CPU = S + P - G; the kernel config steals no CPU in any process. P's stime also holds softirq ticks
#   that ran inside mhrouter's syscalls (its tx into veth runs the ISP/inet hops at bh-enable), so S + P counts
#   those twice: the mhrouter number is an upper bound; "lo" = S + utime + NAPI threads - G is the lower bound.
#   router CPU busy: RTR_CPU's own user+nice+system+irq+softirq ticks minus the ceiling run's per packet there
#       (the sink's receive, when PEERS_CPU = RTR_CPU), per delivered packet: no double counting, but exact only
#       when nothing else runs on RTR_CPU (a quiet machine); when a router keeps RTR_CPU fully busy it is about
#       1 / pps. With the peers elsewhere it is the router's own CPU: the figure to judge the CPU target by.
#   "busy" is the guidance's whole-machine user+nice+system+irq+softirq delta, shown only for reference: on a
#   machine shared with other jobs it measures their load, not ours.
# Targets (from the issue): mhrouter pps >= 1.5 x kernel pps, mhrouter CPU-s/Mpkt <= 0.5 x kernel's.
# Safety: only mh-* namespaces with a per-run suffix, veth only, documented ranges; the generator bounded by a
# packet count and a time (its own alarm and timeout); mhrouter by --for; everything torn down by a trap; only our own PIDs are signalled; the run holds
# /run/mh-lab.lock so other lab runs do not load the machine meanwhile.
set -euo pipefail

ROUNDS="${ROUNDS:-2}"
WINDOW="${WINDOW:-10}"
FLOWS="${FLOWS:-1000 100000}"
GEN_CPU="${GEN_CPU:-0}"
RTR_CPU="${RTR_CPU:-1}"
PEERS_CPU="${PEERS_CPU:-$GEN_CPU}"
PEERS_VIA="${PEERS_VIA:-rps}"
PEERS_FWD="${PEERS_FWD:-tc}"
case "$PEERS_FWD" in stack | tc) ;; *) echo "e2e: PEERS_FWD is stack or tc" >&2; exit 2 ;; esac
case "$PEERS_VIA" in rps | napi) ;; *) echo "e2e: PEERS_VIA is rps or napi" >&2; exit 2 ;; esac
MH_XDP_MODE="${MH_XDP_MODE:-auto}"
MH_THREADED_NAPI="${MH_THREADED_NAPI:-1}"
MH_NAPI_NICE="${MH_NAPI_NICE:-19}"
MH_IDLE_ROUNDS="${MH_IDLE_ROUNDS:-2}"
MH_COPY_FILL="${MH_COPY_FILL:-}" # [workers] copy_fill; empty: mhrouter's default
[[ $MH_XDP_MODE == skb ]] && MH_THREADED_NAPI=0 # no NAPI instance without a native XDP program
IPERF="${IPERF:-1}"
FLOOR="${FLOOR:-1}"
SINK="${SINK:-drop}"
GEN="${GEN:-xdp}"
case "$GEN" in trafgen | xdp) ;; *) echo "e2e: GEN is trafgen or xdp" >&2; exit 2 ;; esac
[[ $GEN == xdp && -n ${GAP:-} ]] && { echo "e2e: GAP needs GEN=trafgen" >&2; exit 2; }
case "$SINK" in drop) SINK_VERDICT=drop ;; socket) SINK_VERDICT="" ;; *) echo "e2e: SINK is drop or socket" >&2; exit 2 ;; esac
WARMUP=1.5
MAX_PACKETS=200000000 # the generator's count bound; the timeout ends it first

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
MHROUTER="${MHROUTER:-$ROOT/target/release/mhrouter}"
BASE_SUFFIX="-e2e$$"
RUN_DIR="$(mktemp -d /tmp/mh-e2e.XXXXXX)"

[[ $(id -u) == 0 ]] || { echo "e2e: run as root" >&2; exit 2; }
for tool in iptables iperf3 taskset nft ethtool tc $([[ $GEN == xdp ]] && echo clang cc || echo trafgen) $([[ $PEERS_FWD == tc ]] && echo clang); do
	command -v "$tool" >/dev/null || { echo "e2e: $tool missing (see lab/DEPS)" >&2; exit 2; }
done
if [[ $GEN == xdp && ! -r /usr/include/bpf/libbpf.h ]]; then
	echo "e2e: GEN=xdp needs libbpf-dev (see lab/DEPS)" >&2
	exit 2
fi
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
	(cd "$ROOT" && cargo build -q --release -p router-bin)
	if [[ $FLOOR == 1 ]]; then (cd "$ROOT" && cargo build -q --release -p benches --bin xsk-floor); fi
fi
[[ -x $MHROUTER ]] || { echo "e2e: $MHROUTER missing" >&2; exit 2; }
XSK_FLOOR="${XSK_FLOOR:-$ROOT/target/release/xsk-floor}"
[[ $FLOOR == 0 || -x $XSK_FLOOR ]] || { echo "e2e: $XSK_FLOOR missing" >&2; exit 2; }

# Switches lib.sh's names (NS_*, LAB_STATE) to lab k (kernel) or x (mhrouter).
use_lab() {
	export MH_SUFFIX="${BASE_SUFFIX}$1"
	# shellcheck source=../lab/lib.sh
	source "$ROOT/lab/lib.sh"
}

mh_pid=""
MH_NAPI=""
finish() {
	set +e
	if [[ -n $mh_pid ]] && kill -0 "$mh_pid" 2>/dev/null; then
		kill -TERM "$mh_pid"
		wait "$mh_pid"
	fi
	use_lab k && lab_down
	use_lab x && lab_down
	echo "e2e: logs and raw numbers in $RUN_DIR" >&2
}

use_lab k
exec 9>"$LAB_LOCK"
flock -w 900 9 || { echo "e2e: lab lock busy for 15 min" >&2; exit 1; }
trap finish EXIT
trap 'exit 130' INT TERM

# Writes a CPU mask for one CPU (hex, as rps_cpus wants).
cpu_mask() { printf '%x' $((1 << $1)); }

# PIDs of the NAPI kthreads (threaded NAPI, "napi/<dev>-<id>") of the given devices created after the given
# list of existing napi threads (so another run's threads are never touched): new_napi_pids BEFORE DEV...
new_napi_pids() {
	local before="$1" pid comm dev
	shift
	for pid in $(ls /proc | grep -E '^[0-9]+$'); do
		comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || continue
		grep -qxF "$pid" <<<"$before" && continue
		for dev in "$@"; do
			[[ $comm == napi/$dev-* ]] && echo "$pid"
		done
	done
	true
}
all_napi_pids() {
	local pid
	for pid in $(ls /proc | grep -E '^[0-9]+$'); do
		[[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == napi/* ]] && echo "$pid"
	done
	true
}

# Steers the receive work of interfaces in a namespace to a CPU by RPS: rps_to CPU NS DEV...
rps_to() {
	local cpu="$1" ns="$2" dev
	shift 2
	for dev in "$@"; do
		lab_exec "$ns" sh -c "echo $(cpu_mask "$cpu") > /sys/class/net/$dev/queues/rx-0/rps_cpus"
	done
}

# Switches the NAPI of devices in a namespace to kthreads and pins them to a CPU; sets NAPI_PIDS to the
# kthreads that are not in BEFORE (the napi threads that existed before their NAPI did).
# thread_napi BEFORE CPU NS DEV...
thread_napi() {
	local before="$1" cpu="$2" ns="$3" dev pid
	shift 3
	for dev in "$@"; do lab_exec "$ns" sh -c "echo 1 > /sys/class/net/$dev/threaded"; done
	sleep 0.2
	NAPI_PIDS="$(new_napi_pids "$before" "$@" | tr '\n' ' ')"
	[[ -n $NAPI_PIDS ]] || { echo "e2e: no NAPI threads for $* found" >&2; exit 1; }
	for pid in $NAPI_PIDS; do taskset -pc "$cpu" "$pid" >/dev/null; done
}

# Puts a receiving veth's NAPI on a CPU for XDP frames (GEN=xdp): GRO on (veth creates its NAPI for it), no
# RPS, threaded, the kthread pinned to CPU. Sets NAPI_PIDS to the kthreads. napi_to CPU NS DEV...
napi_to() {
	local cpu="$1" ns="$2" dev before
	shift 2
	before="$(all_napi_pids)"
	for dev in "$@"; do
		lab_exec "$ns" ethtool -K "$dev" gro on
		lab_exec "$ns" sh -c "echo 0 > /sys/class/net/$dev/queues/rx-0/rps_cpus"
	done
	thread_napi "$before" "$cpu" "$ns" "$@"
}
# Moves the ISPs' receive work (and so the inet hop behind it) to PEERS_CPU, unless that is the router's CPU.
peers_off_router() {
	if [[ $PEERS_CPU != "$RTR_CPU" ]]; then
		"${PEERS_VIA}_to" "$PEERS_CPU" "$NS_ISP1" cust
		"${PEERS_VIA}_to" "$PEERS_CPU" "$NS_ISP2" cust
	fi
}

# Compiles a BPF C program of this directory: bpf_cc SOURCE OBJECT [clang options...]
bpf_cc() {
	local src="$1" obj="$2"
	shift 2
	clang -O2 -g -target bpf -I"/usr/include/$(gcc -print-multiarch)" "$@" -c "$HERE/$src" -o "$obj"
}

# PEERS_FWD=tc: the ISPs forward the sink's packets with e2e-isp.bpf.c on their customer link, in front of the
# VLAN termination, instead of through their stack (both labs alike). Compiled per ISP with its addresses.
isp_fast_forward() {
	local ns inet_ns_dev customer vid ifindex obj
	for ns in "$NS_ISP1" "$NS_ISP2"; do
		if [[ $ns == "$NS_ISP1" ]]; then
			customer="$WAN1_ADDR" vid="$WAN1_VLAN" inet_ns_dev=isp1
		else
			customer="$WAN2_ADDR" vid=0 inet_ns_dev=isp2
		fi
		ifindex="$(lab_exec "$ns" cat /sys/class/net/inet/ifindex)"
		obj="$RUN_DIR/isp-$ns.bpf.o"
		bpf_cc e2e-isp.bpf.c "$obj" -DVID="$vid" -DCUSTOMER="$(ip_num "$customer")" -DSINK="$(ip_num "$INET_ADDR")" \
			-DOUT_IFINDEX="$ifindex" -DDST_MAC="0x$(lab_mac "$NS_INET" "$inet_ns_dev" | tr -d :)" \
			-DSRC_MAC="0x$(lab_mac "$ns" inet | tr -d :)"
		tc -n "$ns" qdisc show dev cust | grep -q clsact || tc -n "$ns" qdisc add dev cust clsact
		tc -n "$ns" filter add dev cust ingress pref 1 bpf da obj "$obj" sec tc
	done
}
# An IPv4 address as a 32-bit number.
ip_num() {
	local IFS=.
	read -r a b c d <<<"$1"
	echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# The kernel recipe's and the ceiling's receive kthreads (GEN=xdp): their CPU is counted like mhrouter's.
K_NAPI=""
C_NAPI=""

# --- the two labs ---------------------------------------------------------------------------------------
use_lab k
lab_up
lab_kernel_router_iptables
lab_direct_link
lab_sink_counters "$SINK_VERDICT"
if [[ $GEN == xdp ]]; then
	napi_to "$RTR_CPU" "$NS_RTR" lan1
	K_NAPI="$NAPI_PIDS"
	napi_to "$PEERS_CPU" "$NS_INET" direct
	C_NAPI="$NAPI_PIDS"
else
	rps_to "$RTR_CPU" "$NS_RTR" lan1 lan2
	rps_to "$PEERS_CPU" "$NS_INET" direct
fi
peers_off_router
[[ $PEERS_FWD == tc ]] && isp_fast_forward

use_lab x
lab_up
lab_sink_counters "$SINK_VERDICT"
# The router's config: config/lab.toml with the worker on RTR_CPU and per-flow nth balancing (the recipe's).
sed -e "s/^cores = .*/cores = [$RTR_CPU]/" -e 's/^strategy = .*/strategy = "nth"/' \
	-e 's/^granularity = .*/granularity = "flow"/' -e '/^xdp_mode = /d' \
	-e "s/^device = .*/&\nxdp_mode = \"$MH_XDP_MODE\"/" \
	-e "s/^batch = .*/&\nidle_rounds = $MH_IDLE_ROUNDS${MH_COPY_FILL:+\ncopy_fill = $MH_COPY_FILL}/" \
	"$ROOT/config/lab.toml" >"$RUN_DIR/mhrouter.toml"
if [[ $MH_XDP_MODE == skb ]]; then
	# Generic XDP runs where the skb is received: steer lan1/lan2's receive to RTR_CPU as for the kernel.
	rps_to "$RTR_CPU" "$NS_RTR" lan1 lan2
fi
peers_off_router
[[ $PEERS_FWD == tc ]] && isp_fast_forward
"$MHROUTER" check --config "$RUN_DIR/mhrouter.toml" >"$RUN_DIR/mhrouter-check.txt"

# trafgen dies on EAGAIN from its TX_RING flush, which its socket's default send buffer returns as soon as
# the receiver runs on another CPU (frames in flight in the backlog or the veth ring hold the buffer): a
# preload shim gives its AF_PACKET socket a 64 MiB buffer (see e2e-sndbuf.c). Drops at the receiver come back
# as ENOBUFS, which trafgen ignores; mh-lan1's eth0 stays noqueue as the lab makes it.
cc -O2 -shared -fPIC -o "$RUN_DIR/sndbuf.so" "$HERE/e2e-sndbuf.c" -ldl
if [[ $GEN == xdp ]]; then
	bpf_cc e2e-xdpgen.bpf.c "$RUN_DIR/xdpgen.bpf.o"
	cc -O2 -Wall -o "$RUN_DIR/xdpgen" "$HERE/e2e-xdpgen.c" -lbpf
fi

# --- traffic ----------------------------------------------------------------------------------------------
# The flows of a flow count, as "ADDRS PORTS": ADDRS source addresses from .2 times PORTS source ports from 1024,
# both stepped per packet (coprime, so every pair comes up).
flow_layout() {
	case $1 in
	1000) echo "1 1000" ;;
	100000) echo "32 3125" ;;
	*) echo "e2e: FLOWS must be 1000 or 100000" >&2; exit 2 ;;
	esac
}

# trafgen config: trafgen_cfg FILE DST_MAC SRC_MAC SRC_NET ADDRS PORTS (SRC_NET: the first three octets)
trafgen_cfg() {
	local file="$1" dmac="$2" smac="$3" net="$4" addrs="$5" ports="$6" ip udp
	ip="sa=$net.2"
	((addrs == 1)) || ip+=", sa[3]=dinc(2, $((addrs + 1)))"
	udp="sp=dinc(1024, $((1024 + ports - 1)))"
	# 14 + 20 + 8 + 22 = 64 bytes; trafgen recomputes the IPv4 and UDP checksums for the dynamic fields.
	echo "{ eth(da=$dmac, sa=$smac), ipv4($ip, da=$INET_ADDR, ttl=64, df), udp($udp, dp=9), fill(0x00, 22) }" >"$file"
}

# CPU ticks (USER_HZ) of GEN_CPU and RTR_CPU: "user nice system idle iowait irq softirq" summed over both.
cpu_ticks() {
	awk -v a="cpu$GEN_CPU" -v b="cpu$RTR_CPU" '$1 == a || $1 == b { for (i = 2; i <= 8; i++) t[i] += $i }
		END { print t[2], t[3], t[4], t[5], t[6], t[7], t[8] }' /proc/stat
}

# Busy ticks of RTR_CPU alone (user + nice + system + irq + softirq), then its steal ticks (time the hypervisor
# ran something else on that vCPU: neither busy nor idle for us).
rtr_busy() {
	awk -v r="cpu$RTR_CPU" '$1 == r { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat
}

# irq + softirq ticks of GEN_CPU and of RTR_CPU.
sirq_per_cpu() {
	awk -v a="cpu$GEN_CPU" -v b="cpu$RTR_CPU" '$1 == a { x = $7 + $8 } $1 == b { y = $7 + $8 } END { print x, y }' /proc/stat
}

# utime stime (ticks) of a set of PIDs, summed; missing PIDs count 0.
proc_ticks() {
	local u=0 s=0 pid f
	for pid in "$@"; do
		[[ -r /proc/$pid/stat ]] || continue
		f="$(sed 's/.*) //' "/proc/$pid/stat")"
		read -r -a a <<<"$f"
		u=$((u + a[11])) s=$((s + a[12]))
	done
	echo "$u $s"
}


# Frames the generator's interface handed on (tx_packets) plus those the veth dropped at the receiver
# (tx_dropped: backlog or XDP ring full): what trafgen offered.
gen_tx() {
	lab_exec "$NS_LAN1" sh -c "echo \$((\$(cat /sys/class/net/$1/statistics/tx_packets) + \$(cat /sys/class/net/$1/statistics/tx_dropped)))"
}

# Where a router run loses frames, as "name value" pairs: the generator link's veth drops (receiver's backlog
# or XDP ring full), the kernel's backlog drops on RTR_CPU (/proc/net/softnet_stat, machine-wide), mh-rtr
# lan1's XDP counters (veth ethtool stats: redirect errors = AF_XDP rx ring or fill ring empty).
router_drops() {
	local sn
	sn=$((16#$(awk -v c="$RTR_CPU" 'NR == c + 1 { print $2 }' /proc/net/softnet_stat)))
	echo "veth_tx_dropped $(lab_exec "$NS_LAN1" cat /sys/class/net/eth0/statistics/tx_dropped) softnet_drop_cpu$RTR_CPU $sn"
	if [[ $1 == mhrouter || $1 == floor ]]; then
		lab_exec "$NS_RTR" ethtool -S lan1 2>/dev/null | awk -F: '/xdp_(redirect|drops|packets|tx_err|redirect_err)|rx_queue_0_drops/ { gsub(/ /, "", $1); gsub(/ /, "", $2); printf "lan1.%s %s ", $1, $2 }'
	fi
	echo
}

sink_total() {
	if [[ $1 == direct ]]; then lab_sink_packets direct; else
		echo $(($(lab_sink_packets isp1) + $(lab_sink_packets isp2)))
	fi
}

# One window: window NAME LAB GEN_DEV DST_NS_VAR DST_DEV FLOWS SINK [router pids...]
# (DST_NS_VAR names the lib.sh variable, e.g. NS_RTR, resolved after switching to LAB)
# Prints one line of raw numbers to $RUN_DIR/raw and sets W_* globals.
window() {
	local name="$1" lab="$2" gdev="$3" dns="$4" ddev="$5" flows="$6" sink="$7"
	shift 7
	use_lab "$lab"
	local cfg="$RUN_DIR/$name-$flows.cfg" dmac smac net layout addrs ports dur
	dmac="$(lab_mac "${!dns}" "$ddev")" smac="$(lab_mac "$NS_LAN1" "$gdev")"
	net="$([[ $gdev == direct ]] && echo 198.18.3 || echo 198.18.1)"
	layout="$(flow_layout "$flows")"
	read -r addrs ports <<<"$layout"
	dur=$(awk -v w="$WINDOW" -v u="$WARMUP" 'BEGIN { printf "%d", w + u + 3 }')
	if [[ $GEN == xdp ]]; then
		ip netns exec "$NS_LAN1" timeout "$((dur + 2))" taskset -c "$GEN_CPU" "$RUN_DIR/xdpgen" "$RUN_DIR/xdpgen.bpf.o" "$gdev" \
			"$dmac" "$smac" "$net.2" "$addrs" 1024 "$ports" "$INET_ADDR" 9 \
			"$dur" "$MAX_PACKETS" >"$RUN_DIR/xdpgen-$name-$flows.log" 2>&1 9>&- &
	else
		trafgen_cfg "$cfg" "$dmac" "$smac" "$net" "$addrs" "$ports"
		ip netns exec "$NS_LAN1" timeout "$dur" env LD_PRELOAD="$RUN_DIR/sndbuf.so" taskset -c "$GEN_CPU" \
			trafgen -o "$gdev" -i "$cfg" -P 1 --no-sock-mem -Q ${GAP:+-t "$GAP"} -n "$MAX_PACKETS" >"$RUN_DIR/trafgen-$name-$flows.log" 2>&1 9>&- &
	fi
	local gen=$!
	sleep "$WARMUP"
	local t0 c0 p0 s0 tx0 t1 c1 p1 s1 tx1 e0 e1 n0 n1 sq0 sq1 rb0 rb1
	tx0=$(gen_tx "$gdev") e0=$(router_drops "$name")
	rb0=$(rtr_busy) sq0=$(sirq_per_cpu) s0=$(sink_total "$sink") c0=$(cpu_ticks) p0=$(proc_ticks "$@") n0=$(proc_ticks $MH_NAPI) t0=$(date +%s.%N)
	local perf_pid=""
	if [[ ${PERF:-0} == 1 && $name != ceiling ]]; then
		# A profile of the router's CPU for 5 s of the window (perf's overhead lands in this window's numbers).
		perf record -q -C "$RTR_CPU" -F 999 -g -o "$RUN_DIR/perf-$name-$flows.data" -- sleep 5 >/dev/null 2>&1 9>&- &
		perf_pid=$!
	fi
	sleep "$WINDOW"
	if [[ -n $perf_pid ]]; then
		wait "$perf_pid" || true
		perf report -q -i "$RUN_DIR/perf-$name-$flows.data" --no-children --sort comm,sym --percent-limit 1 2>/dev/null |
			grep -v '^$' | grep -v '^ *|' | grep -v '^ *-' | head -40 >"$RUN_DIR/perf-$name-$flows.txt" || true
	fi
	rb1=$(rtr_busy) sq1=$(sirq_per_cpu) s1=$(sink_total "$sink") c1=$(cpu_ticks) p1=$(proc_ticks "$@") n1=$(proc_ticks $MH_NAPI) t1=$(date +%s.%N)
	tx1=$(gen_tx "$gdev") e1=$(router_drops "$name")
	wait "$gen" || true
	read -r W_DT W_PPS W_SENT_PPS W_SIRQ W_BUSY W_PU W_PS < <(awk -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" \
		-v x0="$tx0" -v x1="$tx1" -v c0="$c0" -v c1="$c1" -v p0="$p0" -v p1="$p1" 'BEGIN {
		split(c0, a, " "); split(c1, b, " "); split(p0, p, " "); split(p1, q, " ")
		dt = t1 - t0
		sirq = (b[6] - a[6] + b[7] - a[7]) / 100
		busy = (b[1] - a[1] + b[2] - a[2] + b[3] - a[3] + b[6] - a[6] + b[7] - a[7]) / 100
		printf "%.3f %.0f %.0f %.2f %.2f %.2f %.2f\n", dt, (s1 - s0) / dt, (x1 - x0) / dt, sirq, busy, (q[1] - p[1]) / 100, (q[2] - p[2]) / 100 }')
	W_PKTS=$((s1 - s0))
	read -r W_RBUSY W_STEAL < <(awk -v a="$rb0" -v b="$rb1" 'BEGIN { split(a, x, " "); split(b, y, " ")
		printf "%.2f %.2f\n", (y[1] - x[1]) / 100, (y[2] - x[2]) / 100 }')
	W_SIRQ_CPU=$(awk -v g="cpu$GEN_CPU" -v r="cpu$RTR_CPU" -v a="$sq0" -v b="$sq1" 'BEGIN {
		split(a, x, " "); split(b, y, " "); printf "%s %.2f s, %s %.2f s", g, (y[1] - x[1]) / 100, r, (y[2] - x[2]) / 100 }')
	W_NAPI=$(awk -v a="$n0" -v b="$n1" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.2f", (y[1] - x[1] + y[2] - x[2]) / 100 }')
	W_DROPS=$(awk -v a="$e0" -v b="$e1" 'BEGIN { n = split(a, x, " "); split(b, y, " "); s = ""
		for (i = 1; i <= n; i += 2) s = s x[i] "=" (y[i + 1] - x[i + 1]) " "; print s }')
	echo "$ROUND $name $flows dt=$W_DT delivered=$W_PKTS pps=$W_PPS sent_pps=$W_SENT_PPS sirq_s=$W_SIRQ busy_s=$W_BUSY rtr_cpu_busy_s=$W_RBUSY rtr_cpu_steal_s=$W_STEAL proc_user_s=$W_PU proc_sys_s=$W_PS napi_s=$W_NAPI sirq_by_cpu: $W_SIRQ_CPU; drops: $W_DROPS bg_sirq_per_s=$BG_SIRQ load=\"$(cut -d' ' -f1-3 /proc/loadavg)\"" >>"$RUN_DIR/raw"
}

# Idle background of irq+softirq on the two CPUs (ticks/s as CPU-s per s), no traffic, 3 s.
background() {
	local c0 c1
	c0=$(cpu_ticks)
	sleep 3
	c1=$(cpu_ticks)
	awk -v c0="$c0" -v c1="$c1" 'BEGIN { split(c0, a, " "); split(c1, b, " "); printf "%.4f", (b[6] - a[6] + b[7] - a[7]) / 100 / 3 }'
}

# Starts mhrouter in lab x for one measurement; sets mh_pid and MH_NAPI (its NAPI kthreads).
start_mhrouter() {
	start_in_rtr "$1" "running with" "$MHROUTER" --config "$RUN_DIR/mhrouter.toml" --for "$2"
	sleep 1 # health probes bring both uplinks up (100 ms interval, up_after 5)
}

# Starts the floor (see FLOOR) in lab x for WINDOW + 10 s: start_floor LOG. Sets mh_pid and MH_NAPI.
start_floor() {
	use_lab x
	start_in_rtr "$1" "xsk-floor: running" "$XSK_FLOOR" --ports lan1,lan2,wan1,wan2 --lan lan1 \
		--uplink "wan1.$WAN1_VLAN,$WAN1_ADDR,$(lab_mac "$NS_ISP1" cust)" --uplink "wan2,$WAN2_ADDR,$(lab_mac "$NS_ISP2" cust)" \
		--core "$RTR_CPU" --idle-rounds "$MH_IDLE_ROUNDS" ${MH_COPY_FILL:+--copy-fill "$MH_COPY_FILL"} \
		--mode "$MH_XDP_MODE" --seconds "$(awk -v w="$WINDOW" 'BEGIN { printf "%d", w + 10 }')"
}

# Runs an AF_XDP router in mh-rtr of lab x until it prints READY: start_in_rtr LOG READY COMMAND...; sets mh_pid,
# and MH_NAPI to lan1/lan2's NAPI kthreads (threaded, pinned to RTR_CPU, reniced; see MH_THREADED_NAPI).
start_in_rtr() {
	use_lab x
	local log="$1" ready="$2" before
	shift 2
	before="$(all_napi_pids)"
	ip netns exec "$NS_RTR" "$@" >"$log" 2>&1 9>&- &
	mh_pid=$!
	local i
	for i in $(seq 100); do
		grep -q "$ready" "$log" 2>/dev/null && break
		kill -0 "$mh_pid" 2>/dev/null || { cat "$log" >&2; echo "e2e: $1 exited" >&2; exit 1; }
		sleep 0.1
	done
	MH_NAPI=""
	if [[ $MH_THREADED_NAPI == 1 ]]; then
		# veth has NAPI instances only while an XDP program is attached: switch them to threads now.
		thread_napi "$before" "$RTR_CPU" "$NS_RTR" lan1 lan2
		MH_NAPI="$NAPI_PIDS"
		renice -n "$MH_NAPI_NICE" -p $MH_NAPI >/dev/null
	fi
}
stop_mhrouter() {
	kill -TERM "$mh_pid" 2>/dev/null || true
	wait "$mh_pid" || true
	mh_pid=""
}

iperf() {
	use_lab "$1"
	lab_exec "$NS_LAN1" timeout $((WINDOW + 15)) taskset -c "$GEN_CPU" iperf3 -c "$INET_ADDR" -t "$WINDOW" -J 2>/dev/null |
		python3 -c 'import json, sys
try: print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))
except Exception: print("fail")'
}

declare -A R
{
	echo "e2e: $(date -u +%FT%TZ) kernel $(uname -r), $(nproc) CPUs, generator on CPU $GEN_CPU, router on CPU $RTR_CPU, window ${WINDOW}s"
	echo "e2e: mhrouter $(git -C "$ROOT" rev-parse --short HEAD), xdp_mode $MH_XDP_MODE, threaded NAPI for AF_XDP rx: $MH_THREADED_NAPI (nice $MH_NAPI_NICE), idle_rounds $MH_IDLE_ROUNDS, copy_fill ${MH_COPY_FILL:-default}, generator $GEN, ISP/inet hops on CPU $PEERS_CPU${PEERS_VIA:+ (by $PEERS_VIA)}, ISPs forward by $PEERS_FWD, gap: ${GAP:-none (full speed)}, sink: $SINK"
} | tee "$RUN_DIR/summary"

for ROUND in $(seq "$ROUNDS"); do
	BG_SIRQ=$(background)
	for flows in $FLOWS; do
		load0="$(cut -d' ' -f1-3 /proc/loadavg)"
		# shellcheck disable=SC2086
		window ceiling k direct NS_INET direct "$flows" direct $C_NAPI
		R[ceil_p]=$(awk -v u="$W_PU" -v s="$W_PS" 'BEGIN { print u + s }')
		R[ceil_pps]=$W_PPS R[ceil_rbusy]=$W_RBUSY R[ceil_sirq]=$W_SIRQ R[ceil_pkts]=$W_PKTS R[ceil_dt]=$W_DT R[ceil_sent]=$W_SENT_PPS
		# shellcheck disable=SC2086
		window kernel k eth0 NS_RTR lan1 "$flows" isp $K_NAPI
		R[k_p]=$(awk -v u="$W_PU" -v s="$W_PS" 'BEGIN { print u + s }')
		R[k_cpu]="$W_SIRQ_CPU"
		k_steal=$W_STEAL
		R[k_pps]=$W_PPS R[k_rbusy]=$W_RBUSY R[k_sirq]=$W_SIRQ R[k_pkts]=$W_PKTS R[k_dt]=$W_DT R[k_sent]=$W_SENT_PPS R[k_drops]="$W_DROPS"
		R[k_i1]=$(use_lab k; lab_sink_packets isp1) R[k_i2]=$(use_lab k; lab_sink_packets isp2)
		start_mhrouter "$RUN_DIR/mhrouter-r$ROUND-$flows.log" "$(awk -v w="$WINDOW" 'BEGIN { printf "%ds", w + 10 }')"
		# shellcheck disable=SC2086
		window mhrouter x eth0 NS_RTR lan1 "$flows" isp "$mh_pid" $MH_NAPI
		R[x_steal]=$W_STEAL R[k_steal]=$k_steal
		R[x_pps]=$W_PPS R[x_rbusy]=$W_RBUSY R[x_sirq]=$W_SIRQ R[x_pkts]=$W_PKTS R[x_dt]=$W_DT R[x_sent]=$W_SENT_PPS
		R[x_cpu]="$W_SIRQ_CPU"
		R[x_pu]=$W_PU R[x_ps]=$W_PS R[x_napi]=$W_NAPI R[x_drops]="$W_DROPS"
		R[x_i1]=$(use_lab x; lab_sink_packets isp1) R[x_i2]=$(use_lab x; lab_sink_packets isp2)
		stop_mhrouter
		R[f_pps]=0 R[f_rbusy]=0 R[f_sirq]=0 R[f_pkts]=0 R[f_dt]=0 R[f_sent]=0 R[f_pu]=0 R[f_ps]=0 R[f_napi]=0 R[f_drops]=""
		if [[ $FLOOR == 1 ]]; then
			start_floor "$RUN_DIR/floor-r$ROUND-$flows.log"
			# shellcheck disable=SC2086
			window floor x eth0 NS_RTR lan1 "$flows" isp "$mh_pid" $MH_NAPI
			R[f_pps]=$W_PPS R[f_rbusy]=$W_RBUSY R[f_sirq]=$W_SIRQ R[f_pkts]=$W_PKTS R[f_dt]=$W_DT R[f_sent]=$W_SENT_PPS
			R[f_pu]=$W_PU R[f_ps]=$W_PS R[f_napi]=$W_NAPI R[f_drops]="$W_DROPS"
			stop_mhrouter
		fi
		load1="$(cut -d' ' -f1-3 /proc/loadavg)"
		rx_drops="$(grep -E '^mhrouter: (pipeline|worker|  drop)' "$RUN_DIR/mhrouter-r$ROUND-$flows.log" | sed 's/^mhrouter: *//' | tr '\n' ';')"

		python3 - "$flows" "$ROUND" "$BG_SIRQ" "$load0" "$load1" <<-EOF | tee -a "$RUN_DIR/summary"
			import sys
			flows, rnd, bg, l0, l1 = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
			R = {k: float(v) for k, v in dict(
			    ceil_pps="${R[ceil_pps]}", ceil_sirq="${R[ceil_sirq]}", ceil_pkts="${R[ceil_pkts]}", ceil_dt="${R[ceil_dt]}",
			    ceil_sent="${R[ceil_sent]}", ceil_p="${R[ceil_p]}", k_p="${R[k_p]}",
			    k_pps="${R[k_pps]}", k_sirq="${R[k_sirq]}", k_pkts="${R[k_pkts]}", k_dt="${R[k_dt]}", k_sent="${R[k_sent]}",
			    x_pps="${R[x_pps]}", x_sirq="${R[x_sirq]}", x_pkts="${R[x_pkts]}", x_dt="${R[x_dt]}", x_sent="${R[x_sent]}",
			    x_pu="${R[x_pu]}", x_ps="${R[x_ps]}", x_napi="${R[x_napi]}",
			    f_pps="${R[f_pps]}", f_sirq="${R[f_sirq]}", f_pkts="${R[f_pkts]}", f_dt="${R[f_dt]}", f_sent="${R[f_sent]}",
			    f_pu="${R[f_pu]}", f_ps="${R[f_ps]}", f_napi="${R[f_napi]}", f_rbusy="${R[f_rbusy]}",
			    ceil_rbusy="${R[ceil_rbusy]}", k_rbusy="${R[k_rbusy]}", x_rbusy="${R[x_rbusy]}").items()}
			def s(sirq, dt): return max(sirq - bg * dt, 0.0)
			# CPU-s per packet, generator + sink (+ the sink link's NAPI kthread with GEN=xdp)
			g = (s(R["ceil_sirq"], R["ceil_dt"]) + R["ceil_p"]) / max(R["ceil_pkts"], 1)
			def per_m(cpu, pkts): return cpu / (pkts / 1e6) if pkts > 0 else float("nan")
			# softirq (+ the recipe's NAPI kthread with GEN=xdp: forwarding then runs in it, as system time)
			k_cpu = s(R["k_sirq"], R["k_dt"]) + R["k_p"] - g * R["k_pkts"]
			# An AF_XDP router's run (x: mhrouter, f: the floor): softirq net of the generator and sink, and the
			# router's process and NAPI kthreads (their system time); per_m of it is the upper bound.
			def afxdp_cpu(r): return s(R[r + "_sirq"], R[r + "_dt"]) - g * R[r + "_pkts"] + R[r + "_pu"] + R[r + "_ps"]
			x_s = s(R["x_sirq"], R["x_dt"]) - g * R["x_pkts"]
			x_hi = afxdp_cpu("x")                                # softirq + mhrouter + NAPI threads
			x_lo = x_s + R["x_pu"] + R["x_napi"]                # softirq + mhrouter user + NAPI threads
			k_m, x_m = per_m(k_cpu, R["k_pkts"]), per_m(x_hi, R["x_pkts"])
			ratio = R["x_pps"] / R["k_pps"] if R["k_pps"] else float("nan")
			print(f"\nround {rnd}, {flows} flows, {R['x_dt']:.1f} s windows, load average {l0} -> {l1}")
			print(f"  {'':22}{'pps delivered':>14}{'offered pps':>14}{'CPU-s/Mpkt':>12}   notes")
			print(f"  {'generator ceiling':22}{R['ceil_pps']:>14,.0f}{R['ceil_sent']:>14,.0f}{'':>12}   G = {g*1e6:.2f} CPU-s/Mpkt (gen tx + sink rx softirq)")
			print(f"  {'kernel (iptables)':22}{R['k_pps']:>14,.0f}{R['k_sent']:>14,.0f}{k_m:>12.2f}   softirq {R['k_sirq']:.2f} s"
			      + (f", NAPI kthread {R['k_p']:.2f} s" if R["k_p"] else ""))
			print(f"  {'mhrouter':22}{R['x_pps']:>14,.0f}{R['x_sent']:>14,.0f}{x_m:>12.2f}   softirq {R['x_sirq']:.2f} s, mhrouter user {R['x_pu']:.2f} s,"
			      f" sys {R['x_ps'] - R['x_napi']:.2f} s, NAPI kthreads {R['x_napi']:.2f} s; lower bound {per_m(x_lo, R['x_pkts']):.2f};"
			      f" processes alone {per_m(R['x_pu'] + R['x_ps'], R['x_pkts']):.2f}")
			cr = x_m / k_m if k_m > 0 else float("nan")
			crl = per_m(x_lo, R["x_pkts"]) / k_m if k_m > 0 else float("nan")
			print(f"  ratio mhrouter/kernel: pps {ratio:.2f} (target >= 1.5: {'met' if ratio >= 1.5 else 'MISSED'}),"
			      f" CPU-s/Mpkt {cr:.2f}, lower bound {crl:.2f} (target <= 0.5: {'met' if cr <= 0.5 else 'met only by the lower bound' if crl <= 0.5 else 'MISSED'})")
			gc = R["ceil_rbusy"] / max(R["ceil_pkts"], 1)      # the router CPU's busy time per packet without a router
			def busy(r): return per_m(R[r + "_rbusy"] - gc * R[r + "_pkts"], R[r + "_pkts"])
			kc, xc = busy("k"), busy("x")
			print(f"  router CPU {$RTR_CPU} busy (all of its time, minus the ceiling run's per packet; exact when nothing else runs there):"
			      f" kernel {kc:.2f}, mhrouter {xc:.2f} CPU-s/Mpkt, ratio {xc / kc if kc > 0 else float('nan'):.2f}")
			if R["f_pkts"] > 0:
			    f_m, fc = per_m(afxdp_cpu("f"), R["f_pkts"]), busy("f")
			    print(f"  floor (xsk-floor): {R['f_pps']:,.0f} pps delivered of {R['f_sent']:,.0f} offered, {f_m:.2f} CPU-s/Mpkt"
			          f" (user {R['f_pu']:.2f} s, sys {R['f_ps'] - R['f_napi']:.2f} s, NAPI kthreads {R['f_napi']:.2f} s);"
			          f" router CPU {$RTR_CPU} busy {fc:.2f} CPU-s/Mpkt")
			    print(f"  floor/kernel: pps {R['f_pps'] / R['k_pps'] if R['k_pps'] else float('nan'):.2f},"
			          f" CPU-s/Mpkt {f_m / k_m if k_m > 0 else float('nan'):.2f}, router CPU busy {fc / kc if kc > 0 else float('nan'):.2f}"
			          f" (the least an AF_XDP router pays here); mhrouter/floor: pps {R['x_pps'] / R['f_pps'] if R['f_pps'] else float('nan'):.2f},"
			          f" router CPU busy {xc / fc if fc > 0 else float('nan'):.2f}")
		EOF
		echo "  uplink split at mh-inet (isp1/isp2 totals): kernel ${R[k_i1]}/${R[k_i2]}, mhrouter ${R[x_i1]}/${R[x_i2]}" | tee -a "$RUN_DIR/summary"
		echo "  irq+softirq by CPU: kernel ${R[k_cpu]}; mhrouter ${R[x_cpu]}" | tee -a "$RUN_DIR/summary"
		echo "  router CPU $RTR_CPU in the window: kernel busy ${R[k_rbusy]} s, steal ${R[k_steal]} s; mhrouter busy ${R[x_rbusy]} s, steal ${R[x_steal]} s (of ${R[x_dt]} s; below it, the generator and the peers did not keep the router busy)" | tee -a "$RUN_DIR/summary"
		echo "  drops in the window: kernel: ${R[k_drops]}; mhrouter: ${R[x_drops]}" | tee -a "$RUN_DIR/summary"
		echo "  mhrouter exit counters: $rx_drops" | tee -a "$RUN_DIR/summary"
		if [[ $FLOOR == 1 ]]; then
			echo "  floor: drops in the window: ${R[f_drops]}; exit counters: $(grep -E '^xsk-floor: (stopped|  drop)' "$RUN_DIR/floor-r$ROUND-$flows.log" | sed 's/^xsk-floor: *//' | tr '\n' ';')" | tee -a "$RUN_DIR/summary"
		fi
	done
	if [[ $IPERF == 1 ]]; then
		k_tcp=$(iperf k)
		start_mhrouter "$RUN_DIR/mhrouter-r$ROUND-iperf.log" "$((WINDOW + 12))s"
		x_tcp=$(iperf x)
		stop_mhrouter
		echo "round $ROUND: iperf3 TCP LAN1 -> inet, ${WINDOW} s, 1 stream: kernel $k_tcp Mbit/s, mhrouter $x_tcp Mbit/s (load average $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$RUN_DIR/summary"
	fi
done
cp "$RUN_DIR/summary" "$RUN_DIR/summary.txt"
