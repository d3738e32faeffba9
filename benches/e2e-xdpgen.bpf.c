// SPDX-License-Identifier: GPL-2.0
// The XDP program of benches/e2e-xdpgen.c: run by BPF_PROG_RUN in live-frames mode on a template UDP frame,
// it gives each frame the next flow's source address and port and transmits it (XDP_TX, which live-frames
// mode turns into a redirect out of the device the run is bound to). Like a NIC's receive ring, the frames
// reach the veth peer as XDP frames, not as skbs.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// Set by the loader before the program is loaded: flows are `addrs` source addresses from `base_addr` times
// `ports` source ports from `base_port`, both stepped per packet (lcm(addrs, ports) flows when coprime).
#define FRAME_LEN 60

// The loader's `struct config`, field for field; the only global of .rodata.
const volatile struct {
	__u32 addrs, ports;
	__u32 base_addr; // host byte order
	__u32 base_port;
	__u8 frame[FRAME_LEN] __attribute__((aligned(8))); // the template: the first flow's frame, checksums included
} cfg = {.addrs = 1, .ports = 1};

// Frames handed on (one generator thread: the run is not migrated while it loops).
__u64 sent = 0;

SEC("xdp")
int xdpgen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + FRAME_LEN > end)
		return XDP_ABORTED;
	// Live-frames mode initialises a page once and then recycles it with whatever the receiver left in it (a
	// kernel router rewrites MACs, TTL, source and checksums in place), so every frame is written whole.
	// Read through volatile: a plain copy of a const global would be folded to its initialiser (zeros).
	const volatile __u64 *t = (const volatile __u64 *)cfg.frame;
	__u64 *f = data;
#pragma unroll
	for (int i = 0; i < FRAME_LEN / 8; i++)
		f[i] = t[i];
	*(__u32 *)(f + FRAME_LEN / 8) = *(const volatile __u32 *)(t + FRAME_LEN / 8);
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	__u64 n = sent++;
	ip->saddr = bpf_htonl(cfg.base_addr + (__u32)(n % cfg.addrs));
	udp->source = bpf_htons((__u16)(cfg.base_port + (__u32)(n % cfg.ports)));
	// The UDP checksum, as trafgen computes it: pseudo-header, header, and a payload of zeros (which adds 0).
	__u32 saddr = ip->saddr, daddr = ip->daddr;
	__u32 u = (saddr & 0xffff) + (saddr >> 16) + (daddr & 0xffff) + (daddr >> 16) + bpf_htons(IPPROTO_UDP) +
		  2 * (__u32)udp->len + udp->source + udp->dest;
	u = (u & 0xffff) + (u >> 16);
	u = (u & 0xffff) + (u >> 16);
	udp->check = (__u16)~u ? (__u16)~u : 0xffff;
	// The IPv4 header checksum over the whole header.
	ip->check = 0;
	__u16 *w = (void *)ip;
	__u32 sum = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = (__u16)~sum;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
