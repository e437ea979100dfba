//! Inverse Functional Identifiers (Data §2.4.2.3) in one canonical text form, used as the
//! key for agent filters, document resources and the Agents resource.

use std::fmt;

use serde_json::{json, Value};

/// The canonical text of an IFI: `mbox:mailto:a@b.org`, `mbox_sha1sum:<40 lowercase hex>`,
/// `openid:<uri>` or `account:<homePage>|<name>`. `|` cannot occur in a valid IRI, so the
/// account form is unambiguous. Values are kept as sent apart from hex case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ifi(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfiKind {
    Mbox,
    MboxSha1sum,
    Openid,
    Account,
}

impl Ifi {
    pub fn mbox(mailto: &str) -> Ifi {
        Ifi(format!("mbox:{mailto}"))
    }

    pub fn mbox_sha1sum(hex: &str) -> Ifi {
        Ifi(format!("mbox_sha1sum:{}", hex.to_ascii_lowercase()))
    }

    pub fn openid(uri: &str) -> Ifi {
        Ifi(format!("openid:{uri}"))
    }

    pub fn account(home_page: &str, name: &str) -> Ifi {
        Ifi(format!("account:{home_page}|{name}"))
    }

    /// Rebuilds an IFI from text produced by [`Ifi::as_str`] (e.g. read back from storage).
    pub fn from_canonical(text: &str) -> Option<Ifi> {
        let (kind, rest) = text.split_once(':')?;
        let valid = match kind {
            "mbox" => rest.starts_with("mailto:"),
            "mbox_sha1sum" => rest.len() == 40 && rest.bytes().all(|b| b.is_ascii_hexdigit()),
            "openid" => !rest.is_empty(),
            "account" => rest.contains('|'),
            _ => false,
        };
        valid.then(|| Ifi(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn kind(&self) -> IfiKind {
        match self.0.split_once(':').map(|(kind, _)| kind) {
            Some("mbox") => IfiKind::Mbox,
            Some("mbox_sha1sum") => IfiKind::MboxSha1sum,
            Some("openid") => IfiKind::Openid,
            _ => IfiKind::Account,
        }
    }

    /// The IFI as the JSON properties of an Agent or Group (`{"mbox": …}`,
    /// `{"account": {"homePage": …, "name": …}}`), as `format=ids` returns them.
    pub fn to_json_properties(&self) -> serde_json::Map<String, Value> {
        let (kind, rest) = self.0.split_once(':').unwrap_or(("", ""));
        let mut map = serde_json::Map::new();
        match self.kind() {
            IfiKind::Account => {
                let (home_page, name) = rest.split_once('|').unwrap_or((rest, ""));
                map.insert(
                    "account".into(),
                    json!({"homePage": home_page, "name": name}),
                );
            }
            _ => {
                map.insert(kind.to_string(), Value::String(rest.to_string()));
            }
        }
        map
    }
}

impl fmt::Display for Ifi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(Ifi::mbox("mailto:a@b.org").as_str(), "mbox:mailto:a@b.org");
        assert_eq!(
            Ifi::mbox_sha1sum("EBD31E95054C018B10727CCFFD2EF2EC3A016EE9").as_str(),
            "mbox_sha1sum:ebd31e95054c018b10727ccffd2ef2ec3a016ee9"
        );
        assert_eq!(
            Ifi::openid("http://x.org/me").to_string(),
            "openid:http://x.org/me"
        );
        let account = Ifi::account("http://lms.example.com", "12|34");
        assert_eq!(account.as_str(), "account:http://lms.example.com|12|34");
        assert_eq!(account.kind(), IfiKind::Account);
    }

    #[test]
    fn round_trips_through_text_and_json() {
        for ifi in [
            Ifi::mbox("mailto:a@b.org"),
            Ifi::mbox_sha1sum("ebd31e95054c018b10727ccffd2ef2ec3a016ee9"),
            Ifi::openid("http://x.org/me"),
            Ifi::account("http://lms.example.com", "12|34"),
        ] {
            assert_eq!(Ifi::from_canonical(ifi.as_str()), Some(ifi.clone()));
            let properties = ifi.to_json_properties();
            assert_eq!(properties.len(), 1);
        }
        let account = Ifi::account("http://lms.example.com", "12|34").to_json_properties();
        assert_eq!(
            Value::Object(account),
            json!({"account": {"homePage": "http://lms.example.com", "name": "12|34"}})
        );
        assert_eq!(Ifi::from_canonical("phone:123"), None);
        assert_eq!(Ifi::from_canonical("mbox:a@b.org"), None);
    }
}
