//! Access tokens from an organisation's OpenID Connect provider (`--oidc-issuer`): the
//! provider's signing keys are found through its discovery document and kept; a token
//! is accepted when one of them signed it (RS256 or ES256), it is within its lifetime,
//! its `iss` is exactly a configured issuer and its `aud` names this LRS.

use deadpool_postgres::Pool;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::issuer_keys::IssuerKeys;
use super::BearerError;
use crate::auth::{Principal, Scope, TokenAuthority};
use crate::configuration::OidcSettings;
use crate::store::credentials;

/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;
/// The store of tokens when no store claim is configured.
const DEFAULT_STORE: &str = "default";

/// A verified token: who it speaks for and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalToken {
    pub issuer: String,
    /// `client_id` (RFC 9068, Keycloak), else `azp` (Entra v2), `appid` (Entra v1),
    /// `cid` (Okta), else `sub`.
    pub client: String,
    /// `sub` when it names someone other than the client (not a machine token).
    pub user: Option<String>,
    pub scopes: Vec<Scope>,
    /// The store named by the store claim; `None` without a configured claim.
    pub store: Option<String>,
}

/// The configured issuers and what is known of their keys.
#[derive(Debug)]
pub struct ExternalIssuers {
    settings: OidcSettings,
    pub(super) keys: IssuerKeys,
}

impl ExternalIssuers {
    /// `None` when no issuer is configured.
    pub fn new(settings: OidcSettings) -> Option<Self> {
        if settings.issuers.is_empty() {
            return None;
        }
        Some(ExternalIssuers {
            settings,
            keys: IssuerKeys::default(),
        })
    }

    /// Whether `issuer` is exactly one of the configured issuers.
    pub fn trusts(&self, issuer: &str) -> bool {
        self.settings.issuers.iter().any(|i| i == issuer)
    }

    /// The caller a token of a trusted issuer stands for: its scopes, the store its
    /// store claim names (else the default store), and the client (and user) as the
    /// authority, whose Statements are its own for `statements/read/mine`.
    pub async fn principal(
        &self,
        pool: &Pool,
        token: &str,
        issuer: &str,
        scope_prefix: &str,
    ) -> Result<Principal, BearerError> {
        let token = self
            .verify(token, issuer, scope_prefix)
            .await
            .map_err(|reason| {
                tracing::info!(%reason, "refused an external issuer's token");
                BearerError::Invalid(reason)
            })?;
        let store = token.store.clone().unwrap_or_else(|| DEFAULT_STORE.into());
        let store_id = credentials::store_id_by_name(pool, &store)
            .await?
            .ok_or_else(|| {
                BearerError::Invalid(format!("the token's store '{store}' does not exist"))
            })?;
        let key = match &token.user {
            None => format!("{} {}", token.issuer, token.client),
            Some(user) => format!("{} {} {user}", token.issuer, token.client),
        };
        Ok(Principal {
            key,
            name: token.client.clone(),
            store_id,
            store,
            scopes: token.scopes,
            tags: Default::default(),
            learner: None,
            token_authority: Some(TokenAuthority {
                issuer: token.issuer,
                client: token.client,
                user: token.user,
            }),
        })
    }

    /// Verifies `token`, whose unverified `iss` is `issuer`: a trusted one. The error
    /// is the reason it was refused, for `error_description` and the log.
    pub async fn verify(
        &self,
        token: &str,
        issuer: &str,
        scope_prefix: &str,
    ) -> Result<ExternalToken, String> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| format!("the token is not a well-formed JWT: {e}"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(format!(
                "tokens signed with {:?} are not accepted; RS256 or ES256 only",
                header.alg
            ));
        }
        if !self.trusts(issuer) {
            return Err(format!("the issuer '{issuer}' is not trusted"));
        }
        let key = self
            .keys
            .key_for(issuer, header.kid.as_deref(), header.alg)
            .await?;
        // No audience configured (the command line refuses that) matches no token.
        let audience = self.settings.audience.as_deref().unwrap_or_default();
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| format!("the token does not verify: {e}"))?
            .claims;
        self.read_claims(issuer.to_string(), &claims, scope_prefix)
    }

    fn read_claims(
        &self,
        issuer: String,
        claims: &Map<String, Value>,
        scope_prefix: &str,
    ) -> Result<ExternalToken, String> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
        let client = text("client_id")
            .or_else(|| text("azp"))
            .or_else(|| text("appid"))
            .or_else(|| text("cid"))
            .or_else(|| text("sub"))
            .ok_or("the token names no client (client_id, azp, appid, cid or sub)")?;
        let user = text("sub").filter(|sub| *sub != client);
        let store = match &self.settings.store_claim {
            None => None,
            Some(claim) => Some(
                text(claim)
                    .ok_or_else(|| format!("the token has no '{claim}' claim naming its store"))?,
            ),
        };
        Ok(ExternalToken {
            issuer,
            client,
            user,
            scopes: scopes_of(claims, scope_prefix),
            store,
        })
    }
}

/// The xAPI scopes of `scope` (space separated) or `scp` (space separated or an array),
/// each with or without `prefix`; names that are not xAPI scopes are ignored.
fn scopes_of(claims: &Map<String, Value>, prefix: &str) -> Vec<Scope> {
    let names: Vec<&str> = ["scope", "scp"]
        .iter()
        .filter_map(|claim| claims.get(*claim))
        .flat_map(|value| match value {
            Value::String(text) => text.split_whitespace().collect::<Vec<_>>(),
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        })
        .collect();
    let mut scopes: Vec<Scope> = names
        .into_iter()
        .filter_map(|name| {
            let bare = name.strip_prefix(prefix).unwrap_or(name);
            bare.parse().ok()
        })
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn issuers(store_claim: Option<&str>) -> ExternalIssuers {
        ExternalIssuers::new(OidcSettings {
            issuers: vec!["https://idp.example.com/realms/acme".into()],
            audience: Some("https://lrs.example.com".into()),
            store_claim: store_claim.map(str::to_string),
        })
        .unwrap()
    }

    #[test]
    fn scopes_come_from_scope_or_scp_with_or_without_the_prefix() {
        let from_scope =
            claims(json!({"scope": "openid xapi:statements/write profile xapi:nonsense"}));
        assert_eq!(
            scopes_of(&from_scope, "xapi:"),
            vec![Scope::StatementsWrite, Scope::Profile]
        );
        let from_scp_text = claims(json!({"scp": "xapi:statements/read/mine statements/write"}));
        assert_eq!(
            scopes_of(&from_scp_text, "xapi:"),
            vec![Scope::StatementsWrite, Scope::StatementsReadMine]
        );
        let from_scp_array = claims(json!({"scp": ["xapi:state", "User.Read"]}));
        assert_eq!(scopes_of(&from_scp_array, "xapi:"), vec![Scope::State]);
        assert!(scopes_of(&claims(json!({"scope": 7})), "xapi:").is_empty());
    }

    #[test]
    fn a_machine_token_has_no_user_and_a_delegated_one_has() {
        let verifier = issuers(None);
        let issuer = "https://idp.example.com/realms/acme".to_string();
        let machine = verifier
            .read_claims(
                issuer.clone(),
                &claims(json!({"client_id": "lms", "sub": "lms"})),
                "xapi:",
            )
            .unwrap();
        assert_eq!((machine.client.as_str(), machine.user), ("lms", None));
        let entra = verifier
            .read_claims(
                issuer.clone(),
                &claims(json!({"azp": "app-1", "sub": "u-7"})),
                "xapi:",
            )
            .unwrap();
        assert_eq!(entra.client, "app-1");
        assert_eq!(entra.user.as_deref(), Some("u-7"));
        let v1 = verifier
            .read_claims(issuer.clone(), &claims(json!({"appid": "app-2"})), "xapi:")
            .unwrap();
        assert_eq!((v1.client.as_str(), v1.user), ("app-2", None));
        let okta = verifier
            .read_claims(
                issuer.clone(),
                &claims(json!({"cid": "0oa1", "sub": "ada@example.com"})),
                "xapi:",
            )
            .unwrap();
        assert_eq!(okta.client, "0oa1");
        assert_eq!(okta.user.as_deref(), Some("ada@example.com"));
    }

    #[test]
    fn the_store_claim_must_be_present_when_configured() {
        let verifier = issuers(Some("lrs_store"));
        let issuer = "https://idp.example.com/realms/acme".to_string();
        let named = verifier
            .read_claims(
                issuer.clone(),
                &claims(json!({"client_id": "c", "lrs_store": "sales"})),
                "",
            )
            .unwrap();
        assert_eq!(named.store.as_deref(), Some("sales"));
        let err = verifier
            .read_claims(issuer, &claims(json!({"client_id": "c"})), "")
            .unwrap_err();
        assert!(err.contains("lrs_store"), "{err}");
    }

    #[test]
    fn no_issuer_means_no_verifier() {
        assert!(ExternalIssuers::new(OidcSettings::default()).is_none());
    }

    #[tokio::test]
    async fn none_and_hmac_are_refused_before_any_key_is_fetched() {
        let verifier = issuers(None);
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            json!({"iss": "https://idp.example.com/realms/acme", "aud": "https://lrs.example.com",
                   "exp": 4_000_000_000u64, "client_id": "c", "scope": "xapi:all"})
            .to_string(),
        );
        for header in [json!({"alg": "none"}), json!({"alg": "HS256", "kid": "k"})] {
            let header =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string());
            let err = verifier
                .verify(
                    &format!("{header}.{payload}.c2ln"),
                    "https://idp.example.com/realms/acme",
                    "xapi:",
                )
                .await
                .unwrap_err();
            assert!(
                err.contains("not a well-formed JWT") || err.contains("not accepted"),
                "{err}"
            );
        }
        assert!(verifier.keys.is_empty());
    }
}
