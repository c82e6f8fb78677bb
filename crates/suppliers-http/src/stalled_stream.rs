//! Stalled-stream protection, as aws-sdk-rust has it: a response body that brings less
//! than [`MIN_THROUGHPUT`] bytes a second over a [`GRACE_PERIOD`] fails with
//! [`BodyStalled`], long before a whole-request deadline would. A per-read timeout
//! cannot catch it: a body that drips one byte every few seconds resets such a timeout
//! with every byte.
//!
//! The connection under a failed body is closed, never returned to the pool (hyper pools
//! a connection only once its body was read to the end), so a retry opens a fresh one.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tokio::time::{Instant, Sleep};

/// Least throughput of a response body, in bytes a second, averaged over
/// [`GRACE_PERIOD`].
pub const MIN_THROUGHPUT: u64 = 1;

/// How long a body may stay under [`MIN_THROUGHPUT`] before it fails.
pub const GRACE_PERIOD: Duration = Duration::from_secs(5);

/// How often the throughput is looked at while no byte comes.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// A response body stayed under the throughput floor for the grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out: the response body stalled (under {min_bytes_per_second} byte/s for {grace:?})")]
pub struct BodyStalled {
    /// The floor, in bytes a second.
    pub min_bytes_per_second: u64,
    /// How long it stayed under it.
    pub grace: Duration,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `body` failing with [`BodyStalled`] once the bytes it brought over the last
/// [`GRACE_PERIOD`] fall under [`MIN_THROUGHPUT`] a second (counted from its first
/// poll, so a body gets the whole grace period to start).
pub(crate) fn guard<S>(body: S) -> Guarded<S>
where
    S: Stream<Item = Result<Bytes, BoxError>> + Unpin,
{
    Guarded {
        inner: body,
        started: None,
        received: VecDeque::new(),
        check: None,
    }
}

/// See [`guard`].
pub(crate) struct Guarded<S> {
    inner: S,
    /// When the body was first polled.
    started: Option<Instant>,
    /// Bytes received, by when, over the last grace period.
    received: VecDeque<(Instant, usize)>,
    /// The next look at the throughput while nothing comes.
    check: Option<Pin<Box<Sleep>>>,
}

impl<S> Guarded<S> {
    fn stalled(&mut self, now: Instant) -> bool {
        while self
            .received
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > GRACE_PERIOD)
        {
            self.received.pop_front();
        }
        let started = *self.started.get_or_insert(now);
        let bytes: usize = self.received.iter().map(|(_, n)| n).sum();
        now.duration_since(started) >= GRACE_PERIOD
            && (bytes as u64) < MIN_THROUGHPUT * GRACE_PERIOD.as_secs()
    }
}

impl<S> Stream for Guarded<S>
where
    S: Stream<Item = Result<Bytes, BoxError>> + Unpin,
{
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let now = Instant::now();
        this.started.get_or_insert(now);
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.received.push_back((now, chunk.len()));
                return Poll::Ready(Some(Ok(chunk)));
            }
            Poll::Ready(other) => return Poll::Ready(other),
            Poll::Pending => {}
        }
        let mut check = this
            .check
            .take()
            .unwrap_or_else(|| Box::pin(tokio::time::sleep(CHECK_EVERY)));
        loop {
            if check.as_mut().poll(cx).is_pending() {
                this.check = Some(check);
                return Poll::Pending;
            }
            let now = Instant::now();
            if this.stalled(now) {
                let stalled = BodyStalled {
                    min_bytes_per_second: MIN_THROUGHPUT,
                    grace: GRACE_PERIOD,
                };
                return Poll::Ready(Some(Err(Box::new(stalled))));
            }
            check.as_mut().reset(now + CHECK_EVERY);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    /// One byte every `every`, `count` times.
    fn drip(every: Duration, count: usize) -> impl Stream<Item = Result<Bytes, BoxError>> + Unpin {
        Box::pin(futures::stream::unfold(0, move |sent| async move {
            if sent == count {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((Ok(Bytes::from_static(b"x")), sent + 1))
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_drip_under_the_floor_fails_after_the_grace_period() {
        let started = Instant::now();
        let mut body = guard(drip(Duration::from_secs(3), 100));
        let mut bytes = 0;
        let err = loop {
            match body.next().await.expect("fails before it ends") {
                Ok(chunk) => bytes += chunk.len(),
                Err(err) => break err,
            }
        };
        assert!(err.downcast_ref::<BodyStalled>().is_some(), "{err}");
        let took = started.elapsed();
        assert!(took >= GRACE_PERIOD && took <= GRACE_PERIOD * 2, "{took:?}");
        assert!(bytes <= 3, "{bytes}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_over_the_floor_and_a_silent_start_within_grace_pass() {
        // Two bytes a second for a minute: slow, never stalled.
        let body = guard(drip(Duration::from_millis(500), 120));
        let all: Vec<_> = body.collect().await;
        assert_eq!(all.len(), 120);
        assert!(all.iter().all(Result::is_ok));
        // Nothing for 4 s, then the rest at once: within the grace period.
        let late = Box::pin(futures::stream::once(async {
            tokio::time::sleep(Duration::from_secs(4)).await;
            Ok::<_, BoxError>(Bytes::from(vec![b'x'; 100]))
        }));
        let all: Vec<_> = guard(late).collect().await;
        assert!(all.len() == 1 && all[0].is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_sends_a_byte_fails() {
        let silent = Box::pin(futures::stream::pending::<Result<Bytes, BoxError>>());
        let started = Instant::now();
        let err = guard(silent).next().await.unwrap().unwrap_err();
        assert!(err.downcast_ref::<BodyStalled>().is_some());
        assert!(started.elapsed() <= GRACE_PERIOD + CHECK_EVERY);
    }
}
