//! The site configuration: TOML schema, validation, and the typed [`SiteConfig`] it produces.
//!
//! Loading runs in three steps, each collecting every problem it finds: TOML syntax; the schema of
//! each section entry on its own (unknown keys, wrong types); then the validation pass across
//! entries. Every problem names its key path (`uplink[1].gateway`) and, when known, `file:line:col`.

pub mod error;
pub mod model;
mod raw;
pub mod source;
mod validate;
pub mod values;

#[cfg(test)]
mod tests;

use std::path::Path;

use serde::de::{DeserializeOwned, IntoDeserializer};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

pub use error::{ConfigError, ConfigErrors, Problem};
pub use model::*;
pub use source::{KeyPath, Location};

use source::SourceMap;
use validate::{Ctx, Item, RawSite};

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<SiteConfig, ConfigErrors> {
    let origin = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &origin),
        Err(e) => Err(ConfigErrors(vec![ConfigError {
            location: None,
            path: KeyPath::default(),
            entry: None,
            problem: Problem::Syntax(format!("cannot read {origin}: {e}")),
        }])),
    }
}

/// Validates config `text`; `origin` names it in error locations.
pub fn parse(text: &str, origin: &str) -> Result<SiteConfig, ConfigErrors> {
    let (root, syntax) = DeTable::parse_recoverable(text);
    let map = SourceMap::new(origin, text, &root);
    if !syntax.is_empty() {
        let errors = syntax.iter().map(|e| from_toml(&map, e, KeyPath::default(), None, true)).collect();
        return Err(finish(errors));
    }
    let mut errors = Vec::new();
    let raw = sections(&map, root.get_ref(), &mut errors);
    let mut ctx = Ctx::default();
    let site = validate::site(&raw, &mut ctx);
    for (path, entry, problem) in ctx.problems {
        errors.push(ConfigError { location: map.locate(&path), path, entry, problem });
    }
    match site {
        Some(site) if errors.is_empty() => Ok(site),
        _ => Err(finish(errors)),
    }
}

/// Sorts errors into file order (stable, so problems at one key keep their discovery order).
fn finish(mut errors: Vec<ConfigError>) -> ConfigErrors {
    errors.sort_by(|a, b| {
        let key = |e: &ConfigError| e.location.as_ref().map(|l| (l.line, l.col));
        key(a).cmp(&key(b))
    });
    errors.dedup();
    ConfigErrors(errors)
}

/// Turns a toml/serde error into a [`ConfigError`], finding its key path from its span.
fn from_toml(map: &SourceMap, e: &toml::de::Error, fallback: KeyPath, entry: Option<String>, syntax: bool) -> ConfigError {
    let span = e.span();
    let path = span.as_ref().and_then(|s| map.path_at(s)).filter(|p| p.as_str().len() >= fallback.as_str().len());
    let location = span.map(|s| map.location(s.start)).or_else(|| map.locate(&fallback));
    let message = e.message().trim().replace('\n', "; ");
    let problem = if syntax { Problem::Syntax(message) } else { Problem::Schema(message) };
    ConfigError { location, path: path.unwrap_or(fallback), entry, problem }
}

const LISTS: [&str; 5] = ["port", "lan", "uplink", "route", "policy"];
const TABLES: [&str; 4] = ["balance", "conntrack", "workers", "status"];

/// Splits the document into sections and deserializes each entry on its own, so that one bad
/// entry does not hide the problems of the others.
fn sections(map: &SourceMap, root: &DeTable<'_>, errors: &mut Vec<ConfigError>) -> RawSite {
    let mut raw = RawSite::default();
    for (key, value) in root.iter() {
        let name: &str = key.get_ref();
        let path = KeyPath::root(name);
        let problem = if let Some(section) = LISTS.iter().find(|s| **s == name) {
            match value.get_ref() {
                DeValue::Array(items) => {
                    raw.written.insert(section, items.len());
                    for (i, item) in items.iter().enumerate() {
                        list_entry(map, &mut raw, section, path.index(i), item, errors);
                    }
                    None
                }
                _ => Some(Problem::SectionShape { key: name.to_owned(), expected: list_form(section) }),
            }
        } else if TABLES.contains(&name) {
            match value.get_ref() {
                DeValue::Table(_) => {
                    table_entry(map, &mut raw, name, path.clone(), value, errors);
                    None
                }
                _ => Some(Problem::SectionShape { key: name.to_owned(), expected: table_form(name) }),
            }
        } else {
            Some(Problem::UnknownSection(name.to_owned()))
        };
        if let Some(problem) = problem {
            errors.push(ConfigError { location: Some(map.location(key.span().start)), path, entry: None, problem });
        }
    }
    raw
}

fn list_form(section: &str) -> &'static str {
    match section {
        "port" => "[[port]] (one block per port)",
        "lan" => "[[lan]] (one block per LAN)",
        "uplink" => "[[uplink]] (one block per uplink)",
        "route" => "[[route]] (one block per route)",
        _ => "[[policy]] (one block per rule)",
    }
}

fn table_form(section: &str) -> &'static str {
    match section {
        "balance" => "a [balance] table",
        "conntrack" => "a [conntrack] table",
        "workers" => "a [workers] table",
        _ => "a [status] table",
    }
}

fn de<T: DeserializeOwned>(value: &Spanned<DeValue<'_>>) -> Result<T, toml::de::Error> {
    T::deserialize(value.clone().into_deserializer())
}

/// The `name` written in a table entry, if it is a string.
fn entry_name(value: &Spanned<DeValue<'_>>) -> Option<String> {
    value.get_ref().get("name").and_then(|n| n.get_ref().as_str()).map(str::to_owned)
}

fn list_entry(
    map: &SourceMap,
    raw: &mut RawSite,
    section: &'static str,
    path: KeyPath,
    item: &Spanned<DeValue<'_>>,
    errors: &mut Vec<ConfigError>,
) {
    let name = entry_name(item);
    let fail = |e: toml::de::Error, errors: &mut Vec<ConfigError>, raw: &mut RawSite| {
        errors.push(from_toml(map, &e, path.clone(), name.clone(), false));
        if let Some(n) = &name {
            raw.broken.entry(section).or_default().insert(n.clone());
        }
    };
    macro_rules! push {
        ($field:ident) => {
            match de(item) {
                Ok(v) => raw.$field.push(Item { path: path.clone(), raw: v }),
                Err(e) => fail(e, errors, raw),
            }
        };
    }
    match section {
        "port" => push!(ports),
        "lan" => push!(lans),
        "uplink" => push!(uplinks),
        "route" => push!(routes),
        _ => push!(policies),
    }
}

fn table_entry(
    map: &SourceMap,
    raw: &mut RawSite,
    section: &str,
    path: KeyPath,
    value: &Spanned<DeValue<'_>>,
    errors: &mut Vec<ConfigError>,
) {
    let result = match section {
        "balance" => de(value).map(|v| raw.balance = v),
        "conntrack" => de(value).map(|v| raw.conntrack = v),
        "workers" => de(value).map(|v| raw.workers = v),
        _ => de(value).map(|v| raw.status = v),
    };
    if let Err(e) = result {
        errors.push(from_toml(map, &e, path, None, false));
    }
}
