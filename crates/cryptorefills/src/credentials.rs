//! Cryptorefills identifies partners by three headers (`X-Cr-Application`,
//! `X-Cr-Version`, `X-Country-ISO-Code`). They live in the generated `Client` as
//! [`Credentials`] and are added to each request by the `ClientHooks::pre` hook, so one
//! `reqwest::Client` can be shared with other suppliers. Every answer's body is read
//! within [`ResponseLimits`] (the order stream is bounded per event by its reader);
//! [`Client::with_partner`] follows redirects only within the base URL's origin.

use std::time::Duration;

use progenitor_client::{ClientHooks, Error, OperationInfo};
use reqwest::header::{HeaderName, HeaderValue};
pub use suppliers_http::ResponseLimits;

use crate::Client;

/// Production base URL from the Cryptorefills documentation.
pub const DEFAULT_BASE_URL: &str = "https://api.cryptorefills.com";

/// The partner headers every request carries.
#[derive(Clone)]
pub struct PartnerHeaders {
    /// `X-Cr-Application`: the partner id from the account page. Treated as a secret.
    pub application: String,
    /// `X-Cr-Version`: your application's version.
    pub version: String,
    /// `X-Country-ISO-Code`: ISO 3166-1 alpha-2 country of the end user.
    pub country: String,
}

impl PartnerHeaders {
    /// Partner id and app version, for country `US` (the documented default).
    pub fn new(application: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            application: application.into(),
            version: version.into(),
            country: "US".into(),
        }
    }

    /// The same headers for another country.
    pub fn with_country(mut self, country: impl Into<String>) -> Self {
        self.country = country.into();
        self
    }
}

impl std::fmt::Debug for PartnerHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerHeaders")
            .field("application", &"<redacted>")
            .field("version", &self.version)
            .field("country", &self.country)
            .finish()
    }
}

/// The partner headers as validated header values; the partner id is marked sensitive.
#[derive(Clone)]
pub struct Credentials {
    headers: [(HeaderName, HeaderValue); 3],
    limits: ResponseLimits,
}

impl Credentials {
    /// Validates the three header values.
    pub fn partner(partner: &PartnerHeaders) -> Result<Self, ClientBuildError> {
        let header = |name: &'static str, value: &str, sensitive: bool| {
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| ClientBuildError::InvalidHeader { header: name })?;
            value.set_sensitive(sensitive);
            // Mixed case is accepted and stored lowercase.
            let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
            Ok((name, value))
        };
        Ok(Self {
            headers: [
                header("X-Cr-Application", &partner.application, true)?,
                header("X-Cr-Version", &partner.version, false)?,
                header("X-Country-ISO-Code", &partner.country, false)?,
            ],
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
        f.write_str("Credentials { partner headers: <redacted> }")
    }
}

/// Why a client could not be built. Never contains the partner id.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientBuildError {
    /// A partner header value holds characters an HTTP header cannot carry.
    #[error("the {header} value is not a valid HTTP header value")]
    InvalidHeader {
        /// Which header.
        header: &'static str,
    },
    /// reqwest could not build the HTTP client.
    #[error("building the HTTP client failed")]
    Http(#[source] reqwest::Error),
}

impl ClientHooks<Credentials> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        // progenitor sets `Accept` only for JSON operations; the order stream answers
        // Server-Sent Events.
        if info.operation_id == "subscribe_order" {
            request.headers_mut().insert(
                reqwest::header::ACCEPT,
                reqwest::header::HeaderValue::from_static("text/event-stream"),
            );
        }
        for (name, value) in &self.inner.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
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
    /// A client for `base_url` sending the partner headers, on its own HTTP client with
    /// connect and read timeouts but no total timeout: `subscribe_order` streams for as
    /// long as an order takes.
    pub fn with_partner(
        base_url: &str,
        partner: &PartnerHeaders,
    ) -> Result<Self, ClientBuildError> {
        let http =
            suppliers_http::client_builder(concat!("cryptorefills-rs/", env!("CARGO_PKG_VERSION")))
                .read_timeout(Duration::from_secs(90))
                .build()
                .map_err(ClientBuildError::Http)?;
        Self::with_partner_and_http(base_url, partner, http)
    }

    /// Like [`Client::with_partner`] on an HTTP client you built (and may share).
    pub fn with_partner_and_http(
        base_url: &str,
        partner: &PartnerHeaders,
        http: reqwest::Client,
    ) -> Result<Self, ClientBuildError> {
        Ok(Self::new_with_client(
            base_url,
            http,
            Credentials::partner(partner)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_partner_id() {
        let partner = PartnerHeaders::new("partner_secret_42", "2.1.0").with_country("DE");
        let client = Client::with_partner("http://127.0.0.1:1", &partner).unwrap();
        for shown in [format!("{client:?}"), format!("{partner:?}")] {
            assert!(!shown.contains("partner_secret_42"), "{shown}");
        }
        assert!(format!("{partner:?}").contains("DE"));
    }

    #[test]
    fn an_invalid_header_names_the_header_not_the_value() {
        let partner = PartnerHeaders::new("bad\nid", "1");
        let err = Client::with_partner("http://127.0.0.1:1", &partner).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the X-Cr-Application value is not a valid HTTP header value"
        );
    }
}
