//! Stalled-stream protection, as aws-sdk-rust has it: a response body that brings less
//! than [`MIN_THROUGHPUT`] bytes a second over a [`GRACE_PERIOD`] fails with
//! [`BodyStalled`], long before a whole-request deadline would. A per-read timeout
//! cannot catch it: a body that drips one byte every few seconds resets such a timeout
//! with every byte.
//!
//! The connection under a failed body is closed, never returned to the pool (hyper pools
//! a connection only once its body was read to the end), so a retry opens a fresh one.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Least throughput of a response body, in bytes a second, averaged over
/// [`GRACE_PERIOD`].
pub const MIN_THROUGHPUT: u64 = 1;

/// How long a body may stay under [`MIN_THROUGHPUT`] before it fails.
pub const GRACE_PERIOD: Duration = Duration::from_secs(5);

/// How often the throughput is looked at while no byte comes.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(1);

/// A response body stayed under the throughput floor for the grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out: the response body stalled (under {min_bytes_per_second} byte/s for {grace:?})")]
pub struct BodyStalled {
    /// The floor, in bytes a second.
    pub min_bytes_per_second: u64,
    /// How long it stayed under it.
    pub grace: Duration,
}

/// Watches one body's throughput: [`StallGuard::received`] for each chunk, and
/// [`StallGuard::poll_stalled`] whenever the body has nothing to give.
///
/// Free on the path of a body that arrives at once: the watch (and its clock and timer)
/// starts the first time the body makes its reader wait. Bytes that came before cannot
/// matter: a stall is declared a grace period after that, when they are older than the
/// period. The last chunks are kept in a fixed ring.
#[derive(Debug, Default)]
pub(crate) struct StallGuard {
    /// When the body first made its reader wait.
    started: Option<Instant>,
    /// The last [`RING`] non-empty chunks since, by when they came: enough to decide,
    /// since each brought at least a byte and [`RING`] bytes in the grace period pass.
    recent: [Option<(Instant, usize)>; RING],
    /// Where the next chunk goes in `recent`.
    next: usize,
    /// The next look at the throughput while nothing comes.
    check: Option<Pin<Box<Sleep>>>,
}

/// Chunks remembered: the bytes the floor asks for over the grace period.
const RING: usize = (MIN_THROUGHPUT * GRACE_PERIOD.as_secs()) as usize;

impl StallGuard {
    /// A chunk of `len` bytes came.
    pub(crate) fn received(&mut self, len: usize) {
        if len > 0 && self.started.is_some() {
            self.recent[self.next] = Some((Instant::now(), len));
            self.next = (self.next + 1) % RING;
        }
    }

    /// Called when the body is pending: ready with [`BodyStalled`] once the bytes of the
    /// last [`GRACE_PERIOD`] fall under the floor, pending (with a wake-up registered in
    /// `cx`) until then.
    pub(crate) fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<BodyStalled> {
        self.started.get_or_insert_with(Instant::now);
        let mut check = self
            .check
            .take()
            .unwrap_or_else(|| Box::pin(tokio::time::sleep(CHECK_EVERY)));
        loop {
            if check.as_mut().poll(cx).is_pending() {
                self.check = Some(check);
                return Poll::Pending;
            }
            let now = Instant::now();
            if self.stalled(now) {
                return Poll::Ready(BodyStalled {
                    min_bytes_per_second: MIN_THROUGHPUT,
                    grace: GRACE_PERIOD,
                });
            }
            check.as_mut().reset(now + CHECK_EVERY);
        }
    }

    fn stalled(&mut self, now: Instant) -> bool {
        let started = *self.started.get_or_insert(now);
        let bytes: usize = self
            .recent
            .iter()
            .flatten()
            .filter(|(at, _)| now.duration_since(*at) <= GRACE_PERIOD)
            .map(|(_, n)| n)
            .sum();
        now.duration_since(started) >= GRACE_PERIOD
            && (bytes as u64) < MIN_THROUGHPUT * GRACE_PERIOD.as_secs()
    }
}
