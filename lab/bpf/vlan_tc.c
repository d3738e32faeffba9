// tc (clsact, direct-action) programs that terminate one 802.1Q VLAN on a veth, because this kernel has
// neither the 8021q module nor act_vlan nor cls_matchall/flower: only cls_bpf and cls_u32.
//
//   ingress: a frame tagged with VID (the stack has already moved the tag into skb metadata) has its tag
//            popped and goes on untagged; anything else (untagged, another VID) is dropped, like an ISP
//            port that only carries the customer's VLAN.
//   egress:  every frame gets the VID tag pushed. With txvlan offload off on the device, the kernel writes
//            the tag into the frame bytes before the veth hands it over, so the peer (an AF_XDP socket or
//            a kernel stack) sees it in the data.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#ifndef VID
#define VID 832
#endif

#define SEC(name) __attribute__((section(name), used))

static long (*bpf_skb_vlan_push)(struct __sk_buff *skb, __u16 proto, __u16 tci) = (void *)BPF_FUNC_skb_vlan_push;
static long (*bpf_skb_vlan_pop)(struct __sk_buff *skb) = (void *)BPF_FUNC_skb_vlan_pop;

SEC("tc_ingress")
int vlan_pop(struct __sk_buff *skb)
{
	if (!skb->vlan_present || (skb->vlan_tci & 0x0fff) != VID)
		return TC_ACT_SHOT;
	if (bpf_skb_vlan_pop(skb) != 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

SEC("tc_egress")
int vlan_push(struct __sk_buff *skb)
{
	if (bpf_skb_vlan_push(skb, __builtin_bswap16(ETH_P_8021Q), VID) != 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
