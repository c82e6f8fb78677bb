//! What every supplier client does to its HTTP traffic, whichever supplier it talks to:
//!
//! - [`redirect_policy`]: redirects are followed only within the origin (scheme, host and
//!   port) the request was sent to, [`MAX_REDIRECTS`] hops at most, so a credential
//!   header added to a request (`X-API-Key`, `X-Cr-Application`...) never reaches another
//!   host. reqwest strips only `Authorization` and cookies by itself.
//! - [`read_body`]: a response body is read and cut off, with [`BodyTooLarge`], as soon
//!   as it grows past [`ResponseLimits::max_body_bytes`], before anything decodes it, and
//!   with [`BodyStalled`] when it brings under 1 byte a second for 5 s
//!   ([`stalled_stream`]: a drip that a per-read timeout never catches). The generated
//!   clients read every answer they decode through it, and keep undeclared answers
//!   through [`buffer_body`]. Event streams are left alone: their reader bounds each
//!   event and the silences instead.
//! - [`with_answer_status`] and [`AnswerStatus`]: the status of the answer a call
//!   received, for the errors that do not keep it.
//!
//! The generated clients call [`execute`] from their `exec` hook and build their
//! `reqwest::Client` from [`client_builder`].
//!
//! ```
//! # async fn run() -> Result<(), reqwest::Error> {
//! use suppliers_http::{ResponseLimits, client_builder, execute, read_body};
//!
//! let http = client_builder("my-app/1.0").build()?;
//! let request = http.get("https://public-api.foxreload.com/api/products/").build()?;
//! let limits = ResponseLimits { max_body_bytes: 1 << 20 };
//! let body = read_body(execute(&http, request).await?, limits).await?; // at most 1 MiB
//! # let _ = body; Ok(()) }
//! ```
//!
//! # Features
//!
//! - `rustls` (default): TLS through rustls (aws-lc-rs), certificates checked by the
//!   platform's verifier.
//! - `native-tls`: TLS through the platform's library (OpenSSL on Linux, which needs
//!   `libssl-dev` and `pkg-config` to build; Security.framework; SChannel). With both,
//!   reqwest uses native-tls;
//!   for it alone: `default-features = false, features = ["native-tls"]`.
//!
//! With neither, only `http://` URLs work.

mod answer_status;
mod body_limit;
mod redirect;
pub mod stalled_stream;

use std::time::Duration;

pub use answer_status::{AnswerStatus, with_answer_status};
pub use body_limit::{
    BodyTooLarge, DEFAULT_MAX_BODY_BYTES, ResponseLimits, buffer_body, read_body,
};
pub use redirect::{MAX_REDIRECTS, RefusedRedirect, check_redirect, redirect_policy};
pub use stalled_stream::BodyStalled;

/// Connect timeout of [`client_builder`].
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Per-read timeout of [`client_builder`] (it restarts with every byte; a total deadline
/// per request is the caller's, see the `suppliers` facade).
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a pooled connection may sit idle before it is closed: under the idle
/// timeouts of common NATs and load balancers (60 s and up), so a pooled connection is
/// rarely one that a middlebox forgot (half-open).
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// TCP keep-alive: first probe after this much idleness, then every
/// [`KEEPALIVE_INTERVAL`], [`KEEPALIVE_RETRIES`] times, so a peer that vanished is found
/// in under 30 s even while nothing is sent.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);
/// See [`KEEPALIVE_IDLE`].
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// See [`KEEPALIVE_IDLE`].
pub const KEEPALIVE_RETRIES: u32 = 3;

/// A `reqwest::ClientBuilder` with [`redirect_policy`], [`CONNECT_TIMEOUT`],
/// [`READ_TIMEOUT`], no total timeout (it would cut event streams), pooled connections
/// closed after [`POOL_IDLE_TIMEOUT`] idle, TCP keep-alive ([`KEEPALIVE_IDLE`]) and
/// `user_agent`.
pub fn client_builder(user_agent: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .tcp_keepalive(KEEPALIVE_IDLE)
        .tcp_keepalive_interval(KEEPALIVE_INTERVAL)
        .tcp_keepalive_retries(KEEPALIVE_RETRIES)
        .redirect(redirect_policy())
        .user_agent(user_agent)
}

/// Sends `request` on `client` and notes the answer's status for [`with_answer_status`].
/// The answer's body is left to be read with [`read_body`].
pub async fn execute(
    client: &reqwest::Client,
    request: reqwest::Request,
) -> reqwest::Result<reqwest::Response> {
    let response = client.execute(request).await?;
    answer_status::note(response.status());
    Ok(response)
}

/// The first error of type `T` in `err`'s chain of sources, `err` included.
pub fn find_cause<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}
