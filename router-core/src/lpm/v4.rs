//! IPv4: DIR-24-8.

use core::fmt;
use core::hash::Hash;

use super::{keep_last_duplicate, resolve, LpmError, ValueInterner, CHILD, MAX_CHILD, MISS};

/// Slots in the first level: one per /24.
const TBL24_SLOTS: usize = 1 << 24;
/// Slots in the summary of the first level: one per /16.
const TBL16_SLOTS: usize = 1 << 16;
/// Slots in an extension group: one per address of a /24.
const GROUP_SLOTS: usize = 1 << 8;

/// An immutable IPv4 longest-prefix-match table (DIR-24-8).
///
/// Memory: a fixed 64 MiB first level (`u32` per /24, whatever the route count), of which only the 1 KiB rows of
/// the /16s that hold a prefix longer than /16 are ever written, so only those take RAM (the rest stays untouched
/// zero pages); its 256 KiB summary per /16; 1 KiB per /24 that holds a prefix longer than /24; one `V` per
/// distinct value. See [`Lpm4::memory_bytes`].
///
/// The summary answers for a /16 that one route covers whole (most of the address space in a router's table), so
/// that a lookup there reads 256 KiB that stay in cache instead of a random place of 64 MiB, a cache and TLB miss
/// for nearly every new flow to the internet.
pub struct Lpm4<V> {
    /// Per /16: the value slot of all its addresses, or `CHILD` when it holds a longer prefix (look in `tbl24`).
    tbl16: Box<[u32]>,
    /// Per /24: a value slot, or `CHILD | group` for a /24 split by longer prefixes. Written, and read, only in
    /// the rows of /16s whose summary is `CHILD`.
    tbl24: Box<[u32; TBL24_SLOTS]>,
    /// Extension groups, `GROUP_SLOTS` value slots each, indexed by the last address byte.
    tbl8: Box<[u32]>,
    values: Box<[V]>,
    prefixes: usize,
}

impl<V: Copy + Eq + Hash> Lpm4<V> {
    /// Builds a table from (address, prefix length, value); a later duplicate prefix replaces an earlier one.
    ///
    /// Host bits beyond the prefix length are ignored. Fails on a length above 32, or when values or extension
    /// groups outgrow a slot's 31-bit index.
    pub fn build(routes: impl IntoIterator<Item = ([u8; 4], u8, V)>) -> Result<Self, LpmError> {
        let mut routes = routes
            .into_iter()
            .map(|(addr, len, value)| {
                if len > 32 {
                    return Err(LpmError::PrefixTooLong { len, max: 32 });
                }
                Ok((u32::from_be_bytes(addr) & mask(len), len, value))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Shortest first, so a longer prefix painted later overwrites the shorter ones it sits in. Stable, so
        // duplicates stay in input order and the last one wins.
        routes.sort_by_key(|&(addr, len, _)| (len, addr));
        keep_last_duplicate(&mut routes);

        let mut values = ValueInterner::new();
        let mut tbl16 = vec![MISS; TBL16_SLOTS].into_boxed_slice();
        // Zeroed by the allocator (`MISS` is 0), so its pages stay untouched until written: only the rows of the
        // /16s that hold a longer prefix ever are, since the summary answers for every other /16 and a lookup
        // never reads their row. A table of a default route and a few longer prefixes touches a few KiB of it.
        let mut tbl24: Box<[u32; TBL24_SLOTS]> =
            vec![MISS; TBL24_SLOTS].into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!());
        let mut tbl8 = Vec::new();
        for &(addr, len, value) in &routes {
            let slot = values.slot(value)?;
            let i16 = (addr >> 16) as usize;
            if len <= 16 {
                // All prefixes up to /16 come before any longer one, so no /16 is split yet.
                tbl16[i16..i16 + (1 << (16 - len))].fill(slot);
                continue;
            }
            if tbl16[i16] & CHILD == 0 {
                // The first longer prefix in this /16: its row starts as the /16's covering route (or a miss).
                let row = i16 << 8;
                tbl24[row..row + (TBL24_SLOTS / TBL16_SLOTS)].fill(tbl16[i16]);
                tbl16[i16] = CHILD;
            }
            let i24 = (addr >> 8) as usize;
            if len <= 24 {
                // All prefixes up to /24 come before any longer one, so no group exists yet to overwrite.
                tbl24[i24..i24 + (1 << (24 - len))].fill(slot);
                continue;
            }
            let group = if tbl24[i24] & CHILD != 0 {
                (tbl24[i24] & !CHILD) as usize
            } else {
                let group = tbl8.len() / GROUP_SLOTS;
                if group > MAX_CHILD {
                    return Err(LpmError::TooManyNodes);
                }
                // The group starts as the covering route (or a miss) and is then carved by longer prefixes.
                tbl8.resize(tbl8.len() + GROUP_SLOTS, tbl24[i24]);
                tbl24[i24] = CHILD | group as u32;
                group
            };
            let start = group * GROUP_SLOTS + (addr & 0xff) as usize;
            tbl8[start..start + (1 << (32 - len))].fill(slot);
        }
        Ok(Lpm4 { tbl16, tbl24, tbl8: tbl8.into_boxed_slice(), values: values.into_values(), prefixes: routes.len() })
    }
}

impl<V: Copy> Lpm4<V> {
    /// The value of the longest prefix containing `addr`, if any.
    #[inline]
    pub fn lookup(&self, addr: [u8; 4]) -> Option<V> {
        let addr = u32::from_be_bytes(addr);
        let mut slot = self.tbl16[(addr >> 16) as usize];
        if slot & CHILD != 0 {
            slot = self.tbl24[(addr >> 8) as usize];
        }
        if slot & CHILD != 0 {
            slot = self.tbl8[((slot & !CHILD) as usize) * GROUP_SLOTS + (addr & 0xff) as usize];
        }
        resolve(&self.values, slot)
    }

    /// Number of distinct prefixes.
    pub fn len(&self) -> usize {
        self.prefixes
    }

    /// Whether the table has no prefix.
    pub fn is_empty(&self) -> bool {
        self.prefixes == 0
    }

    /// Bytes held by the table: the 64 MiB first level and its summary, the extension groups and the distinct
    /// values.
    pub fn memory_bytes(&self) -> usize {
        core::mem::size_of::<Self>()
            + core::mem::size_of_val(&*self.tbl16)
            + core::mem::size_of_val(&*self.tbl24)
            + core::mem::size_of_val(&*self.tbl8)
            + core::mem::size_of_val(&*self.values)
    }

    /// Slots of the first level that were written (not the zero pages it starts as).
    #[cfg(test)]
    pub(crate) fn first_level_written(&self) -> usize {
        self.tbl24.iter().filter(|&&s| s != MISS).count()
    }

    /// Number of /24s split into an extension group by prefixes longer than /24.
    pub fn extension_groups(&self) -> usize {
        self.tbl8.len() / GROUP_SLOTS
    }
}

impl<V> fmt::Debug for Lpm4<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lpm4")
            .field("prefixes", &self.prefixes)
            .field("values", &self.values.len())
            .field("extension_groups", &(self.tbl8.len() / GROUP_SLOTS))
            .finish()
    }
}

/// The network mask of a /`len`, `len <= 32`.
fn mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_answers_for_whole_sixteens_and_defers_the_split_ones() {
        let t = Lpm4::build([([0, 0, 0, 0], 0, 'd'), ([10, 1, 2, 0], 24, 'a'), ([10, 2, 0, 0], 16, 'b')]).unwrap();
        let value = |s: u32| resolve(&t.values, s);
        assert_eq!(value(t.tbl16[0x0b00]), Some('d'));
        assert_eq!(value(t.tbl16[0x0a02]), Some('b'));
        assert_eq!(t.tbl16[0x0a01], CHILD, "10.1/16 holds a /24 of its own");
        let empty = Lpm4::<char>::build([]).unwrap();
        assert!(empty.tbl16.iter().all(|&s| s == MISS));
    }
}
