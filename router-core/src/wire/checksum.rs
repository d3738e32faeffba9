//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624): the one copy in the tree.

/// Adds `data` as big-endian 16-bit words to `acc` (an odd last byte is padded with zero).
///
/// Sums big-endian 32-bit words into a 64-bit accumulator and folds once at the end: the same ones' complement
/// sum (RFC 1071 2(B): a 32-bit word is its two halves modulo 0xffff), a quarter of the additions and no
/// overflow test per word. The result is folded to 16 bits.
#[inline]
pub fn add(acc: u32, data: &[u8]) -> u32 {
    let mut sum = u64::from(acc);
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    match *words.remainder() {
        [a, b, c] => sum += u64::from(u16::from_be_bytes([a, b])) + (u64::from(c) << 8),
        [a, b] => sum += u64::from(u16::from_be_bytes([a, b])),
        [a] => sum += u64::from(a) << 8,
        _ => {}
    }
    // 64 -> 33 -> 32 bits, then the usual 16-bit fold.
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    u32::from(fold(sum as u32))
}

/// Folds a 32-bit accumulator into 16 bits of ones' complement sum.
#[inline]
pub fn fold(acc: u32) -> u16 {
    // Two rounds always suffice for 32 bits (the first leaves at most 0x1fffe); no loop, no branch.
    let acc = (acc & 0xffff) + (acc >> 16);
    ((acc & 0xffff) + (acc >> 16)) as u16
}

/// The checksum field value for data whose words sum to `acc`.
#[inline]
pub fn finish(acc: u32) -> u16 {
    !fold(acc)
}

/// Checksum of `data` alone (IPv4 header, ICMPv4).
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    finish(add(0, data))
}

/// Sum of the IPv4 pseudo-header for TCP/UDP.
#[inline]
pub fn pseudo_header_v4(src: [u8; 4], dst: [u8; 4], proto: u8, l4_len: u16) -> u32 {
    let acc = add(add(0, &src), &dst);
    acc + proto as u32 + l4_len as u32
}

/// Sum of the IPv6 pseudo-header for TCP/UDP/ICMPv6.
#[inline]
pub fn pseudo_header_v6(src: [u8; 16], dst: [u8; 16], proto: u8, l4_len: u32) -> u32 {
    let acc = add(add(0, &src), &dst);
    acc + (l4_len >> 16) + (l4_len & 0xffff) + proto as u32
}

/// [`verifies`] for an IPv4 header without options: the same answer, as five fixed 32-bit loads.
///
/// The words are added in the machine's byte order, not swapped to big-endian: ones' complement addition
/// commutes with swapping the bytes of every word (RFC 1071 2(B)), so the sum is the big-endian one with its
/// two bytes swapped, and all ones either way.
#[inline]
pub fn verifies_ipv4_header(h: &[u8; 20]) -> bool {
    let w = |i: usize| u64::from(u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    let sum = w(0) + w(4) + w(8) + w(12) + w(16);
    let sum = (sum & 0xffff_ffff) + (sum >> 32);
    fold(sum as u32) == 0xffff
}

/// True when `data`, checksum field included, sums to all ones on top of `acc` (a pseudo-header or 0).
#[inline]
pub fn verifies(acc: u32, data: &[u8]) -> bool {
    fold(add(acc, data)) == 0xffff
}

/// RFC 1624 eqn. 3: the new checksum after 16-bit words `old` were replaced by `new`.
///
/// `old` and `new` must have the same, even, length. Never returns 0x0000 (see [`apply_delta`]).
#[inline]
pub fn update(hc: u16, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len(), new.len());
    incremental_result(delta_acc(!hc as u32, old, new))
}

/// `~fold(acc)` for an incrementally updated checksum, as 0xffff where it would be 0x0000.
///
/// Both are ones' complement zero, but they are not interchangeable on the wire: a receiver's sum is 0x0000 only
/// when every word it adds is zero, so a message whose other words are all zero (an ICMP echo reply with id,
/// sequence and data zero) verifies only with 0xffff, while 0xffff is accepted wherever 0x0000 would be.
#[inline]
fn incremental_result(acc: u32) -> u16 {
    match !fold(acc) {
        0 => 0xffff,
        c => c,
    }
}

/// Accumulates the change from `old` to `new` onto `acc` (`~m + m'` of RFC 1624).
#[inline]
pub fn delta_acc(mut acc: u32, old: &[u8], new: &[u8]) -> u32 {
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        acc += (!u16::from_be_bytes([o[0], o[1]])) as u32;
        acc += u16::from_be_bytes([n[0], n[1]]) as u32;
    }
    acc
}

/// The change from `old` to `new`, folded: apply with [`apply_delta`]; its ones' complement negation undoes it.
#[inline]
pub fn delta(old: &[u8], new: &[u8]) -> u16 {
    fold(delta_acc(0, old, new))
}

/// Applies a folded delta from [`delta`] to checksum `hc`.
///
/// Never returns 0x0000: where ones' complement arithmetic gives zero, 0xffff is the form every receiver accepts.
#[inline]
pub fn apply_delta(hc: u16, delta: u16) -> u16 {
    incremental_result((!hc) as u32 + delta as u32)
}

/// Applies a folded delta to the big-endian checksum at `frame[at..at + 2]`: the one place a NAT rewrite touches
/// a checksum (the general rewrite of router-nat and the pipeline's IPv4 fast path both come here).
///
/// A delta of 0xffff is ones' complement zero and is treated as 0: a zero delta leaves the checksum bytes exactly
/// as they were (a checksum-neutral NPTv6 rewrite stays byte for byte; 0xffff is never turned into 0), unless
/// `may_be_all_zero`: only a checksum whose covered words can all be zero (ICMPv4, which has no pseudo-header:
/// an echo id of 0xffff turned into 0) may then need its 0x0000 turned into 0xffff, the form every receiver
/// accepts (see [`apply_delta`]). With `zero_means_none` (UDP over IPv4) a checksum of 0 means "none" and stays
/// 0; no other checksum becomes 0 either. Panics if `at + 2 > frame.len()`: callers check their offsets.
#[inline]
pub fn apply_delta_at(frame: &mut [u8], at: usize, delta: u16, zero_means_none: bool, may_be_all_zero: bool) {
    let delta = if delta == 0xffff { 0 } else { delta };
    let old = u16::from_be_bytes([frame[at], frame[at + 1]]);
    // Kept checksums are written back unchanged rather than skipped: a select instead of branches on the
    // protocol and on the checksum's value, which the fast path cannot predict in mixed TCP/UDP traffic.
    let keep = (delta == 0 && !may_be_all_zero) || (zero_means_none && old == 0);
    let new = core::hint::select_unpredictable(keep, old, apply_delta(old, delta));
    frame[at..at + 2].copy_from_slice(&new.to_be_bytes());
}

/// The IPv4 header checksum after the TTL went from `ttl` to `ttl - 1` (protocol `proto`) and the words a NAT
/// rewrote changed by the folded `delta` (0 when nothing was translated): RFC 1624 eqn. 3 for both changes at
/// once, with the same result, byte for byte, as [`update`] for the TTL followed by [`apply_delta_at`].
#[inline]
pub fn ipv4_forwarded(hc: u16, ttl: u8, proto: u8, delta: u16) -> u16 {
    let delta = if delta == 0xffff { 0 } else { delta };
    let old = u16::from_be_bytes([ttl, proto]);
    let new = u16::from_be_bytes([ttl.wrapping_sub(1), proto]);
    incremental_result(u32::from(!hc) + u32::from(!old) + u32::from(new) + u32::from(delta))
}

/// The delta that undoes `delta`.
#[inline]
pub fn negate_delta(delta: u16) -> u16 {
    !delta
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example words sum to 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(add(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn real_ipv4_header_verifies() {
        // 198.18.1.2 -> 192.0.2.10, UDP, ttl 64, checksum cross-checked with an independent computation.
        let hdr = [
            0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0xf1, 0xb1, 0xc6, 0x12, 0x01, 0x02, 0xc0, 0x00,
            0x02, 0x0a,
        ];
        let mut zeroed = hdr;
        zeroed[10] = 0;
        zeroed[11] = 0;
        assert_eq!(checksum(&zeroed), u16::from_be_bytes([hdr[10], hdr[11]]));
        assert!(verifies(0, &hdr));
    }

    #[test]
    fn incremental_update_to_all_zero_data_gives_all_ones() {
        // Found by fuzzing (ipv4 target): an ICMP echo request with id, sequence and data zero answered in place
        // became an all-zero message with checksum 0x0000, which no receiver accepts; it needs 0xffff.
        let mut msg = [8u8, 0, 0, 0, 0, 0, 0, 0];
        let c = checksum(&msg);
        msg[2..4].copy_from_slice(&c.to_be_bytes());
        assert!(verifies(0, &msg));
        let c = update(c, &[8, 0], &[0, 0]);
        msg[0] = 0;
        msg[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(c, 0xffff);
        assert!(verifies(0, &msg), "all-zero message with checksum {c:#06x}");
        // The same change as a precomputed delta (the NAT's way).
        let c = apply_delta(!0x0800, delta(&[8, 0], &[0, 0]));
        assert_eq!(c, 0xffff);
    }

    proptest! {
        #[test]
        fn incremental_update_never_yields_zero(hc in any::<u16>(), old in any::<[u8; 4]>(), new in any::<[u8; 4]>()) {
            prop_assert_ne!(update(hc, &old, &new), 0);
            prop_assert_ne!(apply_delta(hc, delta(&old, &new)), 0);
        }

        #[test]
        fn incremental_update_equals_recompute(
            mut data in proptest::collection::vec(any::<u8>(), 2..64usize),
            at in any::<usize>(),
            new in any::<[u8; 2]>(),
        ) {
            if data.len() % 2 == 1 { data.pop(); }
            let words = data.len() / 2;
            let i = (at % words) * 2;
            let before = checksum(&data);
            let old = [data[i], data[i + 1]];
            data[i..i + 2].copy_from_slice(&new);
            let after = checksum(&data);
            let inc = update(before, &old, &new);
            // 0x0000 and 0xffff are both zero in ones' complement; a receiver accepts either.
            prop_assert_eq!(fold(inc as u32) % 0xffff, fold(after as u32) % 0xffff);
        }

        #[test]
        fn forwarded_ipv4_checksum_is_ttl_then_nat(hc in any::<u16>(), ttl in 2u8.., proto in any::<u8>(), delta in any::<u16>()) {
            let mut two_steps = update(hc, &[ttl, proto], &[ttl - 1, proto]).to_be_bytes();
            apply_delta_at(&mut two_steps, 0, delta, false, false);
            prop_assert_eq!(ipv4_forwarded(hc, ttl, proto, delta), u16::from_be_bytes(two_steps));
        }

        #[test]
        fn ipv4_header_check_is_the_general_one(h in any::<[u8; 20]>(), fix in any::<bool>()) {
            let mut h = h;
            if fix {
                h[10] = 0;
                h[11] = 0;
                let c = checksum(&h);
                h[10..12].copy_from_slice(&c.to_be_bytes());
            }
            prop_assert_eq!(verifies_ipv4_header(&h), verifies(0, &h));
        }

        #[test]
        fn delta_then_negated_delta_is_identity(hc in any::<u16>(), old in any::<[u8; 6]>(), new in any::<[u8; 6]>()) {
            let d = delta(&old, &new);
            let there = apply_delta(hc, d);
            let back = apply_delta(there, negate_delta(d));
            prop_assert_eq!(back % 0xffff, hc % 0xffff);
            prop_assert_eq!(there % 0xffff, update(hc, &old, &new) % 0xffff);
        }
    }
}
