//! FoxReload authenticates with an `X-API-Key` header. The key lives in the generated
//! `Client` as [`Credentials`] and is added to each request by the `ClientHooks::pre`
//! hook, so one `reqwest::Client` can be shared with other suppliers.

use std::time::Duration;

use progenitor_client::{ClientHooks, Error, OperationInfo};
use reqwest::header::HeaderValue;

use crate::Client;

/// Production base URL from the FoxReload documentation.
pub const DEFAULT_BASE_URL: &str = "https://public-api.foxreload.com";

/// The API key, held as a header value marked sensitive. `Debug` never shows it.
#[derive(Clone)]
pub struct Credentials {
    api_key: HeaderValue,
}

impl Credentials {
    /// Credentials from an API key issued in the dashboard (Dashboard -> API).
    pub fn api_key(api_key: &str) -> Result<Self, ClientBuildError> {
        let mut api_key =
            HeaderValue::from_str(api_key).map_err(|_| ClientBuildError::InvalidApiKey)?;
        api_key.set_sensitive(true);
        Ok(Self { api_key })
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { api_key: <redacted> }")
    }
}

/// Why a client could not be built. Never contains the credential itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientBuildError {
    /// The API key holds characters an HTTP header cannot carry.
    #[error("the FoxReload API key is not a valid HTTP header value")]
    InvalidApiKey,
    /// reqwest could not build the HTTP client (e.g. TLS backend failure).
    #[error("building the HTTP client failed")]
    Http(#[source] reqwest::Error),
}

impl ClientHooks<Credentials> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        request
            .headers_mut()
            .insert("x-api-key", self.inner.api_key.clone());
        Ok(())
    }
}

impl Client {
    /// A client for `base_url` sending `X-API-Key`, on its own HTTP client with connect
    /// and read timeouts but no total timeout.
    pub fn with_api_key(base_url: &str, api_key: &str) -> Result<Self, ClientBuildError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(30))
            .user_agent(concat!("foxreload-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientBuildError::Http)?;
        Self::with_api_key_and_http(base_url, api_key, http)
    }

    /// Like [`Client::with_api_key`] on an HTTP client you built (and may share).
    pub fn with_api_key_and_http(
        base_url: &str,
        api_key: &str,
        http: reqwest::Client,
    ) -> Result<Self, ClientBuildError> {
        Ok(Self::new_with_client(
            base_url,
            http,
            Credentials::api_key(api_key)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_api_key() {
        let client = Client::with_api_key("http://127.0.0.1:1", "sk_live_secret").unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("sk_live_secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn a_key_with_a_newline_is_refused_without_echoing_it() {
        let err = Client::with_api_key("http://127.0.0.1:1", "abc\ndef").unwrap_err();
        assert!(!err.to_string().contains("abc"));
    }
}
