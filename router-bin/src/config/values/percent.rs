//! Percentages such as "30%".

use std::fmt;

use super::ValueError;

/// A percentage with two decimals of precision, stored in basis points (`30%` = 3000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent {
    /// Hundredths of a percent, 0..=10000.
    pub basis_points: u16,
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.basis_points / 100, self.basis_points % 100);
        if frac == 0 {
            write!(f, "{whole}%")
        } else {
            write!(f, "{whole}.{frac:02}%")
        }
    }
}

/// Parses `"30%"` or `"2.5%"` (0 to 100).
pub fn parse_percent(s: &str) -> Result<Percent, ValueError> {
    const EXPECTED: &str = "a percentage";
    let t = s.trim();
    let Some(number) = t.strip_suffix('%') else {
        return Err(ValueError::new(s, EXPECTED, "write a number followed by %, e.g. \"30%\""));
    };
    let (whole, frac) = number.trim().split_once('.').unwrap_or((number.trim(), ""));
    let digits = |d: &str| !d.is_empty() && d.len() <= 3 && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(frac.is_empty() || (frac.len() <= 2 && frac.bytes().all(|b| b.is_ascii_digit()))) {
        return Err(ValueError::new(
            s,
            EXPECTED,
            "write a number from 0 to 100 with at most two decimals, e.g. \"30%\"",
        ));
    }
    let whole: u16 = whole.parse().unwrap_or(u16::MAX);
    let frac: u16 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().unwrap_or(u16::MAX) };
    let basis_points = whole.saturating_mul(100).saturating_add(frac);
    if basis_points > 10_000 {
        return Err(ValueError::new(s, EXPECTED, "it is above 100%"));
    }
    Ok(Percent { basis_points })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("30%"), Ok(Percent { basis_points: 3000 }));
        assert_eq!(parse_percent("2.5%"), Ok(Percent { basis_points: 250 }));
        assert_eq!(parse_percent("100%").unwrap().to_string(), "100%");
        assert_eq!(parse_percent("0.25%").unwrap().to_string(), "0.25%");
        for bad in ["", "%", "30", "101%", "1000%", "9999999%", "-1%", "3.333%", "x%", ".5%", "5.%x", "30 %%"] {
            assert!(parse_percent(bad).is_err(), "{bad}");
        }
    }
}
