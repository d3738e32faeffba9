//! The validation pass: raw TOML structs in, a typed [`SiteConfig`] out, or every problem found.

mod health;
mod ports;
mod routing;
mod tuning;
mod uplinks;

use std::collections::{HashMap, HashSet};
use std::ops::RangeInclusive;

use super::error::Problem;
use super::model::SiteConfig;
use super::raw::{
    OneOrMany, RawBalance, RawConntrack, RawLan, RawPolicy, RawPort, RawRoute, RawStatus, RawUplink, RawWorkers,
};
use super::source::KeyPath;
use super::values::ValueError;

/// One entry of an array-of-tables section, with its path (`uplink[2]`).
pub(crate) struct Item<T> {
    pub path: KeyPath,
    pub raw: T,
}

/// The document after schema checks; entries that failed them are left out but their names kept.
#[derive(Default)]
pub(crate) struct RawSite {
    pub ports: Vec<Item<RawPort>>,
    pub lans: Vec<Item<RawLan>>,
    pub uplinks: Vec<Item<RawUplink>>,
    pub routes: Vec<Item<RawRoute>>,
    pub policies: Vec<Item<RawPolicy>>,
    pub balance: RawBalance,
    pub conntrack: RawConntrack,
    pub workers: RawWorkers,
    pub status: RawStatus,
    /// Names of entries that failed the schema, per section: references to them are not reported again.
    pub broken: HashMap<&'static str, HashSet<String>>,
    /// Entries written per section, including broken ones.
    pub written: HashMap<&'static str, usize>,
}

/// Problems found so far, each with its key path and entry name.
#[derive(Default)]
pub(crate) struct Ctx {
    pub problems: Vec<(KeyPath, Option<String>, Problem)>,
}

/// The entry being validated: its path and name, to label errors.
#[derive(Clone)]
pub(crate) struct Here {
    pub path: KeyPath,
    pub name: Option<String>,
}

impl Here {
    fn new(path: &KeyPath, name: Option<&str>) -> Here {
        Here { path: path.clone(), name: name.map(str::to_owned) }
    }

    fn key(&self, key: &str) -> KeyPath {
        self.path.key(key)
    }

    /// Like [`Here::key`] for a table nested in the entry (`health`).
    fn nested(&self, key: &str) -> Here {
        Here { path: self.path.key(key), name: self.name.clone() }
    }
}

impl Ctx {
    fn report(&mut self, here: &Here, path: KeyPath, problem: impl Into<Problem>) {
        self.problems.push((path, here.name.clone(), problem.into()));
    }

    fn at(&mut self, here: &Here, key: &str, problem: impl Into<Problem>) {
        self.report(here, here.key(key), problem);
    }

    /// Parses an optional string key with `parse`; a failure is reported and yields `None`.
    fn parse<T>(
        &mut self,
        here: &Here,
        key: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Option<T> {
        match parse(value?) {
            Ok(v) => Some(v),
            Err(e) => {
                self.at(here, key, e);
                None
            }
        }
    }

    /// Checks an optional integer key against `range`; a failure is reported and yields `None`.
    fn int(
        &mut self,
        here: &Here,
        key: &str,
        value: Option<i64>,
        range: RangeInclusive<i64>,
        rule: &'static str,
    ) -> Option<i64> {
        let v = value?;
        if range.contains(&v) {
            Some(v)
        } else {
            self.at(here, key, Problem::OutOfRange { value: v, rule });
            None
        }
    }

    /// Maps an optional word to its meaning; an unknown word is reported and yields `None`.
    fn word<T: Copy>(&mut self, here: &Here, key: &str, value: Option<&str>, words: &[(&'static str, T)]) -> Option<T> {
        let v = value?;
        match words.iter().find(|(w, _)| *w == v) {
            Some((_, t)) => Some(*t),
            None => {
                let allowed = words.iter().map(|(w, _)| *w).collect();
                self.at(here, key, Problem::NotOneOf { value: v.to_owned(), allowed });
                None
            }
        }
    }
}

/// Names of one kind of entry, for duplicate detection and reference resolution.
pub(crate) struct Names {
    kind: &'static str,
    by_name: HashMap<String, (usize, KeyPath)>,
    order: Vec<String>,
    broken: HashSet<String>,
}

impl Names {
    fn new(kind: &'static str, broken: Option<&HashSet<String>>) -> Names {
        Names { kind, by_name: HashMap::new(), order: Vec::new(), broken: broken.cloned().unwrap_or_default() }
    }

    /// Registers entry `index`; reports an invalid or duplicate name.
    fn register(&mut self, ctx: &mut Ctx, here: &Here, index: usize, name: &str) {
        if let Some(reason) = name_problem(name) {
            ctx.at(here, "name", Problem::BadName { name: name.to_owned(), reason });
            return;
        }
        if let Some((_, first)) = self.by_name.get(name) {
            let what = match self.kind {
                "port" => "port name",
                "LAN" => "LAN name",
                _ => "uplink name",
            };
            let first = first.clone();
            ctx.at(
                here,
                "name",
                Problem::Duplicate { what, name: name.to_owned(), first, hint: "names must be unique" },
            );
            return;
        }
        self.by_name.insert(name.to_owned(), (index, here.path.clone()));
        self.order.push(name.to_owned());
    }

    fn get(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).map(|(i, _)| *i)
    }

    /// Resolves a reference at `path`; reports it unless it names a broken entry (already reported).
    fn resolve(&self, ctx: &mut Ctx, here: &Here, path: KeyPath, name: &str) -> Option<usize> {
        if let Some(i) = self.get(name) {
            return Some(i);
        }
        if !self.broken.contains(name) {
            let problem = Problem::Unresolved { kind: self.kind, name: name.to_owned(), known: self.order.clone() };
            ctx.report(here, path, problem);
        }
        None
    }
}

/// Why a name cannot be used, if it cannot.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 32 {
        Some("it is longer than 32 characters")
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        Some("use letters, digits, '-', '_' and '.' only, so it can be typed in commands and logs")
    } else {
        None
    }
}

/// Path of element `i` of a string-or-list key.
fn elem_path(here: &Here, key: &str, values: &OneOrMany, i: usize) -> KeyPath {
    if values.list {
        here.key(key).index(i)
    } else {
        here.key(key)
    }
}

/// Validates the whole site; `None` if any problem was reported.
pub(crate) fn site(raw: &RawSite, ctx: &mut Ctx) -> Option<SiteConfig> {
    let (ports, port_names) = ports::ports(ctx, raw);
    let (lans, lan_addrs, lan_names) = ports::lans(ctx, raw, &port_names);
    let workers = tuning::workers(ctx, &raw.workers);
    let (uplinks, uplink_names) = uplinks::uplinks(ctx, raw, &port_names, workers.cores.len());
    ports::roles(ctx, raw, &lans, &uplinks);
    uplinks::against_lans(ctx, raw, &lan_addrs, &uplinks);
    uplinks::nat_pools(ctx, raw, &uplinks);
    let routes = routing::routes(ctx, raw, &uplink_names, &uplinks);
    let policies = routing::policies(ctx, raw, &uplink_names, &uplinks, &lan_names, &port_names, &lans);
    let balance = tuning::balance(ctx, &raw.balance);
    let conntrack = tuning::conntrack(ctx, &raw.conntrack);
    let status = tuning::status(ctx, &raw.status);

    for (section, what) in [
        (
            "uplink",
            "no [[uplink]] is defined: a multihoming router needs at least one uplink (name, port, address, gateway)",
        ),
        ("lan", "no [[lan]] is defined: add the inside network(s) to route for (name, port, address)"),
    ] {
        if raw.written.get(section).copied().unwrap_or(0) == 0 {
            ctx.problems.push((KeyPath::root(section), None, Problem::Empty(what)));
        }
    }

    if !ctx.problems.is_empty() {
        return None;
    }
    Some(SiteConfig {
        ports: ports.into_iter().collect::<Option<_>>()?,
        lans: lans.into_iter().collect::<Option<_>>()?,
        uplinks: uplinks.into_iter().collect::<Option<_>>()?,
        routes,
        policies,
        balance,
        conntrack,
        workers,
        status,
    })
}
