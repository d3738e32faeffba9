//! Config tests: every example in `config/` is valid; each bad config is rejected with its key path.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

/// A small valid site that each bad case changes in one place.
const BASE: &str = r#"
[[port]]
name = "lan0"
device = "eth0"

[[port]]
name = "wan0"
device = "eth1"

[[port]]
name = "wan1"
device = "eth2"

[[lan]]
name = "office"
port = "lan0"
address = "198.18.1.1/24"

[[uplink]]
name = "isp1"
port = "wan0"
address = "198.51.100.2/24"
gateway = "198.51.100.1"

[[uplink]]
name = "isp2"
port = "wan1"
address = "203.0.113.2/24"
gateway = "203.0.113.1"
"#;

/// BASE with text appended (new sections, or keys of the last `[[uplink]]` via `[uplink.health]`).
fn with(extra: &str) -> String {
    format!("{BASE}\n{extra}\n")
}

/// BASE with the first occurrence of `from` replaced.
fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "test setup: `{from}` is not in BASE");
    BASE.replacen(from, to, 1)
}

fn errors_of(text: &str) -> String {
    match parse(text, "test.toml") {
        Ok(cfg) => panic!("config was accepted but should not be:\n{text}\n{cfg:#?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn base_is_valid() {
    let cfg = parse(BASE, "base.toml").expect("BASE must be valid");
    assert_eq!(cfg.uplinks.len(), 2);
    assert_eq!(cfg.uplinks[0].distance, 1);
    assert_eq!(cfg.uplinks[0].weight, 1);
    assert_eq!(cfg.uplinks[0].nat, Nat::Masquerade { ports: values::PortRange { first: 1024, last: 65535 } });
    assert_eq!(cfg.uplinks[0].health.targets, vec![ProbeTarget::Gateway(Ipv4Addr::new(198, 51, 100, 1))]);
    assert_eq!(cfg.uplinks[0].health.interval, Duration::from_millis(100));
    assert_eq!(cfg.balance, Balance { strategy: Strategy::Weighted, granularity: Granularity::Socket });
    assert_eq!(cfg.conntrack.tcp_established, Duration::from_secs(7440));
    assert_eq!(cfg.workers.cores, vec![0]);
    assert_eq!(cfg.workers.idle_rounds, 64);
    assert_eq!(cfg.workers.copy_fill, router_io::DEFAULT_COPY_FILL);
}

#[test]
fn bad_configs_are_rejected_by_key() {
    let vlan_port = |extra: &str| with(&format!("[[port]]\nname = \"v\"\non = \"wan0\"\n{extra}"));
    let second_lan = |addr: &str| {
        with(&format!(
            "[[port]]\nname = \"lan1\"\ndevice = \"eth3\"\n[[lan]]\nname = \"lab\"\nport = \"lan1\"\naddress = {addr}"
        ))
    };
    let health = |keys: &str| with(&format!("[uplink.health]\n{keys}"));
    let route = |keys: &str| with(&format!("[[route]]\n{keys}"));
    let policy = |keys: &str| with(&format!("[[policy]]\n{keys}"));
    let isp1 = |key: &str| edit("gateway = \"198.51.100.1\"", &format!("gateway = \"198.51.100.1\"\n{key}"));
    let no_uplinks = BASE[..BASE.find("[[uplink]]").unwrap()].to_owned();
    let no_lans = BASE.replace("[[lan]]\nname = \"office\"\nport = \"lan0\"\naddress = \"198.18.1.1/24\"\n", "");

    let cases: Vec<(&str, String, &[&str])> = vec![
        // Schema and syntax.
        ("unknown key", edit("device = \"eth0\"", "device = \"eth0\"\nspeed = 10"), &["test.toml:5:1", "port[0].speed", "unknown field `speed`"]),
        ("unknown nested key", health("intreval = \"1s\""), &["uplink[1].health.intreval", "did you mean `interval`?"]),
        ("unknown section", with("[firewall]\nenabled = true"), &["firewall", "unknown section"]),
        ("misspelt section", with("[conntrak]\nudp = \"5m\""), &["conntrak", "did you mean `conntrack`?"]),
        ("TOML syntax", with("[[route]\nto = 1"), &["TOML syntax error", "test.toml:"]),
        ("wrong type", edit("address = \"198.51.100.2/24\"", "address = 5"), &["uplink[0].address", "invalid type"]),
        ("section written as table", with("[route]\nto = \"10.0.0.0/8\""), &["route", "must be written as [[route]]"]),
        ("missing required key", edit("port = \"wan1\"\n", ""), &["uplink[1]", "missing field `port`"]),
        // Names and references.
        ("duplicate port name", edit("name = \"wan1\"", "name = \"wan0\""), &["port[2].name", "already used by port[1]"]),
        ("duplicate LAN name", second_lan("\"198.18.2.1/24\"").replace("name = \"lab\"", "name = \"office\""), &["lan[1].name", "LAN name \"office\""]),
        ("duplicate uplink name", edit("name = \"isp2\"", "name = \"isp1\""), &["uplink[1].name", "uplink name \"isp1\""]),
        ("bad name", edit("name = \"isp2\"", "name = \"isp 2\""), &["uplink[1].name", "letters, digits"]),
        ("LAN port names nothing", edit("port = \"lan0\"", "port = \"lan9\""), &["lan[0].port", "\"lan9\" names no port"]),
        ("VLAN on names nothing", with("[[port]]\nname = \"v\"\non = \"nope\"\nvlan = 10"), &["port[3].on", "\"nope\" names no port"]),
        ("route via names nothing", route("to = \"192.0.2.0/24\"\nvia = \"isp3\""), &["route[0].via", "names no uplink", "\"isp1\", \"isp2\""]),
        ("policy via list names nothing", policy("dst = \"192.0.2.0/24\"\nvia = [\"isp1\", \"isp9\"]"), &["policy[0].via[1]", "\"isp9\" names no uplink"]),
        ("policy in names nothing", policy("in = \"guest\"\nvia = \"isp1\""), &["policy[0].in", "names no LAN or port"]),
        // Ports and VLANs.
        ("VLAN 0", vlan_port("vlan = 0"), &["port[3].vlan", "1 to 4094"]),
        ("VLAN 4095", vlan_port("vlan = 4095"), &["port[3].vlan", "4095 is out of range"]),
        ("VLAN above 4094", vlan_port("vlan = 5000"), &["port[3].vlan"]),
        ("VLAN as string", vlan_port("vlan = \"832\""), &["port[3].vlan", "invalid type"]),
        ("VLAN port without vlan", vlan_port(""), &["port[3]", "`vlan` is missing"]),
        ("PCP above 7", vlan_port("vlan = 832\npcp = 8"), &["port[3].pcp", "0 to 7"]),
        ("same VLAN twice on one port", with("[[port]]\nname = \"a\"\non = \"wan0\"\nvlan = 7\n[[port]]\nname = \"b\"\non = \"wan0\"\nvlan = 7"), &["port[4].vlan", "already used by port[3].vlan"]),
        ("both device and on", vlan_port("vlan = 5\ndevice = \"eth9\""), &["port[3].on", "not both"]),
        ("VLAN on a VLAN port", with("[[port]]\nname = \"a\"\non = \"wan0\"\nvlan = 7\n[[port]]\nname = \"b\"\non = \"a\"\nvlan = 8"), &["port[4].on", "must name a physical port"]),
        ("same device twice", edit("device = \"eth2\"", "device = \"eth1\""), &["port[2].device", "already used by port[1].device"]),
        ("bad xdp mode", edit("device = \"eth0\"", "device = \"eth0\"\nxdp_mode = \"turbo\""), &["port[0].xdp_mode", "\"zerocopy\""]),
        ("uplink and LAN on one port", edit("port = \"wan0\"", "port = \"lan0\""), &["uplink[0].port", "already used by lan[0]"]),
        ("two uplinks on one port", edit("port = \"wan1\"", "port = \"wan0\""), &["uplink[1].port", "already used by uplink[0]"]),
        // Addressing.
        ("gateway outside subnet", edit("gateway = \"198.51.100.1\"", "gateway = \"203.0.113.1\""), &["uplink[0].gateway", "203.0.113.1 is not inside 198.51.100.2/24"]),
        ("gateway equals address", edit("gateway = \"198.51.100.1\"", "gateway = \"198.51.100.2\""), &["uplink[0].gateway", "own address"]),
        ("IPv6 gateway on a v4 key", edit("gateway = \"198.51.100.1\"", "gateway = \"2001:db8::1\""), &["uplink[0].gateway", "IPv6 address; this key takes IPv4"]),
        ("IPv6 address on a v4 key", edit("address = \"198.51.100.2/24\"", "address = \"2001:db8::2/64\""), &["uplink[0].address", "IPv6"]),
        ("address without length", edit("address = \"198.51.100.2/24\"", "address = \"198.51.100.2\""), &["uplink[0].address", "subnet length is missing"]),
        ("DHCP not supported yet", edit("address = \"198.51.100.2/24\"\ngateway = \"198.51.100.1\"", "address = \"dhcp\""), &["uplink[0].address", "not supported yet"]),
        ("overlapping LAN subnets", second_lan("\"198.18.1.129/25\""), &["lan[1].address", "overlaps 198.18.1.0/24"]),
        ("overlap inside one LAN", edit("address = \"198.18.1.1/24\"", "address = [\"198.18.1.1/24\", \"198.18.0.1/16\"]"), &["lan[0].address[1]", "overlaps"]),
        ("LAN network address", edit("address = \"198.18.1.1/24\"", "address = \"198.18.1.0/24\""), &["lan[0].address", "network address"]),
        ("uplink address inside a LAN", edit("address = \"198.18.1.1/24\"", "address = \"198.51.100.1/16\""), &["uplink[0].address", "inside LAN subnet 198.51.0.0/16"]),
        ("gateway6 without address6", isp1("gateway6 = \"fe80::1\""), &["uplink[0].gateway6", "`address6` is missing"]),
        // NAT.
        ("nat_ports reversed", isp1("nat_ports = \"65535-1024\""), &["uplink[0].nat_ports", "reversed", "1024-65535"]),
        ("nat_ports empty", isp1("nat_ports = \"\""), &["uplink[0].nat_ports", "empty"]),
        ("nat_ports below 1024", isp1("nat_ports = \"80-2000\""), &["uplink[0].nat_ports", "below 1024"]),
        ("nat_ports with nat none", isp1("nat = \"none\"\nnat_ports = \"2000-3000\""), &["uplink[0].nat_ports", "means nothing"]),
        (
            "shared address, overlapping pools",
            edit("address = \"203.0.113.2/24\"\ngateway = \"203.0.113.1\"", "address = \"198.51.100.2/24\"\ngateway = \"198.51.100.1\"\nnat_ports = \"30000-40000\""),
            &["uplink[1].nat_ports", "overlaps 1024-65535 of uplink[0]", "same address 198.51.100.2"],
        ),
        ("nptv6 without its prefixes", isp1("address6 = \"2001:db8:f::2/64\"\ngateway6 = \"fe80::1\"\nnat = \"nptv6\""), &["uplink[0]", "`nptv6_inside` is missing", "`nptv6_outside` is missing"]),
        ("nptv6 unequal lengths", isp1("address6 = \"2001:db8:f::2/64\"\ngateway6 = \"fe80::1\"\nnat = \"nptv6\"\nnptv6_inside = \"fd00:1::/48\"\nnptv6_outside = \"2001:db8:2::/56\""), &["uplink[0].nptv6_outside", "equal length"]),
        ("bad nat word", isp1("nat = \"snat\""), &["uplink[0].nat", "\"masquerade\", \"none\", \"nptv6\""]),
        // Balancing numbers.
        ("weight 0", isp1("weight = 0"), &["uplink[0].weight", "1 to 1000"]),
        ("all weights 0", edit("gateway = \"203.0.113.1\"", "gateway = \"203.0.113.1\"\nweight = 0").replace("gateway = \"198.51.100.1\"", "gateway = \"198.51.100.1\"\nweight = 0"), &["uplink[0].weight", "uplink[1].weight"]),
        ("weight above 1000", isp1("weight = 1001"), &["uplink[0].weight"]),
        ("distance 0", isp1("distance = 0"), &["uplink[0].distance", "1 to 255"]),
        ("distance above 255", isp1("distance = 256"), &["uplink[0].distance"]),
        ("no uplink at all", no_uplinks, &["uplink: no [[uplink]] is defined"]),
        ("no LAN at all", no_lans, &["lan: no [[lan]] is defined"]),
        ("bad strategy", with("[balance]\nstrategy = \"random\""), &["balance.strategy", "\"nth\", \"weighted\", \"hash\""]),
        ("misspelt strategy", with("[balance]\nstrategy = \"weigthed\""), &["balance.strategy", "did you mean \"weighted\"?"]),
        // Routes.
        ("route host bits", route("to = \"192.0.2.129/25\"\nblackhole = true"), &["route[0].to", "canonical form is 192.0.2.128/25"]),
        ("route length above 32", route("to = \"192.0.2.0/33\"\nblackhole = true"), &["route[0].to", "longer than 32"]),
        ("route length above 128", route("to = \"2001:db8::/129\"\nblackhole = true"), &["route[0].to", "longer than 128"]),
        ("route via and blackhole", route("to = \"192.0.2.0/24\"\nvia = \"isp1\"\nblackhole = true"), &["route[0].blackhole", "not both"]),
        ("route with neither", route("to = \"192.0.2.0/24\""), &["route[0].via", "`via` is missing"]),
        ("route twice", with("[[route]]\nto = \"192.0.2.0/24\"\nblackhole = true\n[[route]]\nto = \"192.0.2.0/24\"\nvia = \"isp1\""), &["route[1].to", "already used by route[0]"]),
        ("IPv6 route via a v4-only uplink", route("to = \"2001:db8::/32\"\nvia = \"isp1\""), &["route[0].via", "no `address6`"]),
        ("route distance 0", route("to = \"192.0.2.0/24\"\nvia = \"isp1\"\ndistance = 0"), &["route[0].distance"]),
        // Policies.
        ("policy without match key", policy("via = \"isp1\""), &["policy[0]", "matches nothing"]),
        ("policy without action", policy("dst = \"192.0.2.0/24\""), &["policy[0]", "no action"]),
        ("dst_port on icmp", policy("proto = \"icmp\"\ndst_port = \"25\"\nvia = \"isp1\""), &["policy[0].dst_port", "has no ports"]),
        ("two actions", policy("dst = \"192.0.2.0/24\"\nvia = \"isp1\"\ntable = \"main\""), &["policy[0].table", "exactly one action"]),
        ("balance = true", policy("dst = \"192.0.2.0/24\"\nbalance = true"), &["policy[0].balance"]),
        ("bad proto", policy("proto = \"gre\"\nvia = \"isp1\""), &["policy[0].proto", "protocol number"]),
        ("bad dst_port", policy("proto = \"tcp\"\ndst_port = \"8100-8000\"\nvia = \"isp1\""), &["policy[0].dst_port", "reversed"]),
        ("mixed families", policy("src = \"198.18.1.0/24\"\ndst = \"2001:db8::/32\"\ntable = \"main\""), &["policy[0].dst", "different IP families"]),
        // Health.
        ("quorum above targets", health("targets = [\"gateway\", \"192.0.2.10\"]\nquorum = 3"), &["uplink[1].health.quorum", "with 2 target(s)"]),
        ("interval below 100ms", health("interval = \"50ms\""), &["uplink[1].health.interval", "100ms floor"]),
        ("timeout too long", health("interval = \"100ms\"\ntimeout = \"1s\""), &["uplink[1].health.timeout", "10 × interval"]),
        ("unparseable duration", health("interval = \"10 parsecs\""), &["uplink[1].health.interval", "unknown unit `parsecs`"]),
        ("fast_interval above interval", health("fast_interval = \"2s\""), &["uplink[1].health.fast_interval"]),
        ("IPv6 target without address6", health("targets = [\"gateway\", \"2001:db8::53\"]"), &["uplink[1].health.targets[1]", "no `address6`"]),
        ("bad target", health("targets = [\"gateway\", \"dns.example\"]"), &["uplink[1].health.targets[1]", "not an IPv4 or IPv6 address"]),
        ("duplicate target", health("targets = [\"gateway\", \"203.0.113.1\"]"), &["uplink[1].health.targets[1]", "already used by uplink[1].health.targets[0]"]),
        ("bad loss threshold", health("loss_threshold = \"30\""), &["uplink[1].health.loss_threshold", "followed by %"]),
        ("rtt above timeout", health("timeout = \"500ms\"\nrtt_threshold = \"600ms\""), &["uplink[1].health.rtt_threshold", "below the probe timeout"]),
        ("bad rescue", health("rescue = \"retry\""), &["uplink[1].health.rescue", "\"reset\", \"keep\""]),
        ("damping reuse above suppress", with("[uplink.health.damping]\nsuppress = 1000\nreuse = 2000"), &["uplink[1].health.damping.reuse", "below suppress"]),
        ("damping wrong type", health("damping = \"yes\""), &["uplink[1].health.damping", "invalid type"]),
        // Conntrack, workers, status.
        ("bad conntrack duration", with("[conntrack]\nudp = \"five minutes\""), &["conntrack.udp", "not a duration"]),
        ("udp below floor", with("[conntrack]\nudp = \"30s\""), &["conntrack.udp", "RFC 4787"]),
        ("zero timeout", with("[conntrack]\nicmp = \"0s\""), &["conntrack.icmp"]),
        ("max_flows tiny", with("[conntrack]\nmax_flows = 0"), &["conntrack.max_flows"]),
        ("core listed twice", with("[workers]\ncores = [0, 1, 0]"), &["workers.cores[2]", "already used by workers.cores[0]"]),
        ("negative core", with("[workers]\ncores = [-1]"), &["workers.cores[0]"]),
        ("idle_rounds zero", with("[workers]\nidle_rounds = 0"), &["workers.idle_rounds", "1 to 1000000"]),
        ("idle_rounds as string", with("[workers]\nidle_rounds = \"2\""), &["workers.idle_rounds", "invalid type"]),
        ("copy_fill below a batch", with("[workers]\ncopy_fill = 8"), &["workers.copy_fill", "16 to 2048"]),
        ("copy_fill above the ring", with("[workers]\ncopy_fill = 4096"), &["workers.copy_fill", "16 to 2048"]),
        ("relative status socket", with("[status]\nsocket = \"mh.sock\""), &["status.socket", "absolute"]),
    ];
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for (label, text, expected) in &cases {
        let rendered = errors_of(text);
        // `MH_SHOW_ERRORS=1 cargo test -p router-bin -- --nocapture` prints every message for review.
        if std::env::var_os("MH_SHOW_ERRORS").is_some() {
            eprintln!("--- {label}\n{rendered}");
        }
        for want in *expected {
            if !rendered.contains(want) {
                failures.push(format!("{label}: expected `{want}` in:\n{rendered}\n"));
            }
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn all_errors_are_collected_in_file_order() {
    let text = with(
        "[[route]]\nto = \"192.0.2.1/24\"\nvia = \"nowhere\"\n[[policy]]\nproto = \"icmp\"\ndst_port = 7\nvia = \"isp1\"\n[workers]\ncores = [1, 1]\nspeed = 3",
    )
    .replace("gateway = \"198.51.100.1\"", "gateway = \"10.0.0.1\"");
    let errors = parse(&text, "multi.toml").unwrap_err();
    let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
    for want in
        ["uplink[0].gateway", "route[0].to", "route[0].via", "policy[0].dst_port", "workers.cores[1]", "workers.speed"]
    {
        assert!(paths.contains(&want), "{want} missing from {paths:?}");
    }
    let lines: Vec<usize> =
        errors.0.iter().map(|e| e.location.as_ref().expect("every error has a line").line).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "not in file order: {lines:?}");
    // The entry name helps find `uplink[0]` in a long file.
    assert!(errors.to_string().contains("uplink[0].gateway (in \"isp1\")"));
}

#[test]
fn garbage_never_panics() {
    let lab = include_str!("../../../config/lab.toml");
    let mut cut = 0;
    while cut < lab.len() {
        if lab.is_char_boundary(cut) {
            let _ = parse(&lab[..cut], "cut.toml");
        }
        cut += 11;
    }
    for text in [
        "",
        "\u{0}",
        "[[",
        "port = 1",
        "[[port]]\nname = 1",
        "[[uplink]]\nhealth = 3",
        "[[port]]\n[[port]]",
        "x = [[[",
        "[balance]\nstrategy = []",
    ] {
        let _ = parse(text, "garbage.toml");
    }
}

#[test]
fn empty_file_explains_what_is_missing() {
    let errors = parse("", "empty.toml").unwrap_err().to_string();
    assert!(errors.contains("no [[uplink]]") && errors.contains("no [[lan]]"), "{errors}");
}

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("config/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_in_config_dir_is_valid() {
    let files = examples();
    assert!(files.len() >= 3, "expected the example configs, found {files:?}");
    for file in files {
        if let Err(e) = load(&file) {
            panic!("{} is rejected:\n{e}", file.display());
        }
    }
}

#[test]
fn lab_example_matches_the_lab() {
    let cfg = load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/lab.toml")).unwrap();
    let port = |name: &str| cfg.ports.iter().position(|p| p.name == name).unwrap();
    let isp1 = &cfg.uplinks[0];
    assert_eq!(isp1.name, "isp1");
    assert_eq!(cfg.ports[isp1.port].kind, PortKind::Vlan { parent: port("wan1"), vlan: 832, pcp: 0 });
    assert_eq!(isp1.address.to_string(), "198.51.100.2/24");
    assert_eq!(cfg.uplinks[1].gateway, Ipv4Addr::new(203, 0, 113, 1));
    assert_eq!(cfg.uplinks[0].distance, cfg.uplinks[1].distance);
    assert_eq!((cfg.uplinks[0].weight, cfg.uplinks[1].weight), (1, 1));
    let targets: Vec<String> = isp1.health.targets.iter().map(|t| t.addr().to_string()).collect();
    assert_eq!(targets, ["198.51.100.1", "192.0.2.10"]);
    let routes: Vec<(String, RouteTarget)> = cfg.routes.iter().map(|r| (r.to.to_string(), r.target.clone())).collect();
    assert!(routes.contains(&("192.0.2.128/26".to_owned(), RouteTarget::Blackhole)));
    assert!(routes.contains(&("192.0.2.64/26".to_owned(), RouteTarget::Via(vec![1]))));
    assert_eq!(cfg.device(isp1.port), "wan1");
    assert_eq!(cfg.vlan_tag(isp1.port), Some((832, 0)));
    assert_eq!(cfg.vlan_tag(cfg.uplinks[1].port), None);
    assert_eq!(cfg.uplink_id("isp2"), Some(1));
    let lans: Vec<String> = cfg.lans.iter().map(|l| l.v4[0].to_string()).collect();
    assert_eq!(lans, ["198.18.1.1/24", "198.18.2.1/24"]);
}

#[test]
fn a_wrongly_typed_key_is_reported_once() {
    let text = with("[[port]]\nname = \"v\"\non = \"wan0\"\nvlan = \"832\"");
    let errors = parse(&text, "t.toml").unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert_eq!(errors.0[0].path.as_str(), "port[3].vlan");
    let text = with("[uplink.health]\ninterval = \"50ms\"");
    assert_eq!(parse(&text, "t.toml").unwrap_err().0.len(), 1, "a bad interval must not drag fast_interval along");
}

#[test]
fn syntax_errors_carry_a_location_and_no_key() {
    let errors = parse("[[port]]\nname = \"a\"\ndevice = \n", "s.toml").unwrap_err();
    let text = errors.to_string();
    assert!(text.starts_with("error: s.toml:3:"), "{text}");
    assert!(text.contains("TOML syntax error"), "{text}");
}

#[test]
fn every_optional_key_is_accepted_when_right() {
    let text = r#"
[[port]]
name = "lan0"
device = "eth0"
xdp_mode = "zerocopy"
queues = 4
[[port]]
name = "trunk"
device = "eth1"
[[port]]
name = "wan-a"
on = "trunk"
vlan = 832
pcp = 6
[[port]]
name = "wan-b"
on = "trunk"
vlan = 833
[[lan]]
name = "office"
port = "lan0"
address = ["198.18.1.1/24", "2001:db8:1::1/64"]
zone = 7
[[uplink]]
name = "a"
port = "wan-a"
address = "198.51.100.2/30"
gateway = "198.51.100.1"
address6 = "2001:db8:f::2/64"
gateway6 = "fe80::1"
distance = 10
weight = 1000
nat = "nptv6"
nptv6_inside = "fd00:1::/48"
nptv6_outside = "2001:db8:2::/48"
nat_ports = "1024-32767"
[uplink.health]
targets = ["gateway", "192.0.2.53", "2001:db8::53"]
interval = "200ms"
fast_interval = "100ms"
timeout = "1500ms"
down_after = 2
up_after = 10
quorum = 2
loss_threshold = "12.5%"
rtt_threshold = "250ms"
rescue = "keep"
[uplink.health.damping]
half_life = "1m"
suppress = 2500
reuse = 500
max_suppress = "10m"
[[uplink]]
name = "b"
port = "wan-b"
address = "198.51.100.2/30"
gateway = "198.51.100.1"
nat_ports = "32768-65535"
nat = "masquerade"
[[route]]
to = "0.0.0.0/1"
via = ["a", "b"]
[[route]]
to = "0.0.0.0/1"
via = "b"
distance = 2
[[route]]
to = "2001:db8:dead::/48"
blackhole = true
[[policy]]
src = "198.18.1.0/25"
proto = 6
dst_port = 25
via = "b"
granularity = "flow"
[[policy]]
proto = "udp"
dst_port = "8000-8100"
in = "office"
table = "main"
[[policy]]
dst = "2001:db8::/32"
via = "a"
[[policy]]
in = "lan0"
balance = false
[balance]
strategy = "hash"
granularity = "host"
[conntrack]
max_flows = 1048576
per_host_limit = 1000
tcp_established = "1h"
tcp_transitory = "2m"
tcp_syn_sent = "30s"
tcp_time_wait = "60s"
udp = "60s"
udp_min = "60s"
icmp = "30s"
[workers]
cores = [2, 3, 1]
batch = 32
idle_rounds = 4
copy_fill = 512
[status]
socket = "/run/mh.sock"
"#;
    let cfg = match parse(text, "rich.toml") {
        Ok(cfg) => cfg,
        Err(e) => panic!("{e}"),
    };
    let a = &cfg.uplinks[0];
    assert!(matches!(a.nat, Nat::Nptv6 { inside, .. } if inside.len == 48));
    assert_eq!(a.health.damping.map(|d| d.reuse), Some(500));
    assert_eq!(a.health.loss_threshold.map(|p| p.basis_points), Some(1250));
    assert_eq!(a.health.targets.len(), 3);
    assert_eq!(cfg.routes[0].target, RouteTarget::Via(vec![0, 1]));
    assert_eq!(cfg.policies[0].proto, Some(values::Protocol::Tcp));
    assert_eq!(cfg.policies[1].ingress, Some(Ingress::Lan(0)));
    assert_eq!(cfg.policies[3].action, PolicyAction::NoBalance);
    assert_eq!(cfg.policies[3].ingress, Some(Ingress::Port(0)));
    assert_eq!(cfg.lans[0].v6.len(), 1);
    assert_eq!(cfg.workers.cores, vec![2, 3, 1]);
    assert_eq!((cfg.workers.batch, cfg.workers.idle_rounds, cfg.workers.copy_fill), (32, 4, 512));
    assert_eq!(cfg.conntrack.udp, Duration::from_secs(60));
    assert_eq!(cfg.status.socket, Some(PathBuf::from("/run/mh.sock")));
    assert_eq!(cfg.vlan_tag(a.port), Some((832, 6)));
    assert_eq!(cfg.device(cfg.uplinks[1].port), "eth1");
    assert!(!crate::summary::render(&cfg).is_empty());
}
