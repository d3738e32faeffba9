//! `[[uplink]]` and `[uplink.health]`, and how uplinks sit against LANs and each other.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ports::{host_problem, lan_subnets, LanAddrs};
use super::{Ctx, Here, Names, RawSite};
use crate::config::error::Problem;
use crate::config::model::{Nat, Uplink};
use crate::config::raw::RawUplink;
use crate::config::values::{
    parse_addr, parse_ifaddr, parse_port_range, parse_prefix_of, IfAddr, IpPrefix, PortRange, Prefix,
};

const DEFAULT_PORTS: PortRange = PortRange { first: 1024, last: 65535 };

#[derive(Clone, Copy)]
enum NatKind {
    Masquerade,
    None,
    Nptv6,
}

/// Validates `[[uplink]]`, aligned with `raw.uplinks`.
pub(super) fn uplinks(ctx: &mut Ctx, raw: &RawSite, ports: &Names, workers: usize) -> (Vec<Option<Uplink>>, Names) {
    let mut names = Names::new("uplink", raw.broken.get("uplink"));
    let mut out = Vec::new();
    for (i, item) in raw.uplinks.iter().enumerate() {
        let here = Here::new(&item.path, Some(&item.raw.name));
        names.register(ctx, &here, i, &item.raw.name);
        out.push(uplink(ctx, &here, &item.raw, ports, workers));
    }
    (out, names)
}

fn uplink(ctx: &mut Ctx, here: &Here, u: &RawUplink, ports: &Names, workers: usize) -> Option<Uplink> {
    let before = ctx.problems.len();
    let port = ports.resolve(ctx, here, here.key("port"), &u.port);
    let address = if u.address.trim() == "dhcp" {
        ctx.at(here, "address", Problem::NotSupported {
            feature: "address = \"dhcp\"",
            hint: "write the static address the ISP assigned with its subnet length, e.g. \"198.51.100.2/24\", and `gateway`",
        });
        None
    } else {
        let a = ctx.parse(here, "address", Some(&u.address), parse_ifaddr::<Ipv4Addr>);
        if let Some(why) = a.as_ref().and_then(host_problem) {
            ctx.at(here, "address", Problem::Addressing(why));
        }
        a
    };
    let gateway = match &u.gateway {
        None if u.address.trim() != "dhcp" => {
            ctx.report(
                here,
                here.path.clone(),
                Problem::Missing {
                    key: "gateway",
                    why: "a static uplink needs its next hop, e.g. `gateway = \"198.51.100.1\"`".into(),
                },
            );
            None
        }
        g => ctx.parse(here, "gateway", g.as_deref(), parse_addr::<Ipv4Addr>),
    };
    if let (Some(a), Some(g)) = (address, gateway) {
        gateway_check(ctx, here, "gateway", &a, g);
    }
    let address6 = ctx.parse(here, "address6", u.address6.as_deref(), parse_ifaddr::<Ipv6Addr>);
    if let Some(why) = address6.as_ref().and_then(host_problem) {
        ctx.at(here, "address6", Problem::Addressing(why));
    }
    let gateway6 = ctx.parse(here, "gateway6", u.gateway6.as_deref(), parse_addr::<Ipv6Addr>);
    match (&u.address6, &u.gateway6) {
        (None, Some(_)) => ctx.at(
            here,
            "gateway6",
            Problem::Missing {
                key: "address6",
                why: "`gateway6` needs this uplink's own IPv6 address in `address6`".into(),
            },
        ),
        (Some(_), None) => ctx.report(
            here,
            here.path.clone(),
            Problem::Missing {
                key: "gateway6",
                why: "an uplink with `address6` needs its IPv6 next hop (often link-local, e.g. \"fe80::1\")".into(),
            },
        ),
        _ => {}
    }
    if let (Some(a), Some(g)) = (address6, gateway6) {
        // IPv6 routers are usually reached by their link-local address (RFC 4861).
        let link_local = g.segments()[0] & 0xffc0 == 0xfe80;
        if !link_local || a.addr == g {
            gateway_check(ctx, here, "gateway6", &a, g);
        }
    }
    let distance = ctx.int(
        here,
        "distance",
        u.distance,
        1..=255,
        "distance is 1 to 255; lower is preferred, equal distances share the load",
    );
    let weight = ctx.int(
        here,
        "weight",
        u.weight,
        1..=1000,
        "weight is 1 to 1000; to keep an uplink idle until others fail, give it a higher distance instead of weight 0",
    );
    let nat = nat(ctx, here, u, address6.is_some() || u.address6.is_some(), workers);
    let health = super::health::health(ctx, &here.nested("health"), &u.health, gateway, u.address6.is_some());
    if ctx.problems.len() != before {
        return None;
    }
    Some(Uplink {
        name: u.name.clone(),
        port: port?,
        address: address?,
        gateway: gateway?,
        address6,
        gateway6,
        distance: distance.unwrap_or(1) as u8,
        weight: weight.unwrap_or(1) as u16,
        nat: nat?,
        health: health?,
    })
}

fn gateway_check<A: crate::config::values::IpFamily>(ctx: &mut Ctx, here: &Here, key: &str, a: &IfAddr<A>, g: A) {
    let subnet = a.subnet();
    if g == a.addr {
        ctx.at(
            here,
            key,
            Problem::Addressing(format!(
                "{g} is this uplink's own address; the gateway is the ISP's router on {subnet}"
            )),
        );
    } else if !subnet.contains(g) {
        ctx.at(
            here,
            key,
            Problem::Addressing(format!(
            "{g} is not inside {a} (subnet {subnet}); the gateway must be directly reachable on the uplink's subnet"
        )),
        );
    } else if let Some(why) = host_problem(&IfAddr { addr: g, len: a.len }) {
        ctx.at(here, key, Problem::Addressing(why.replace("the router needs", "a gateway must be")));
    }
}

fn nat(ctx: &mut Ctx, here: &Here, u: &RawUplink, has_v6: bool, workers: usize) -> Option<Nat> {
    let kind = match u.nat.as_deref() {
        None => Some(NatKind::Masquerade),
        w => ctx.word(
            here,
            "nat",
            w,
            &[("masquerade", NatKind::Masquerade), ("none", NatKind::None), ("nptv6", NatKind::Nptv6)],
        ),
    }?;
    let ports = match u.nat_ports.as_deref() {
        None => Some(DEFAULT_PORTS),
        Some(text) => ctx.parse(here, "nat_ports", Some(text), parse_port_range).and_then(|r| {
            if r.first < 1024 {
                ctx.at(here, "nat_ports", Problem::Conflict(format!(
                    "{r} starts below 1024: ports under 1024 are privileged services and must not be used for SNAT; start at 1024 or above, e.g. \"1024-65535\""
                )));
                None
            } else if (r.size() as usize) < workers {
                ctx.at(here, "nat_ports", Problem::Conflict(format!(
                    "{r} has {} ports but there are {workers} workers, each needing its own slice", r.size()
                )));
                None
            } else {
                Some(r)
            }
        }),
    };
    let nptv6 = [("nptv6_inside", &u.nptv6_inside), ("nptv6_outside", &u.nptv6_outside)];
    match kind {
        NatKind::Masquerade | NatKind::None => {
            for (key, v) in nptv6 {
                if v.is_some() {
                    ctx.at(here, key, Problem::Conflict(format!("`{key}` only applies with `nat = \"nptv6\"`")));
                }
            }
            if matches!(kind, NatKind::None) {
                if u.nat_ports.is_some() {
                    ctx.at(here, "nat_ports", Problem::Conflict(
                        "`nat_ports` is the SNAT port pool and means nothing with `nat = \"none\"`; remove it or use \"masquerade\"".into(),
                    ));
                }
                return Some(Nat::None);
            }
            Some(Nat::Masquerade { ports: ports? })
        }
        NatKind::Nptv6 => {
            if !has_v6 {
                ctx.at(
                    here,
                    "nat",
                    Problem::Missing {
                        key: "address6",
                        why: "NPTv6 translates IPv6 prefixes, so this uplink needs `address6` and `gateway6`".into(),
                    },
                );
            }
            let mut prefixes = [None, None];
            for (slot, (key, v)) in prefixes.iter_mut().zip(nptv6) {
                match v {
                    None => ctx.report(
                        here,
                        here.path.clone(),
                        Problem::Missing {
                            key,
                            why: format!(
                                "`nat = \"nptv6\"` needs `{key}`, an IPv6 prefix such as {}",
                                if key == "nptv6_inside" {
                                    "\"fd00:1::/48\" (LAN side)"
                                } else {
                                    "\"2001:db8:1::/48\" (delegated by the ISP)"
                                }
                            ),
                        },
                    ),
                    Some(t) => *slot = ctx.parse(here, key, Some(t), parse_prefix_of::<Ipv6Addr>),
                }
            }
            let [inside, outside]: [Option<Prefix<Ipv6Addr>>; 2] = prefixes;
            let (inside, outside) = (inside?, outside?);
            if inside.len != outside.len {
                ctx.at(here, "nptv6_outside", Problem::Addressing(format!(
                    "{outside} is a /{} but nptv6_inside {inside} is a /{}; NPTv6 (RFC 6296) maps prefixes of equal length",
                    outside.len, inside.len
                )));
                return None;
            }
            if inside == outside {
                ctx.at(
                    here,
                    "nptv6_outside",
                    Problem::Addressing(format!(
                        "{outside} equals nptv6_inside; nothing would be translated; use `nat = \"none\"`"
                    )),
                );
                return None;
            }
            Some(Nat::Nptv6 { inside, outside, ports: ports? })
        }
    }
}

/// Uplink subnets must stay clear of LAN subnets.
pub(super) fn against_lans(ctx: &mut Ctx, raw: &RawSite, lans: &[Option<LanAddrs>], uplinks: &[Option<Uplink>]) {
    let subnets = lan_subnets(raw, lans);
    for (u, item) in uplinks.iter().zip(&raw.uplinks) {
        let Some(u) = u else { continue };
        let here = Here::new(&item.path, Some(&item.raw.name));
        let mine = [("address", IpPrefix::V4(u.address.subnet()), IpAddr::V4(u.address.addr))]
            .into_iter()
            .chain(u.address6.map(|a| ("address6", IpPrefix::V6(a.subnet()), IpAddr::V6(a.addr))));
        for (key, subnet, addr) in mine {
            if let Some((lan_net, lan_path, _)) = subnets.iter().find(|(n, _, _)| n.overlaps(&subnet)) {
                let what = if contains(lan_net, addr) {
                    format!("{addr} is inside LAN subnet {lan_net} ({lan_path}); an uplink address must be outside every LAN")
                } else {
                    format!("subnet {subnet} overlaps LAN subnet {lan_net} ({lan_path}); uplink and LAN subnets must be disjoint")
                };
                ctx.at(&here, key, Problem::Addressing(what));
            }
        }
    }
}

fn contains(net: &IpPrefix, addr: IpAddr) -> bool {
    match (net, addr) {
        (IpPrefix::V4(n), IpAddr::V4(a)) => n.contains(a),
        (IpPrefix::V6(n), IpAddr::V6(a)) => n.contains(a),
        _ => false,
    }
}

/// Uplinks that share one IPv4 address must SNAT from disjoint port pools, or replies cannot be told apart.
pub(super) fn nat_pools(ctx: &mut Ctx, raw: &RawSite, uplinks: &[Option<Uplink>]) {
    let pool = |u: &Uplink| match u.nat {
        Nat::Masquerade { ports } | Nat::Nptv6 { ports, .. } => Some(ports),
        Nat::None => None,
    };
    for (j, b) in uplinks.iter().enumerate() {
        let Some(b) = b else { continue };
        let Some(b_pool) = pool(b) else { continue };
        for (i, a) in uplinks[..j].iter().enumerate() {
            let Some(a) = a else { continue };
            let Some(a_pool) = pool(a) else { continue };
            if a.address.addr == b.address.addr && a_pool.overlaps(&b_pool) {
                let here = Here::new(&raw.uplinks[j].path, Some(&b.name));
                ctx.at(&here, "nat_ports", Problem::Conflict(format!(
                    "{b_pool} overlaps {a_pool} of {} (\"{}\"), which has the same address {}; give each a disjoint range, e.g. \"1024-32767\" and \"32768-65535\"",
                    raw.uplinks[i].path, a.name, a.address.addr
                )));
            }
        }
    }
}
