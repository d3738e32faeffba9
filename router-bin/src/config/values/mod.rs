//! Parsers for the small value languages used inside config strings: durations, prefixes, interface
//! addresses, port ranges, percentages and IP protocols. None of them panics on any input.

mod duration;
mod ip;
mod percent;
mod ports;

pub use duration::{format_duration, parse_duration};
pub use ip::{
    parse_addr, parse_any_addr, parse_ifaddr, parse_prefix, parse_prefix_of, IfAddr, IpFamily, IpPrefix, Prefix,
};
pub use percent::{parse_percent, Percent};
pub use ports::{parse_port_range, parse_protocol, PortRange, Protocol};

/// A config string that does not parse as the value its key expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{input}\" is not {expected}: {reason}")]
pub struct ValueError {
    /// The text as written (truncated when very long).
    pub input: String,
    /// What the key expects, with an article: "a duration", "an IPv4 address with prefix length".
    pub expected: &'static str,
    /// What is wrong and, where possible, what would be right.
    pub reason: String,
}

impl ValueError {
    pub(crate) fn new(input: &str, expected: &'static str, reason: impl Into<String>) -> Self {
        // A pasted megabyte should not come back in an error message.
        let input = if input.chars().count() > 64 {
            let mut cut: String = input.chars().take(64).collect();
            cut.push('…');
            cut
        } else {
            input.to_owned()
        };
        ValueError { input, expected, reason: reason.into() }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    /// Every parser on many random strings built from characters that matter to them: errors, never panics.
    #[test]
    fn random_input_never_panics() {
        const ALPHABET: &[&str] = &[
            "0",
            "1",
            "9",
            "25",
            "65535",
            "4294967296",
            ".",
            ":",
            "::",
            "/",
            "-",
            "%",
            " ",
            "s",
            "ms",
            "h",
            "d",
            "x",
            "é",
            "µ",
            "ff",
            "\u{0}",
            "18446744073709551615",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            // xorshift64: deterministic, so a failure reproduces.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 8) as usize;
            let s: String = (0..len).map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize]).collect();
            let _ = parse_duration(&s);
            let _ = parse_prefix(&s);
            let _ = parse_prefix_of::<Ipv6Addr>(&s);
            let _ = parse_ifaddr::<Ipv4Addr>(&s);
            let _ = parse_ifaddr::<Ipv6Addr>(&s);
            let _ = parse_addr::<Ipv4Addr>(&s);
            let _ = parse_any_addr(&s);
            let _ = parse_port_range(&s);
            let _ = parse_percent(&s);
            let _ = parse_protocol(&s);
        }
    }

    #[test]
    fn long_input_is_truncated_in_errors() {
        let long = "9".repeat(10_000);
        let err = parse_duration(&long).unwrap_err();
        assert!(err.input.chars().count() <= 65, "{}", err.input);
        assert!(err.to_string().len() < 400);
    }
}
