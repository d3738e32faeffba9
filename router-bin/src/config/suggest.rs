//! "Did you mean" for misspelt keys and words, the way cargo suggests a field name.

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Adds "; did you mean `x`?" to a serde "unknown field" message when one of its expected keys is close.
pub fn unknown_field_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, expected) = rest.split_once('`')?;
    let candidates = expected.split('`').skip(1).step_by(2);
    closest(field, candidates).map(|c| format!("{message}; did you mean `{c}`?"))
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("gatway", "gateway"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(closest("gatway", ["name", "gateway", "address"]), Some("gateway"));
        assert_eq!(closest("colour", ["name", "device", "vlan"]), None);
        assert_eq!(closest("weigthed", ["nth", "weighted", "hash"]), Some("weighted"));
        let msg = "unknown field `intreval`, expected one of `targets`, `interval`, `timeout`";
        assert_eq!(unknown_field_hint(msg).unwrap(), format!("{msg}; did you mean `interval`?"));
        assert_eq!(unknown_field_hint("invalid type: integer `5`, expected a string"), None);
    }
}
