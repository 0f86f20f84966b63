//! The `Condition` element: every operator, `...IfExists`, the `ForAllValues:` and
//! `ForAnyValue:` set operators, `Null`, missing keys and multivalued keys, as the IAM User
//! Guide's "Condition operators" and "Multivalued context keys" pages say.

use std::net::IpAddr;

use super::Context;
use super::pattern::Pattern;

/// One operator, one key and its values, as a statement writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

/// How a set operator qualifies a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    Single,
    AnyValue,
    AllValues,
}

/// The positive operator a negated one is the opposite of.
fn positive(base: &str) -> Option<&'static str> {
    Some(match base {
        "StringNotEquals" => "StringEquals",
        "StringNotEqualsIgnoreCase" => "StringEqualsIgnoreCase",
        "StringNotLike" => "StringLike",
        "NumericNotEquals" => "NumericEquals",
        "DateNotEquals" => "DateEquals",
        "ArnNotEquals" => "ArnEquals",
        "ArnNotLike" => "ArnLike",
        "NotIpAddress" => "IpAddress",
        _ => return None,
    })
}

impl Condition {
    /// Whether the condition holds for the request. `variables`: the document is
    /// `2012-10-17`, so its values' policy variables are filled in. An operator IAM does not
    /// have never holds.
    pub fn holds(&self, context: &Context, variables: bool) -> bool {
        let (set, rest) = if let Some(rest) = self.operator.strip_prefix("ForAnyValue:") {
            (Set::AnyValue, rest)
        } else if let Some(rest) = self.operator.strip_prefix("ForAllValues:") {
            (Set::AllValues, rest)
        } else {
            (Set::Single, self.operator.as_str())
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) if base != "Null" => (base, true),
            _ => (rest, false),
        };
        let present = context.values(&self.key).filter(|v| !v.is_empty());
        if base == "Null" {
            return self.values.iter().any(|v| match v.to_lowercase().as_str() {
                "true" => present.is_none(),
                "false" => present.is_some(),
                _ => false,
            });
        }
        let (op, negated) = match positive(base) {
            Some(op) => (op, true),
            None => (base, false),
        };
        if !KNOWN.contains(&op) {
            return false;
        }
        let Some(values) = present else {
            return match set {
                _ if if_exists => true,
                Set::AllValues => true,
                Set::AnyValue => false,
                // A negated operator holds when the key is absent: nothing equals it.
                Set::Single => negated,
            };
        };
        let fill = variables.then_some(context);
        // A value whose variable the request cannot fill matches nothing.
        let policy: Vec<Option<Pattern>> =
            self.values.iter().map(|v| Pattern::new(v, fill)).collect();
        let matches_any = |value: &str| policy.iter().flatten().any(|p| compare(op, value, p));
        match (set, negated) {
            (Set::Single, false) => values.iter().any(|v| matches_any(v)),
            (Set::Single, true) => !values.iter().any(|v| matches_any(v)),
            (Set::AnyValue, false) => values.iter().any(|v| matches_any(v)),
            (Set::AnyValue, true) => values.iter().any(|v| !matches_any(v)),
            (Set::AllValues, false) => values.iter().all(|v| matches_any(v)),
            (Set::AllValues, true) => values.iter().all(|v| !matches_any(v)),
        }
    }
}

/// The positive operators.
const KNOWN: [&str; 18] = [
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "NumericEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "ArnEquals",
    "ArnLike",
];

/// Whether a context value matches one policy value under a positive operator.
fn compare(op: &str, value: &str, policy: &Pattern) -> bool {
    let literal = || policy.literal();
    match op {
        "StringEquals" | "BinaryEquals" => value == literal(),
        "StringEqualsIgnoreCase" => value.to_lowercase() == literal().to_lowercase(),
        "StringLike" => policy.matches(value, false),
        "Bool" => value.eq_ignore_ascii_case(&literal()),
        "ArnEquals" | "ArnLike" => policy.matches_arn(value),
        "IpAddress" => in_range(value, &literal()),
        _ if op.starts_with("Numeric") => ordered(op, number(value), number(&literal())),
        _ if op.starts_with("Date") => ordered(op, date(value), date(&literal())),
        _ => false,
    }
}

/// `...Equals`, `...LessThan`, ... of two numbers, when both parse.
fn ordered(op: &str, value: Option<f64>, policy: Option<f64>) -> bool {
    let (Some(v), Some(p)) = (value, policy) else {
        return false;
    };
    match op.trim_start_matches("Numeric").trim_start_matches("Date") {
        "Equals" => (v - p).abs() < f64::EPSILON,
        "LessThan" => v < p,
        "LessThanEquals" => v <= p,
        "GreaterThan" => v > p,
        "GreaterThanEquals" => v >= p,
        _ => false,
    }
}

fn number(text: &str) -> Option<f64> {
    text.trim().parse().ok()
}

/// A date as seconds since 1970: epoch seconds, or ISO 8601 (`2026-01-01`,
/// `2026-01-01T12:00:00Z`).
pub fn date(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Some(seconds);
    }
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    let time = humantime::parse_rfc3339_weak(full.trim_end_matches('Z')).ok()?;
    let since = time.duration_since(std::time::UNIX_EPOCH).ok()?;
    #[allow(clippy::cast_precision_loss)] // seconds since 1970 fit a double exactly
    Some(since.as_secs() as f64)
}

/// Whether an address is in a CIDR range (or is the address, without a prefix length).
fn in_range(address: &str, range: &str) -> bool {
    let Ok(address) = address.trim().parse::<IpAddr>() else {
        return false;
    };
    let (base, bits) = match range.trim().split_once('/') {
        Some((base, bits)) => (base, bits.parse::<u32>().ok()),
        None => (range.trim(), None),
    };
    let Ok(base) = base.parse::<IpAddr>() else {
        return false;
    };
    match (address, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}
