//! Config errors: each names the key it is about, says what is wrong and what would be right.

use std::fmt;

use super::source::{KeyPath, Location};
use super::values::ValueError;

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Where in the file, when known.
    pub location: Option<Location>,
    /// The key the problem is about, e.g. `uplink[1].gateway`.
    pub path: KeyPath,
    /// The `name` of the entry holding the key, to help find `uplink[1]` in a long file.
    pub entry: Option<String>,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        // Syntax errors have no key path, only a location.
        if !self.path.as_str().is_empty() {
            write!(f, "{}", self.path)?;
            if let Some(name) = &self.entry {
                write!(f, " (in \"{name}\")")?;
            }
            f.write_str(": ")?;
        }
        write!(f, "{}", self.problem)
    }
}

/// What is wrong with a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The file cannot be read.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The file as given.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The file is not valid TOML.
    #[error("TOML syntax error: {0}")]
    Syntax(String),
    /// The TOML is valid but does not fit the schema (unknown key, wrong type, missing key).
    #[error("{0}")]
    Schema(String),
    /// A top-level key that is not a section of this config.
    #[error(
        "unknown section `{key}`{}; the sections are [[port]], [[lan]], [[uplink]], [[route]], [[policy]], [balance], [conntrack], [workers], [status]",
        hint.as_ref().map(|h| format!(" (did you mean `{h}`?)")).unwrap_or_default()
    )]
    UnknownSection {
        /// As written.
        key: String,
        /// The closest section name, if the key looks like a typo of it.
        hint: Option<String>,
    },
    /// A section written as a table where a list of tables is expected, or the reverse.
    #[error("`{key}` must be written as {expected}")]
    SectionShape {
        /// The section.
        key: String,
        /// How it must be written.
        expected: &'static str,
    },
    /// A string that does not parse as the value the key expects.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// A word that is not one of the accepted ones.
    #[error(
        "\"{value}\" is not accepted; write one of {}{}",
        quote_all(allowed),
        super::suggest::closest(value, allowed.iter().copied()).map(|c| format!(" (did you mean \"{c}\"?)")).unwrap_or_default()
    )]
    NotOneOf {
        /// As written.
        value: String,
        /// The accepted words.
        allowed: Vec<&'static str>,
    },
    /// A number outside its range.
    #[error("{value} is out of range: {rule}")]
    OutOfRange {
        /// As written.
        value: i64,
        /// The range and why, e.g. "a VLAN id is 1 to 4094 (0 and 4095 are reserved)".
        rule: &'static str,
    },
    /// An invalid name.
    #[error("name `{name}` is not usable: {reason}")]
    BadName {
        /// As written.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Two entries with the same name, or the same thing listed twice.
    #[error("{what} \"{name}\" is already used by {first}; {hint}")]
    Duplicate {
        /// What is duplicated: "port name", "core".
        what: &'static str,
        /// The duplicated value.
        name: String,
        /// Where it was first used.
        first: KeyPath,
        /// What to do.
        hint: &'static str,
    },
    /// A reference to something that is not defined.
    #[error("\"{name}\" names no {kind}; {}", known_list(kind, known))]
    Unresolved {
        /// What was expected: "port", "physical port", "uplink", "LAN or port".
        kind: &'static str,
        /// As written.
        name: String,
        /// The names that would be accepted.
        known: Vec<String>,
    },
    /// A required key is absent.
    #[error("`{key}` is missing: {why}")]
    Missing {
        /// The key.
        key: &'static str,
        /// Why it is needed, and what to write.
        why: String,
    },
    /// An entry that lacks a whole group of keys (no match key, no action, neither kind of port).
    #[error("{0}")]
    Incomplete(String),
    /// A key that makes no sense together with another one.
    #[error("{0}")]
    Conflict(String),
    /// Addresses or prefixes that disagree with each other.
    #[error("{0}")]
    Addressing(String),
    /// A key that is recognised but whose feature is not built yet.
    #[error("{feature} is not supported yet; {hint}")]
    NotSupported {
        /// The feature as written.
        feature: &'static str,
        /// What to write instead.
        hint: &'static str,
    },
    /// A section that must exist at least once.
    #[error("{0}")]
    Empty(&'static str),
    /// A timing or threshold that cannot work.
    #[error("{0}")]
    Timing(String),
}

fn quote_all(words: &[&str]) -> String {
    words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ")
}

fn known_list(kind: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("no {kind} is defined")
    } else {
        let names: Vec<String> = known.iter().map(|n| format!("\"{n}\"")).collect();
        format!("defined: {}", names.join(", "))
    }
}

/// Every problem found in one config file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
