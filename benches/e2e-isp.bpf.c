// The ISP's forwarding of the end-to-end benchmark's sink traffic, as a tc (clsact ingress, direct-action)
// program on the ISP's customer link: for `PEERS_FWD=tc` in benches/e2e.sh.
//
// An ISP of the lab forwards through the kernel's stack (routing, the nft source filter, neighbours): ~1.8 µs
// per packet on the peers' CPU, which the generator shares. This program forwards the one kind of packet the
// benchmark sends, UDP from the customer's own address to the sink (SINK:9), straight to the ISP's `inet` link:
// the tag of VID popped (0: an untagged link), TTL decremented with the IPv4 checksum updated, MACs rewritten,
// redirected. Everything else goes on to the next filter (the VLAN termination) and the stack untouched,
// including a spoofed source (which the stack's nft filter counts and drops) and a TTL that runs out (which
// the stack answers). The same program runs in front of both routers: it models ISPs that are other boxes.
//
// Compiled per ISP with -DVID= -DCUSTOMER= -DSINK= (IPv4 addresses as 32-bit numbers, host order)
// -DOUT_IFINDEX= -DDST_MAC= -DSRC_MAC= (MACs as 0x-prefixed 48-bit numbers).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <stddef.h>

#define SEC(name) __attribute__((section(name), used))

static long (*bpf_skb_vlan_pop)(struct __sk_buff *skb) = (void *)BPF_FUNC_skb_vlan_pop;
static long (*bpf_l3_csum_replace)(struct __sk_buff *skb, __u32 offset, __u64 from, __u64 to,
				   __u64 size) = (void *)BPF_FUNC_l3_csum_replace;
static long (*bpf_skb_store_bytes)(struct __sk_buff *skb, __u32 offset, const void *from, __u32 len,
				   __u64 flags) = (void *)BPF_FUNC_skb_store_bytes;
static long (*bpf_redirect)(__u32 ifindex, __u64 flags) = (void *)BPF_FUNC_redirect;

#define MAC_BYTE(m, i) ((unsigned char)(((unsigned long long)(m) >> (8 * (5 - (i)))) & 0xff))

SEC("tc")
int isp_fwd(struct __sk_buff *skb)
{
	// The stack has already moved a tag into the skb's metadata.
	if (VID ? !skb->vlan_present || (skb->vlan_tci & 0x0fff) != VID : skb->vlan_present)
		return TC_ACT_UNSPEC;
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end)
		return TC_ACT_UNSPEC;
	if (eth->h_proto != __builtin_bswap16(ETH_P_IP) || ip->version != 4 || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_UDP || ip->daddr != __builtin_bswap32(SINK) || udp->dest != __builtin_bswap16(9) ||
	    ip->saddr != __builtin_bswap32(CUSTOMER) || ip->ttl <= 1 || (ip->frag_off & __builtin_bswap16(0x3fff)))
		return TC_ACT_UNSPEC;
	// The TTL and protocol share a 16-bit word of the checksum.
	__u16 old = *(__u16 *)&ip->ttl;
	ip->ttl--;
	__u16 new = *(__u16 *)&ip->ttl;
	if (bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old, new, 2) != 0)
		return TC_ACT_SHOT;
	const unsigned char macs[12] = {
		MAC_BYTE(DST_MAC, 0), MAC_BYTE(DST_MAC, 1), MAC_BYTE(DST_MAC, 2),
		MAC_BYTE(DST_MAC, 3), MAC_BYTE(DST_MAC, 4), MAC_BYTE(DST_MAC, 5),
		MAC_BYTE(SRC_MAC, 0), MAC_BYTE(SRC_MAC, 1), MAC_BYTE(SRC_MAC, 2),
		MAC_BYTE(SRC_MAC, 3), MAC_BYTE(SRC_MAC, 4), MAC_BYTE(SRC_MAC, 5),
	};
	if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0) != 0)
		return TC_ACT_SHOT;
	if (VID && bpf_skb_vlan_pop(skb) != 0)
		return TC_ACT_SHOT;
	return bpf_redirect(OUT_IFINDEX, 0);
}

char _license[] SEC("license") = "GPL";
