//! The CPU's prefetch instruction, for the pipeline (`router_core` is free of `unsafe` and cannot issue it).

/// The pipeline's [`Prefetch`](router_core::pipeline::Prefetch) by the CPU's instruction: mhrouter's workers run
/// `Pipeline<Snat, CpuPrefetch>`.
pub struct CpuPrefetch;

impl router_core::pipeline::Prefetch for CpuPrefetch {
    #[inline(always)]
    fn prefetch(addr: usize) {
        prefetch(core::ptr::without_provenance(addr));
    }
}

/// Asks the CPU to bring the cache line at `p` into its caches (x86-64 `prefetcht0`, arm64 `prfm pldl1keep`;
/// nothing elsewhere). Returns at once. A prefetch neither reads nor writes through `p` and does not fault, so
/// any address, mapped or not, null included, is safe to pass.
#[inline(always)]
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it does not access memory architecturally and cannot fault, whatever `p`
    // is. SSE, which the intrinsic is declared to need, is part of the x86-64 baseline.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: `prfm` is a hint: it does not access memory architecturally and cannot fault, whatever `p` is; it
    // touches no register but its address operand and no flags.
    unsafe {
        core::arch::asm!("prfm pldl1keep, [{0}]", in(reg) p, options(nostack, readonly, preserves_flags))
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_address_is_safe_to_prefetch() {
        let v = [7u8; 64];
        prefetch(v.as_ptr());
        prefetch(core::ptr::null());
        prefetch(usize::MAX as *const u8);
        prefetch(0xdead_0000 as *const u8);
        <CpuPrefetch as router_core::pipeline::Prefetch>::prefetch(v.as_ptr().addr());
        assert_eq!(v[63], 7);
    }
}
