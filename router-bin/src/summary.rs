//! The one-screen summary of a validated site, printed by `check` and at start-up.

use std::fmt::Write as _;

use crate::config::values::format_duration;
use crate::config::{
    Granularity, Ingress, Nat, Policy, PolicyAction, PortKind, ProbeTarget, Rescue, RouteTarget, SiteConfig, Strategy,
    XdpMode,
};

/// Renders what the site will run, in the vocabulary of the config file.
pub fn render(cfg: &SiteConfig) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write_all(&mut s, cfg);
    s
}

fn uplink_names(cfg: &SiteConfig, ids: &[usize]) -> String {
    ids.iter().map(|&i| cfg.uplinks[i].name.as_str()).collect::<Vec<_>>().join(", ")
}

fn write_all(s: &mut String, cfg: &SiteConfig) -> std::fmt::Result {
    writeln!(s, "ports ({}):", cfg.ports.len())?;
    for p in &cfg.ports {
        match &p.kind {
            PortKind::Physical { device, xdp_mode, queues } => {
                let mode = match xdp_mode {
                    XdpMode::Auto => "auto",
                    XdpMode::Skb => "skb",
                    XdpMode::Native => "native",
                    XdpMode::ZeroCopy => "zerocopy",
                };
                let queues = queues.map_or("one per worker".to_owned(), |q| q.to_string());
                writeln!(s, "  {:<14} device {device}, xdp {mode}, queues {queues}", p.name)?;
            }
            PortKind::Vlan { parent, vlan, pcp } => {
                writeln!(s, "  {:<14} VLAN {vlan} on {}, pcp {pcp}", p.name, cfg.ports[*parent].name)?;
            }
        }
    }
    writeln!(s, "lans ({}):", cfg.lans.len())?;
    for l in &cfg.lans {
        let addrs: Vec<String> = l.v4.iter().map(|a| a.to_string()).chain(l.v6.iter().map(|a| a.to_string())).collect();
        writeln!(s, "  {:<14} on {}: {} (zone {})", l.name, cfg.ports[l.port].name, addrs.join(", "), l.zone)?;
    }
    writeln!(s, "uplinks ({}):", cfg.uplinks.len())?;
    for u in &cfg.uplinks {
        let port = &cfg.ports[u.port];
        let vlan = match port.kind {
            PortKind::Vlan { vlan, pcp, .. } => format!(" (VLAN {vlan}, pcp {pcp})"),
            PortKind::Physical { .. } => String::new(),
        };
        writeln!(s, "  {:<14} on {}{vlan}: {} gateway {}", u.name, port.name, u.address, u.gateway)?;
        if let (Some(a6), Some(g6)) = (u.address6, u.gateway6) {
            writeln!(s, "  {:<14} {a6} gateway {g6}", "")?;
        }
        let nat = match u.nat {
            Nat::Masquerade { ports } => format!("masquerade ports {ports}"),
            Nat::None => "none".to_owned(),
            Nat::Nptv6 { inside, outside, ports } => {
                format!("nptv6 {inside} <-> {outside}, IPv4 masquerade ports {ports}")
            }
        };
        writeln!(s, "  {:<14} distance {} weight {}, nat {nat}", "", u.distance, u.weight)?;
        let h = &u.health;
        let targets: Vec<String> = h
            .targets
            .iter()
            .map(|t| match t {
                ProbeTarget::Gateway(a) => format!("gateway ({a})"),
                ProbeTarget::Address(a) => a.to_string(),
            })
            .collect();
        writeln!(
            s,
            "  {:<14} health: probe {} every {}, timeout {}, down after {}, up after {}, quorum {}",
            "",
            targets.join(", "),
            format_duration(h.interval),
            format_duration(h.timeout),
            h.down_after,
            h.up_after,
            h.quorum
        )?;
        let mut extra = vec![match h.rescue {
            Rescue::Reset => "on down: reset its flows".to_owned(),
            Rescue::Keep => "on down: keep its flows".to_owned(),
        }];
        if let Some(loss) = h.loss_threshold {
            extra.push(format!("down above {loss} loss"));
        }
        if let Some(rtt) = h.rtt_threshold {
            extra.push(format!("down above {} rtt", format_duration(rtt)));
        }
        if let Some(d) = h.damping {
            extra.push(format!("flap damping (half-life {})", format_duration(d.half_life)));
        }
        writeln!(s, "  {:<14} {}", "", extra.join(", "))?;
    }
    writeln!(s, "routes ({} + default):", cfg.routes.len())?;
    for r in &cfg.routes {
        let target = match &r.target {
            RouteTarget::Blackhole => "blackhole".to_owned(),
            RouteTarget::Via(ids) if ids.len() == 1 => format!("via {}", uplink_names(cfg, ids)),
            RouteTarget::Via(ids) => format!("balance over {}", uplink_names(cfg, ids)),
        };
        writeln!(s, "  {:<22} {target} (distance {})", r.to.to_string(), r.distance)?;
    }
    writeln!(s, "  {:<22} all uplinks, lowest live distance, by weight", "default")?;
    writeln!(s, "policies ({}, first match wins):", cfg.policies.len())?;
    for p in &cfg.policies {
        writeln!(s, "  {}", policy(cfg, p))?;
    }
    let strategy = match cfg.balance.strategy {
        Strategy::Nth => "nth (round robin)",
        Strategy::Weighted => "weighted",
        Strategy::Hash => "hash",
    };
    writeln!(s, "balance: {strategy}, sticky per {}", granularity(cfg.balance.granularity))?;
    let c = &cfg.conntrack;
    writeln!(
        s,
        "conntrack: {} flows{}; tcp {} / closing {}, udp {}, icmp {}",
        c.max_flows,
        c.per_host_limit.map_or(String::new(), |l| format!(", {l} per host")),
        format_duration(c.tcp_established),
        format_duration(c.tcp_transitory),
        format_duration(c.udp),
        format_duration(c.icmp)
    )?;
    let cores: Vec<String> = cfg.workers.cores.iter().map(|c| c.to_string()).collect();
    let w = &cfg.workers;
    writeln!(
        s,
        "workers: cores [{}], batch {}, idle rounds {}, copy-mode fill {}",
        cores.join(", "),
        w.batch,
        w.idle_rounds,
        w.copy_fill
    )?;
    if let Some(sock) = &cfg.status.socket {
        writeln!(s, "status: {}", sock.display())?;
    }
    Ok(())
}

fn granularity(g: Granularity) -> &'static str {
    match g {
        Granularity::Flow => "flow",
        Granularity::Socket => "socket",
        Granularity::Host => "host",
    }
}

fn policy(cfg: &SiteConfig, p: &Policy) -> String {
    let mut m = Vec::new();
    if let Some(ingress) = p.ingress {
        m.push(match ingress {
            Ingress::Lan(l) => format!("in {}", cfg.lans[l].name),
            Ingress::Port(port) => format!("in {}", cfg.ports[port].name),
        });
    }
    if let Some(src) = p.src {
        m.push(format!("src {src}"));
    }
    if let Some(dst) = p.dst {
        m.push(format!("dst {dst}"));
    }
    if let Some(proto) = p.proto {
        m.push(format!("proto {proto}"));
    }
    if let Some(ports) = p.dst_port {
        m.push(format!("dst_port {ports}"));
    }
    let mut action = match &p.action {
        PolicyAction::Via(ids) => format!("via {}", uplink_names(cfg, ids)),
        PolicyAction::MainTable => "main table".to_owned(),
        PolicyAction::NoBalance => "no balancing".to_owned(),
    };
    if let Some(g) = p.granularity {
        action.push_str(&format!(", per {}", granularity(g)));
    }
    format!("{} -> {action}", m.join(" "))
}
