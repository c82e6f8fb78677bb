//! FoxReload authenticates with an `X-API-Key` header. The key lives in the generated
//! `Client` as [`Credentials`] and is added to each request by the `ClientHooks::pre`
//! hook, so one `reqwest::Client` can be shared with other suppliers. Every answer's body
//! is read within [`ResponseLimits`]; [`Client::with_api_key`] follows
//! redirects only within the base URL's origin.

use progenitor_client::{ClientHooks, Error, OperationInfo};
use reqwest::header::{HeaderName, HeaderValue};
pub use suppliers_http::ResponseLimits;

use crate::Client;

/// Production base URL from the FoxReload documentation.
pub const DEFAULT_BASE_URL: &str = "https://public-api.foxreload.com";

/// The header carrying the key, parsed once rather than on every request.
const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// The API key, held as a header value marked sensitive (`Debug` never shows it), and
/// the bounds of every answer.
#[derive(Clone)]
pub struct Credentials {
    api_key: HeaderValue,
    limits: ResponseLimits,
}

impl Credentials {
    /// Credentials from an API key issued in the dashboard (Dashboard -> API).
    pub fn api_key(api_key: &str) -> Result<Self, ClientBuildError> {
        let mut api_key =
            HeaderValue::from_str(api_key).map_err(|_| ClientBuildError::InvalidApiKey)?;
        api_key.set_sensitive(true);
        Ok(Self {
            api_key,
            limits: ResponseLimits::default(),
        })
    }

    /// The same credentials with other bounds on each answer (default
    /// [`ResponseLimits::default`]: 16 MiB bodies).
    pub fn with_limits(mut self, limits: ResponseLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The bounds every answer's body is read within (the generated code reads each
    /// answer through [`suppliers_http::read_body`] with them).
    pub(crate) fn response_limits(&self) -> ResponseLimits {
        self.limits
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
            .insert(API_KEY_HEADER, self.inner.api_key.clone());
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        suppliers_http::execute(&self.client, request).await
    }
}

impl Client {
    /// A client for `base_url` sending `X-API-Key`, on its own HTTP client
    /// ([`suppliers_http::client_builder`]: same-origin redirects, connect and read
    /// timeouts, no total timeout).
    pub fn with_api_key(base_url: &str, api_key: &str) -> Result<Self, ClientBuildError> {
        let http =
            suppliers_http::client_builder(concat!("foxreload-rs/", env!("CARGO_PKG_VERSION")))
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
