//! `[[route]]` and `[[policy]]`.

use std::collections::HashMap;

use super::{elem_path, Ctx, Here, Names, RawSite};
use crate::config::error::Problem;
use crate::config::model::{Granularity, Ingress, Lan, Policy, PolicyAction, Route, RouteTarget, Uplink, UplinkId};
use crate::config::raw::OneOrMany;
use crate::config::source::KeyPath;
use crate::config::values::{parse_port_range, parse_prefix, parse_protocol, IpPrefix};

pub(super) const GRANULARITIES: &[(&str, Granularity)] =
    &[("flow", Granularity::Flow), ("socket", Granularity::Socket), ("host", Granularity::Host)];

/// Resolves `via` (one uplink or a balance group); `v6` when the traffic it carries is IPv6.
fn via(
    ctx: &mut Ctx,
    here: &Here,
    via: &OneOrMany,
    names: &Names,
    uplinks: &[Option<Uplink>],
    v6: bool,
) -> Option<Vec<UplinkId>> {
    if via.items.is_empty() {
        ctx.at(here, "via", Problem::Missing { key: "via", why: "the list is empty; name at least one uplink".into() });
        return None;
    }
    let mut ids = Vec::new();
    let mut ok = true;
    for (k, name) in via.items.iter().enumerate() {
        let path = elem_path(here, "via", via, k);
        let Some(id) = names.resolve(ctx, here, path.clone(), name) else {
            ok = false;
            continue;
        };
        if let Some(first) = ids.iter().position(|i| *i == id) {
            ctx.report(
                here,
                path,
                Problem::Duplicate {
                    what: "uplink",
                    name: name.clone(),
                    first: here.key("via").index(first),
                    hint: "list each uplink of a balance group once; use `weight` to favour one",
                },
            );
            ok = false;
            continue;
        }
        if v6 && uplinks[id].as_ref().is_some_and(|u| u.address6.is_none()) {
            ctx.report(
                here,
                path,
                Problem::Addressing(format!("uplink \"{name}\" has no `address6`, so it cannot carry IPv6 traffic")),
            );
            ok = false;
        }
        ids.push(id);
    }
    ok.then_some(ids)
}

/// Validates `[[route]]`.
pub(super) fn routes(ctx: &mut Ctx, raw: &RawSite, names: &Names, uplinks: &[Option<Uplink>]) -> Vec<Route> {
    let mut out = Vec::new();
    let mut seen: HashMap<(IpPrefix, u8), KeyPath> = HashMap::new();
    for item in &raw.routes {
        let r = &item.raw;
        let here = Here::new(&item.path, None);
        let to = ctx.parse(&here, "to", Some(&r.to), parse_prefix);
        let distance = ctx.int(
            &here,
            "distance",
            r.distance,
            1..=255,
            "distance is 1 to 255; among routes to one prefix the lowest live one wins",
        );
        let target = match (&r.via, r.blackhole) {
            (Some(_), Some(true)) => {
                ctx.at(
                    &here,
                    "blackhole",
                    Problem::Conflict(
                        "a route either sends traffic `via` uplinks or drops it with `blackhole = true`, not both"
                            .into(),
                    ),
                );
                None
            }
            (Some(v), _) => via(ctx, &here, v, names, uplinks, to.is_some_and(|t| t.is_v6())).map(RouteTarget::Via),
            (None, Some(true)) => Some(RouteTarget::Blackhole),
            (None, _) => {
                ctx.at(
                    &here,
                    "via",
                    Problem::Missing {
                        key: "via",
                        why: "a route needs `via = \"<uplink>\"` (a list makes a balance group) or `blackhole = true`"
                            .into(),
                    },
                );
                None
            }
        };
        let (Some(to), Some(target)) = (to, target) else { continue };
        let distance = distance.unwrap_or(1) as u8;
        if let Some(first) = seen.get(&(to, distance)) {
            ctx.at(
                &here,
                "to",
                Problem::Duplicate {
                    what: "route to",
                    name: to.to_string(),
                    first: first.clone(),
                    hint: "give backup routes for one prefix different `distance`s",
                },
            );
            continue;
        }
        seen.insert((to, distance), item.path.clone());
        out.push(Route { to, target, distance });
    }
    out
}

/// Validates `[[policy]]`.
pub(super) fn policies(
    ctx: &mut Ctx,
    raw: &RawSite,
    uplink_names: &Names,
    uplinks: &[Option<Uplink>],
    lan_names: &Names,
    port_names: &Names,
    lans: &[Option<Lan>],
) -> Vec<Policy> {
    let mut out = Vec::new();
    for item in &raw.policies {
        let p = &item.raw;
        let here = Here::new(&item.path, None);
        let before = ctx.problems.len();
        let src = ctx.parse(&here, "src", p.src.as_deref(), parse_prefix);
        let dst = ctx.parse(&here, "dst", p.dst.as_deref(), parse_prefix);
        if let (Some(s), Some(d)) = (src, dst) {
            if s.is_v6() != d.is_v6() {
                ctx.at(
                    &here,
                    "dst",
                    Problem::Addressing(format!(
                        "{d} and src {s} are of different IP families; no packet can match both"
                    )),
                );
            }
        }
        let proto = ctx.parse(&here, "proto", p.proto.as_ref().map(|s| s.0.as_str()), parse_protocol);
        let dst_port = ctx.parse(&here, "dst_port", p.dst_port.as_ref().map(|s| s.0.as_str()), parse_port_range);
        if let (Some(proto), Some(_)) = (proto, dst_port) {
            if !proto.has_ports() {
                ctx.at(&here, "dst_port", Problem::Conflict(format!(
                    "proto \"{proto}\" has no ports; `dst_port` needs proto \"tcp\" or \"udp\" (or no proto to match both)"
                )));
            }
        }
        let ingress = p.ingress.as_deref().and_then(|name| ingress(ctx, &here, name, lan_names, port_names, lans));
        if p.src.is_none() && p.dst.is_none() && p.proto.is_none() && p.dst_port.is_none() && p.ingress.is_none() {
            ctx.report(&here, here.path.clone(), Problem::Incomplete(
                "this policy matches nothing: give at least one match key (src, dst, proto, dst_port, in); to steer all traffic use [[route]] or [balance]".into(),
            ));
        }
        let granularity = ctx.word(&here, "granularity", p.granularity.as_deref(), GRANULARITIES);
        let v6 = src.or(dst).is_some_and(|x| x.is_v6());
        let mut actions = Vec::new();
        if p.via.is_some() {
            actions.push("via");
        }
        if p.table.is_some() {
            actions.push("table");
        }
        if p.balance.is_some() {
            actions.push("balance");
        }
        let action = match actions.as_slice() {
            [] if p.granularity.is_some() => Some(PolicyAction::MainTable),
            [] => {
                ctx.report(&here, here.path.clone(), Problem::Incomplete(
                    "this policy has no action: give `via = \"<uplink>\"` (or a list), `table = \"main\"`, `balance = false`, or a `granularity` override".into(),
                ));
                None
            }
            ["via"] => {
                p.via.as_ref().and_then(|v| via(ctx, &here, v, uplink_names, uplinks, v6)).map(PolicyAction::Via)
            }
            ["table"] => {
                ctx.word(&here, "table", p.table.as_deref(), &[("main", ())]).map(|()| PolicyAction::MainTable)
            }
            ["balance"] if p.balance == Some(false) => {
                if p.granularity.is_some() {
                    ctx.at(
                        &here,
                        "granularity",
                        Problem::Conflict(
                            "`balance = false` does not balance, so a granularity means nothing here".into(),
                        ),
                    );
                }
                Some(PolicyAction::NoBalance)
            }
            ["balance"] => {
                ctx.at(
                    &here,
                    "balance",
                    Problem::Conflict(
                        "`balance = true` is what happens without a policy; only `balance = false` is an action".into(),
                    ),
                );
                None
            }
            many => {
                ctx.at(
                    &here,
                    many[1],
                    Problem::Conflict(format!(
                        "a policy takes exactly one action but has {}; keep one of them",
                        many.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(" and ")
                    )),
                );
                None
            }
        };
        if ctx.problems.len() != before {
            continue;
        }
        if let Some(action) = action {
            out.push(Policy { src, dst, proto, dst_port, ingress, action, granularity });
        }
    }
    out
}

fn ingress(
    ctx: &mut Ctx,
    here: &Here,
    name: &str,
    lans: &Names,
    ports: &Names,
    lan_list: &[Option<Lan>],
) -> Option<Ingress> {
    match (lans.get(name), ports.get(name)) {
        (Some(l), Some(p)) if lan_list[l].as_ref().is_some_and(|lan| lan.port != p) => {
            ctx.at(
                here,
                "in",
                Problem::Conflict(format!(
                    "\"{name}\" is both a LAN and a port, and that LAN is not on that port; rename one of them"
                )),
            );
            None
        }
        (Some(l), _) => Some(Ingress::Lan(l)),
        (None, Some(p)) => Some(Ingress::Port(p)),
        (None, None) => {
            if !lans.broken.contains(name) && !ports.broken.contains(name) {
                let mut known = lans.order.clone();
                known.extend(ports.order.iter().cloned());
                ctx.at(here, "in", Problem::Unresolved { kind: "LAN or port", name: name.to_owned(), known });
            }
            None
        }
    }
}
