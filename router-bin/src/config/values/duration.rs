//! Durations written as "100ms", "2s", "5m", "2h", "2h4m".

use std::time::Duration;

use super::ValueError;

/// Parses a duration such as `100ms`, `2s`, `5m`, `2h`, `1d` or a sum like `2h4m`.
pub fn parse_duration(s: &str) -> Result<Duration, ValueError> {
    const EXPECTED: &str = "a duration";
    const HINT: &str = "write a number and a unit (us, ms, s, m, h, d) such as \"100ms\", \"2s\", \"5m\", \"2h\"";
    let t = s.trim();
    if t.is_empty() {
        return Err(ValueError::new(s, EXPECTED, format!("it is empty; {HINT}")));
    }
    let mut total: u64 = 0; // nanoseconds
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(ValueError::new(s, EXPECTED, format!("expected a number at `{rest}`; {HINT}")));
        }
        let number: u64 =
            rest[..digits].parse().map_err(|_| ValueError::new(s, EXPECTED, "the number is too large".to_string()))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let scale: u64 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" | "min" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            "" if rest.starts_with('.') => {
                return Err(ValueError::new(s, EXPECTED, "fractions are not accepted; use a smaller unit, e.g. 1500ms"))
            }
            "" => return Err(ValueError::new(s, EXPECTED, format!("the unit is missing; {HINT}"))),
            other => return Err(ValueError::new(s, EXPECTED, format!("unknown unit `{other}`; {HINT}"))),
        };
        total = number
            .checked_mul(scale)
            .and_then(|n| total.checked_add(n))
            .ok_or_else(|| ValueError::new(s, EXPECTED, "it is too long (more than 500 years)"))?;
        rest = rest[unit_len..].trim_start();
    }
    Ok(Duration::from_nanos(total))
}

/// Formats a duration the way a user would write it (`100ms`, `2s`, `7440s`, `2h`).
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_owned();
    }
    if ns.is_multiple_of(1_000_000_000) {
        let secs = ns / 1_000_000_000;
        let parts = [(secs / 3600, "h"), (secs / 60 % 60, "m"), (secs % 60, "s")];
        return parts.iter().filter(|(n, _)| *n != 0).map(|(n, unit)| format!("{n}{unit}")).collect();
    }
    for (scale, unit) in [(1_000_000, "ms"), (1_000, "us")] {
        if ns.is_multiple_of(scale) {
            return format!("{}{unit}", ns / scale);
        }
    }
    format!("{ns}ns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("2h4m"), Ok(Duration::from_secs(7440)));
        assert_eq!(parse_duration(" 7440s "), Ok(Duration::from_secs(7440)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("10 s"), Ok(Duration::from_secs(10)));
    }

    #[test]
    fn duration_garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            " ",
            "10",
            "10 parsecs",
            "s",
            "ms10",
            "1.5s",
            "-1s",
            "+1s",
            "1e3ms",
            "10sx",
            "∞",
            "100000000000000000000s",
            "99999999999d",
            "5m5",
            "1s 2",
            "µ",
            "ß",
            "1m m",
            "\u{0}",
            "18446744073709551615ns1h",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert_eq!(err.expected, "a duration");
        }
        let err = parse_duration("10 parsecs").unwrap_err();
        assert!(err.to_string().contains("unknown unit `parsecs`"), "{err}");
    }

    #[test]
    fn duration_formatting_round_trips() {
        for text in ["100ms", "2s", "5m", "2h", "250us", "7s"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(format_duration(Duration::from_secs(7440)), "2h4m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }
}
