//! The flags of `forwarders create` as the database keeps them: the target's URL and
//! secrets, the filter; and the checks of single values (clap runs them, so a bad value
//! is a usage error, exit code 2).

use std::collections::BTreeMap;
use std::ffi::OsStr;

use chrono::{DateTime, Utc};
use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use serde_json::{json, Map, Value};

use super::{CreateArgs, Kind};
use crate::modes::Mode;
use crate::xapi::ifi::{Ifi, IfiKind};
use crate::xapi::version::Version;

/// The shortest webhook secret accepted: it is the HMAC key receivers verify with.
const MIN_WEBHOOK_SECRET: usize = 16;

/// The target's URL and its secrets (`forwarders.auth`), or why the flags do not fit
/// the kind. Flags of the other kind are refused rather than ignored: a webhook given
/// --password would otherwise keep a secret nobody uses. A secret that came from the
/// environment (`COMMONPLACE_FORWARDER_*`) is no flag given: it is used where the kind
/// and the other flags call for it and ignored elsewhere, as one shell may create
/// forwarders of both kinds.
pub(super) fn target(args: &CreateArgs) -> Result<(String, Value), String> {
    let env = args.from_environment;
    let given = |flags: &[(&str, bool)]| -> Vec<String> {
        flags
            .iter()
            .filter(|(_, present)| *present)
            .map(|(flag, _)| format!("--{flag}"))
            .collect()
    };
    let basic = [
        ("username", args.username.is_some()),
        ("password", args.password.is_some() && !env.password),
    ];
    let oauth = [
        ("token-url", args.token_url.is_some()),
        ("client-id", args.client_id.is_some()),
        (
            "client-secret",
            args.client_secret.is_some() && !env.client_secret,
        ),
        ("scope", args.scope.is_some()),
    ];
    match args.kind {
        Kind::Xapi => {
            let foreign = given(&[
                ("url", args.url.is_some()),
                ("secret", args.secret.is_some() && !env.secret),
            ]);
            if !foreign.is_empty() {
                return Err(format!(
                    "{} only for --kind webhook; an xAPI target takes --endpoint, and \
                     --username with --password or --token-url with --client-id and \
                     --client-secret",
                    flags_are(&foreign)
                ));
            }
            let endpoint = args
                .endpoint
                .as_deref()
                .ok_or("--kind xapi needs --endpoint URL")?;
            let (basic, oauth) = (given(&basic), given(&oauth));
            let auth = match (&args.username, &args.token_url) {
                _ if !basic.is_empty() && !oauth.is_empty() => {
                    return Err(format!(
                        "{} and {}: give Basic or OAuth 2.0 credentials, not both",
                        basic.join(", "),
                        oauth.join(", ")
                    ))
                }
                (Some(username), _) => {
                    let password = args
                        .password
                        .as_ref()
                        .ok_or("--username needs --password (or COMMONPLACE_FORWARDER_PASSWORD)")?;
                    json!({"username": username, "password": password})
                }
                (None, _) if !basic.is_empty() => return Err("--password needs --username".into()),
                (None, Some(token_url)) => {
                    let (Some(client_id), Some(client_secret)) =
                        (&args.client_id, &args.client_secret)
                    else {
                        return Err("--token-url needs --client-id and --client-secret \
                                    (or COMMONPLACE_FORWARDER_CLIENT_SECRET)"
                            .into());
                    };
                    let mut oauth = json!({
                        "token_url": token_url,
                        "client_id": client_id,
                        "client_secret": client_secret,
                    });
                    if let Some(scope) = &args.scope {
                        oauth["scope"] = json!(scope);
                    }
                    oauth
                }
                (None, None) if !oauth.is_empty() => {
                    return Err(format!("{} only with --token-url", flags_are(&oauth)))
                }
                (None, None) => json!({}),
            };
            // Requests go to `{endpoint}/statements`.
            Ok((endpoint.trim_end_matches('/').to_string(), auth))
        }
        Kind::Webhook => {
            let mut foreign = given(&[("endpoint", args.endpoint.is_some())]);
            foreign.extend(given(&basic));
            foreign.extend(given(&oauth));
            foreign.extend(given(&[("xapi-version", args.xapi_version.is_some())]));
            if !foreign.is_empty() {
                return Err(format!(
                    "{} only for --kind xapi; a webhook takes --url and --secret",
                    flags_are(&foreign)
                ));
            }
            let url = args
                .url
                .as_deref()
                .ok_or("--kind webhook needs --url URL")?;
            let secret = args
                .secret
                .as_deref()
                .ok_or("--kind webhook needs --secret SECRET")?;
            if secret.chars().count() < MIN_WEBHOOK_SECRET {
                return Err(format!(
                    "--secret must have at least {MIN_WEBHOOK_SECRET} characters: receivers \
                     verify signatures with it (`openssl rand -hex 32` makes one)"
                ));
            }
            Ok((url.to_string(), json!({"secret": secret})))
        }
    }
}

/// "--a is" or "--a, --b are".
fn flags_are(flags: &[String]) -> String {
    match flags {
        [one] => format!("{one} is"),
        many => format!("{} are", many.join(", ")),
    }
}

/// The filter as `forwarding::filter::Filter` reads it: only the keys given.
pub(super) fn filter(args: &CreateArgs) -> Value {
    let mut filter = Map::new();
    let lists = [
        ("verbs", &args.verbs),
        ("activities", &args.activities),
        ("activity_prefixes", &args.activity_prefixes),
        ("activity_types", &args.activity_types),
        ("actors", &args.actors),
        ("modes", &args.modes),
    ];
    for (key, values) in lists {
        if !values.is_empty() {
            let mut distinct: Vec<&String> = Vec::new();
            for value in values {
                if !distinct.contains(&value) {
                    distinct.push(value);
                }
            }
            filter.insert(key.into(), json!(distinct));
        }
    }
    if !args.credential_tags.is_empty() {
        let mut tags: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (key, value) in &args.credential_tags {
            let values = tags.entry(key).or_default();
            if !values.contains(&value.as_str()) {
                values.push(value);
            }
        }
        let tags: Map<String, Value> = tags
            .into_iter()
            .map(|(key, values)| match values.as_slice() {
                [one] => (key.to_string(), json!(one)),
                _ => (key.to_string(), json!(values)),
            })
            .collect();
        filter.insert("credential_tags".into(), Value::Object(tags));
    }
    if args.voiding {
        filter.insert("voiding".into(), json!(true));
    }
    Value::Object(filter)
}

pub(super) fn parse_name(raw: &str) -> Result<String, String> {
    let valid = (1..=100).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(raw.to_string())
    } else {
        Err("a forwarder name is 1 to 100 letters, digits, '.', '_' or '-'".into())
    }
}

/// The parser of a URL flag: an http(s) URL with a host, and for `--endpoint` no query
/// (Statements are POSTed to `ENDPOINT/statements`). Credentials in it are refused:
/// `list` and `show` print the URL, and secrets have flags of their own. Its errors
/// never repeat the value, which may hold them (clap's own would).
#[derive(Clone, Copy)]
pub(super) struct UrlParser {
    endpoint: bool,
}

impl UrlParser {
    /// `--url`, `--token-url`.
    pub(super) const ANY: UrlParser = UrlParser { endpoint: false };
    /// `--endpoint`.
    pub(super) const ENDPOINT: UrlParser = UrlParser { endpoint: true };

    fn check(self, raw: &str) -> Result<(), &'static str> {
        let url = reqwest::Url::parse(raw).map_err(|_| "not a URL")?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err("must be an http:// or https:// URL with a host");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "must not hold credentials (user:password@): give them with their own flags",
            );
        }
        if url.fragment().is_some() {
            return Err("must not have a #fragment");
        }
        if self.endpoint && url.query().is_some() {
            return Err("must not have a ?query: Statements are POSTed to ENDPOINT/statements");
        }
        Ok(())
    }
}

impl TypedValueParser for UrlParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        value
            .to_str()
            .ok_or("not a URL")
            .and_then(|raw| self.check(raw).map(|()| raw.to_string()))
            .map_err(|why| {
                let flag = arg.map_or_else(|| "a URL".to_string(), |arg| format!("'{arg}'"));
                clap::Error::raw(
                    ErrorKind::ValueValidation,
                    format!("invalid value for {flag}: {why}\n"),
                )
                .with_cmd(cmd)
            })
    }
}

/// RFC 7617: a Basic user-id cannot contain a colon.
pub(super) fn parse_username(raw: &str) -> Result<String, String> {
    match raw {
        "" => Err("must not be empty".into()),
        _ if raw.contains(':') => Err("a Basic user name cannot contain ':'".into()),
        _ => Ok(raw.to_string()),
    }
}

/// A secret or other value that must not be empty. The value itself is never part of
/// the message.
pub(super) fn parse_non_empty(raw: &str) -> Result<String, String> {
    if raw.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(raw.to_string())
    }
}

pub(super) fn parse_iri(raw: &str) -> Result<String, String> {
    if crate::xapi::iri::is_iri(raw) {
        Ok(raw.to_string())
    } else {
        Err("not an absolute IRI (e.g. http://adlnet.gov/expapi/verbs/completed)".into())
    }
}

pub(super) fn parse_mode(raw: &str) -> Result<String, String> {
    Mode::parse(raw)
        .map(|m| m.as_str().to_string())
        .ok_or_else(|| {
            let names: Vec<&str> = Mode::EVERY.iter().map(|m| m.as_str()).collect();
            format!("not a learning mode; one of {}", names.join(", "))
        })
}

/// An actor as the LRS files it (`mbox:mailto:…`, `account:HOMEPAGE|NAME`), from the
/// forms people type: the roster's IFI forms, or an Agent as JSON.
pub(super) fn parse_actor(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.starts_with('{') {
        return crate::xapi::agent::parse_agent_param(raw, Version::V2_0_0)
            .map(Ifi::into_string)
            .map_err(|e| e.to_string());
    }
    crate::roster::canonical_ifi(raw)
        .and_then(|ifi| Ifi::from_canonical(&ifi))
        // The LRS files a hash in lowercase hex, whatever case the Statement used.
        .map(|ifi| match ifi.kind() {
            IfiKind::MboxSha1sum => {
                Ifi::mbox_sha1sum(ifi.as_str().trim_start_matches("mbox_sha1sum:"))
            }
            _ => ifi,
        })
        .map(Ifi::into_string)
        .ok_or_else(|| {
            "not an actor IFI: mailto:a@b.org, mbox:mailto:a@b.org, account:HOMEPAGE|NAME, \
             openid:URI, mbox_sha1sum:HEX or an Agent as JSON"
                .into()
        })
}

pub(super) fn parse_time(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time such as 2026-12-01T09:00:00Z ({e})"))
}
