//! IPv4: DIR-24-8, its first level split at /16 so that only the /24 rows in use are stored.

use core::fmt;
use core::hash::Hash;

use super::{keep_last_duplicate, resolve, LpmError, ValueInterner, CHILD, MAX_CHILD, MISS};

/// Slots in the first level: one per /16.
const TBL16_SLOTS: usize = 1 << 16;
/// Slots in a row of the second level: one per /24 of a /16.
const ROW_SLOTS: usize = 1 << 8;
/// Slots in an extension group: one per address of a /24.
const GROUP_SLOTS: usize = 1 << 8;

/// An immutable IPv4 longest-prefix-match table: a /16 first level, then a /24 row for each /16 that holds a
/// longer prefix, then a group of addresses for each /24 that holds a prefix longer than /24 (DIR-24-8 with its
/// first level split at /16, so that only the rows that exist are stored).
///
/// Memory: the 256 KiB first level, 1 KiB per /16 that holds a prefix longer than /16 (at most 64 MiB, for a
/// table that splits every /16), 1 KiB per /24 that holds a prefix longer than /24, one `V` per distinct value.
/// See [`Lpm4::memory_bytes`]. A router's usual table (a default route, a few others) is a few KiB, built in
/// microseconds, which keeps a reload's table swap off the forwarding path's time.
///
/// Most of the address space in a router's table is covered whole by one route per /16, so a lookup there reads
/// the first level only: 256 KiB that stay in cache, not a random place of a large table, a cache and TLB miss for
/// nearly every new flow to the internet.
pub struct Lpm4<V> {
    /// Per /16: the value slot of all its addresses, or `CHILD | row` when it holds a longer prefix.
    tbl16: Box<[u32]>,
    /// Per /24 of a split /16: a value slot, or `CHILD | group` for a /24 split by longer prefixes.
    rows: Box<[[u32; ROW_SLOTS]]>,
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
        let mut rows: Vec<[u32; ROW_SLOTS]> = Vec::new();
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
                // At most 65,536 rows, well inside a slot's 31-bit index.
                rows.push([tbl16[i16]; ROW_SLOTS]);
                tbl16[i16] = CHILD | (rows.len() - 1) as u32;
            }
            let row = &mut rows[(tbl16[i16] & !CHILD) as usize];
            let i24 = (addr >> 8) as usize % ROW_SLOTS;
            if len <= 24 {
                // All prefixes up to /24 come before any longer one, so no group exists yet to overwrite.
                row[i24..i24 + (1 << (24 - len))].fill(slot);
                continue;
            }
            let group = if row[i24] & CHILD != 0 {
                (row[i24] & !CHILD) as usize
            } else {
                let group = tbl8.len() / GROUP_SLOTS;
                if group > MAX_CHILD {
                    return Err(LpmError::TooManyNodes);
                }
                // The group starts as the covering route (or a miss) and is then carved by longer prefixes.
                tbl8.resize(tbl8.len() + GROUP_SLOTS, row[i24]);
                row[i24] = CHILD | group as u32;
                group
            };
            let start = group * GROUP_SLOTS + (addr & 0xff) as usize;
            tbl8[start..start + (1 << (32 - len))].fill(slot);
        }
        Ok(Lpm4 {
            tbl16,
            rows: rows.into_boxed_slice(),
            tbl8: tbl8.into_boxed_slice(),
            values: values.into_values(),
            prefixes: routes.len(),
        })
    }
}

impl<V: Copy> Lpm4<V> {
    /// Where [`Lpm4::lookup`] of `addr` reads first (its /16 summary): an address to prefetch a while before.
    #[inline]
    pub fn first_addr(&self, addr: [u8; 4]) -> usize {
        self.tbl16.as_ptr().wrapping_add((u32::from_be_bytes(addr) >> 16) as usize).addr()
    }

    /// The value of the longest prefix containing `addr`, if any.
    #[inline]
    pub fn lookup(&self, addr: [u8; 4]) -> Option<V> {
        let addr = u32::from_be_bytes(addr);
        let mut slot = self.tbl16[(addr >> 16) as usize];
        if slot & CHILD != 0 {
            slot = self.rows[(slot & !CHILD) as usize][(addr >> 8) as usize % ROW_SLOTS];
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

    /// Bytes held by the table: the first level, the rows, the extension groups and the distinct values.
    pub fn memory_bytes(&self) -> usize {
        core::mem::size_of::<Self>()
            + core::mem::size_of_val(&*self.tbl16)
            + core::mem::size_of_val(&*self.rows)
            + core::mem::size_of_val(&*self.tbl8)
            + core::mem::size_of_val(&*self.values)
    }

    /// Number of /16s split into a row by prefixes longer than /16.
    pub fn rows(&self) -> usize {
        self.rows.len()
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
