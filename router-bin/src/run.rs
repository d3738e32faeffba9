//! Running a validated site. The dataplane is wired in here.

use crate::config::SiteConfig;

/// Runs the router for `cfg` until stopped.
pub fn run(cfg: SiteConfig) -> anyhow::Result<()> {
    // Until the AF_XDP dataplane and control plane are built into this binary, running stops after
    // showing what would run, so a deployment script fails loudly instead of idling.
    let _ = cfg;
    anyhow::bail!("dataplane not built into this binary yet: the configuration is valid, but nothing was started")
}
