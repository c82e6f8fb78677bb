//! Fault injection, off by default, switchable at run time per route: 429 with
//! `Retry-After`, 5xx, a connection dropped after the request was handled, slow
//! responses, an event stream cut short.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After` in seconds; the request is not handled.
    RateLimit {
        /// Seconds to ask the client to wait.
        retry_after_secs: u64,
    },
    /// This status (e.g. 503) with a short HTML body; the request is not handled.
    ServerError(u16),
    /// The request is handled (a purchase really happens), then the connection is
    /// dropped before the response body arrives.
    DropAfterHandling,
    /// The response is delayed.
    Slow(Duration),
    /// An event stream ends after this many events, without `stop`.
    CutStreamAfter(usize),
    /// An event stream opens and then sends nothing at all: no event, no keep-alive (as
    /// behind a proxy that buffers it).
    SilentStream,
    /// The request is handled, then its answer (headers included) is held back this
    /// long: a client gives up first (`slow` delays before handling instead).
    StallBeforeHeaders(Duration),
    /// The request is handled; the answer's `Content-Length` is its whole body, but only
    /// half of the body is sent before the connection is dropped.
    ShortBody,
    /// The request is handled; the answer is chunked and the connection is dropped
    /// after half of the body, without the last chunk.
    UnterminatedChunked,
    /// Every `status` string in the JSON answer becomes this value, which no spec lists.
    UnknownStatus(String),
}

/// Which requests a fault applies to, and how many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// Path prefix, e.g. `/foxreload/api/orders/`.
    pub path_prefix: String,
    /// Only this method, if set.
    pub method: Option<Method>,
    /// The fault.
    pub fault: Fault,
    /// How many matching requests it hits; then it is removed.
    pub times: u32,
}

impl FaultRule {
    /// A rule for every method under `path_prefix`, `times` times.
    pub fn new(path_prefix: impl Into<String>, fault: Fault, times: u32) -> Self {
        Self {
            path_prefix: path_prefix.into(),
            method: None,
            fault,
            times,
        }
    }

    /// The same rule, for one method only.
    pub fn for_method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }
}

impl std::str::FromStr for FaultRule {
    type Err = String;

    /// `[METHOD ]PATH=KIND[:ARG][xTIMES]`, e.g. `POST /foxreload/api/orders/=drop`,
    /// `/mousacard/balance=rate-limit:2x3`, `/cryptorefills/v5/orders/=cut-stream:1`.
    /// Kinds: `rate-limit[:secs]`, `server-error[:status]`, `drop`, `slow[:ms]`,
    /// `cut-stream[:events]`, `silent-stream`, `stall[:ms]` (default an hour),
    /// `short-body`, `cut-chunked`, `unknown-status[:value]`. TIMES defaults to 1.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || format!("{text:?}: expected [METHOD ]PATH=KIND[:ARG][xTIMES]");
        let (target, action) = text.split_once('=').ok_or_else(usage)?;
        let (method, path) = match target.trim().split_once(' ') {
            Some((method, path)) => {
                const METHODS: [Method; 7] = [
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                    Method::HEAD,
                    Method::OPTIONS,
                ];
                let method = METHODS
                    .into_iter()
                    .find(|m| m.as_str().eq_ignore_ascii_case(method))
                    .ok_or_else(|| format!("{method:?} is not an HTTP method"))?;
                (Some(method), path.trim())
            }
            None => (None, target.trim()),
        };
        if !path.starts_with('/') {
            return Err(usage());
        }
        let (action, times) = match action.rsplit_once('x') {
            Some((action, times))
                if times.chars().all(|c| c.is_ascii_digit()) && !times.is_empty() =>
            {
                (action, times.parse::<u32>().map_err(|_| usage())?)
            }
            _ => (action, 1),
        };
        let (kind, arg) = match action.split_once(':') {
            Some((kind, arg)) => (kind, Some(arg)),
            None => (action, None),
        };
        let number = |default: u64| -> Result<u64, String> {
            arg.map_or(Ok(default), |a| {
                a.parse().map_err(|_| format!("{a:?} is not a number"))
            })
        };
        let fault = match kind {
            "rate-limit" => Fault::RateLimit {
                retry_after_secs: number(1)?,
            },
            "server-error" => Fault::ServerError(number(503)? as u16),
            "drop" => Fault::DropAfterHandling,
            "slow" => Fault::Slow(Duration::from_millis(number(2000)?)),
            "cut-stream" => Fault::CutStreamAfter(number(1)? as usize),
            "silent-stream" => Fault::SilentStream,
            "stall" => Fault::StallBeforeHeaders(Duration::from_millis(number(3_600_000)?)),
            "short-body" => Fault::ShortBody,
            "cut-chunked" => Fault::UnterminatedChunked,
            "unknown-status" => Fault::UnknownStatus(arg.unwrap_or("sandbox_unknown").to_owned()),
            other => return Err(format!("unknown fault {other:?}")),
        };
        if times == 0 {
            return Err(usage());
        }
        Ok(Self {
            path_prefix: path.to_owned(),
            method,
            fault,
            times,
        })
    }
}

/// The active rules; shared by the server and whoever injects faults.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: Arc<Mutex<Vec<FaultRule>>>,
}

impl Faults {
    /// Adds a rule.
    pub fn add(&self, rule: FaultRule) {
        self.rules.lock().expect("faults lock").push(rule);
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.rules.lock().expect("faults lock").clear();
    }

    /// The first rule matching this request, used up by one.
    pub fn take(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().expect("faults lock");
        let index = rules.iter().position(|rule| {
            path.starts_with(&rule.path_prefix) && rule.method.as_ref().is_none_or(|m| m == method)
        })?;
        let fault = rules[index].fault.clone();
        rules[index].times -= 1;
        if rules[index].times == 0 {
            rules.remove(index);
        }
        Some(fault)
    }

    /// A stream fault for this path ([`Fault::CutStreamAfter`] or
    /// [`Fault::SilentStream`]), if one is armed (consumed by the SSE handler).
    pub fn take_stream_fault(&self, path: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().expect("faults lock");
        let index = rules
            .iter()
            .position(|rule| path.starts_with(&rule.path_prefix) && rule.fault.is_stream_fault())?;
        let fault = rules[index].fault.clone();
        rules[index].times -= 1;
        if rules[index].times == 0 {
            rules.remove(index);
        }
        Some(fault)
    }
}

impl Fault {
    /// Applied by the event stream's handler, not the middleware.
    fn is_stream_fault(&self) -> bool {
        matches!(self, Fault::CutStreamAfter(_) | Fault::SilentStream)
    }
}

/// `body` with half of it sent, then the connection dropped.
fn half_then_drop(body: bytes::Bytes) -> Body {
    let half = body.slice(..body.len() / 2);
    let chunks = futures::stream::iter([
        Ok(half),
        Err(std::io::Error::other("sandbox fault: body cut short")),
    ]);
    Body::from_stream(chunks)
}

/// Middleware applying the rules.
pub async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    // Stream cuts are applied by the stream handler itself.
    let fault = {
        let rules = faults.rules.lock().expect("faults lock");
        let streaming = rules
            .iter()
            .any(|r| path.starts_with(&r.path_prefix) && r.fault.is_stream_fault());
        drop(rules);
        if streaming {
            None
        } else {
            faults.take(&method, &path)
        }
    };
    match fault {
        None | Some(Fault::CutStreamAfter(_) | Fault::SilentStream) => next.run(request).await,
        Some(Fault::StallBeforeHeaders(hold)) => {
            let response = next.run(request).await;
            tokio::time::sleep(hold).await;
            response
        }
        Some(fault @ (Fault::ShortBody | Fault::UnterminatedChunked)) => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            match fault {
                Fault::ShortBody => {
                    parts
                        .headers
                        .insert(header::CONTENT_LENGTH, bytes.len().into());
                }
                _ => drop(parts.headers.remove(header::CONTENT_LENGTH)),
            }
            Response::from_parts(parts, half_then_drop(bytes))
        }
        Some(Fault::RateLimit { retry_after_secs }) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after_secs.to_string())],
            axum::Json(serde_json::json!({"detail": "Too many requests"})),
        )
            .into_response(),
        Some(Fault::ServerError(status)) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>Bad gateway</h1></body></html>",
        )
            .into_response(),
        Some(Fault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Some(Fault::UnknownStatus(value)) => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(mut json) => {
                    replace_statuses(&mut json, &value);
                    parts.headers.remove(header::CONTENT_LENGTH);
                    Body::from(json.to_string())
                }
                Err(_) => Body::from(bytes),
            };
            Response::from_parts(parts, body)
        }
        Some(Fault::DropAfterHandling) => {
            let response = next.run(request).await;
            let (mut parts, _) = response.into_parts();
            parts.headers.remove(header::CONTENT_LENGTH);
            let broken = futures::stream::once(async {
                Err::<bytes::Bytes, std::io::Error>(std::io::Error::other(
                    "sandbox fault: connection dropped",
                ))
            });
            Response::from_parts(parts, Body::from_stream(broken))
        }
    }
}

/// Replaces every string `status` field, at any depth.
fn replace_statuses(json: &mut serde_json::Value, value: &str) {
    match json {
        serde_json::Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if key == "status" && field.is_string() {
                    *field = serde_json::Value::String(value.to_owned());
                } else {
                    replace_statuses(field, value);
                }
            }
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .for_each(|item| replace_statuses(item, value)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_from_text() {
        let rule: FaultRule = "POST /foxreload/api/orders/=drop".parse().unwrap();
        assert_eq!(
            rule,
            FaultRule::new("/foxreload/api/orders/", Fault::DropAfterHandling, 1)
                .for_method(Method::POST)
        );
        let rule: FaultRule = "/mousacard/balance=rate-limit:2x3".parse().unwrap();
        assert_eq!(
            rule,
            FaultRule::new(
                "/mousacard/balance",
                Fault::RateLimit {
                    retry_after_secs: 2
                },
                3
            )
        );
        let rule: FaultRule = "/x=unknown-status:on_hold".parse().unwrap();
        assert_eq!(rule.fault, Fault::UnknownStatus("on_hold".into()));
        for bad in [
            "nothing",
            "/x=explode",
            "FETCH /x=drop",
            "x=drop",
            "/x=slow:soon",
            "/x=dropx0",
        ] {
            assert!(bad.parse::<FaultRule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_are_used_up() {
        let faults = Faults::default();
        faults.add(FaultRule::new("/a", Fault::ServerError(502), 2));
        assert_eq!(
            faults.take(&Method::GET, "/a/b"),
            Some(Fault::ServerError(502))
        );
        assert_eq!(faults.take(&Method::GET, "/other"), None);
        assert_eq!(
            faults.take(&Method::POST, "/a"),
            Some(Fault::ServerError(502))
        );
        assert_eq!(faults.take(&Method::GET, "/a"), None);
    }
}
