//! Per-supplier configuration, from explicit values or environment variables.
//!
//! Secrets are `secrecy::SecretString`: they print as `[REDACTED]` and are exposed only
//! where a header is built. Base URLs must be `https://`, or `http://` to a loopback
//! host (the local sandbox, tests).

use std::net::IpAddr;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use suppliers_http::ResponseLimits;

use crate::model::SupplierId;

/// A configuration problem, found before any request is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required environment variable is unset or empty.
    #[error("environment variable {0} is not set")]
    MissingVariable(&'static str),
    /// An environment variable holds a value of the wrong form.
    #[error("environment variable {0} has an invalid value")]
    InvalidVariable(&'static str),
    /// The base URL does not parse.
    #[error("{url:?} is not a valid base URL")]
    InvalidUrl {
        /// The URL as given.
        url: String,
    },
    /// Plain HTTP to a non-loopback host would send credentials in clear text.
    #[error("{url:?} uses http:// to a non-loopback host; use https://")]
    InsecureUrl {
        /// The URL as given.
        url: String,
    },
    /// A credential cannot be sent as an HTTP header.
    #[error("the {0} credential is not a valid HTTP header value")]
    InvalidCredential(&'static str),
    /// The supplier was not configured.
    #[error("{supplier} is not configured: {hint}", supplier = .0, hint = setup_hint(*.0))]
    NotConfigured(SupplierId),
    /// [`crate::Suppliers::buy`] needs a purchase journal and none was configured.
    #[error(
        "no purchase journal: add one with SuppliersBuilder::journal (Journal::from_env opens SUPPLIERS_JOURNAL or the default file)"
    )]
    NoJournal,
    /// The HTTP client could not be built (TLS backend).
    #[error("building the HTTP client failed: {0}")]
    Http(String),
}

fn setup_hint(supplier: SupplierId) -> &'static str {
    match supplier {
        SupplierId::FoxReload => "set FOXRELOAD_API_KEY",
        SupplierId::MousaCard => "set MOUSACARD_TOKEN",
        SupplierId::Cryptorefills => "set CRYPTOREFILLS_PARTNER_ID and CRYPTOREFILLS_APP_VERSION",
    }
}

/// Checks a base URL: https anywhere, http only to loopback. Returns it without a
/// trailing slash (the generated clients append paths that start with `/`).
pub fn check_base_url(url: &str) -> Result<String, ConfigError> {
    let parsed = Url::parse(url).map_err(|_| ConfigError::InvalidUrl { url: url.into() })?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&parsed) => {}
        "http" => return Err(ConfigError::InsecureUrl { url: url.into() }),
        _ => return Err(ConfigError::InvalidUrl { url: url.into() }),
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Reads a variable through `lookup` (the process environment in `from_env`).
fn var(lookup: &impl Fn(&str) -> Option<String>, name: &'static str) -> Option<String> {
    lookup(name).filter(|v| !v.trim().is_empty())
}

fn required(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    var(lookup, name).ok_or(ConfigError::MissingVariable(name))
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// FoxReload: API key and base URL.
#[derive(Debug, Clone)]
pub struct FoxReloadConfig {
    /// `X-API-Key` value.
    pub api_key: SecretString,
    /// Base URL, checked.
    pub base_url: String,
    /// Place test orders (`isMock: true`) that FoxReload does not charge.
    pub test_orders: bool,
}

impl FoxReloadConfig {
    /// Explicit values.
    pub fn new(api_key: impl Into<String>, base_url: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            api_key: SecretString::from(api_key.into()),
            base_url: check_base_url(base_url)?,
            test_orders: false,
        })
    }

    /// The same configuration placing test orders (`isMock: true`): FoxReload records
    /// them and charges nothing.
    pub fn with_test_orders(mut self, test_orders: bool) -> Self {
        self.test_orders = test_orders;
        self
    }

    /// `FOXRELOAD_API_KEY`, `FOXRELOAD_BASE_URL` (default: production),
    /// `FOXRELOAD_TEST_ORDERS` (`1` or `true`: test orders).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    /// Like [`Self::from_env`] with another source of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let base = var(&lookup, "FOXRELOAD_BASE_URL");
        let test_orders = match var(&lookup, "FOXRELOAD_TEST_ORDERS")
            .as_deref()
            .map(str::trim)
        {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(_) => return Err(ConfigError::InvalidVariable("FOXRELOAD_TEST_ORDERS")),
        };
        Ok(Self::new(
            required(&lookup, "FOXRELOAD_API_KEY")?,
            base.as_deref().unwrap_or(foxreload::DEFAULT_BASE_URL),
        )?
        .with_test_orders(test_orders))
    }

    pub(crate) fn client(
        &self,
        http: reqwest::Client,
        limits: ResponseLimits,
    ) -> Result<foxreload::Client, ConfigError> {
        let credentials = foxreload::Credentials::api_key(self.api_key.expose_secret())
            .map_err(|_| ConfigError::InvalidCredential("FOXRELOAD_API_KEY"))?;
        Ok(foxreload::Client::new_with_client(
            &self.base_url,
            http,
            credentials.with_limits(limits),
        ))
    }
}

/// MousaCard: Bearer token and base URL.
#[derive(Debug, Clone)]
pub struct MousaCardConfig {
    /// Bearer token.
    pub token: SecretString,
    /// Base URL, checked.
    pub base_url: String,
}

impl MousaCardConfig {
    /// Explicit values.
    pub fn new(token: impl Into<String>, base_url: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            token: SecretString::from(token.into()),
            base_url: check_base_url(base_url)?,
        })
    }

    /// `MOUSACARD_TOKEN`, `MOUSACARD_BASE_URL` (default: production).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    /// Like [`Self::from_env`] with another source of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let base = var(&lookup, "MOUSACARD_BASE_URL");
        Self::new(
            required(&lookup, "MOUSACARD_TOKEN")?,
            base.as_deref().unwrap_or(mousacard::DEFAULT_BASE_URL),
        )
    }

    pub(crate) fn client(
        &self,
        http: reqwest::Client,
        limits: ResponseLimits,
    ) -> Result<mousacard::Client, ConfigError> {
        let credentials = mousacard::Credentials::token(self.token.expose_secret())
            .map_err(|_| ConfigError::InvalidCredential("MOUSACARD_TOKEN"))?;
        Ok(mousacard::Client::new_with_client(
            &self.base_url,
            http,
            credentials.with_limits(limits),
        ))
    }
}

/// Cryptorefills: partner headers and base URL.
#[derive(Debug, Clone)]
pub struct CryptorefillsConfig {
    /// `X-Cr-Application`: the partner id.
    pub partner_id: SecretString,
    /// `X-Cr-Version`: your application's version.
    pub app_version: String,
    /// `X-Country-ISO-Code`, default `US`.
    pub country: String,
    /// Base URL, checked.
    pub base_url: String,
}

impl CryptorefillsConfig {
    /// Explicit values, country `US`.
    pub fn new(
        partner_id: impl Into<String>,
        app_version: impl Into<String>,
        base_url: &str,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            partner_id: SecretString::from(partner_id.into()),
            app_version: app_version.into(),
            country: "US".into(),
            base_url: check_base_url(base_url)?,
        })
    }

    /// The same configuration for another country.
    pub fn with_country(mut self, country: impl Into<String>) -> Self {
        self.country = country.into();
        self
    }

    /// `CRYPTOREFILLS_PARTNER_ID`, `CRYPTOREFILLS_APP_VERSION`, `CRYPTOREFILLS_COUNTRY`
    /// (default `US`), `CRYPTOREFILLS_BASE_URL` (default: production).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    /// Like [`Self::from_env`] with another source of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let base = var(&lookup, "CRYPTOREFILLS_BASE_URL");
        let config = Self::new(
            required(&lookup, "CRYPTOREFILLS_PARTNER_ID")?,
            required(&lookup, "CRYPTOREFILLS_APP_VERSION")?,
            base.as_deref().unwrap_or(cryptorefills::DEFAULT_BASE_URL),
        )?;
        Ok(match var(&lookup, "CRYPTOREFILLS_COUNTRY") {
            Some(country) => config.with_country(country),
            None => config,
        })
    }

    pub(crate) fn client(
        &self,
        http: reqwest::Client,
        limits: ResponseLimits,
    ) -> Result<cryptorefills::Client, ConfigError> {
        let partner =
            cryptorefills::PartnerHeaders::new(self.partner_id.expose_secret(), &self.app_version)
                .with_country(&self.country);
        let credentials = cryptorefills::Credentials::partner(&partner)
            .map_err(|_| ConfigError::InvalidCredential("CRYPTOREFILLS_PARTNER_ID"))?;
        Ok(cryptorefills::Client::new_with_client(
            &self.base_url,
            http,
            credentials.with_limits(limits),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn base_urls_must_be_https_unless_loopback() {
        assert!(check_base_url("https://public-api.foxreload.com").is_ok());
        assert_eq!(
            check_base_url("http://127.0.0.1:8080/foxreload/").unwrap(),
            "http://127.0.0.1:8080/foxreload"
        );
        assert!(check_base_url("http://[::1]:9/x").is_ok());
        assert!(check_base_url("http://localhost:9").is_ok());
        assert!(matches!(
            check_base_url("http://api.example.com"),
            Err(ConfigError::InsecureUrl { .. })
        ));
        assert!(matches!(
            check_base_url("http://127.0.0.1.example.com"),
            Err(ConfigError::InsecureUrl { .. })
        ));
        assert!(matches!(
            check_base_url("ftp://x"),
            Err(ConfigError::InvalidUrl { .. })
        ));
        assert!(matches!(
            check_base_url("not a url"),
            Err(ConfigError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn environment_with_defaults() {
        let fox = FoxReloadConfig::from_lookup(env(&[("FOXRELOAD_API_KEY", "k")])).unwrap();
        assert_eq!(fox.base_url, foxreload::DEFAULT_BASE_URL);
        let err = MousaCardConfig::from_lookup(env(&[])).unwrap_err();
        assert_eq!(err, ConfigError::MissingVariable("MOUSACARD_TOKEN"));
        let cr = CryptorefillsConfig::from_lookup(env(&[
            ("CRYPTOREFILLS_PARTNER_ID", "p"),
            ("CRYPTOREFILLS_APP_VERSION", "1.0"),
            ("CRYPTOREFILLS_BASE_URL", "http://127.0.0.1:1/cryptorefills"),
        ]))
        .unwrap();
        assert_eq!(cr.country, "US");
        assert_eq!(cr.base_url, "http://127.0.0.1:1/cryptorefills");
        let cr = CryptorefillsConfig::from_lookup(env(&[
            ("CRYPTOREFILLS_PARTNER_ID", "p"),
            ("CRYPTOREFILLS_APP_VERSION", "1.0"),
            ("CRYPTOREFILLS_COUNTRY", "DE"),
        ]))
        .unwrap();
        assert_eq!(cr.country, "DE");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let fox = FoxReloadConfig::new("fox_secret", "https://x.test").unwrap();
        let mousa = MousaCardConfig::new("mousa_secret", "https://x.test").unwrap();
        let cr = CryptorefillsConfig::new("cr_secret", "1.0", "https://x.test").unwrap();
        let shown = format!("{fox:?} {mousa:?} {cr:?}");
        for secret in ["fox_secret", "mousa_secret", "cr_secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
