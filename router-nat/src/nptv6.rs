//! NPTv6 (RFC 6296): stateless, checksum-neutral translation between an inside and an outside IPv6 prefix.
//!
//! The prefix bits are swapped and one 16-bit word outside the prefix absorbs the difference of the two
//! prefixes' ones' complement sums, so the address's sum — and with it every pseudo-header checksum — is
//! unchanged: no L4 checksum is ever touched.

use core::net::Ipv6Addr;

use router_core::wire::checksum;

/// One inside/outside prefix pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nptv6 {
    inside: [u8; 16],
    outside: [u8; 16],
    len: u8,
    /// Added to the adjustment word when translating inside -> outside (inside sum - outside sum).
    to_outside_adj: u16,
}

/// The prefix of `a` of `len` bits, the rest zeroed.
fn masked(a: [u8; 16], len: u8) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, (o, b)) in out.iter_mut().zip(a).enumerate() {
        let bits = (len as usize).saturating_sub(i * 8).min(8);
        *o = b & !(0xffu8.checked_shr(bits as u32).unwrap_or(0));
    }
    out
}

fn word(a: &[u8; 16], i: usize) -> u16 {
    u16::from_be_bytes([a[2 * i], a[2 * i + 1]])
}

impl Nptv6 {
    /// A translator between `inside` and `outside`; `None` unless both prefixes have the same length, at most 64.
    pub fn new(inside: (Ipv6Addr, u8), outside: (Ipv6Addr, u8)) -> Option<Self> {
        let len = inside.1;
        if len != outside.1 || len > 64 {
            return None;
        }
        let inside = masked(inside.0.octets(), len);
        let outside = masked(outside.0.octets(), len);
        // delta(old, new) sums ~old + new: new - old in ones' complement.
        let to_outside_adj = checksum::delta(&outside, &inside);
        Some(Nptv6 { inside, outside, len, to_outside_adj })
    }

    /// True when `a` lies in the inside prefix.
    pub fn is_inside(&self, a: &[u8; 16]) -> bool {
        masked(*a, self.len) == self.inside
    }

    /// True when `a` lies in the outside prefix.
    pub fn is_outside(&self, a: &[u8; 16]) -> bool {
        masked(*a, self.len) == self.outside
    }

    /// The outside form of inside address `a`; `None` when `a` is not inside or cannot be translated (its
    /// adjustment word is 0xffff, or for prefixes longer than /48 all of the words 4..8 are).
    pub fn to_outside(&self, a: [u8; 16]) -> Option<[u8; 16]> {
        if !self.is_inside(&a) {
            return None;
        }
        self.translate(a, &self.outside, self.to_outside_adj)
    }

    /// The inside form of outside address `a`; `None` when it is not outside or cannot be translated.
    pub fn to_inside(&self, a: [u8; 16]) -> Option<[u8; 16]> {
        if !self.is_outside(&a) {
            return None;
        }
        self.translate(a, &self.inside, !self.to_outside_adj)
    }

    fn translate(&self, a: [u8; 16], to_prefix: &[u8; 16], adj: u16) -> Option<[u8; 16]> {
        let keep = masked([0xff; 16], self.len);
        let mut out = [0u8; 16];
        for i in 0..16 {
            out[i] = (a[i] & !keep[i]) | to_prefix[i];
        }
        // RFC 6296 section 3.4 (/48 or shorter: bits 48..63) and 3.5 (longer: the first of words 4..7 that is
        // not 0xffff). A word of 0xffff cannot take the adjustment.
        let w = if self.len <= 48 { 3 } else { (4..8).find(|&i| word(&out, i) != 0xffff)? };
        let old = word(&out, w);
        if old == 0xffff {
            return None;
        }
        let mut new = checksum::fold(old as u32 + adj as u32);
        if new == 0xffff {
            new = 0;
        }
        out[2 * w..2 * w + 2].copy_from_slice(&new.to_be_bytes());
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, Proto};
    use crate::{rewrite, Deltas};
    use proptest::prelude::*;
    use router_core::flow::{FlowAddr, FlowKey};

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn sum(a: &[u8; 16]) -> u16 {
        checksum::fold(checksum::add(0, a)) % 0xffff
    }

    #[test]
    fn rfc6296_appendix_b_example() {
        let t = Nptv6::new((v6("fd01:203:405::"), 48), (v6("2001:db8:1::"), 48)).unwrap();
        let inside = v6("fd01:203:405:1::1234").octets();
        let outside = t.to_outside(inside).unwrap();
        assert_eq!(Ipv6Addr::from(outside), v6("2001:db8:1:d550::1234"));
        assert_eq!(t.to_inside(outside), Some(inside));
        assert_eq!(sum(&inside), sum(&outside));
    }

    #[test]
    fn longer_prefix_adjusts_the_first_iid_word_that_is_not_all_ones() {
        let t = Nptv6::new((v6("fd00:1:2:3::"), 64), (v6("2001:db8:aa:bb::"), 64)).unwrap();
        let inside = v6("fd00:1:2:3:ffff:5:6:7").octets();
        let outside = t.to_outside(inside).unwrap();
        assert_eq!(&outside[8..10], &[0xff, 0xff]);
        assert_ne!(&outside[10..12], &inside[10..12]);
        assert_eq!(sum(&inside), sum(&outside));
        assert_eq!(t.to_inside(outside), Some(inside));
        assert_eq!(t.to_outside(v6("fd00:1:2:3:ffff:ffff:ffff:ffff").octets()), None);
    }

    #[test]
    fn subnet_word_all_ones_is_not_translated() {
        let t = Nptv6::new((v6("fd01:203:405::"), 48), (v6("2001:db8:1::"), 48)).unwrap();
        assert_eq!(t.to_outside(v6("fd01:203:405:ffff::1").octets()), None);
        assert_eq!(t.to_outside(v6("fd99::1").octets()), None);
    }

    #[test]
    fn mismatched_or_long_prefixes_are_refused() {
        assert!(Nptv6::new((v6("fd00::"), 48), (v6("2001:db8::"), 56)).is_none());
        assert!(Nptv6::new((v6("fd00::"), 80), (v6("2001:db8::"), 80)).is_none());
    }

    fn arb_prefix_len() -> impl Strategy<Value = u8> {
        prop_oneof![Just(48u8), Just(56), Just(64), 1u8..=64]
    }

    proptest! {
        #[test]
        fn nptv6_there_and_back_is_identity_and_checksum_neutral(
            len in arb_prefix_len(), inside in any::<[u8; 16]>(), outside in any::<[u8; 16]>(),
            host in any::<[u8; 16]>(), remote in any::<[u8; 16]>(),
            p in prop_oneof![Just(Proto::Tcp), Just(Proto::Udp), Just(Proto::IcmpEcho)],
            sport in any::<u16>(), dport in 1u16..,
            payload in proptest::collection::vec(any::<u8>(), 0..48),
        ) {
            let t = Nptv6::new((inside.into(), len), (outside.into(), len)).unwrap();
            let keep = masked([0xff; 16], len);
            let mut a = [0u8; 16];
            for i in 0..16 { a[i] = (host[i] & !keep[i]) | masked(inside, len)[i]; }
            let Some(out) = t.to_outside(a) else { return Ok(()) };
            prop_assert!(t.is_outside(&out));
            prop_assert_eq!(sum(&a), sum(&out));
            prop_assert_eq!(t.to_inside(out), Some(a));

            // A real packet: rewrite addresses only, checksums untouched, and they still verify.
            let dport = if p == Proto::IcmpEcho { 0 } else { dport };
            let orig = FlowKey { src: FlowAddr::v6(a), dst: FlowAddr::v6(remote), sport, dport, proto: p.number(true), zone: 0 };
            let to = FlowKey { src: FlowAddr::v6(out), ..orig };
            // Checksum neutrality seen from the delta side: the change folds to ones' complement zero.
            prop_assert_eq!(rewrite::deltas_between(&orig, &to), Deltas::default());
            let mut frame = testutil::frame_for(&orig, &payload);
            let meta = testutil::meta_of(&frame);
            let l4_before = frame[meta.l4..meta.end].to_vec();
            rewrite::rewrite(&mut frame, &meta, &to, Deltas::default());
            prop_assert_eq!(&frame[meta.l4..meta.end], &l4_before[..]);
            let meta = testutil::meta_of(&frame);
            prop_assert_eq!(meta.key, to);
            prop_assert!(testutil::l4_verifies(&frame, &meta));
            rewrite::rewrite(&mut frame, &meta, &orig, Deltas::default().negated());
            prop_assert_eq!(frame, testutil::frame_for(&orig, &payload));
        }
    }
}
