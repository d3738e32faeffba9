//! From a validated site configuration to what the dataplane runs: the pipeline config (interfaces, uplinks,
//! candidate groups, routes, policy, balancing, conntrack), the NAT config of each uplink, the health plan of
//! each uplink and the devices to open. Pure: MAC addresses and seeds come in as arguments.

use std::collections::BTreeMap;
use std::net::IpAddr;

use router_core::conntrack::{ConntrackConfig, Timeouts};
use router_core::fib::{Route, RouteAction};
use router_core::flow::FlowAddr;
use router_core::health::{Damping, HealthConfig, HealthConfigError};
use router_core::pipeline::{IfaceId, IfaceRole, Interface, PipelineConfig, Rescue, UplinkSpec};
use router_core::policy::{PolicyAction, PolicyRule};
use router_core::prefix::Prefix;
use router_core::uplink::{BalanceConfig, Candidate, Granularity, GroupId, Strategy, UplinkId};
use router_core::wire::VlanTag;
use router_nat::{NatMode, UplinkNat};

use crate::config::values::IpPrefix;
use crate::config::{self, SiteConfig};

/// A device the dataplane opens, in io port order (the index is the io `PortId`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Linux interface name.
    pub name: String,
    /// XDP attach mode asked for.
    pub xdp_mode: config::XdpMode,
}

/// How one uplink is probed.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthPlan {
    /// Targets, in config order.
    pub targets: Vec<FlowAddr>,
    /// The state machine's settings.
    pub config: HealthConfig,
}

/// Everything the dataplane is built from.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Devices to open; io port ids are their indices.
    pub devices: Vec<Device>,
    /// The pipeline of each worker (conntrack capacity already divided among workers).
    pub pipeline: PipelineConfig,
    /// NAT config of the uplinks.
    pub nat: Vec<UplinkNat>,
    /// Health plan per uplink, by uplink index.
    pub health: Vec<HealthPlan>,
    /// Cores to pin one worker each on.
    pub cores: Vec<usize>,
    /// Descriptors per batch.
    pub batch: usize,
    /// Empty rounds before a worker sleeps.
    pub idle_rounds: u32,
    /// Frames lent to the fill ring of a copy-mode port.
    pub copy_fill: u32,
}

/// Why a valid site could not be turned into a plan (limits of the dataplane, not config errors).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A health config the state machine refuses.
    #[error("uplink {uplink}: health: {error}")]
    Health {
        /// Uplink name.
        uplink: String,
        /// What is wrong.
        error: HealthConfigError,
    },
    /// A LAN zone above 255.
    #[error("lan {0}: zone above 255 is not supported by the dataplane")]
    Zone(String),
    /// More uplinks than the dataplane handles.
    #[error("more than {} uplinks", router_core::uplink::MAX_UPLINKS)]
    TooManyUplinks,
    /// More LANs and uplinks together than the dataplane's interfaces.
    #[error("more than {} LANs and uplinks together", router_core::conntrack::MAX_IFACES)]
    TooManyInterfaces,
}

fn prefix(p: &IpPrefix) -> Prefix {
    let (a, len) = match p {
        IpPrefix::V4(p) => (IpAddr::V4(p.addr), p.len),
        IpPrefix::V6(p) => (IpAddr::V6(p.addr), p.len),
    };
    Prefix::new(a, len).expect("validated prefix")
}

fn strategy(s: config::Strategy) -> Strategy {
    match s {
        config::Strategy::Nth => Strategy::Nth,
        config::Strategy::Weighted => Strategy::Weighted,
        config::Strategy::Hash => Strategy::Hash,
    }
}

fn granularity(g: config::Granularity) -> Granularity {
    match g {
        config::Granularity::Flow => Granularity::Flow,
        config::Granularity::Socket => Granularity::Socket,
        config::Granularity::Host => Granularity::Host,
    }
}

/// Builds the plan. `mac_of` gives the MAC of a device; `seed` seeds hashing and random balancing.
pub fn plan(site: &SiteConfig, mac_of: &dyn Fn(&str) -> [u8; 6], seed: u64) -> Result<Plan, PlanError> {
    if site.uplinks.len() > router_core::uplink::MAX_UPLINKS {
        return Err(PlanError::TooManyUplinks);
    }
    if site.lans.len() + site.uplinks.len() > router_core::conntrack::MAX_IFACES {
        return Err(PlanError::TooManyInterfaces);
    }
    // Physical ports become io ports, in config order.
    let mut io_port = vec![0u16; site.ports.len()];
    let mut devices = Vec::new();
    for (i, p) in site.ports.iter().enumerate() {
        if let config::PortKind::Physical { device, xdp_mode, .. } = &p.kind {
            io_port[i] = devices.len() as u16;
            devices.push(Device { name: device.clone(), xdp_mode: *xdp_mode });
        }
    }
    let attach = |port: config::PortId| {
        let phys = site.physical_port(port);
        let vlan = site.vlan_tag(port).map(|(vid, pcp)| VlanTag { vid, pcp, dei: false });
        (io_port[phys], vlan, mac_of(site.device(port)))
    };

    // Interfaces: LANs first, then uplinks.
    let mut interfaces = Vec::new();
    for lan in &site.lans {
        let (port, vlan, mac) = attach(lan.port);
        let zone = u8::try_from(lan.zone).map_err(|_| PlanError::Zone(lan.name.clone()))?;
        let mut addrs: Vec<(FlowAddr, u8)> = lan.v4.iter().map(|a| (FlowAddr::from(a.addr), a.len)).collect();
        addrs.extend(lan.v6.iter().map(|a| (FlowAddr::from(a.addr), a.len)));
        interfaces.push(Interface { name: lan.name.clone(), port, vlan, mac, addrs, role: IfaceRole::Lan, zone });
    }
    let first_uplink_iface = interfaces.len();
    let mut uplinks = Vec::new();
    for (i, u) in site.uplinks.iter().enumerate() {
        let (port, vlan, mac) = attach(u.port);
        let mut addrs = vec![(FlowAddr::from(u.address.addr), u.address.len)];
        if let Some(a6) = u.address6 {
            addrs.push((FlowAddr::from(a6.addr), a6.len));
        }
        let role = IfaceRole::Uplink(UplinkId(i as u8));
        interfaces.push(Interface { name: u.name.clone(), port, vlan, mac, addrs, role, zone: 0 });
        uplinks.push(UplinkSpec {
            name: u.name.clone(),
            iface: (first_uplink_iface + i) as IfaceId,
            gateway: Some(FlowAddr::from(u.gateway)),
            gateway6: u.gateway6.map(FlowAddr::from),
            rescue: match u.health.rescue {
                config::Rescue::Reset => Rescue::Reset,
                config::Rescue::Keep => Rescue::Keep,
            },
        });
    }

    // Candidate groups: 0 is every uplink at its own distance and weight (the implicit default routes).
    let cand = |u: usize, distance: u8| Candidate {
        uplink: UplinkId(u as u8),
        distance,
        weight: u32::from(site.uplinks[u].weight),
    };
    let mut groups = vec![(0..site.uplinks.len()).map(|u| cand(u, site.uplinks[u].distance)).collect::<Vec<_>>()];
    let mut routes = Vec::new();
    // Default routes use group 0 (an uplink without a gateway of the flow's family is skipped then); with no
    // IPv6 gateway at all there is no IPv6 default route, so IPv6 to the Internet is `no_route`.
    routes.push(Route {
        prefix: Prefix::new(IpAddr::from([0u8; 4]), 0).unwrap(),
        action: RouteAction::Uplinks(GroupId(0)),
    });
    if site.uplinks.iter().any(|u| u.gateway6.is_some()) {
        routes.push(Route {
            prefix: Prefix::new(IpAddr::from([0u8; 16]), 0).unwrap(),
            action: RouteAction::Uplinks(GroupId(0)),
        });
    }
    for (i, lan) in site.lans.iter().enumerate() {
        for a in &lan.v4 {
            let s = a.subnet();
            routes.push(Route {
                prefix: Prefix::new(IpAddr::V4(s.addr), s.len).unwrap(),
                action: RouteAction::Connected(i as IfaceId),
            });
        }
        for a in &lan.v6 {
            let s = a.subnet();
            routes.push(Route {
                prefix: Prefix::new(IpAddr::V6(s.addr), s.len).unwrap(),
                action: RouteAction::Connected(i as IfaceId),
            });
        }
    }
    // Static routes: every route of one prefix joins one group (distances decide among them); a blackhole
    // for a prefix wins over any via.
    let mut by_prefix: BTreeMap<String, (Prefix, Vec<&config::Route>)> = BTreeMap::new();
    for r in &site.routes {
        by_prefix.entry(r.to.to_string()).or_insert_with(|| (prefix(&r.to), Vec::new())).1.push(r);
    }
    for (_, (p, rs)) in by_prefix {
        let action = if rs.iter().any(|r| r.target == config::RouteTarget::Blackhole) {
            RouteAction::Blackhole
        } else {
            let mut g = Vec::new();
            for r in rs {
                if let config::RouteTarget::Via(us) = &r.target {
                    g.extend(us.iter().map(|&u| cand(u, r.distance)));
                }
            }
            groups.push(g);
            RouteAction::Uplinks(GroupId((groups.len() - 1) as u16))
        };
        routes.push(Route { prefix: p, action });
    }

    let iface_of_port = |p: config::PortId| {
        interfaces.iter().position(|i| {
            let (port, vlan, _) = attach(p);
            i.port == port && i.vlan.map(|t| t.vid) == vlan.map(|t| t.vid)
        })
    };
    let mut policy = Vec::new();
    for pol in &site.policies {
        let action = match &pol.action {
            config::PolicyAction::Via(us) => {
                groups.push(us.iter().map(|&u| cand(u, site.uplinks[u].distance)).collect());
                PolicyAction::Via(GroupId((groups.len() - 1) as u16))
            }
            config::PolicyAction::MainTable => PolicyAction::Table,
            config::PolicyAction::NoBalance => PolicyAction::NoBalance,
        };
        let ingress = match pol.ingress {
            None => None,
            Some(config::Ingress::Lan(l)) => Some(l as IfaceId),
            Some(config::Ingress::Port(p)) => iface_of_port(p).map(|i| i as IfaceId),
        };
        policy.push(PolicyRule {
            src: pol.src.as_ref().map(prefix),
            dst: pol.dst.as_ref().map(prefix),
            proto: pol.proto.map(|p| p.number()),
            dst_ports: pol.dst_port.map(|r| (r.first, r.last)),
            ingress,
            action,
            granularity: pol.granularity.map(granularity),
        });
    }

    let workers = site.workers.cores.len().max(1);
    let c = &site.conntrack;
    let conntrack = ConntrackConfig {
        capacity: (c.max_flows / workers as u32).max(1024),
        timeouts: Timeouts {
            tcp_established: c.tcp_established,
            tcp_transitory: c.tcp_transitory,
            tcp_syn_sent: c.tcp_syn_sent,
            tcp_time_wait: c.tcp_time_wait,
            udp: c.udp,
            udp_unreplied: c.udp_min,
            icmp: c.icmp,
            ..Timeouts::default()
        },
        seed,
    };
    let balance = BalanceConfig {
        strategy: strategy(site.balance.strategy),
        granularity: granularity(site.balance.granularity),
        seed: seed.rotate_left(29),
        ..BalanceConfig::default()
    };

    let mut nat = Vec::new();
    for (i, u) in site.uplinks.iter().enumerate() {
        let id = UplinkId(i as u8);
        let mut entry = |mode, ports: Option<config::values::PortRange>| {
            let mut n = UplinkNat::new(id, mode);
            if let Some(r) = ports {
                n.ports = r.first..=r.last;
            }
            if let Some(limit) = c.per_host_limit {
                n.per_host_limit = limit;
            }
            nat.push(n);
        };
        match u.nat {
            config::Nat::Masquerade { ports } => entry(NatMode::Masquerade { addr: u.address.addr }, Some(ports)),
            config::Nat::None => entry(NatMode::None, None),
            config::Nat::Nptv6 { inside, outside, ports } => {
                entry(NatMode::Masquerade { addr: u.address.addr }, Some(ports));
                entry(NatMode::Nptv6 { inside: (inside.addr, inside.len), outside: (outside.addr, outside.len) }, None);
            }
        }
    }

    let mut health = Vec::new();
    for u in &site.uplinks {
        let h = &u.health;
        let targets: Vec<FlowAddr> = h.targets.iter().map(|t| FlowAddr::from(t.addr())).collect();
        let n = targets.len().max(1);
        let mut cfg = HealthConfig::for_targets(n);
        cfg.interval = h.interval;
        cfg.fast_interval = h.fast_interval;
        cfg.timeout = h.timeout;
        cfg.down_after = h.down_after;
        cfg.up_after = h.up_after;
        // The config counts targets that must answer; the state machine counts failing targets that take the
        // uplink down: with n targets, "q must answer" is "down when n - q + 1 fail".
        cfg.quorum = n + 1 - (h.quorum as usize).clamp(1, n);
        if let Some(p) = h.loss_threshold {
            cfg.loss_threshold_pct = (p.basis_points / 100).clamp(1, 99) as u8;
        }
        cfg.rtt_threshold = h.rtt_threshold;
        cfg.damping = match h.damping {
            None => Damping::disabled(),
            Some(d) => Damping {
                suppress_above: d.suppress,
                reuse_below: d.reuse,
                half_life: d.half_life,
                max_hold: d.max_suppress,
                ..Damping::default()
            },
        };
        cfg.validate().map_err(|error| PlanError::Health { uplink: u.name.clone(), error })?;
        health.push(HealthPlan { targets, config: cfg });
    }

    let pipeline =
        PipelineConfig { interfaces, uplinks, groups, routes, policy, balance, conntrack, ..PipelineConfig::default() };
    Ok(Plan {
        devices,
        pipeline,
        nat,
        health,
        cores: site.workers.cores.iter().map(|&c| c as usize).collect(),
        batch: site.workers.batch as usize,
        idle_rounds: site.workers.idle_rounds,
        copy_fill: site.workers.copy_fill,
    })
}

/// Whether `new` can replace the running `plan` by a reload: same devices, NAT pools and workers, and
/// pipeline tables that swap in (see [`router_core::pipeline::reload_compatible`]). Health settings may change.
pub fn reload_check(running: &Plan, new: &Plan) -> Result<(), String> {
    if new.devices != running.devices {
        return Err("the ports (devices or XDP modes) changed: that needs a restart".into());
    }
    if new.nat != running.nat {
        return Err("the NAT of an uplink (mode, address or port pool) changed: that needs a restart".into());
    }
    let workers = |p: &Plan| (p.cores.clone(), p.batch, p.idle_rounds, p.copy_fill);
    if workers(new) != workers(running) {
        return Err("the workers changed: that needs a restart".into());
    }
    router_core::pipeline::reload_compatible(&running.pipeline, &new.pipeline).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> Plan {
        let site =
            config::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/lab.toml"))).unwrap();
        plan(&site, &router_core::testkit::lab_mac, 1).unwrap()
    }

    #[test]
    fn lab_plan_has_the_lab_topology() {
        let p = lab();
        let names: Vec<_> = p.devices.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["lan1", "lan2", "wan1", "wan2"]);
        let ifs = &p.pipeline.interfaces;
        assert_eq!(ifs.len(), 4);
        let isp1 = &ifs[p.pipeline.uplinks[0].iface as usize];
        assert_eq!((isp1.port, isp1.vlan.map(|t| t.vid)), (2, Some(832)), "isp1 is VLAN 832 on wan1");
        assert_eq!(ifs[p.pipeline.uplinks[1].iface as usize].vlan, None);
        assert_eq!(p.pipeline.uplinks[0].gateway, Some(FlowAddr::v4([198, 51, 100, 1])));
        assert_eq!(p.nat.len(), 2);
        // No uplink has an IPv6 gateway: no IPv6 default route.
        let v6_default = p.pipeline.routes.iter().any(|r| !r.prefix.is_v4() && r.prefix.is_default());
        assert!(!v6_default);
        // Two targets, "1 must answer": down only when both fail.
        assert_eq!(p.health[0].targets.len(), 2);
        assert_eq!(p.health[0].config.quorum, 2);
    }

    #[test]
    fn lab_plan_routes_like_the_lab_expects() {
        use router_core::nat::NoNat;
        use router_core::pipeline::{Pipeline, Verdict};
        use router_core::testkit::{run, V4};
        let p = lab();
        let mut pipe = Pipeline::new(p.pipeline, NoNat).unwrap();
        pipe.set_live(router_core::uplink::UplinkSet::all(2));
        let t = router_core::time::Instant::from_secs(1);
        let blackholed = run(&mut pipe, t, 0, &V4::from_host1([192, 0, 2, 130]).udp(1, 2, b"x"));
        assert_eq!(blackholed.verdict, Verdict::Drop(router_core::drop::DropReason::Blackhole));
        // Both gateways were asked for (tagged on wan1), during the first batch's housekeeping.
        let asked: Vec<u16> = blackholed.generated.iter().map(|(port, _)| *port).collect();
        assert!(asked.contains(&2) && asked.contains(&3), "ARP for both gateways: {asked:?}");
        // The pinned prefix goes to isp2 (wan2, io port 3): held until its gateway answers, then sent there.
        let pinned = run(&mut pipe, t, 0, &V4::from_host1([192, 0, 2, 70]).udp(1, 2, b"x"));
        assert_eq!(pinned.verdict, Verdict::Consumed);
        let gw_mac = [2, 0x15, 2, 0, 0, 1];
        let wan2 = router_core::testkit::RTR_WAN2_MAC;
        let answer = router_core::testkit::arp_reply(gw_mac, [203, 0, 113, 1], wan2, [203, 0, 113, 2], None);
        let released = run(&mut pipe, t, 3, &answer);
        assert_eq!(released.generated.len(), 1);
        let (port, frame) = &released.generated[0];
        assert_eq!((*port, &frame[..6]), (3, &gw_mac[..]));
    }

    #[test]
    fn more_lans_and_uplinks_than_the_dataplane_stores_are_refused() {
        let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/lab.toml"));
        let mut site = config::load(path).unwrap();
        while site.lans.len() + site.uplinks.len() <= router_core::conntrack::MAX_IFACES {
            let mut lan = site.lans[0].clone();
            lan.name = format!("lan{}", site.lans.len() + 1);
            site.lans.push(lan);
        }
        let err = plan(&site, &router_core::testkit::lab_mac, 1).unwrap_err();
        assert!(matches!(err, PlanError::TooManyInterfaces), "{err}");
        assert_eq!(err.to_string(), "more than 256 LANs and uplinks together");
    }

    #[test]
    fn reload_check_takes_new_routes_and_refuses_structural_changes() {
        let running = lab();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/lab.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let more = format!("{text}\n[[route]]\nto = \"192.0.2.200/32\"\nblackhole = true\n");
        let plan_of = |t: &str| {
            let site = config::parse(t, "test.toml").unwrap();
            plan(&site, &router_core::testkit::lab_mac, 1).unwrap()
        };
        assert_eq!(reload_check(&running, &plan_of(&more)), Ok(()));
        let moved = text.replace("198.18.1.1/24", "198.18.1.254/24");
        assert!(reload_check(&running, &plan_of(&moved)).unwrap_err().contains("restart"));
        let pool = text.replacen("nat = \"masquerade\"", "nat = \"masquerade\"\nnat_ports = \"20000-30000\"", 1);
        assert!(reload_check(&running, &plan_of(&pool)).unwrap_err().contains("NAT"));
        let spin = text.replace("batch = 64 ", "batch = 64\nidle_rounds = 2 ");
        assert!(reload_check(&running, &plan_of(&spin)).unwrap_err().contains("workers"));
        let fill = text.replace("batch = 64 ", "batch = 64\ncopy_fill = 512 ");
        assert!(reload_check(&running, &plan_of(&fill)).unwrap_err().contains("workers"));
    }
}
