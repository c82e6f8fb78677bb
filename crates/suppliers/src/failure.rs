//! Turning a generated client's error into facts the supplier adapters interpret.
//!
//! Every generated error body type is `Serialize`, so a body becomes a JSON value the
//! adapter reads with the supplier's own conventions. Success bodies that fail to decode
//! are never quoted (they may hold delivered codes).

use std::time::{Duration, SystemTime};

use std::future::Future;

use progenitor_client::{Error as ClientError, ResponseValue};
use serde::Serialize;
use serde_json::Value;

use suppliers_http::{BodyTooLarge, find_cause};

use crate::error::{Error, Reconcile};
use crate::pacer::Pacer;
use crate::retry::{self, AttemptError, Idempotency, Operation, RetryPolicy};

/// Longest error-body excerpt kept for messages.
const EXCERPT_CHARS: usize = 300;

/// Sends a request built by `call` through the retry layer ([`retry::attempts`]: one
/// call per attempt, retried as the operation's idempotency allows, paced by `pacer`)
/// and reads the final error, if any, into a [`Failure`].
pub(crate) async fn send<T, E, F, Fut>(
    policy: &RetryPolicy,
    pacer: &Pacer,
    operation: Operation,
    call: F,
) -> Result<ResponseValue<T>, Failure>
where
    E: Serialize,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<ResponseValue<T>, ClientError<E>>>,
{
    match retry::attempts(policy, pacer, operation, call).await {
        Ok(response) => Ok(response),
        Err(err) => Err(Failure::from_attempt(err).await),
    }
}

/// What went wrong with one call, before supplier-specific interpretation.
#[derive(Debug)]
pub(crate) enum Failure {
    /// An HTTP answer with an error status (or a body that says error).
    Http {
        /// Status code.
        status: u16,
        /// `Retry-After`, if sent.
        retry_after: Option<Duration>,
        /// The body as JSON, when it is JSON.
        body: Option<Value>,
        /// The start of the body as text.
        excerpt: String,
    },
    /// The request failed in transit.
    Transport {
        /// Description without URL or body.
        message: String,
        /// True when no byte can have reached the server.
        never_sent: bool,
    },
    /// A success status whose body did not decode. Holds the raw body for
    /// supplier-specific checks (MousaCard's `success: false`); never displayed.
    Undecodable {
        /// The status it came with (`None` only if no answer was seen).
        status: Option<u16>,
        /// Why, without quoting the body.
        message: String,
        /// The raw body.
        body: bytes::Bytes,
    },
    /// The answer's body grew past the configured limit and was not read further.
    TooLarge(BodyTooLarge),
}

impl Failure {
    /// Classifies one attempt's failure.
    pub(crate) async fn from_attempt<E: Serialize>(err: AttemptError<E>) -> Self {
        match err {
            AttemptError::TimedOut(after) => Self::Transport {
                message: format!("no complete answer within {after:?}"),
                never_sent: false,
            },
            AttemptError::Client(err, status) => {
                Self::from_client(*err, status.map(|s| s.as_u16())).await
            }
        }
    }

    /// Classifies a generated client's error; `status` is the answer's, when one came.
    async fn from_client<E: Serialize>(err: ClientError<E>, status: Option<u16>) -> Self {
        let never_sent = retry::never_sent(&err);
        let retry_after = retry::error_status(&err)
            .and_then(|(_, headers)| retry::retry_after(headers, SystemTime::now()));
        match err {
            ClientError::ErrorResponse(response) => {
                let status = response.status().as_u16();
                let body = serde_json::to_value(response.into_inner()).ok();
                let excerpt = body.as_ref().map(excerpt_of_json).unwrap_or_default();
                Self::Http {
                    status,
                    retry_after,
                    body,
                    excerpt,
                }
            }
            ClientError::UnexpectedResponse(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    Ok(text) => Self::Http {
                        status,
                        retry_after,
                        body: serde_json::from_str(&text).ok(),
                        excerpt: excerpt_of(&text),
                    },
                    Err(_) => Self::Http {
                        status,
                        retry_after,
                        body: None,
                        excerpt: String::new(),
                    },
                }
            }
            ClientError::InvalidResponsePayload(body, err) => Self::Undecodable {
                status,
                message: format!(
                    "the response body did not decode ({:?} error at line {} column {})",
                    err.classify(),
                    err.line(),
                    err.column()
                ),
                body,
            },
            ClientError::CommunicationError(err) | ClientError::ResponseBodyError(err) => {
                match find_cause::<BodyTooLarge>(&err) {
                    Some(too_large) => Self::TooLarge(*too_large),
                    None => Self::Transport {
                        message: describe_transport(&err),
                        never_sent,
                    },
                }
            }
            ClientError::InvalidRequest(message) => Self::Transport {
                message: format!("the request could not be built: {message}"),
                never_sent: true,
            },
            ClientError::Custom(message) => Self::Transport {
                message,
                never_sent: true,
            },
            ClientError::InvalidUpgrade(_) => Self::Transport {
                message: "unexpected protocol upgrade".into(),
                never_sent: false,
            },
        }
    }

    /// The error for a failure no supplier-specific rule claimed. For a purchase, any
    /// failure after the request may have been sent is ambiguous.
    pub(crate) fn into_error(self, operation: Operation, reconcile: Reconcile) -> Error {
        let supplier = operation.supplier;
        let purchase = operation.idempotency == Idempotency::Purchase;
        match self {
            Self::Transport {
                message,
                never_sent: false,
            } if purchase => Error::AmbiguousPurchase {
                supplier,
                operation: operation.name,
                cause: message,
                reconcile,
                reference: None,
            },
            Self::Undecodable { message, .. } if purchase => Error::AmbiguousPurchase {
                supplier,
                operation: operation.name,
                cause: message,
                reconcile,
                reference: None,
            },
            // A success or a server error whose answer was not read: it may have bought.
            Self::TooLarge(too_large)
                if purchase && (too_large.status < 400 || too_large.status >= 500) =>
            {
                Error::AmbiguousPurchase {
                    supplier,
                    operation: operation.name,
                    cause: too_large.to_string(),
                    reconcile,
                    reference: None,
                }
            }
            Self::Http { status, .. } if purchase && status >= 500 => Error::AmbiguousPurchase {
                supplier,
                operation: operation.name,
                cause: format!("HTTP {status}"),
                reconcile,
                reference: None,
            },
            Self::Transport { message, .. } => Error::Transport { supplier, message },
            Self::Undecodable {
                status, message, ..
            } => Error::UnexpectedResponse {
                supplier,
                status: status.unwrap_or(0),
                excerpt: message,
            },
            Self::TooLarge(too_large) => Error::UnexpectedResponse {
                supplier,
                status: too_large.status,
                excerpt: format!("the body is larger than the {}-byte limit", too_large.limit),
            },
            Self::Http {
                status: 429,
                retry_after,
                ..
            } => Error::RateLimited {
                supplier,
                retry_after,
            },
            Self::Http {
                status, excerpt, ..
            } => {
                let message = if excerpt.is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status}: {excerpt}")
                };
                Error::for_status(supplier, status, message).unwrap_or(Error::UnexpectedResponse {
                    supplier,
                    status,
                    excerpt,
                })
            }
        }
    }
}

fn describe_transport(err: &reqwest::Error) -> String {
    if let Some(stalled) = find_cause::<suppliers_http::BodyStalled>(err) {
        return stalled.to_string();
    }
    // reqwest's Display includes the URL; keep only the kind and the root cause.
    let kind = if err.is_connect() {
        "could not connect"
    } else if err.is_timeout() {
        "timed out"
    } else if err.is_body() || err.is_decode() {
        "the response body was cut off"
    } else {
        "the connection failed"
    };
    let mut source = std::error::Error::source(err);
    let mut root = None;
    while let Some(cause) = source {
        root = Some(cause.to_string());
        source = cause.source();
    }
    match root {
        Some(root) => format!("{kind}: {root}"),
        None => kind.to_owned(),
    }
}

fn excerpt_of(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}...", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

fn excerpt_of_json(value: &Value) -> String {
    excerpt_of(&value.to_string())
}

/// `detail`/`message`-style text from a JSON error body.
pub(crate) fn text_at(body: &Option<Value>, pointer: &str) -> Option<String> {
    match body.as_ref()?.pointer(pointer)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_bounded() {
        let long = "x".repeat(1000);
        let cut = excerpt_of(&long);
        assert_eq!(cut.len(), EXCERPT_CHARS + 3);
        assert_eq!(excerpt_of("  short \n"), "short");
    }
}
