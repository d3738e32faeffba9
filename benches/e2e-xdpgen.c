// SPDX-License-Identifier: GPL-2.0
// benches/e2e.sh's XDP generator (GEN=xdp): 60-byte UDP frames over a fixed set of flows, sent out of a veth
// by BPF_PROG_RUN in live-frames mode (kernel >= 5.18), so they reach the peer as XDP frames the way a NIC's
// driver hands them over: an XDP program (mhrouter's) sees them without an skb, and the kernel's stack gets an
// skb built around the frame (veth's NAPI, as a driver's). trafgen's frames instead reach the peer as skbs,
// which veth must copy into a fresh page before any XDP program can see them.
//
//   e2e-xdpgen OBJ IFNAME DST_MAC SRC_MAC SRC_BASE ADDRS PORT_BASE PORTS DST_ADDR DST_PORT SECONDS MAX_PACKETS
//
// Sends as fast as it can. Stops by itself after SECONDS (an alarm interrupts the run) or MAX_PACKETS,
// whichever comes first, and prints the frames it handed on. One long run, not many short ones: every
// BPF_PROG_RUN call in live-frames mode costs ~20 ms of set-up and teardown here, during which nothing is sent.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

struct config {
	uint32_t addrs, ports, base_addr, base_port;
	unsigned char frame[60];
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int parse_mac(const char *s, unsigned char *mac)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) == 6 ? 0 : -1;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: e2e-xdpgen OBJ IFNAME DST_MAC SRC_MAC SRC_BASE ADDRS PORT_BASE PORTS DST_ADDR DST_PORT "
			"SECONDS MAX_PACKETS\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc != 13)
		usage();
	const char *obj_path = argv[1], *ifname = argv[2];
	unsigned char frame[60] = {0};
	struct ethhdr *eth = (void *)frame;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	struct in_addr src, dst;
	struct config cfg = {0};
	char *e1, *e2, *e3, *e4, *e5, *e6;
	unsigned long addrs = strtoul(argv[6], &e1, 10);
	unsigned long base_port = strtoul(argv[7], &e2, 10);
	unsigned long ports = strtoul(argv[8], &e3, 10);
	unsigned long dport = strtoul(argv[10], &e4, 10);
	double seconds = strtod(argv[11], &e5);
	unsigned long long max_packets = strtoull(argv[12], &e6, 10);
	// Digits only (strtoul would take "-1"), and every value within its field.
	for (int i = 6; i <= 12; i++)
		if (i != 9 && (argv[i][0] < '0' || argv[i][0] > '9'))
			usage();
	if (parse_mac(argv[3], eth->h_dest) || parse_mac(argv[4], eth->h_source) || inet_pton(AF_INET, argv[5], &src) != 1 ||
	    inet_pton(AF_INET, argv[9], &dst) != 1 || *e1 || *e2 || *e3 || *e4 || *e5 || *e6 || addrs == 0 ||
	    addrs > 65536 || ports == 0 || base_port > 65535 || base_port + ports > 65536 || dport > 65535 ||
	    !(seconds > 0 && seconds <= 3600) || max_packets == 0 || max_packets > UINT32_MAX)
		usage();
	cfg.addrs = addrs;
	cfg.base_port = base_port;
	cfg.ports = ports;
	cfg.base_addr = ntohl(src.s_addr);
	unsigned ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "e2e-xdpgen: no interface %s\n", ifname);
		return 1;
	}

	// The template: the loop's program copies it into every frame and writes the source address and port and
	// both checksums.
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(sizeof(frame) - sizeof(*eth));
	ip->frag_off = htons(0x4000) /* DF */;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = src.s_addr;
	ip->daddr = dst.s_addr;
	udp->source = htons(cfg.base_port);
	udp->dest = htons(dport);
	udp->len = htons(sizeof(frame) - sizeof(*eth) - sizeof(*ip));

	memcpy(cfg.frame, frame, sizeof(frame));

	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	if (!obj) {
		fprintf(stderr, "e2e-xdpgen: cannot open %s: %s\n", obj_path, strerror(errno));
		return 1;
	}
	struct bpf_map *rodata = bpf_object__find_map_by_name(obj, ".rodata");
	size_t size = 0;
	const void *init = rodata ? bpf_map__initial_value(rodata, &size) : NULL;
	unsigned char section[256];
	if (!init || size < sizeof(cfg) || size > sizeof(section)) {
		fprintf(stderr, "e2e-xdpgen: %s has no configuration section\n", obj_path);
		return 1;
	}
	// The configuration is the program's one read-only global (`cfg` in e2e-xdpgen.bpf.c).
	memcpy(section, init, size);
	memcpy(section, &cfg, sizeof(cfg));
	if (bpf_map__set_initial_value(rodata, section, size)) {
		fprintf(stderr, "e2e-xdpgen: cannot configure %s\n", obj_path);
		return 1;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "e2e-xdpgen: loading %s failed: %s\n", obj_path, strerror(errno));
		return 1;
	}
	int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "xdpgen"));
	struct bpf_map *bss = bpf_object__find_map_by_name(obj, ".bss");
	if (prog < 0 || !bss) {
		fprintf(stderr, "e2e-xdpgen: program or counter missing in %s\n", obj_path);
		return 1;
	}

	struct xdp_md ctx = {.data_end = sizeof(frame), .ingress_ifindex = ifindex, .rx_queue_index = 0};
	// The run returns when it has sent MAX_PACKETS or when a signal is pending: SIGALRM after SECONDS, or the
	// SIGTERM of a timeout around us.
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct itimerval it = {.it_value = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e6)}};
	const double start = now_s();
	setitimer(ITIMER_REAL, &it, NULL);
	// Batches of 256 (the most live-frames mode takes) also size the run's page pool ring at 256: frames a
	// receiver frees on another core come back through it, and whatever does not fit costs a fresh page.
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = sizeof(frame), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = (unsigned)max_packets, .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		    .batch_size = 256);
	int err = bpf_prog_test_run_opts(prog, &opts);
	if (err && !(err == -EINTR && stop)) {
		fprintf(stderr, "e2e-xdpgen: BPF_PROG_RUN: %s\n", strerror(-err));
		return 1;
	}
	uint64_t sent = 0;
	uint32_t key = 0;
	unsigned char val[64] = {0};
	if (bpf_map__value_size(bss) <= sizeof(val) && !bpf_map_lookup_elem(bpf_map__fd(bss), &key, val))
		memcpy(&sent, val, sizeof(sent));
	printf("e2e-xdpgen: %llu frames handed on in %.2f s (%s, %u flows)\n", (unsigned long long)sent, now_s() - start,
	       ifname, cfg.addrs * cfg.ports);
	bpf_object__close(obj);
	return 0;
}
