//! Virtual time: the only clock in the simulated world.
//!
//! Time is an integer count of nanoseconds since the scenario's origin `T0`.
//! Integers, not floats, so that two runs add the same numbers in the same
//! order and land on the same instant on every machine. Nothing in the library
//! reads the wall clock; `clippy.toml` bans it.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant of virtual time, in nanoseconds since the scenario origin `T0`.
///
/// In files it is written as a span since `T0`: `"43s"`, `"1m 30s"`,
/// `"250ms"`, or an integer number of nanoseconds.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of virtual time, in nanoseconds.
///
/// In files: `"43s"`, `"1m 30s"`, `"1.5s"`, `"250ms"`, `"80us"`, or an
/// integer number of nanoseconds.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimTime {
    /// The scenario origin `T0`.
    pub const ZERO: SimTime = SimTime(0);
    /// The latest representable instant (about 584 years after `T0`).
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// The instant `nanos` nanoseconds after `T0`.
    pub const fn from_nanos(nanos: u64) -> Self {
        SimTime(nanos)
    }
    /// The instant `secs` seconds after `T0`.
    pub const fn from_secs(secs: u64) -> Self {
        SimTime(secs * 1_000_000_000)
    }
    /// The instant `millis` milliseconds after `T0`.
    pub const fn from_millis(millis: u64) -> Self {
        SimTime(millis * 1_000_000)
    }
    /// Nanoseconds since `T0`.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Seconds since `T0`, as a float (for reports only, never for decisions).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// `self + d`, saturating at [`SimTime::MAX`].
    pub const fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The longest representable span.
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    /// A span of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: u64) -> Self {
        SimDuration(nanos)
    }
    /// A span of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        SimDuration(micros * 1_000)
    }
    /// A span of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        SimDuration(millis * 1_000_000)
    }
    /// A span of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        SimDuration(secs * 1_000_000_000)
    }
    /// A span of `secs` seconds given as a float, rounded to the nanosecond;
    /// negative and NaN give zero, overly large values saturate.
    pub fn from_secs_f64(secs: f64) -> Self {
        let ns = (secs * 1e9).round();
        if ns.is_nan() || ns <= 0.0 {
            SimDuration(0)
        } else if ns >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            SimDuration(ns as u64)
        }
    }
    /// Nanoseconds in this span.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Seconds, as a float (for reports and distributions).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// Milliseconds, as a float (for reports).
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    /// `self + other`, saturating.
    pub const fn saturating_add(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(other.0))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.saturating_since(earlier)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, other: SimDuration) -> SimDuration {
        self.saturating_add(other)
    }
}

impl fmt::Display for SimTime {
    /// `T0+12.345678900s`: seconds since the origin, to the nanosecond.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "T0+{}.{:09}s",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

impl fmt::Display for SimDuration {
    /// The largest unit that keeps the value readable: `850ns`, `1.5ms`, `43s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns < 1_000 {
            write!(f, "{ns}ns")
        } else if ns < 1_000_000 {
            write!(f, "{}us", ns as f64 / 1e3)
        } else if ns < 1_000_000_000 {
            write!(f, "{}ms", ns as f64 / 1e6)
        } else {
            write!(f, "{}s", ns as f64 / 1e9)
        }
    }
}

/// Parses a human duration: `"43s"`, `"1m 30s"`, `"1.5s"`, `"250ms"`,
/// `"80us"`, `"100ns"`, `"2h"`. Decimal fractions are allowed on a single
/// number-unit pair.
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let t = text.trim();
    if let Some((number, unit)) = split_decimal(t) {
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" | "min" => 60e9,
            "h" => 3600e9,
            _ => return Err(format!("unknown unit {unit:?} in duration {text:?}")),
        };
        let ns = number * scale;
        if !ns.is_finite() || ns >= u64::MAX as f64 {
            return Err(format!("duration {text:?} is too large"));
        }
        return Ok(SimDuration(ns.round() as u64));
    }
    humantime::parse_duration(t)
        .map_err(|e| {
            format!("bad duration {text:?} ({e}); write e.g. \"43s\", \"250ms\", \"1m 30s\"")
        })
        .and_then(|d| {
            u64::try_from(d.as_nanos())
                .map(SimDuration)
                .map_err(|_| format!("duration {text:?} is too large"))
        })
}

/// `"1.5s"` → `(1.5, "s")`, only when the number has a decimal point.
fn split_decimal(t: &str) -> Option<(f64, &str)> {
    let end = t.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = t.split_at(end);
    if !number.contains('.') || unit.contains(' ') {
        return None;
    }
    number.parse::<f64>().ok().map(|n| (n, unit.trim()))
}

/// Debug output in units (`SimTime(13s 532ms)`), so a shrunk fault
/// schedule printed by proptest reads as times, not raw nanoseconds.
impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimTime({})", format_ns(self.0))
    }
}

impl fmt::Debug for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimDuration({})", format_ns(self.0))
    }
}

fn format_ns(ns: u64) -> String {
    humantime::format_duration(std::time::Duration::from_nanos(ns)).to_string()
}

struct DurationVisitor;

impl de::Visitor<'_> for DurationVisitor {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration with a unit, such as \"43s\" or \"250ms\"")
    }
    // A bare number has no unit: `duration = 120` meant seconds to whoever
    // wrote it, and would run 120 ns. Only 0 is unambiguous.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if v == 0 {
            return Ok(0);
        }
        Err(E::custom(format!(
            "{v} has no unit: write \"{v}s\", \"{v}ms\", \"{v}us\" or \"{v}ns\""
        )))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        if v < 0 {
            return Err(E::custom(format!("duration {v} is negative")));
        }
        self.visit_u64(v as u64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        Err(E::custom(format!(
            "{v} has no unit: write \"{v}s\" or \"{v}ms\""
        )))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        if v.trim_start().starts_with('-') {
            return Err(E::custom(format!("duration {v:?} is negative")));
        }
        parse_duration(v).map(|d| d.0).map_err(E::custom)
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_ns(self.0))
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor).map(SimDuration)
    }
}

impl Serialize for SimTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_ns(self.0))
    }
}

impl<'de> Deserialize<'de> for SimTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor).map(SimTime)
    }
}

/// A signed span of time (a clock offset): `"-2s"`, `"150ms"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignedDuration(pub i64);

impl SignedDuration {
    /// Nanoseconds, signed.
    pub fn as_nanos(self) -> i64 {
        self.0
    }
}

impl fmt::Display for SignedDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}", format_ns(self.0.unsigned_abs()))
    }
}

impl Serialize for SignedDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for SignedDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = i64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a signed duration with a unit, such as \"-2s\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
                if v == 0 {
                    return Ok(0);
                }
                Err(E::custom(format!(
                    "{v} has no unit: write \"{v}s\" or \"{v}ms\""
                )))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
                i64::try_from(v)
                    .map_err(|_| E::custom("offset too large"))
                    .and_then(|v| self.visit_i64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
                let (neg, rest) = match v.trim().strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, v.trim()),
                };
                let ns = parse_duration(rest).map_err(E::custom)?.0;
                let ns = i64::try_from(ns).map_err(|_| E::custom("offset too large"))?;
                Ok(if neg { -ns } else { ns })
            }
        }
        d.deserialize_any(V).map(SignedDuration)
    }
}

/// Marks an instant inside a message (a check's finding, a model's
/// timeline entry) so the run can print it relative to the scenario's T0,
/// as the timeline does: `"first at {}"` with `stamp(t)` reads
/// `first at T+6.810s` once rendered ([`render_stamps`]). Messages are
/// written before anyone knows where T0 falls; the mark carries the
/// absolute time until then.
pub fn stamp(t: SimTime) -> String {
    format!("{STAMP_OPEN}{}{STAMP_CLOSE}", t.as_nanos())
}

/// [`stamp`] of nanoseconds since the run started.
pub fn stamp_ns(ns: u64) -> String {
    stamp(SimTime::from_nanos(ns))
}

/// Private-use characters around a stamp's nanoseconds: nothing a model
/// writes contains them.
const STAMP_OPEN: char = '\u{E000}';
const STAMP_CLOSE: char = '\u{E001}';

/// `text` with every [`stamp`] written relative to `t0` (`T+6.810s`,
/// `T-10m`-style seconds before it), or as `t=606.810s` from the run's
/// start when there is no T0 (a history checked on its own). Whole
/// seconds print without decimals.
pub fn render_stamps(text: &str, t0: Option<SimTime>) -> String {
    if !text.contains(STAMP_OPEN) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(STAMP_OPEN) {
        out.push_str(&rest[..i]);
        let after = &rest[i + STAMP_OPEN.len_utf8()..];
        let Some(j) = after.find(STAMP_CLOSE) else {
            out.push_str(&rest[i..]);
            return out;
        };
        match after[..j].parse::<u64>() {
            Ok(ns) => out.push_str(&instant_text(ns, t0)),
            Err(_) => out.push_str(&after[..j]),
        }
        rest = &after[j + STAMP_CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// One instant as people read it: relative to T0, or from the start.
fn instant_text(ns: u64, t0: Option<SimTime>) -> String {
    let seconds = |d: f64| {
        if (d - d.round()).abs() < 0.0005 {
            format!("{:.0}s", d.round())
        } else {
            format!("{d:.3}s")
        }
    };
    match t0 {
        None => format!("t={}", seconds(ns as f64 / 1e9)),
        Some(t0) => {
            let d = (ns as f64 - t0.as_nanos() as f64) / 1e9;
            if d <= -0.0005 {
                format!("T-{}", seconds(-d))
            } else {
                format!("T+{}", seconds(d.max(0.0)))
            }
        }
    }
}

/// A duration as scenario files write it: a string with units.
fn duration_schema(description: &str, pattern: &str) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": pattern,
        "description": description,
        "examples": ["43s", "250ms", "1m 30s"],
    })
}

/// Units a duration may carry (`parse_duration`'s), for the schema.
const DURATION_PATTERN: &str = r"^\s*([0-9.]+\s*(ns|us|µs|ms|s|min|m|h)\s*)+$";

impl schemars::JsonSchema for SimDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        duration_schema(
            "A duration with its unit: \"43s\", \"250ms\", \"1m 30s\", \"2h\" (0 may be written bare).",
            DURATION_PATTERN,
        )
    }
}

impl schemars::JsonSchema for SimTime {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Instant".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        duration_schema(
            "An instant, as the time since the run started: \"10m\", \"23h27m\".",
            DURATION_PATTERN,
        )
    }
}

impl schemars::JsonSchema for SignedDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SignedDuration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        duration_schema(
            "A signed duration (a clock offset): \"-2s\", \"150ms\".",
            r"^\s*-?\s*([0-9.]+\s*(ns|us|µs|ms|s|min|m|h)\s*)+$",
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamps_read_relative_to_t0_or_from_the_start() {
        let t0 = Some(SimTime::from_secs(600));
        let msg = format!(
            "from {} to {}, RPO 3s",
            stamp(SimTime::from_millis(606_810)),
            stamp(SimTime::from_secs(590))
        );
        assert_eq!(render_stamps(&msg, t0), "from T+6.810s to T-10s, RPO 3s");
        assert_eq!(
            render_stamps(&msg, None),
            "from t=606.810s to t=590s, RPO 3s"
        );
        // Less than half a millisecond before T0 reads as T0 itself.
        let near = stamp(SimTime::from_nanos(599_999_900_000));
        assert_eq!(render_stamps(&near, t0), "T+0s");
        // Text without stamps is left alone; a broken mark is not eaten.
        assert_eq!(render_stamps("t=5s", t0), "t=5s");
        let broken = format!("{STAMP_OPEN}12");
        assert_eq!(render_stamps(&broken, t0), broken);
    }

    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(SimTime::MAX + SimDuration::from_secs(1), SimTime::MAX);
        assert_eq!(
            SimTime::from_secs(1) - SimTime::from_secs(2),
            SimDuration::ZERO
        );
        assert_eq!(
            SimTime::from_secs(3) - SimTime::from_secs(1),
            SimDuration::from_secs(2)
        );
    }

    #[test]
    fn float_conversion_rounds_and_clamps() {
        assert_eq!(SimDuration::from_secs_f64(1.5).as_nanos(), 1_500_000_000);
        assert_eq!(SimDuration::from_secs_f64(-3.0), SimDuration::ZERO);
        assert_eq!(SimDuration::from_secs_f64(f64::NAN), SimDuration::ZERO);
        assert_eq!(SimDuration::from_secs_f64(1e30), SimDuration::MAX);
    }

    #[test]
    fn durations_parse_from_text_and_round_trip() {
        assert_eq!(parse_duration("43s").unwrap(), SimDuration::from_secs(43));
        assert_eq!(
            parse_duration("1.5s").unwrap(),
            SimDuration::from_millis(1500)
        );
        assert_eq!(
            parse_duration("1m 30s").unwrap(),
            SimDuration::from_secs(90)
        );
        assert_eq!(
            parse_duration("80us").unwrap(),
            SimDuration::from_micros(80)
        );
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 parsecs").is_err());
        let d: SimDuration = serde_json::from_str("\"250ms\"").unwrap();
        assert_eq!(d, SimDuration::from_millis(250));
        // A bare number has no unit and is refused, saying how to write it.
        let e = serde_json::from_str::<SimDuration>("17")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no unit") && e.contains("\"17s\""), "{e}");
        assert_eq!(
            serde_json::from_str::<SimDuration>("0").unwrap(),
            SimDuration::ZERO
        );
        assert!(serde_json::from_str::<SimDuration>("1.5").is_err());
        assert!(serde_json::from_str::<SimDuration>("\"-1s\"").is_err());
        let back: SimDuration = serde_json::from_str(
            &serde_json::to_string(&SimDuration::from_nanos(1_234_567_891)).unwrap(),
        )
        .unwrap();
        assert_eq!(back.as_nanos(), 1_234_567_891);
        let skew: SignedDuration = serde_json::from_str("\"-2s\"").unwrap();
        assert_eq!(skew.as_nanos(), -2_000_000_000);
    }

    #[test]
    fn display_is_readable() {
        assert_eq!(SimTime::from_millis(43_250).to_string(), "T0+43.250000000s");
        assert_eq!(SimDuration::from_millis(65).to_string(), "65ms");
        assert_eq!(SimDuration::from_nanos(850).to_string(), "850ns");
    }
}
