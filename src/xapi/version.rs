//! The two xAPI rule sets this LRS serves, chosen per request by `X-Experience-API-Version`.

use std::fmt;
use std::str::FromStr;

/// The rule set a request is served under. Every difference between xAPI 1.0.3 and
/// 2.0.0 is decided by asking this value, never by re-reading headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    V1_0_3,
    V2_0_0,
}

impl Version {
    /// The patch version sent back in `X-Experience-API-Version`.
    pub fn header_value(self) -> &'static str {
        match self {
            Version::V1_0_3 => "1.0.3",
            Version::V2_0_0 => "2.0.0",
        }
    }

    /// The `version` the LRS writes into a statement that arrived without one.
    pub fn statement_version(self) -> &'static str {
        match self {
            Version::V1_0_3 => "1.0.0",
            Version::V2_0_0 => "2.0.0",
        }
    }

    pub fn is_2_0(self) -> bool {
        self == Version::V2_0_0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header_value())
    }
}

/// Why a version header value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedVersion(pub String);

impl fmt::Display for UnsupportedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "X-Experience-API-Version '{}' is not supported; use 1.0.0 to 1.0.3 or 2.0.0",
            self.0
        )
    }
}

impl std::error::Error for UnsupportedVersion {}

impl FromStr for Version {
    type Err = UnsupportedVersion;

    /// Accepts `1.0`, `1.0.0`–`1.0.3`, `2.0` and any `2.0.x` patch.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let value = raw.trim();
        let parts: Vec<&str> = value.split('.').collect();
        let numeric = parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !numeric || !(2..=3).contains(&parts.len()) {
            return Err(UnsupportedVersion(raw.to_string()));
        }
        let patch: Option<u32> = parts.get(2).and_then(|p| p.parse().ok());
        match (parts[0], parts[1], parts.get(2)) {
            ("1", "0", None) => Ok(Version::V1_0_3),
            ("1", "0", Some(_)) if patch.is_some_and(|p| p <= 3) => Ok(Version::V1_0_3),
            ("2", "0", None) => Ok(Version::V2_0_0),
            ("2", "0", Some(_)) if patch.is_some() => Ok(Version::V2_0_0),
            _ => Err(UnsupportedVersion(raw.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_served_versions() {
        for ok in ["1.0", "1.0.0", "1.0.1", "1.0.3"] {
            assert_eq!(ok.parse::<Version>(), Ok(Version::V1_0_3), "{ok}");
        }
        for ok in ["2.0", "2.0.0", "2.0.7"] {
            assert_eq!(ok.parse::<Version>(), Ok(Version::V2_0_0), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "", "0.9", "0.95", "1.0.4", "1.1.0", "2.1.0", "3.0", "2", "2.0.x", "1..0", "2.0.0.1",
        ] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
    }
}
