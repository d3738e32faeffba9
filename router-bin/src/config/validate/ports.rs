//! `[[port]]` and `[[lan]]`, and which port serves which role.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{elem_path, Ctx, Here, Names, RawSite};
use crate::config::error::Problem;
use crate::config::model::{Lan, Port, PortKind, Uplink, XdpMode};
use crate::config::source::KeyPath;
use crate::config::values::{parse_ifaddr, IfAddr, IpFamily, IpPrefix};

const XDP_MODES: &[(&str, XdpMode)] =
    &[("auto", XdpMode::Auto), ("skb", XdpMode::Skb), ("native", XdpMode::Native), ("zerocopy", XdpMode::ZeroCopy)];

/// Validates `[[port]]`; the result is aligned with `raw.ports` (`None` where an entry is invalid).
pub(super) fn ports(ctx: &mut Ctx, raw: &RawSite) -> (Vec<Option<Port>>, Names) {
    let mut names = Names::new("port", raw.broken.get("port"));
    for (i, item) in raw.ports.iter().enumerate() {
        names.register(ctx, &Here::new(&item.path, Some(&item.raw.name)), i, &item.raw.name);
    }
    let mut devices: HashMap<&str, KeyPath> = HashMap::new();
    let mut vlans: HashMap<(usize, u16), KeyPath> = HashMap::new();
    let mut out = Vec::new();
    for item in &raw.ports {
        let p = &item.raw;
        let here = Here::new(&item.path, Some(&p.name));
        let kind = match (&p.device, &p.on) {
            (Some(_), Some(_)) => {
                ctx.at(
                    &here,
                    "on",
                    Problem::Conflict(
                        "a port is either physical (`device`) or a VLAN on another port (`on` + `vlan`), not both"
                            .into(),
                    ),
                );
                None
            }
            (None, None) => {
                ctx.report(&here, here.path.clone(), Problem::Incomplete(
                    "a port needs `device = \"<Linux interface>\"` (physical) or `on = \"<physical port>\"` with `vlan = <1-4094>` (VLAN)".into(),
                ));
                None
            }
            (Some(device), None) => physical(ctx, &here, p, device, &mut devices),
            (None, Some(on)) => vlan_port(ctx, &here, raw, p, on, &names, &mut vlans),
        };
        out.push(kind.map(|kind| Port { name: p.name.clone(), kind }));
    }
    (out, names)
}

fn physical<'a>(
    ctx: &mut Ctx,
    here: &Here,
    p: &'a crate::config::raw::RawPort,
    device: &'a str,
    devices: &mut HashMap<&'a str, KeyPath>,
) -> Option<PortKind> {
    let mut ok = true;
    for (key, set) in [("vlan", p.vlan.is_some()), ("pcp", p.pcp.is_some())] {
        if set {
            ctx.at(
                here,
                key,
                Problem::Conflict(format!(
                    "`{key}` belongs to a VLAN port: declare a second [[port]] with `on = \"{}\"` and `vlan = <id>`",
                    p.name
                )),
            );
            ok = false;
        }
    }
    if device.is_empty() || device.len() > 15 || device.contains(['/', ' ', ':']) {
        ctx.at(
            here,
            "device",
            Problem::BadName {
                name: device.to_owned(),
                reason: "a Linux interface name is 1 to 15 characters without '/', ':' or spaces",
            },
        );
        ok = false;
    } else if let Some(first) = devices.get(device) {
        ctx.at(
            here,
            "device",
            Problem::Duplicate {
                what: "device",
                name: device.to_owned(),
                first: first.key("device"),
                hint: "one AF_XDP owner per interface: use VLAN ports (`on`) to split one device",
            },
        );
        ok = false;
    } else {
        devices.insert(device, here.path.clone());
    }
    let xdp_mode = ctx.word(here, "xdp_mode", p.xdp_mode.as_deref(), XDP_MODES);
    ok &= xdp_mode.is_some() || p.xdp_mode.is_none();
    let queues = ctx.int(here, "queues", p.queues, 1..=256, "queues is 1 to 256 NIC queues");
    ok &= queues.is_some() || p.queues.is_none();
    ok.then(|| PortKind::Physical {
        device: device.to_owned(),
        xdp_mode: xdp_mode.unwrap_or(XdpMode::Auto),
        queues: queues.map(|q| q as u16),
    })
}

fn vlan_port(
    ctx: &mut Ctx,
    here: &Here,
    raw: &RawSite,
    p: &crate::config::raw::RawPort,
    on: &str,
    names: &Names,
    vlans: &mut HashMap<(usize, u16), KeyPath>,
) -> Option<PortKind> {
    let mut ok = true;
    for (key, set) in [("xdp_mode", p.xdp_mode.is_some()), ("queues", p.queues.is_some())] {
        if set {
            ctx.at(
                here,
                key,
                Problem::Conflict(format!(
                    "`{key}` is a property of the physical device: set it on port \"{on}\", which carries this VLAN"
                )),
            );
            ok = false;
        }
    }
    let parent = names.resolve(ctx, here, here.key("on"), on);
    if let Some(parent) = parent {
        if raw.ports[parent].raw.device.is_none() {
            ctx.at(here, "on", Problem::Conflict(format!(
                "port \"{on}\" is itself a VLAN port; `on` must name a physical port (stacked VLANs/QinQ are not supported)"
            )));
            ok = false;
        }
    }
    let vlan = match p.vlan {
        None => {
            ctx.report(
                here,
                here.path.clone(),
                Problem::Missing {
                    key: "vlan",
                    why: "a port with `on` is a VLAN port and needs its 802.1Q id, e.g. `vlan = 832`".into(),
                },
            );
            None
        }
        v => ctx.int(
            here,
            "vlan",
            v,
            1..=4094,
            "a VLAN id is 1 to 4094 (0 means priority-tagged only and 4095 is reserved)",
        ),
    };
    let pcp = match p.pcp {
        None => Some(0),
        v => ctx.int(here, "pcp", v, 0..=7, "PCP is a 3-bit 802.1p priority, 0 to 7"),
    };
    let (parent, vlan, pcp) = (parent?, vlan? as u16, pcp? as u8);
    if let Some(first) = vlans.get(&(parent, vlan)) {
        ctx.at(
            here,
            "vlan",
            Problem::Duplicate {
                what: "VLAN",
                name: format!("{vlan} on port {on}"),
                first: first.key("vlan"),
                hint: "a VLAN id appears once per physical port",
            },
        );
        return None;
    }
    vlans.insert((parent, vlan), here.path.clone());
    ok.then_some(PortKind::Vlan { parent, vlan, pcp })
}

/// The parsed addresses of one LAN.
pub(super) type LanAddrs = (Vec<IfAddr<Ipv4Addr>>, Vec<IfAddr<Ipv6Addr>>);

/// Validates `[[lan]]`, aligned with `raw.lans`; also every LAN's addresses when they all parse.
pub(super) fn lans(ctx: &mut Ctx, raw: &RawSite, ports: &Names) -> (Vec<Option<Lan>>, Vec<Option<LanAddrs>>, Names) {
    let mut addrs = Vec::new();
    let mut names = Names::new("LAN", raw.broken.get("lan"));
    let mut out = Vec::new();
    for (i, item) in raw.lans.iter().enumerate() {
        let l = &item.raw;
        let here = Here::new(&item.path, Some(&l.name));
        names.register(ctx, &here, i, &l.name);
        let port = ports.resolve(ctx, &here, here.key("port"), &l.port);
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        let mut ok = true;
        if l.address.items.is_empty() {
            ctx.at(
                &here,
                "address",
                Problem::Missing {
                    key: "address",
                    why: "list at least one router address, e.g. \"198.18.1.1/24\"".into(),
                },
            );
            ok = false;
        }
        for (k, text) in l.address.items.iter().enumerate() {
            let path = elem_path(&here, "address", &l.address, k);
            let parsed = if text.contains(':') {
                parse_ifaddr::<Ipv6Addr>(text).map(|a| v6.push(a))
            } else {
                parse_ifaddr::<Ipv4Addr>(text).map(|a| v4.push(a))
            };
            match parsed {
                Err(e) => {
                    ctx.report(&here, path, e);
                    ok = false;
                }
                Ok(()) => {
                    let bad = if text.contains(':') {
                        v6.last().and_then(host_problem)
                    } else {
                        v4.last().and_then(host_problem)
                    };
                    if let Some(why) = bad {
                        ctx.report(&here, path, Problem::Addressing(why));
                        ok = false;
                    }
                }
            }
        }
        addrs.push(ok.then(|| (v4.clone(), v6.clone())));
        let zone = ctx.int(&here, "zone", l.zone, 0..=65535, "a conntrack zone is 0 to 65535");
        ok &= zone.is_some() || l.zone.is_none();
        out.push(match (port, ok) {
            (Some(port), true) => Some(Lan { name: l.name.clone(), port, v4, v6, zone: zone.unwrap_or(0) as u16 }),
            _ => None,
        });
    }
    overlapping_lans(ctx, raw, &addrs);
    (out, addrs, names)
}

/// Why `a` cannot be a router address on its subnet (network or broadcast address), if so.
pub(super) fn host_problem<A: IpFamily>(a: &IfAddr<A>) -> Option<String> {
    let subnet = a.subnet();
    // /31 and /32 (/127, /128) have no network or broadcast address (RFC 3021).
    if a.len + 1 >= A::BITS {
        return None;
    }
    if a.addr == subnet.addr {
        Some(format!("{a} is the network address of {subnet}; the router needs a host address inside it"))
    } else if A::BITS == 32 && a.addr == subnet.last() {
        Some(format!("{a} is the broadcast address of {subnet}; the router needs a host address inside it"))
    } else {
        None
    }
}

/// Every subnet of a LAN with the path of the address that made it.
pub(super) fn lan_subnets(raw: &RawSite, lans: &[Option<LanAddrs>]) -> Vec<(IpPrefix, KeyPath, usize)> {
    let mut out = Vec::new();
    for (i, lan) in lans.iter().enumerate() {
        let Some((v4, v6)) = lan else { continue };
        let item = &raw.lans[i];
        let here = Here::new(&item.path, None);
        let (mut n4, mut n6) = (0, 0);
        for text in &item.raw.address.items {
            let k = n4 + n6;
            let path = elem_path(&here, "address", &item.raw.address, k);
            if text.contains(':') {
                out.push((IpPrefix::V6(v6[n6].subnet()), path, i));
                n6 += 1;
            } else {
                out.push((IpPrefix::V4(v4[n4].subnet()), path, i));
                n4 += 1;
            }
        }
    }
    out
}

fn overlapping_lans(ctx: &mut Ctx, raw: &RawSite, lans: &[Option<LanAddrs>]) {
    let subnets = lan_subnets(raw, lans);
    for (j, (b, b_path, b_lan)) in subnets.iter().enumerate() {
        if let Some((a, a_path, _)) = subnets[..j].iter().find(|(a, _, _)| a.overlaps(b)) {
            let here = Here::new(&raw.lans[*b_lan].path, Some(&raw.lans[*b_lan].raw.name));
            ctx.report(
                &here,
                b_path.clone(),
                Problem::Addressing(format!(
                    "subnet {b} overlaps {a} of {a_path}; LAN subnets must be disjoint or routing to them is ambiguous"
                )),
            );
        }
    }
}

/// Each port serves one role: one LAN or one uplink.
pub(super) fn roles(ctx: &mut Ctx, raw: &RawSite, lans: &[Option<Lan>], uplinks: &[Option<Uplink>]) {
    let mut users: HashMap<usize, (KeyPath, String, &str)> = HashMap::new();
    let lan_uses = lans.iter().zip(&raw.lans).map(|(l, item)| {
        (l.as_ref().map(|l| l.port), item.path.clone(), item.raw.name.clone(), item.raw.port.clone(), "LAN")
    });
    let up_uses = uplinks.iter().zip(&raw.uplinks).map(|(u, item)| {
        (u.as_ref().map(|u| u.port), item.path.clone(), item.raw.name.clone(), item.raw.port.clone(), "uplink")
    });
    for (port, path, name, port_name, role) in lan_uses.into_iter().chain(up_uses) {
        let Some(port) = port else { continue };
        if let Some((first, first_name, first_role)) = users.get(&port) {
            let here = Here::new(&path, Some(&name));
            ctx.at(&here, "port", Problem::Conflict(format!(
                "port \"{port_name}\" is already used by {first} ({first_role} \"{first_name}\"); each port carries one LAN or one uplink — give this {role} its own port or a VLAN port (`on` + `vlan`)"
            )));
        } else {
            users.insert(port, (path, name, role));
        }
    }
}
