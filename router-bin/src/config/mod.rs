//! The site configuration: TOML schema, validation, and the typed [`SiteConfig`] it produces.
//!
//! Loading runs in three steps, each collecting every problem it finds: TOML syntax; the schema of
//! each section entry on its own (unknown keys, wrong types); then the validation pass across
//! entries. Every problem names its key path (`uplink[1].gateway`) and, when known, `file:line:col`.

pub mod error;
pub mod model;
mod raw;
pub mod source;
mod suggest;
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
            problem: Problem::Unreadable { path: origin.clone(), reason: e.to_string() },
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
    // A key set aside by the schema pass (wrong type) was reported there; its absence is not news.
    let set_aside: Vec<KeyPath> = errors.iter().map(|e| e.path.clone()).collect();
    for (path, entry, problem) in ctx.problems {
        let echo = match &problem {
            Problem::Missing { key, .. } => set_aside.contains(&path.key(key)) || set_aside.contains(&path),
            _ => false,
        };
        if !echo {
            errors.push(ConfigError { location: map.locate(&path), path, entry, problem });
        }
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
fn from_toml(
    map: &SourceMap,
    e: &toml::de::Error,
    fallback: KeyPath,
    entry: Option<String>,
    syntax: bool,
) -> ConfigError {
    let span = e.span();
    let path = span.as_ref().and_then(|s| map.path_at(s)).filter(|p| p.as_str().len() >= fallback.as_str().len());
    let location = span.map(|s| map.location(s.start)).or_else(|| map.locate(&fallback));
    let message = e.message().trim().replace('\n', "; ");
    let problem = if syntax {
        Problem::Syntax(message)
    } else {
        Problem::Schema(suggest::unknown_field_hint(&message).unwrap_or(message))
    };
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
            let close = suggest::closest(name, LISTS.iter().chain(TABLES.iter()).copied());
            Some(Problem::UnknownSection { key: name.to_owned(), hint: close.map(str::to_owned) })
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

/// Deserializes one entry, collecting every schema error in it: after each error the offending key
/// is set aside and the entry tried again, so a typo does not hide the entry's other problems.
fn de<T: DeserializeOwned>(value: &Spanned<DeValue<'_>>) -> (Option<T>, Vec<toml::de::Error>) {
    let mut value = value.clone();
    let mut errors = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    // Bounded: each round removes one key.
    for _ in 0..64 {
        match T::deserialize(value.clone().into_deserializer()) {
            Ok(v) => return (Some(v), errors),
            Err(e) => {
                // A required key we set aside is now "missing": that is not news to the user.
                if removed.iter().any(|k| e.message().contains(&format!("missing field `{k}`"))) {
                    return (None, errors);
                }
                let key = e.span().and_then(|span| remove_at(value.get_mut(), &span));
                errors.push(e);
                match key {
                    Some(k) => removed.push(k),
                    None => return (None, errors),
                }
            }
        }
    }
    (None, errors)
}

/// Removes the table key at `span` (its key, else the innermost value covering it); returns its name.
fn remove_at(value: &mut DeValue<'_>, span: &std::ops::Range<usize>) -> Option<String> {
    remove_key(value, &|key, _| key == *span)
        .or_else(|| remove_key(value, &|_, v: std::ops::Range<usize>| v.start <= span.start && span.end <= v.end))
}

/// Depth-first: removes the deepest key for which `hit(key span, value span)` holds.
fn remove_key(
    value: &mut DeValue<'_>,
    hit: &dyn Fn(std::ops::Range<usize>, std::ops::Range<usize>) -> bool,
) -> Option<String> {
    match value {
        DeValue::Table(table) => {
            for (_, v) in table.iter_mut() {
                if let Some(inner) = remove_key(v.get_mut(), hit) {
                    return Some(inner);
                }
            }
            let name = table.iter().find(|(k, v)| hit(k.span(), v.span())).map(|(k, _)| k.get_ref().to_string())?;
            table.remove(name.as_str());
            Some(name)
        }
        DeValue::Array(items) => items.iter_mut().find_map(|v| remove_key(v.get_mut(), hit)),
        _ => None,
    }
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
    macro_rules! push {
        ($field:ident) => {{
            let (value, es) = de(item);
            errors.extend(es.iter().map(|e| from_toml(map, e, path.clone(), name.clone(), false)));
            match value {
                Some(v) => raw.$field.push(Item { path: path.clone(), raw: v }),
                None => {
                    if let Some(n) = &name {
                        raw.broken.entry(section).or_default().insert(n.clone());
                    }
                }
            }
        }};
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
    fn set<T: DeserializeOwned>(value: &Spanned<DeValue<'_>>, slot: &mut T) -> Vec<toml::de::Error> {
        let (v, es) = de(value);
        if let Some(v) = v {
            *slot = v;
        }
        es
    }
    let es = match section {
        "balance" => set(value, &mut raw.balance),
        "conntrack" => set(value, &mut raw.conntrack),
        "workers" => set(value, &mut raw.workers),
        _ => set(value, &mut raw.status),
    };
    errors.extend(es.iter().map(|e| from_toml(map, e, path.clone(), None, false)));
}
