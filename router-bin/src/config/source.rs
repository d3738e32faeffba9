//! Where each key of a config file is: key paths (`uplink[1].gateway`) mapped to byte spans, and
//! byte offsets turned into `line:col`, so every error can point at the text it is about.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// A dotted key path with array indices, as the user would name a key: `uplink[1].health.interval`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct KeyPath(String);

impl KeyPath {
    /// The path of a top-level key.
    pub fn root(key: &str) -> KeyPath {
        KeyPath(key.to_owned())
    }

    /// The path of element `i` of the array at this path.
    pub fn index(&self, i: usize) -> KeyPath {
        KeyPath(format!("{}[{i}]", self.0))
    }

    /// The path of `key` inside the table at this path.
    pub fn key(&self, key: &str) -> KeyPath {
        if self.0.is_empty() {
            KeyPath(key.to_owned())
        } else {
            KeyPath(format!("{}.{key}", self.0))
        }
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The enclosing path (`uplink[1].gateway` → `uplink[1]` → `uplink`), if any.
    fn parent(&self) -> Option<KeyPath> {
        let cut = self.0.rfind(['.', '['])?;
        Some(KeyPath(self.0[..cut].to_owned()))
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(top level)")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// A position in a config file, 1-based.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// File name as given on the command line.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// Spans of every key and value of one parsed document.
#[derive(Debug, Default)]
pub struct SourceMap {
    origin: String,
    text: String,
    /// path -> (span of the key, if the path ends in a key; span of the value)
    spans: HashMap<KeyPath, (Option<Range<usize>>, Range<usize>)>,
}

impl SourceMap {
    /// Indexes `root`, parsed from `text` read from `origin`.
    pub fn new(origin: &str, text: &str, root: &Spanned<DeTable<'_>>) -> SourceMap {
        let mut map = SourceMap { origin: origin.to_owned(), text: text.to_owned(), spans: HashMap::new() };
        map.spans.insert(KeyPath::default(), (None, root.span()));
        map.walk_table(&KeyPath::default(), root.get_ref());
        map
    }

    fn walk_table(&mut self, path: &KeyPath, table: &DeTable<'_>) {
        for (key, value) in table.iter() {
            let child = path.key(key.get_ref());
            self.spans.insert(child.clone(), (Some(key.span()), value.span()));
            self.walk_value(&child, value);
        }
    }

    fn walk_value(&mut self, path: &KeyPath, value: &Spanned<DeValue<'_>>) {
        match value.get_ref() {
            DeValue::Table(t) => self.walk_table(path, t),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let child = path.index(i);
                    self.spans.insert(child.clone(), (None, item.span()));
                    self.walk_value(&child, item);
                }
            }
            _ => {}
        }
    }

    /// Where the value of `path` starts, or its nearest existing ancestor (a missing key points at its table).
    pub fn locate(&self, path: &KeyPath) -> Option<Location> {
        let mut p = Some(path.clone());
        while let Some(candidate) = p {
            if let Some((key, value)) = self.spans.get(&candidate) {
                // A missing or table-valued key is best shown by its key; a scalar by its value.
                let at = if candidate != *path { key.as_ref().unwrap_or(value).start } else { value.start };
                return Some(self.location(at));
            }
            p = candidate.parent();
        }
        None
    }

    /// The most specific key path whose key or value covers `span` (for errors that only carry a span).
    pub fn path_at(&self, span: &Range<usize>) -> Option<KeyPath> {
        let mut best: Option<(&KeyPath, usize)> = None;
        for (path, (key, value)) in &self.spans {
            let exact_key = key.as_ref() == Some(span);
            let covers = value.start <= span.start && span.end <= value.end;
            if exact_key {
                return Some(path.clone());
            }
            if covers && best.is_none_or(|(_, len)| value.len() < len) {
                best = Some((path, value.len()));
            }
        }
        best.map(|(p, _)| p.clone())
    }

    /// 1-based line and column of a byte offset.
    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(&self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Location { file: self.origin.clone(), line, col }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_of_keys_and_array_elements() {
        let text = "[[uplink]]\nname = \"a\"\ngateway = \"1.2.3.4\"\n\n[[uplink]]\nname = \"b\"\n[uplink.health]\ntargets = [\"gateway\", \"192.0.2.1\"]\n";
        let root = DeTable::parse(text).unwrap();
        let map = SourceMap::new("t.toml", text, &root);
        assert_eq!(map.locate(&KeyPath::root("uplink").index(0).key("gateway")).unwrap().to_string(), "t.toml:3:11");
        let target = KeyPath::root("uplink").index(1).key("health").key("targets").index(1);
        assert_eq!(map.locate(&target).unwrap().line, 8);
        // A missing key points into its table.
        let missing = KeyPath::root("uplink").index(1).key("port");
        assert!(map.locate(&missing).unwrap().line >= 5);
        assert_eq!(map.path_at(&(22..29)).map(|p| p.to_string()), Some("uplink[0].gateway".to_owned()));
    }

    #[test]
    fn key_path_rendering() {
        let p = KeyPath::root("route").index(3).key("via");
        assert_eq!(p.to_string(), "route[3].via");
        assert_eq!(p.parent().unwrap().to_string(), "route[3]");
        assert_eq!(KeyPath::default().to_string(), "(top level)");
    }
}
