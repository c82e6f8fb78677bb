//! Following an order as a stream of updates: Server-Sent Events first, polling when
//! the stream cannot be opened (the Cryptorefills tracking rules, seed 004 sections 9a/9b).
//!
//! - Each `message` event, or unnamed `data:` event, carries the order JSON; one that
//!   does not decode is skipped (as the documented client's `safeParse` does).
//! - A `stop` event, with or without data, ends the stream for good, as does a terminal
//!   order.
//! - A stream that breaks (cut mid-event included: a half-received event is never
//!   dispatched), ends without `stop`, or sends no byte (not even a keep-alive) for
//!   [`TrackConfig::keep_alive_gap`], is reopened after 1 s, doubling to 30 s; the delay
//!   resets after a good event. Meanwhile the order is polled once, so an order that
//!   settled while its stream was dead (or behind a proxy that buffers it) is seen
//!   without waiting for a stream that may stay silent. No `Last-Event-ID` is sent:
//!   Cryptorefills' events carry no ids, each is the whole order, and a reopened stream
//!   starts from the order as it is, so nothing between the two streams is missed.
//! - One event larger than [`TrackConfig::max_event_bytes`] ends tracking with the
//!   source's error: nothing that large is buffered.
//! - When the stream cannot be opened, the order is polled every 5-10 s instead.

mod sse;

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;

use crate::waiter::Clock;

/// Timings of [`track`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackConfig {
    /// First reconnect delay after the stream breaks.
    pub reconnect_min: Duration,
    /// Cap of the doubling reconnect delay.
    pub reconnect_max: Duration,
    /// Polling interval bounds when the stream cannot be opened (jittered between).
    pub poll_min: Duration,
    /// Polling interval bounds when the stream cannot be opened (jittered between).
    pub poll_max: Duration,
    /// Longest silence (no byte at all) before the stream is taken as dead and reopened.
    pub keep_alive_gap: Duration,
    /// Largest single event buffered, in bytes.
    pub max_event_bytes: usize,
}

impl Default for TrackConfig {
    fn default() -> Self {
        Self {
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(30),
            poll_min: Duration::from_secs(5),
            poll_max: Duration::from_secs(10),
            keep_alive_gap: Duration::from_secs(60),
            max_event_bytes: 1024 * 1024,
        }
    }
}

/// Bytes of an SSE response body.
pub type EventBytes = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

type BoxFuture<'a, T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Where updates come from: opening the event stream, and polling the order.
pub trait OrderSource<T, E>: Send + Sync {
    /// Opens the SSE stream; an error means it cannot be opened (fall back to polling).
    fn open(&self) -> BoxFuture<'_, Result<EventBytes, E>>;
    /// Fetches the order once.
    fn poll(&self) -> BoxFuture<'_, Result<T, E>>;
    /// The error that ends tracking when one event exceeds `limit` bytes.
    fn event_too_large(&self, limit: usize) -> E;
}

/// Why the byte stream under the events stopped.
#[derive(Debug)]
enum StreamFault {
    /// The connection failed.
    Transport(String),
    /// No byte within the keep-alive gap.
    Silent,
    /// One event grew past the limit.
    EventTooLarge(usize),
}

impl std::fmt::Display for StreamFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transport(message) => f.write_str(message),
            Self::Silent => f.write_str("no byte within the keep-alive gap"),
            Self::EventTooLarge(limit) => write!(f, "an event is larger than {limit} bytes"),
        }
    }
}

type Events = Pin<Box<dyn Stream<Item = Result<sse::Event, StreamFault>> + Send>>;

/// The events of `bytes`, ended with a fault after a silence of `gap` (keep-alive
/// comments count as bytes) or once one event passes `limit` bytes.
fn events(bytes: EventBytes, gap: Duration, limit: usize) -> Events {
    let start = Some((bytes, sse::Parser::new(limit), VecDeque::new()));
    futures::stream::unfold(start, move |state| async move {
        let (mut bytes, mut parser, mut ready) = state?;
        loop {
            if let Some(event) = ready.pop_front() {
                return Some((Ok(event), Some((bytes, parser, ready))));
            }
            let fault = match tokio::time::timeout(gap, bytes.next()).await {
                Ok(None) => return None,
                Ok(Some(Ok(chunk))) => {
                    let mut parsed = Vec::new();
                    match parser.feed(&chunk, &mut parsed) {
                        Ok(()) => {
                            ready.extend(parsed);
                            continue;
                        }
                        Err(sse::TooLarge) => StreamFault::EventTooLarge(limit),
                    }
                }
                Ok(Some(Err(err))) => StreamFault::Transport(err.to_string()),
                Err(_elapsed) => StreamFault::Silent,
            };
            return Some((Err(fault), None));
        }
    })
    .boxed()
}

enum State {
    Connect {
        delay: Duration,
        wait: Option<Duration>,
    },
    Streaming {
        events: Events,
        delay: Duration,
    },
    Polling {
        wait: Option<Duration>,
    },
    /// The stream broke: poll the order once, then reconnect after `wait`.
    Recover {
        delay: Duration,
        wait: Duration,
    },
    Done,
}

/// Streams every update of one order until `stop`, a terminal order, or an error from
/// polling (which ends the stream after being yielded).
pub fn track<T, E>(
    source: Arc<dyn OrderSource<T, E>>,
    is_terminal: fn(&T) -> bool,
    config: TrackConfig,
    clock: Arc<dyn Clock>,
) -> impl Stream<Item = Result<T, E>> + Send
where
    T: DeserializeOwned + Send + 'static,
    E: Send + 'static,
{
    let start = State::Connect {
        delay: config.reconnect_min,
        wait: None,
    };
    futures::stream::unfold(start, move |mut state| {
        let source = source.clone();
        let clock = clock.clone();
        async move {
            loop {
                state = match state {
                    State::Done => return None,
                    State::Connect { delay, wait } => {
                        if let Some(wait) = wait {
                            clock.sleep(wait).await;
                        }
                        match source.open().await {
                            Ok(bytes) => State::Streaming {
                                events: events(
                                    bytes,
                                    config.keep_alive_gap,
                                    config.max_event_bytes,
                                ),
                                delay,
                            },
                            Err(_) => {
                                tracing::info!("order event stream unavailable; polling instead");
                                State::Polling { wait: None }
                            }
                        }
                    }
                    State::Streaming { mut events, delay } => match events.next().await {
                        Some(Ok(event)) if event.name == "stop" => return None,
                        Some(Ok(event)) if event.name == "message" => {
                            match serde_json::from_str::<T>(&event.data) {
                                Ok(order) => {
                                    let next = if is_terminal(&order) {
                                        State::Done
                                    } else {
                                        // A good event: the next break reconnects quickly again.
                                        State::Streaming {
                                            events,
                                            delay: config.reconnect_min,
                                        }
                                    };
                                    return Some((Ok(order), next));
                                }
                                Err(err) => {
                                    tracing::warn!(error = %err, "skipping an order event that does not decode");
                                    State::Streaming { events, delay }
                                }
                            }
                        }
                        Some(Ok(_other_event)) => State::Streaming { events, delay },
                        Some(Err(StreamFault::EventTooLarge(limit))) => {
                            return Some((Err(source.event_too_large(limit)), State::Done));
                        }
                        // Broken, silent, or ended without `stop`: poll the order, then
                        // reopen after the current delay, doubling it for the next time.
                        Some(Err(err)) => {
                            tracing::warn!(
                                error = %err,
                                retry_in_ms = delay.as_millis() as u64,
                                "order event stream broke; polling the order and reconnecting"
                            );
                            State::Recover { delay, wait: delay }
                        }
                        None => {
                            tracing::warn!(
                                retry_in_ms = delay.as_millis() as u64,
                                "order event stream ended without stop; polling the order and reconnecting"
                            );
                            State::Recover { delay, wait: delay }
                        }
                    },
                    State::Recover { delay, wait } => {
                        let reconnect = State::Connect {
                            delay: (delay * 2).min(config.reconnect_max),
                            wait: Some(wait),
                        };
                        match source.poll().await {
                            // Settled meanwhile: done, whatever the stream does.
                            Ok(order) if is_terminal(&order) => {
                                return Some((Ok(order), State::Done));
                            }
                            // Not yet: the reopened stream brings the next change.
                            Ok(_) => reconnect,
                            Err(_) => {
                                tracing::info!("could not poll the order while its stream is down");
                                reconnect
                            }
                        }
                    }
                    State::Polling { wait } => {
                        if let Some(wait) = wait {
                            clock.sleep(wait).await;
                        }
                        let next_wait = config.poll_min
                            + (config.poll_max - config.poll_min).mul_f64(fastrand::f64());
                        match source.poll().await {
                            Ok(order) => {
                                let next = if is_terminal(&order) {
                                    State::Done
                                } else {
                                    State::Polling {
                                        wait: Some(next_wait),
                                    }
                                };
                                return Some((Ok(order), next));
                            }
                            Err(err) => return Some((Err(err), State::Done)),
                        }
                    }
                };
            }
        }
    })
}
