//! The pieces of the keyed hashes of the flow tables (conntrack, uplink affinity): the folded multiply of ahash's
//! and foldhash's portable hashers and wyhash, SplitMix64 to turn one seed into secret keys, and the scaling of a
//! hash to a table's size.

/// The product of `a` and `b`, its two halves XORed: every bit of the result depends on most bits of both.
#[inline(always)]
pub(crate) fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// `h`'s high bits scaled to `0..n` (a multiply and a shift, not a division): the bucket or set a hash picks in
/// a table of `n`, which need not be a power of two.
#[inline(always)]
pub(crate) fn scaled(h: u64, n: usize) -> usize {
    ((u128::from(h) * n as u128) >> 64) as usize
}

/// SplitMix64's finalizer: every bit of the result depends on every bit of `z`.
#[inline]
pub(crate) fn mix64(z: u64) -> u64 {
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The next word of the SplitMix64 sequence whose state is `s`.
#[inline]
pub(crate) fn splitmix64(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    mix64(*s)
}

/// `N` well-mixed words from `seed` (SplitMix64): the secret keys of a hash.
pub(crate) fn keys<const N: usize>(seed: u64) -> [u64; N] {
    let mut s = seed;
    core::array::from_fn(|_| splitmix64(&mut s))
}
