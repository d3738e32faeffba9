//! The config file as written: serde structs that mirror the TOML one to one. Values stay strings or
//! wide integers here so that the validation pass can explain a bad one by its key.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// `[[port]]`: a physical port (`device`) or a VLAN on one (`on` + `vlan`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPort {
    pub name: String,
    pub device: Option<String>,
    pub xdp_mode: Option<String>,
    pub queues: Option<i64>,
    pub on: Option<String>,
    pub vlan: Option<i64>,
    pub pcp: Option<i64>,
}

/// `[[lan]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLan {
    pub name: String,
    pub port: String,
    pub address: OneOrMany,
    pub zone: Option<i64>,
}

/// `[[uplink]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUplink {
    pub name: String,
    pub port: String,
    pub address: String,
    pub gateway: Option<String>,
    pub address6: Option<String>,
    pub gateway6: Option<String>,
    pub distance: Option<i64>,
    pub weight: Option<i64>,
    pub nat: Option<String>,
    pub nat_ports: Option<String>,
    pub nptv6_inside: Option<String>,
    pub nptv6_outside: Option<String>,
    #[serde(default)]
    pub health: RawHealth,
}

/// `[uplink.health]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    pub targets: Option<Vec<String>>,
    pub interval: Option<String>,
    pub fast_interval: Option<String>,
    pub timeout: Option<String>,
    pub down_after: Option<i64>,
    pub up_after: Option<i64>,
    pub quorum: Option<i64>,
    pub loss_threshold: Option<String>,
    pub rtt_threshold: Option<String>,
    pub rescue: Option<String>,
    pub damping: Option<RawDamping>,
}

/// `damping = true|false` or `[uplink.health.damping]` with tuning.
#[derive(Debug)]
pub enum RawDamping {
    Enabled(bool),
    Tuned(RawDampingTable),
}

/// The table form of `damping`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDampingTable {
    pub half_life: Option<String>,
    pub suppress: Option<i64>,
    pub reuse: Option<i64>,
    pub max_suppress: Option<String>,
}

/// `[[route]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub to: String,
    pub via: Option<OneOrMany>,
    pub blackhole: Option<bool>,
    pub distance: Option<i64>,
}

/// `[[policy]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub src: Option<String>,
    pub dst: Option<String>,
    pub proto: Option<StrOrInt>,
    pub dst_port: Option<StrOrInt>,
    #[serde(rename = "in")]
    pub ingress: Option<String>,
    pub via: Option<OneOrMany>,
    pub table: Option<String>,
    pub balance: Option<bool>,
    pub granularity: Option<String>,
}

/// `[balance]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBalance {
    pub strategy: Option<String>,
    pub granularity: Option<String>,
}

/// `[conntrack]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConntrack {
    pub max_flows: Option<i64>,
    pub per_host_limit: Option<i64>,
    pub tcp_established: Option<String>,
    pub tcp_transitory: Option<String>,
    pub tcp_syn_sent: Option<String>,
    pub tcp_time_wait: Option<String>,
    pub udp: Option<String>,
    pub udp_min: Option<String>,
    pub icmp: Option<String>,
}

/// `[workers]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkers {
    pub cores: Option<Vec<i64>>,
    pub batch: Option<i64>,
    pub idle_rounds: Option<i64>,
    pub copy_fill: Option<i64>,
}

/// `[status]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStatus {
    pub socket: Option<String>,
}

/// A string or a list of strings (`via = "isp1"` or `via = ["isp1", "isp2"]`).
#[derive(Debug, Default, Clone)]
pub struct OneOrMany {
    /// The strings.
    pub items: Vec<String>,
    /// Whether they were written as a list (so errors can say `via[1]` rather than `via`).
    pub list: bool,
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany { items: vec![v.to_owned()], list: false })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut all = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    all.push(s);
                }
                Ok(OneOrMany { items: all, list: true })
            }
        }
        d.deserialize_any(V)
    }
}

/// A string or an integer (`proto = "tcp"` or `proto = 6`, `dst_port = 25` or `"8000-8100"`).
#[derive(Debug, Clone)]
pub struct StrOrInt(pub String);

impl<'de> Deserialize<'de> for StrOrInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StrOrInt;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrOrInt, E> {
                Ok(StrOrInt(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StrOrInt, E> {
                Ok(StrOrInt(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StrOrInt, E> {
                Ok(StrOrInt(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawDamping {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDamping;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false, or a table with half_life, suppress, reuse, max_suppress")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawDamping, E> {
                Ok(RawDamping::Enabled(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDamping, A::Error> {
                RawDampingTable::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawDamping::Tuned)
            }
        }
        d.deserialize_any(V)
    }
}
