//! Response bodies bounded while they stream in, before anything decodes them.

use bytes::Bytes;
use futures::TryStreamExt;
use reqwest::header::CONTENT_TYPE;

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
pub fn limit_body(response: reqwest::Response, limits: ResponseLimits) -> reqwest::Response {
    if is_event_stream(&response) {
        return response;
    }
    let limit = limits.max_body_bytes;
    let declared = response.content_length();
    let too_large = BodyTooLarge {
        status: response.status().as_u16(),
        limit,
    };
    let mut head = http::Response::new(());
    *head.status_mut() = response.status();
    *head.version_mut() = response.version();
    *head.headers_mut() = response.headers().clone();
    let body = if declared.is_some_and(|n| n > limit as u64) {
        reqwest::Body::wrap_stream(futures::stream::once(
            async move { Err::<Bytes, _>(too_large) },
        ))
    } else {
        // A declared length within the limit: the HTTP layer reads no more than it.
        let mut seen = 0usize;
        let chunks = response
            .bytes_stream()
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            .and_then(move |chunk| {
                seen = seen.saturating_add(chunk.len());
                let checked = if seen > limit {
                    Err(Box::new(too_large) as Box<dyn std::error::Error + Send + Sync>)
                } else {
                    Ok(chunk)
                };
                futures::future::ready(checked)
            });
        reqwest::Body::wrap_stream(crate::stalled_stream::guard(chunks))
    };
    let (head, ()) = head.into_parts();
    reqwest::Response::from(http::Response::from_parts(head, body))
}

fn is_event_stream(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"))
}
