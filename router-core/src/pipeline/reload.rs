//! Replacing the routing tables of a running pipeline (a configuration reload): everything is built and
//! checked before anything is swapped, so a refused reload changes nothing, and tracked flows keep their
//! uplink and NAT binding (only new flows see new routes, policy and balancing).

use super::{check_references, BuildError, Interface, Pipeline, PipelineConfig, UplinkSpec};
use crate::fib::Fib;
use crate::nat::Nat;
use crate::policy::Policy;
use crate::uplink::Selector;

/// Why a configuration cannot replace the running one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReloadError {
    /// The new tables cannot be built.
    Build(BuildError),
    /// What changed needs a restart: it is not a table swap (interfaces, the set of uplinks, table sizes).
    NeedsRestart(&'static str),
}

impl core::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReloadError::Build(e) => write!(f, "{e}"),
            ReloadError::NeedsRestart(what) => write!(f, "{what} changed: that needs a restart"),
        }
    }
}

/// Whether `new` can replace `running` by a table swap: the check a control plane makes once, before it asks
/// any worker to [`Pipeline::reconfigure`], so that no worker can accept what another would refuse.
pub fn reload_compatible(running: &PipelineConfig, new: &PipelineConfig) -> Result<(), ReloadError> {
    compatible(&running.interfaces, &running.uplinks, running.conntrack.capacity as usize, new)?;
    Fib::build(&new.routes).map(drop).map_err(|e| ReloadError::Build(BuildError::Fib(e)))
}

fn compatible(
    ifaces: &[Interface],
    uplinks: &[UplinkSpec],
    capacity: usize,
    new: &PipelineConfig,
) -> Result<(), ReloadError> {
    check_references(new).map_err(ReloadError::Build)?;
    if new.interfaces != ifaces {
        return Err(ReloadError::NeedsRestart("an interface (port, VLAN, MAC or address)"));
    }
    let same_uplinks = new.uplinks.len() == uplinks.len()
        && new.uplinks.iter().zip(uplinks).all(|(a, b)| a.name == b.name && a.iface == b.iface);
    if !same_uplinks {
        return Err(ReloadError::NeedsRestart("the set of uplinks"));
    }
    if new.conntrack.capacity as usize != capacity {
        return Err(ReloadError::NeedsRestart("the conntrack size"));
    }
    Ok(())
}

impl<N: Nat, Pf: super::Prefetch> Pipeline<N, Pf> {
    /// Checks that `cfg` can replace the running configuration by a table swap, without changing anything.
    pub fn check_reconfigure(&self, cfg: &PipelineConfig) -> Result<(), ReloadError> {
        compatible(&self.ifaces, &self.uplinks, self.ct.capacity(), cfg)
    }

    /// Replaces routes, candidate groups, policy, balancing, uplink gateways and rescue policies, timeouts and
    /// the ICMP error rate with those of `cfg`. On error nothing changed. Tracked flows keep their uplinks and
    /// bindings; sockets and hosts keep their remembered uplinks unless the balancing settings changed.
    pub fn reconfigure(&mut self, cfg: &PipelineConfig) -> Result<(), ReloadError> {
        self.check_reconfigure(cfg)?;
        let fib = Fib::build(&cfg.routes).map_err(|e| ReloadError::Build(BuildError::Fib(e)))?;
        // Built and checked: from here on nothing can fail.
        self.fib = fib;
        self.groups = cfg.groups.clone();
        self.policy = Policy::new(cfg.policy.clone());
        // The sockets' and hosts' remembered uplinks stay, unless the balancing itself changed. A remembered
        // uplink no longer among its group's live candidates is not used anyway.
        if self.selector.config() != cfg.balance {
            self.selector = Selector::new(cfg.balance, cfg.groups.len());
        }
        for (i, (new, old)) in cfg.uplinks.iter().zip(&self.uplinks).enumerate() {
            if new.gateway != old.gateway {
                self.gateway_macs[i] = None;
            }
        }
        self.uplinks = cfg.uplinks.clone();
        self.ct.set_timeouts(cfg.conntrack.timeouts);
        self.icmp_limit.per_sec = cfg.icmp_errors_per_sec;
        self.expire_budget = cfg.expire_budget;
        Ok(())
    }
}
