//! Timestamps (Data §4.5, 2.0 §4.2.7) and durations (Data §4.6).

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use serde_json::Value;

use super::error::{as_str, Invalid, Path};

/// A parsed ISO 8601 timestamp: the instant, and how many fractional-second digits
/// were sent (so a UTC rendering keeps the precision the client gave).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub instant: DateTime<Utc>,
    pub fraction_digits: usize,
}

impl Timestamp {
    /// RFC 3339 in UTC with `Z`, with at least 3 and at most 9 fractional digits
    /// (2.0 §4.2.7 requires keeping at least millisecond precision).
    pub fn to_utc_string(&self) -> String {
        let digits = self.fraction_digits.clamp(3, 9);
        let nanos = format!("{:09}", self.instant.timestamp_subsec_nanos());
        format!(
            "{}.{}Z",
            self.instant.format("%Y-%m-%dT%H:%M:%S"),
            &nanos[..digits]
        )
    }
}

/// Parses an ISO 8601 combined date and time in extended format:
/// `YYYY-MM-DDThh:mm[:ss[.fff…]][Z|±hh:mm|±hhmm|±hh]`. `T` may also be `t` or a space
/// (RFC 3339 §5.6). A zone is required. The offsets `-00:00`, `-0000` and
/// `-00` mean "unknown local offset" in RFC 3339 and are refused, as is a date alone.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    if bytes.len() < 16 {
        return None;
    }
    let year = digits(bytes, 0, 4)?;
    let month = digits(bytes, 5, 2)?;
    let day = digits(bytes, 8, 2)?;
    if bytes[4] != b'-' || bytes[7] != b'-' || !matches!(bytes[10], b'T' | b't' | b' ') {
        return None;
    }
    let hour = digits(bytes, 11, 2)?;
    if bytes[13] != b':' {
        return None;
    }
    let minute = digits(bytes, 14, 2)?;
    let mut at = 16;
    let mut second = 0;
    let mut nanos = 0u32;
    let mut fraction_digits = 0;
    if bytes.get(at) == Some(&b':') {
        second = digits(bytes, at + 1, 2)?;
        at += 3;
        if matches!(bytes.get(at), Some(b'.') | Some(b',')) {
            at += 1;
            let start = at;
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                if at - start < 9 {
                    nanos = nanos * 10 + u32::from(bytes[at] - b'0');
                }
                at += 1;
            }
            fraction_digits = at - start;
            if fraction_digits == 0 {
                return None;
            }
            nanos *= 10u32.pow(9 - fraction_digits.min(9) as u32);
        }
    }
    let offset_seconds = parse_offset(&bytes[at..])?;
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let local = date.and_hms_nano_opt(hour, minute, second, nanos)?;
    let offset = FixedOffset::east_opt(offset_seconds)?;
    let instant = offset
        .from_local_datetime(&local)
        .single()?
        .with_timezone(&Utc);
    Some(Timestamp {
        instant,
        fraction_digits,
    })
}

fn parse_offset(zone: &[u8]) -> Option<i32> {
    match zone {
        [b'Z'] | [b'z'] => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (hours, minutes) = match rest {
                [_, _] => (digits(rest, 0, 2)?, 0),
                [_, _, b':', _, _] => (digits(rest, 0, 2)?, digits(rest, 3, 2)?),
                [_, _, _, _] => (digits(rest, 0, 2)?, digits(rest, 2, 2)?),
                _ => return None,
            };
            if hours > 23 || minutes > 59 || (*sign == b'-' && hours == 0 && minutes == 0) {
                return None;
            }
            let seconds = (hours * 3600 + minutes * 60) as i32;
            Some(if *sign == b'-' { -seconds } else { seconds })
        }
        _ => None,
    }
}

fn digits(bytes: &[u8], at: usize, count: usize) -> Option<u32> {
    let slice = bytes.get(at..at + count)?;
    slice.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Validates a Timestamp-typed JSON value.
pub fn check_timestamp(value: &Value, path: &Path) -> Result<Timestamp, Invalid> {
    let text = as_str(value, path)?;
    parse_timestamp(text).ok_or_else(|| {
        path.invalid(format!(
            "'{text}' is not an ISO 8601 timestamp with a valid time zone"
        ))
    })
}

/// True when `text` is an ISO 8601:2004 §4.4.3.2 duration: `PnYnMnDTnHnMnS` with at
/// least one component, or `PnW`. Only the last component may carry a decimal fraction.
pub fn is_duration(text: &str) -> bool {
    let Some(body) = text.strip_prefix('P') else {
        return false;
    };
    if let Some(weeks) = body.strip_suffix('W') {
        return is_number(weeks, true);
    }
    let (date, time) = match body.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (body, None),
    };
    let mut components = Vec::new();
    if !collect_components(date, b"YMD", &mut components) {
        return false;
    }
    if let Some(time) = time {
        let before = components.len();
        if !collect_components(time, b"HMS", &mut components) || components.len() == before {
            return false;
        }
    }
    let Some((last, earlier)) = components.split_last() else {
        return false;
    };
    earlier.iter().all(|n| is_number(n, false)) && is_number(last, true)
}

/// Splits `part` into its numbers, requiring designators in the order of `designators`.
fn collect_components<'t>(part: &'t str, designators: &[u8], out: &mut Vec<&'t str>) -> bool {
    let mut rest = part;
    let mut next = 0;
    while !rest.is_empty() {
        let Some(end) = rest.find(|c: char| c.is_ascii_alphabetic()) else {
            return false;
        };
        let designator = rest.as_bytes()[end];
        let Some(position) = designators[next..].iter().position(|d| *d == designator) else {
            return false;
        };
        next += position + 1;
        out.push(&rest[..end]);
        rest = &rest[end + 1..];
    }
    true
}

fn is_number(text: &str, fraction_allowed: bool) -> bool {
    let (whole, fraction) = match text.split_once(['.', ',']) {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let whole_ok = !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit());
    match fraction {
        None => whole_ok,
        Some(fraction) => {
            fraction_allowed
                && whole_ok
                && !fraction.is_empty()
                && fraction.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

/// Validates a Duration-typed JSON value.
pub fn check_duration<'v>(value: &'v Value, path: &Path) -> Result<&'v str, Invalid> {
    let text = as_str(value, path)?;
    if is_duration(text) {
        Ok(text)
    } else {
        Err(path.invalid(format!("'{text}' is not an ISO 8601 duration")))
    }
}

/// The duration as compared between Statements (Data §4.6, 2.0 §4.2.7): seconds are
/// truncated, never rounded, to hundredths, and trailing fraction zeros are dropped so
/// `PT1.10S` and `PT1.1S` compare equal.
pub fn duration_for_comparison(text: &str) -> String {
    let Some(without_s) = text.strip_suffix('S') else {
        return text.to_string();
    };
    let Some(dot) = without_s.rfind(['.', ',']) else {
        return text.to_string();
    };
    let (whole, fraction) = (&without_s[..dot], &without_s[dot + 1..]);
    let kept = fraction[..fraction.len().min(2)].trim_end_matches('0');
    if kept.is_empty() {
        format!("{whole}S")
    } else {
        format!("{whole}.{kept}S")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_timestamps_with_zones() {
        let utc = parse_timestamp("2023-05-04T17:00:00.000Z").unwrap();
        assert_eq!(utc.to_utc_string(), "2023-05-04T17:00:00.000Z");
        let shifted = parse_timestamp("2023-05-04T12:00:00-05:00").unwrap();
        assert_eq!(shifted.instant, utc.instant);
        assert_eq!(shifted.to_utc_string(), "2023-05-04T17:00:00.000Z");
        let compact = parse_timestamp("2023-05-04T19:00:00.123456+0200").unwrap();
        assert_eq!(compact.to_utc_string(), "2023-05-04T17:00:00.123456Z");
        assert!(parse_timestamp("2023-05-04T17:00:00+00:00").is_some());
        assert!(parse_timestamp("2023-05-04 17:00:00Z").is_some());
        assert!(parse_timestamp("2023-05-04T17:00Z").is_some());
        assert!(parse_timestamp("2023-05-04T17:00:00+05").is_some());
        let nanos = parse_timestamp("2023-05-04T17:00:00.1234567891234Z").unwrap();
        assert_eq!(nanos.to_utc_string(), "2023-05-04T17:00:00.123456789Z");
    }

    #[test]
    fn rejects_bad_timestamps() {
        for bad in [
            "2023-05-04",
            "2023-05-04T17:00:00.5",
            "2023-05-04T17:00:00-00:00",
            "2023-05-04T17:00:00-0000",
            "2023-05-04T17:00:00-00",
            "2023-13-04T17:00:00Z",
            "2023-02-30T17:00:00Z",
            "2023-05-04T25:00:00Z",
            "2023-05-04T17:00:00.Z",
            "2023-05-04T17:00:00ZZ",
            "20230504T170000Z",
            "not a time",
            "2023-05-04T17:00:00+24:00",
            "2023-05-04T17:00:00+5",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad}");
        }
        let root = Path::Root("statement");
        let timestamp = root.key("timestamp");
        assert!(check_timestamp(&json!(5), &timestamp).is_err());
        assert_eq!(
            check_timestamp(&json!("x"), &timestamp).unwrap_err().path,
            "statement.timestamp"
        );
    }

    #[test]
    fn validates_durations() {
        for ok in [
            "PT4H35M59.14S",
            "PT16559.14S",
            "P3Y1M29DT4H35M59.14S",
            "P3Y",
            "P4W",
            "PT0S",
            "P1D",
            "PT1M",
            "PT0.12567S",
            "P0.5Y",
            "PT1,5S",
        ] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in [
            "", "P", "PT", "P4W1D", "1H", "PT1H2", "P1S", "PT1D", "P1M1Y", "PT1.5H2M", "PT.5S",
            "PT1.S", "pt1s", "P-1D", "PT1H1H", "P1DT",
        ] {
            assert!(!is_duration(bad), "{bad}");
        }
    }

    #[test]
    fn durations_compare_at_hundredths() {
        assert_eq!(duration_for_comparison("PT0.12567S"), "PT0.12S");
        assert_eq!(duration_for_comparison("PT0.1237S"), "PT0.12S");
        assert_eq!(duration_for_comparison("PT0.12S"), "PT0.12S");
        assert_eq!(duration_for_comparison("PT1.10S"), "PT1.1S");
        assert_eq!(duration_for_comparison("PT1.001S"), "PT1S");
        assert_eq!(duration_for_comparison("PT1H"), "PT1H");
        assert_eq!(duration_for_comparison("P4W"), "P4W");
    }
}
