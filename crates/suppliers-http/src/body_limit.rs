//! Response bodies bounded while they stream in, before anything decodes them.

use std::future::Future;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use reqwest::ResponseBuilderExt;
use reqwest::header::CONTENT_TYPE;

use crate::stalled_stream::StallGuard;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Default of [`ResponseLimits::max_body_bytes`]: 16 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How large an answer may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// Largest response body read, in bytes (event streams excepted).
    pub max_body_bytes: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// A response body grew past its limit; reading stopped there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the response body (HTTP {status}) is larger than the {limit}-byte limit")]
pub struct BodyTooLarge {
    /// The answer's status code.
    pub status: u16,
    /// The limit, in bytes.
    pub limit: usize,
}

/// `response`'s body, read into memory within `limits`: reading fails with
/// [`BodyTooLarge`] once more than `limits.max_body_bytes` arrive (at once, when
/// `Content-Length` already says so), and with [`crate::BodyStalled`] when the body brings
/// too few bytes for too long (see [`crate::stalled_stream`]). Either is the source of
/// the `reqwest::Error` returned, as a failure of the network is.
///
/// The generated clients decode every answer they declare through it: bounding the
/// body where it is read, rather than wrapping every answer's body for whoever reads
/// it, costs a body that arrives at once nothing but a count (BENCHMARKS.md, section 1).
pub async fn read_body(
    mut response: reqwest::Response,
    limits: ResponseLimits,
) -> reqwest::Result<Bytes> {
    let too_large = BodyTooLarge {
        status: response.status().as_u16(),
        limit: limits.max_body_bytes,
    };
    // A declared length within the limit: the HTTP layer reads no more than it.
    if response
        .content_length()
        .is_some_and(|n| n > limits.max_body_bytes as u64)
    {
        return Err(body_error(too_large).await);
    }
    let mut stall = StallGuard::default();
    let mut body: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut seen = 0usize;
    loop {
        let chunk = {
            let mut next = std::pin::pin!(response.chunk());
            std::future::poll_fn(|cx| match next.as_mut().poll(cx) {
                Poll::Ready(chunk) => Poll::Ready(Ok(chunk)),
                Poll::Pending => stall.poll_stalled(cx).map(Err),
            })
            .await
        };
        let chunk = match chunk {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => break,
            Ok(Err(err)) => return Err(err),
            Err(stalled) => return Err(body_error(stalled).await),
        };
        seen = seen.saturating_add(chunk.len());
        if seen > limits.max_body_bytes {
            return Err(body_error(too_large).await);
        }
        stall.received(chunk.len());
        // One chunk (the usual answer) is kept as it came; more are joined.
        match (&mut body, &mut joined) {
            (None, None) => body = Some(chunk),
            (Some(first), None) => {
                let mut all = BytesMut::with_capacity(first.len() + chunk.len());
                all.extend_from_slice(first);
                all.extend_from_slice(&chunk);
                joined = Some(all);
            }
            (_, Some(all)) => all.extend_from_slice(&chunk),
        }
    }
    Ok(match joined {
        Some(all) => all.freeze(),
        None => body.unwrap_or_default(),
    })
}

/// `response` with its body read into memory by [`read_body`]: the body of the returned
/// response is those bytes, or gives [`read_body`]'s error to whoever reads it. For
/// answers kept whole, to be read later (an undeclared status), so that reading them
/// later is bounded too. `text/event-stream` bodies are left alone, unread: their reader
/// bounds each event and the silences between them.
pub async fn buffer_body(response: reqwest::Response, limits: ResponseLimits) -> reqwest::Response {
    if is_event_stream(&response) {
        return response;
    }
    let status = response.status();
    let version = response.version();
    let url = response.url().clone();
    let mut response = response;
    let headers = std::mem::take(response.headers_mut());
    let body = match read_body(response, limits).await {
        Ok(bytes) => reqwest::Body::from(bytes),
        Err(err) => reqwest::Body::wrap_stream(futures::stream::once(async move {
            Err::<Bytes, reqwest::Error>(err)
        })),
    };
    let mut kept = http::Response::builder()
        .status(status)
        .version(version)
        .url(url)
        .body(body)
        .expect("a status, version and URL taken from a response build one");
    *kept.headers_mut() = headers;
    reqwest::Response::from(kept)
}

/// A `reqwest::Error` whose source is `cause`, as a body failing with it gives. reqwest
/// makes its errors only itself, and callers look for the cause in the error's chain.
async fn body_error(cause: impl std::error::Error + Send + Sync + 'static) -> reqwest::Error {
    let cause: BoxError = Box::new(cause);
    let failing = reqwest::Body::wrap_stream(futures::stream::once(async move {
        Err::<Bytes, BoxError>(cause)
    }));
    reqwest::Response::from(http::Response::new(failing))
        .bytes()
        .await
        .expect_err("a body that fails gives its error")
}

fn is_event_stream(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;
    use crate::BodyStalled;
    use crate::stalled_stream::{CHECK_EVERY, GRACE_PERIOD};
    use futures::{Stream, StreamExt};

    type BoxError = Box<dyn std::error::Error + Send + Sync>;

    /// One byte every `every`, `count` times.
    fn drip(every: Duration, count: usize) -> impl Stream<Item = Result<Bytes, BoxError>> {
        futures::stream::unfold(0, move |sent| async move {
            if sent == count {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((Ok(Bytes::from_static(b"x")), sent + 1))
        })
    }

    /// `body` as an answer's body, read through [`read_body`].
    async fn read<S>(body: S) -> reqwest::Result<Bytes>
    where
        S: Stream<Item = Result<Bytes, BoxError>> + Send + 'static,
    {
        let response = http::Response::new(reqwest::Body::wrap_stream(body));
        read_body(response.into(), ResponseLimits::default()).await
    }

    fn is_stalled(err: &reqwest::Error) -> bool {
        crate::find_cause::<BodyStalled>(err).is_some()
    }

    #[tokio::test(start_paused = true)]
    async fn a_drip_under_the_floor_fails_after_the_grace_period() {
        let started = Instant::now();
        let err = read(drip(Duration::from_secs(3), 100)).await.unwrap_err();
        assert!(is_stalled(&err), "{err}");
        let took = started.elapsed();
        assert!(took >= GRACE_PERIOD && took <= GRACE_PERIOD * 2, "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_over_the_floor_and_a_silent_start_within_grace_pass() {
        // Two bytes a second for a minute: slow, never stalled.
        let body = read(drip(Duration::from_millis(500), 120)).await.unwrap();
        assert_eq!(body.len(), 120);
        // Nothing for 4 s, then the rest at once: within the grace period.
        let late = futures::stream::once(async {
            tokio::time::sleep(Duration::from_secs(4)).await;
            Ok::<_, BoxError>(Bytes::from(vec![b'x'; 100]))
        });
        assert_eq!(read(late).await.unwrap().len(), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn five_bytes_in_the_last_five_seconds_pass_however_they_are_chunked() {
        // A burst of 5 one-byte chunks every 4.9 s: always 5 bytes within 5 s.
        let bursts = futures::stream::iter(0..60).then(|i| async move {
            if i % 5 == 0 {
                tokio::time::sleep(Duration::from_millis(4_900)).await;
            }
            Ok::<_, BoxError>(Bytes::from_static(b"x"))
        });
        assert_eq!(read(bursts).await.unwrap().len(), 60);
        // Four of them every 4.9 s: under the floor once the grace period has passed.
        let thin = futures::stream::iter(0..60).then(|i| async move {
            if i % 4 == 0 {
                tokio::time::sleep(Duration::from_millis(4_900)).await;
            }
            Ok::<_, BoxError>(Bytes::from_static(b"x"))
        });
        assert!(is_stalled(&read(thin).await.unwrap_err()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_sends_a_byte_fails() {
        let silent = futures::stream::pending::<Result<Bytes, BoxError>>();
        let started = Instant::now();
        let err = read(silent).await.unwrap_err();
        assert!(is_stalled(&err));
        assert!(started.elapsed() <= GRACE_PERIOD + CHECK_EVERY);
    }
}
