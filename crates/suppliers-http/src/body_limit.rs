//! Response bodies bounded while they stream in, before anything decodes them.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
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

/// `response` with a body that fails with [`BodyTooLarge`] once more than
/// `limits.max_body_bytes` arrive (at once, when `Content-Length` already says so), and
/// with [`crate::BodyStalled`] when it brings too few bytes for too long (see
/// [`crate::stalled_stream`]). `text/event-stream` bodies are left alone: their reader
/// bounds each event and the silences between them.
///
/// The head (status, headers, URL) moves into the new response as it is: nothing is
/// copied but the URL.
pub fn limit_body(response: reqwest::Response, limits: ResponseLimits) -> reqwest::Response {
    if is_event_stream(&response) {
        return response;
    }
    let too_large = BodyTooLarge {
        status: response.status().as_u16(),
        limit: limits.max_body_bytes,
    };
    // A declared length within the limit: the HTTP layer reads no more than it.
    let declared_too_large = response
        .content_length()
        .is_some_and(|n| n > limits.max_body_bytes as u64);
    let url = response.url().clone();
    let (mut head, body) = http::Response::from(response).into_parts();
    // Without its URL, reqwest would parse a placeholder for every answer.
    let (with_url, ()) = http::Response::builder()
        .url(url)
        .body(())
        .expect("a builder given only a URL builds")
        .into_parts();
    head.extensions.extend(with_url.extensions);
    let body = Bounded {
        inner: body,
        too_large,
        failed: declared_too_large.then_some(Failed::TooLarge),
        seen: 0,
        stall: StallGuard::default(),
    };
    reqwest::Response::from(http::Response::from_parts(head, reqwest::Body::wrap(body)))
}

/// A response body under [`limit_body`]'s bounds.
struct Bounded {
    inner: reqwest::Body,
    too_large: BodyTooLarge,
    /// Set once the body failed: the error still to give, then the end.
    failed: Option<Failed>,
    /// Bytes received so far.
    seen: usize,
    stall: StallGuard,
}

#[derive(Clone, Copy)]
enum Failed {
    /// `Content-Length` says more than the limit: fail at the first read.
    TooLarge,
    /// The error was given: the body ends.
    Given,
}

impl http_body::Body for Bounded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match this.failed {
            Some(Failed::TooLarge) => return this.fail(this.too_large.into()),
            Some(Failed::Given) => return Poll::Ready(None),
            None => {}
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, Bytes::len);
                this.seen = this.seen.saturating_add(len);
                if this.seen > this.too_large.limit {
                    return this.fail(this.too_large.into());
                }
                this.stall.received(len);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => this.fail(err.into()),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.stall.poll_stalled(cx) {
                Poll::Ready(stalled) => this.fail(stalled.into()),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.failed, Some(Failed::Given)) || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Bounded {
    /// Gives `err` once; the body ends after it.
    fn fail(&mut self, err: BoxError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.failed = Some(Failed::Given);
        Poll::Ready(Some(Err(err)))
    }
}

fn is_event_stream(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"))
}
