//! Signed webhook delivery, as the [Standard Webhooks](https://www.standardwebhooks.com/)
//! specification says: `webhook-id` (the event id, the same on every retry),
//! `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`
//! (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body`, keyed by a `whsec_<base64>`
//! secret).
//!
//! Only `https://` URLs are accepted, or `http://` to a loopback address; redirects are
//! not followed (a 3xx is a failed delivery). The secret never appears in `Debug`, an
//! error or a log. Each attempt has a deadline ([`DELIVERY_TIMEOUT`], 15 s by default).
//! Retrying is the caller's: [`crate::Tracker::run`] hands a failed report over again
//! with jittered backoff for as long as it runs, slows every report down after `429`,
//! `502`, `504`, a timeout or a refused connection (honouring `Retry-After`), and stops
//! at `410 Gone` (see [`crate::tracker::ReportFailure`]).
//!
//! Every attempt is counted in `suppliers_webhook_deliveries_total{outcome}`, and each
//! success sets `suppliers_webhook_last_success_timestamp_seconds` (see
//! [`crate::metrics`]).
//!
//! ```
//! # fn run() -> Result<(), suppliers::webhook::WebhookError> {
//! use suppliers::webhook::WebhookSender;
//!
//! let sender = WebhookSender::new(
//!     "https://shop.example/hooks/suppliers",
//!     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
//! )?;
//! // sender.send("evt_...", br#"{"id": "evt_...", ...}"#).await?;
//! # let _ = sender; Ok(()) }
//! ```

use std::net::IpAddr;
use std::time::Duration;

use url::{Host, Url};

/// The variable the CLI reads the secret from.
pub const SECRET_VARIABLE: &str = "SUPPLIERS_WEBHOOK_SECRET";

/// How long one delivery attempt may take by default (the Standard Webhooks
/// specification's advice: a receiver answers within 15 s).
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// How one delivery attempt ended: the `outcome` label of
/// `suppliers_webhook_deliveries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// A 2xx answer.
    Success,
    /// A 4xx answer other than 410.
    Http4xx,
    /// A 5xx answer (or any other non-2xx, such as a redirect, which is not followed).
    Http5xx,
    /// No answer within the deadline.
    Timeout,
    /// No connection (refused, unreachable, or broken before an answer).
    Connect,
    /// `410 Gone`: the receiver will never take events again.
    Gone,
}

impl DeliveryOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Http4xx => "http_4xx",
            Self::Http5xx => "http_5xx",
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Gone => "gone",
        }
    }

    fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Success,
            410 => Self::Gone,
            400..=499 => Self::Http4xx,
            _ => Self::Http5xx,
        }
    }
}

/// What can go wrong configuring or delivering a webhook. Never holds the secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The URL is not `https://`, or `http://` to a loopback address.
    #[error("webhook URL {0}")]
    Url(String),
    /// The secret is missing or not `whsec_` followed by base64 of 24 to 64 bytes.
    #[error("webhook secret: {0}")]
    Secret(&'static str),
    /// The receiver did not take the event (no 2xx answer, a timeout, a refused
    /// connection).
    #[error("webhook delivery to {url}: {reason}")]
    Delivery {
        /// Where it was sent.
        url: String,
        /// What happened, without the body.
        reason: String,
        /// How the attempt ended.
        outcome: DeliveryOutcome,
        /// The answer's status, when one came.
        status: Option<u16>,
        /// The answer's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
}

/// Sends signed events to one URL.
#[derive(Clone)]
pub struct WebhookSender {
    url: Url,
    timeout: Duration,
    key: std::sync::Arc<standardwebhooks::Webhook>,
    http: reqwest::Client,
}

impl std::fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSender")
            .field("url", &self.url.as_str())
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl WebhookSender {
    /// A sender to `url`, signing with `secret` (`whsec_<base64>`), each attempt
    /// bounded by [`DELIVERY_TIMEOUT`]. Both are checked here, before anything is sent.
    pub fn new(url: &str, secret: &str) -> Result<Self, WebhookError> {
        Self::with_timeout(url, secret, DELIVERY_TIMEOUT)
    }

    /// [`Self::new`] with another deadline for each attempt.
    pub fn with_timeout(url: &str, secret: &str, timeout: Duration) -> Result<Self, WebhookError> {
        let url = checked_url(url)?;
        let key = checked_secret(secret)?;
        let http = reqwest::Client::builder()
            .user_agent(crate::USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| WebhookError::Url(format!("cannot be reached: {e}")))?;
        // Present from the first sender on, so a receiver that never answered shows as
        // stale; never reset by a later sender.
        static PRESENT: std::sync::Once = std::sync::Once::new();
        PRESENT.call_once(|| ::metrics::gauge!(crate::metrics::WEBHOOK_LAST_SUCCESS).set(0.0));
        Ok(Self {
            url,
            timeout,
            key: std::sync::Arc::new(key),
            http,
        })
    }

    /// A sender to `url` with the secret in `SUPPLIERS_WEBHOOK_SECRET`.
    pub fn from_env(url: &str) -> Result<Self, WebhookError> {
        let secret = std::env::var(SECRET_VARIABLE)
            .map_err(|_| WebhookError::Secret("SUPPLIERS_WEBHOOK_SECRET is not set"))?;
        Self::new(url, &secret)
    }

    /// Where events go.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// One delivery attempt of the event `id` with its JSON `body`: `Ok` once the
    /// receiver answered 2xx. Counted by outcome in the metrics.
    pub async fn send(&self, id: &str, body: &[u8]) -> Result<(), WebhookError> {
        let result = self.attempt(id, body).await;
        let outcome = match &result {
            Ok(()) => DeliveryOutcome::Success,
            Err(WebhookError::Delivery { outcome, .. }) => *outcome,
            Err(_) => DeliveryOutcome::Connect,
        };
        ::metrics::counter!(crate::metrics::WEBHOOK_DELIVERIES, "outcome" => outcome.as_str())
            .increment(1);
        if outcome == DeliveryOutcome::Success {
            let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
            ::metrics::gauge!(crate::metrics::WEBHOOK_LAST_SUCCESS).set(now);
        }
        result
    }

    async fn attempt(&self, id: &str, body: &[u8]) -> Result<(), WebhookError> {
        let failed = |reason: String, outcome, status, retry_after| WebhookError::Delivery {
            url: self.url.to_string(),
            reason,
            outcome,
            status,
            retry_after,
        };
        let timestamp = chrono::Utc::now().timestamp();
        let signature = self.key.sign(id, timestamp, body).map_err(|_| {
            failed(
                "the event is not UTF-8".into(),
                DeliveryOutcome::Http4xx,
                None,
                None,
            )
        })?;
        let answer = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| {
                let outcome = match e.is_timeout() {
                    true => DeliveryOutcome::Timeout,
                    false => DeliveryOutcome::Connect,
                };
                failed(self.transport(&e), outcome, None, None)
            })?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = crate::retry::retry_after(answer.headers(), std::time::SystemTime::now());
        let outcome = DeliveryOutcome::of_status(status.as_u16());
        let reason = match outcome {
            DeliveryOutcome::Gone => {
                format!("the receiver answered {status}: delivery to this endpoint stopped")
            }
            _ => format!("the receiver answered {status}"),
        };
        Err(failed(reason, outcome, Some(status.as_u16()), retry_after))
    }

    fn transport(&self, err: &reqwest::Error) -> String {
        if err.is_timeout() {
            format!("the receiver did not answer within {:?}", self.timeout)
        } else if err.is_connect() {
            "the receiver refused the connection or is unreachable".into()
        } else {
            "the connection to the receiver failed".into()
        }
    }
}

fn checked_url(url: &str) -> Result<Url, WebhookError> {
    let parsed = Url::parse(url).map_err(|e| WebhookError::Url(format!("{url:?}: {e}")))?;
    let loopback = match parsed.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(parsed),
        "http" if loopback => Ok(parsed),
        "http" => Err(WebhookError::Url(format!(
            "{url:?}: plain http is only allowed to a loopback address; use https"
        ))),
        _ => Err(WebhookError::Url(format!(
            "{url:?}: must be https:// (or http:// to a loopback address)"
        ))),
    }
}

fn checked_secret(secret: &str) -> Result<standardwebhooks::Webhook, WebhookError> {
    use base64::Engine;
    const FORM: &str = "expected whsec_ followed by base64 of 24 to 64 random bytes";
    let encoded = secret
        .trim()
        .strip_prefix("whsec_")
        .ok_or(WebhookError::Secret(FORM))?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| WebhookError::Secret(FORM))?;
    if !(24..=64).contains(&key.len()) {
        return Err(WebhookError::Secret(FORM));
    }
    standardwebhooks::Webhook::from_bytes(key).map_err(|_| WebhookError::Secret(FORM))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn only_https_or_loopback_http_is_accepted() {
        for good in [
            "https://shop.example/hooks",
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://localhost:3000/",
        ] {
            assert!(WebhookSender::new(good, SECRET).is_ok(), "{good}");
        }
        for bad in [
            "http://shop.example/hooks",
            "http://10.0.0.1/hook",
            "ftp://127.0.0.1/",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert!(
                matches!(WebhookSender::new(bad, SECRET), Err(WebhookError::Url(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_malformed_secret_is_refused_without_echoing_it() {
        for bad in [
            "",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_not*base64!",
            "whsec_c2hvcnQ=",
        ] {
            let err = WebhookSender::new("https://shop.example/", bad).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(matches!(err, WebhookError::Secret(_)), "{bad}");
            if !bad.is_empty() {
                assert!(!shown.contains(bad.trim_start_matches("whsec_")), "{shown}");
            }
        }
        let sender = WebhookSender::new("https://shop.example/", SECRET).unwrap();
        assert!(!format!("{sender:?}").contains("MfKQ9r8"));
    }
}
