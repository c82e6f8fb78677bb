//! The one retry layer for all three clients.
//!
//! Every generated call goes through one crate-private function, `attempts` (through
//! `failure::send`, which reads its final error), which knows whether the request is
//! safe to repeat. Read-only requests retry on connect errors, dropped connections, 429
//! and 502/503/504 with full-jitter exponential backoff (backon's schedule, bounded in
//! attempts and total time) and honour `Retry-After`. A purchase is sent exactly once:
//! only a connect error, which proves no byte reached the server, is retried.
//!
//! Every attempt has a total deadline ([`RetryPolicy::attempt_timeout`]) from sending to
//! the last byte of the decoded answer, so a body that trickles in cannot hold a call
//! forever. For an event stream the deadline covers opening it; the stream's reader
//! bounds the gaps between its bytes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use progenitor_client::{Error as ClientError, ResponseValue};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use suppliers_http::AnswerStatus;
use tokio::time::{Instant, Sleep};

use crate::model::SupplierId;
use crate::pacer::Pacer;

/// Whether a request may be sent more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, status checks, validations: repeat freely.
    Safe,
    /// Buys something: never repeat once bytes may have reached the server.
    Purchase,
}

/// Bounds of the retry layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Base delay of the exponential schedule.
    pub min_delay: Duration,
    /// Cap of any one computed delay (a longer `Retry-After` is still honoured).
    pub max_delay: Duration,
    /// Total time across attempts and sleeps; a retry that would end later is not made.
    pub max_elapsed: Duration,
    /// Deadline of one attempt, from sending to the answer's last byte (never longer than
    /// what is left of `max_elapsed`). A read past it is a transport error; a purchase
    /// past it is ambiguous.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// Names a request in traces and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// Which supplier.
    pub supplier: SupplierId,
    /// The spec's operationId.
    pub name: &'static str,
    /// The HTTP method (`GET`, `POST`), for metrics.
    pub method: &'static str,
    /// Whether it may be repeated.
    pub idempotency: Idempotency,
}

/// `Retry-After` as seconds or an HTTP-date, relative to `now`.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The status and headers of an HTTP error answer, whatever form the client gave it.
pub fn error_status<E>(err: &ClientError<E>) -> Option<(StatusCode, &HeaderMap)> {
    match err {
        ClientError::ErrorResponse(response) => Some((response.status(), response.headers())),
        ClientError::UnexpectedResponse(response) => Some((response.status(), response.headers())),
        _ => None,
    }
}

/// Why one attempt failed.
#[derive(Debug)]
pub(crate) enum AttemptError<E> {
    /// The generated client's error, with the status of the answer it came with, if any
    /// (progenitor drops it from an undecodable success body).
    Client(Box<ClientError<E>>, Option<StatusCode>),
    /// No complete answer within the attempt's deadline.
    TimedOut(Duration),
}

impl<E> AttemptError<E> {
    fn status(&self) -> Option<(StatusCode, &HeaderMap)> {
        match self {
            Self::Client(err, _) => error_status(err),
            Self::TimedOut(_) => None,
        }
    }

    fn is_transient(&self, idempotency: Idempotency) -> bool {
        match self {
            Self::Client(err, _) => is_transient(err, idempotency),
            // The request was sent: a purchase may have gone through.
            Self::TimedOut(_) => idempotency == Idempotency::Safe,
        }
    }
}

/// True if no byte of the request can have reached the server.
pub fn never_sent<E>(err: &ClientError<E>) -> bool {
    match err {
        ClientError::CommunicationError(e) => e.is_connect() || e.is_builder(),
        ClientError::InvalidRequest(_) | ClientError::Custom(_) => true,
        _ => false,
    }
}

/// Whether `err` is worth another attempt of a request with this idempotency.
pub fn is_transient<E>(err: &ClientError<E>, idempotency: Idempotency) -> bool {
    match idempotency {
        Idempotency::Purchase => {
            matches!(err, ClientError::CommunicationError(e) if e.is_connect())
        }
        Idempotency::Safe => match err {
            ClientError::CommunicationError(_) | ClientError::ResponseBodyError(_) => true,
            _ => error_status(err)
                .is_some_and(|(status, _)| matches!(status.as_u16(), 429 | 502 | 503 | 504)),
        },
    }
}

/// Sends a request built by `call` (called once per attempt), retrying as the
/// operation's idempotency allows, inside a tracing span naming supplier, operation,
/// attempt and status. Every attempt waits for its turn at the supplier's `pacer`, and
/// a `Retry-After` answer pauses the pacer for every request of that supplier. Never
/// logs headers or bodies. The last attempt's error comes back as it was
/// ([`crate::failure::send`] reads it).
pub(crate) async fn attempts<T, E, F, Fut>(
    policy: &RetryPolicy,
    pacer: &Pacer,
    operation: Operation,
    mut call: F,
) -> Result<ResponseValue<T>, AttemptError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<ResponseValue<T>, ClientError<E>>>,
{
    let started = Instant::now();
    let mut schedule = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.max_attempts.saturating_sub(1) as usize)
        .build();
    // A loop over backon's schedule rather than its `Retry` future: the attempt stays
    // where it is built instead of being moved into the retry's state.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = Attempt {
            span: tracing::info_span!(
                "supplier_request",
                supplier = operation.supplier.as_str(),
                operation = operation.name,
                attempt,
                status = tracing::field::Empty,
            ),
            request: call(),
            timer: pacer.turn().map(tokio::time::sleep_until),
            sending: None,
            status: AnswerStatus::default(),
            operation,
            policy,
            started,
        }
        .await;
        let err = match outcome {
            Ok(response) => return Ok(response),
            Err(err) if !err.is_transient(operation.idempotency) => return Err(err),
            Err(err) => err,
        };
        let asked = err
            .status()
            .and_then(|(_, h)| retry_after(h, SystemTime::now()));
        // Every request of this supplier waits, retried or not.
        if let Some(asked) = asked {
            pacer.pause(asked);
        }
        let Some(backoff) = schedule.next() else {
            return Err(err);
        };
        // Full jitter: anywhere between zero and the schedule's delay, but never sooner
        // than the server asked.
        let jittered = backoff.mul_f64(fastrand::f64());
        let delay = asked.map_or(jittered, |asked| asked.max(jittered));
        if started.elapsed() + delay > policy.max_elapsed {
            return Err(err);
        }
        crate::metrics::record_retry(operation.supplier, operation.name);
        // A supplier asking to wait is worth an operator's eye (sustained, it is a
        // budget set too high); a transient failure retried is not.
        match asked {
            Some(asked) => tracing::warn!(
                supplier = operation.supplier.as_str(),
                operation = operation.name,
                cause = %ErrorKind(&err),
                attempt,
                retry_after_ms = asked.as_millis() as u64,
                delay_ms = delay.as_millis() as u64,
                "the supplier asked to wait (Retry-After); every request to it waits",
            ),
            None => tracing::info!(
                supplier = operation.supplier.as_str(),
                operation = operation.name,
                cause = %ErrorKind(&err),
                attempt,
                delay_ms = delay.as_millis() as u64,
                "retrying",
            ),
        }
        tokio::time::sleep(delay).await;
    }
}

pin_project_lite::pin_project! {
    /// One attempt: waits for the supplier's turn at the pacer, sends under the
    /// attempt's deadline noting the answer's status, and records how it ended, inside
    /// the attempt's span. One future that keeps the request where it was first put:
    /// combinators (`then`, `timeout`, a task-local scope, `instrument`) would each move
    /// it again, and moving a request future is most of what this layer costs
    /// (BENCHMARKS.md, section 1).
    struct Attempt<'a, Fut> {
        #[pin]
        request: Fut,
        // The pacer's turn while it has not come, then the attempt's deadline.
        #[pin]
        timer: Option<Sleep>,
        // When the request left, and its deadline; `None` while waiting for the turn.
        sending: Option<(Instant, Duration)>,
        status: AnswerStatus,
        span: tracing::Span,
        operation: Operation,
        policy: &'a RetryPolicy,
        started: Instant,
    }
}

impl<T, E, Fut> Future for Attempt<'_, Fut>
where
    Fut: Future<Output = Result<ResponseValue<T>, ClientError<E>>>,
{
    type Output = Result<ResponseValue<T>, AttemptError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        let (sent, deadline) = match *this.sending {
            Some(sending) => sending,
            None => {
                if let Some(turn) = this.timer.as_mut().as_pin_mut() {
                    ready!(turn.poll(cx));
                }
                let deadline = this.policy.attempt_timeout.min(
                    this.policy
                        .max_elapsed
                        .saturating_sub(this.started.elapsed()),
                );
                let sent = Instant::now();
                match this.timer.as_mut().as_pin_mut() {
                    Some(timer) => timer.reset(sent + deadline),
                    None => this
                        .timer
                        .set(Some(tokio::time::sleep_until(sent + deadline))),
                }
                *this.sending = Some((sent, deadline));
                (sent, deadline)
            }
        };
        let request = this.request;
        let result = match this.status.noting(|| request.poll(cx)) {
            Poll::Ready(Ok(response)) => Ok(response),
            Poll::Ready(Err(err)) => Err(AttemptError::Client(Box::new(err), this.status.get())),
            Poll::Pending => {
                let timer = this.timer.as_pin_mut().expect("set once sent");
                ready!(timer.poll(cx));
                Err(AttemptError::TimedOut(deadline))
            }
        };
        observe(*this.operation, &result, sent.elapsed());
        Poll::Ready(result)
    }
}

/// Records one attempt: its status in the span, a debug event, and its metrics.
fn observe<T, E>(
    operation: Operation,
    result: &Result<ResponseValue<T>, AttemptError<E>>,
    elapsed: std::time::Duration,
) {
    use crate::metrics::AttemptEnd;
    let end = match result {
        Ok(response) => AttemptEnd::Answered(response.status().as_u16()),
        Err(AttemptError::TimedOut(_)) => AttemptEnd::NoAnswer("timeout"),
        Err(AttemptError::Client(err, status)) => {
            let status = status.map(|s| s.as_u16());
            match err.as_ref() {
                ClientError::ErrorResponse(r) => AttemptEnd::Answered(r.status().as_u16()),
                ClientError::UnexpectedResponse(r) => AttemptEnd::Answered(r.status().as_u16()),
                ClientError::ResponseBodyError(e) | ClientError::CommunicationError(e)
                    if suppliers_http::find_cause::<suppliers_http::BodyStalled>(e).is_some() =>
                {
                    AttemptEnd::BodyStalled(status)
                }
                ClientError::InvalidResponsePayload(..) | ClientError::ResponseBodyError(_) => {
                    AttemptEnd::BodyFailed(status)
                }
                ClientError::CommunicationError(e) if e.is_connect() => {
                    AttemptEnd::NoAnswer("connect")
                }
                ClientError::CommunicationError(e) if e.is_timeout() => {
                    AttemptEnd::NoAnswer("timeout")
                }
                ClientError::CommunicationError(e) if e.is_body() || e.is_decode() => {
                    AttemptEnd::BodyFailed(status)
                }
                _ => AttemptEnd::NoAnswer("connection"),
            }
        }
    };
    let status = match &end {
        AttemptEnd::Answered(status)
        | AttemptEnd::BodyFailed(Some(status))
        | AttemptEnd::BodyStalled(Some(status)) => Some(*status),
        _ => None,
    };
    if let Some(status) = status {
        tracing::Span::current().record("status", status);
        if status == 429 {
            crate::metrics::record_rate_limited(operation.supplier);
        }
    }
    match result {
        Ok(_) => tracing::debug!("request succeeded"),
        Err(err) => tracing::debug!(error = %ErrorKind(err), "request failed"),
    }
    crate::metrics::record_attempt(
        operation.supplier,
        operation.name,
        operation.method,
        end,
        elapsed,
    );
}

/// An error described without its body (bodies may carry codes or account details).
struct ErrorKind<'a, E>(&'a AttemptError<E>);

impl<E> std::fmt::Display for ErrorKind<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let err = match self.0 {
            AttemptError::TimedOut(after) => {
                return write!(f, "no complete answer within {after:?}");
            }
            AttemptError::Client(err, _) => err,
        };
        match err.as_ref() {
            ClientError::CommunicationError(e) | ClientError::ResponseBodyError(e)
                if suppliers_http::find_cause::<suppliers_http::BodyStalled>(e).is_some() =>
            {
                f.write_str("body stalled")
            }
            ClientError::CommunicationError(e) if e.is_connect() => f.write_str("connect error"),
            ClientError::CommunicationError(e) if e.is_timeout() => f.write_str("timeout"),
            ClientError::CommunicationError(_) => f.write_str("connection error"),
            ClientError::ResponseBodyError(_) => f.write_str("response body cut off"),
            ClientError::InvalidResponsePayload(..) => f.write_str("undecodable response"),
            ClientError::InvalidRequest(_) => f.write_str("invalid request"),
            ClientError::InvalidUpgrade(_) => f.write_str("invalid upgrade"),
            ClientError::Custom(_) => f.write_str("hook error"),
            ClientError::ErrorResponse(r) => write!(f, "HTTP {}", r.status()),
            ClientError::UnexpectedResponse(r) => write!(f, "HTTP {}", r.status()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_in_seconds_and_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));

        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(42)));

        let past = httpdate::fmt_http_date(now - Duration::from_secs(5));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&past).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));

        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }
}
