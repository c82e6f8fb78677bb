//! MousaCard authenticates with `Authorization: Bearer <token>`. The token lives in the
//! generated `Client` as [`Credentials`] and is added to each request by the
//! `ClientHooks::pre` hook, so one `reqwest::Client` can be shared with other suppliers.
//! Every answer's body is read within [`ResponseLimits`]; [`Client::with_token`]
//! follows redirects only within the base URL's origin.

use progenitor_client::{ClientHooks, Error, OperationInfo};
use reqwest::header::{AUTHORIZATION, HeaderValue};
pub use suppliers_http::ResponseLimits;

use crate::Client;

/// Production base URL from the MousaCard documentation.
pub const DEFAULT_BASE_URL: &str = "https://mousa-card.com/wp-json/mps/v1";

/// The Bearer token, held as a header value marked sensitive (`Debug` never shows it),
/// and the bounds of every answer.
#[derive(Clone)]
pub struct Credentials {
    authorization: HeaderValue,
    limits: ResponseLimits,
}

impl Credentials {
    /// Credentials from an API token generated on the store's API page.
    pub fn token(token: &str) -> Result<Self, ClientBuildError> {
        let mut authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| ClientBuildError::InvalidToken)?;
        authorization.set_sensitive(true);
        Ok(Self {
            authorization,
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
        f.write_str("Credentials { token: <redacted> }")
    }
}

/// Why a client could not be built. Never contains the token itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientBuildError {
    /// The token holds characters an HTTP header cannot carry.
    #[error("the MousaCard API token is not a valid HTTP header value")]
    InvalidToken,
    /// reqwest could not build the HTTP client.
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
            .insert(AUTHORIZATION, self.inner.authorization.clone());
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
    /// A client for `base_url` sending the Bearer token, on its own HTTP client with
    /// connect and read timeouts but no total timeout.
    pub fn with_token(base_url: &str, token: &str) -> Result<Self, ClientBuildError> {
        let http =
            suppliers_http::client_builder(concat!("mousacard-rs/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(ClientBuildError::Http)?;
        Self::with_token_and_http(base_url, token, http)
    }

    /// Like [`Client::with_token`] on an HTTP client you built (and may share).
    pub fn with_token_and_http(
        base_url: &str,
        token: &str,
        http: reqwest::Client,
    ) -> Result<Self, ClientBuildError> {
        Ok(Self::new_with_client(
            base_url,
            http,
            Credentials::token(token)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_token() {
        let client = Client::with_token("http://127.0.0.1:1", "tok_secret_123").unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("tok_secret_123"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn a_token_with_a_newline_is_refused_without_echoing_it() {
        let err = Client::with_token("http://127.0.0.1:1", "tok\nsecret").unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }
}
