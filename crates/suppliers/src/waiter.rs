//! A generic polling waiter in the style of smithy-rs waiters.
//!
//! Poll, classify the answer with an acceptor (done, failed, keep waiting), sleep a
//! jittered, exponentially growing delay between `min_delay` and `max_delay`, and stop at
//! a total deadline after one final poll made at the deadline itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

/// What an acceptor makes of one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    /// The awaited state is reached.
    Success,
    /// A terminal state other than the awaited one: waiting longer cannot help.
    Failure,
    /// Not yet: poll again.
    Retry,
}

/// Delays and deadline of a waiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaiterConfig {
    /// First delay, and the lower bound of every jittered delay.
    pub min_delay: Duration,
    /// Upper bound of any delay.
    pub max_delay: Duration,
    /// Total time from the first poll to giving up.
    pub max_wait: Duration,
}

impl WaiterConfig {
    /// Delay before attempt `attempt` (1 = the first retry): exponential growth from
    /// `min_delay`, capped at `max_delay`, then drawn uniformly between `min_delay` and
    /// that bound (full jitter above the floor).
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let growth = 2f64.powi(attempt.saturating_sub(1).min(62) as i32);
        let upper = self
            .min_delay
            .mul_f64(growth)
            .min(self.max_delay)
            .max(self.min_delay);
        let span = upper - self.min_delay;
        self.min_delay + span.mul_f64(random.clamp(0.0, 1.0))
    }
}

/// Time as a waiter sees it. Tests substitute a clock that does not really sleep.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Sleeps for `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The real clock: tokio's.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// A clock for tests: sleeping returns at once, advances the clock by the duration
/// asked, and is recorded, so a test can assert the delays a waiter chose.
#[derive(Debug, Default)]
pub struct RecordingClock {
    state: Mutex<(Duration, Vec<Duration>)>,
    start: OnceLock<Instant>,
}

impl RecordingClock {
    /// Every sleep asked for, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state.lock().expect("clock lock").1.clone()
    }
}

impl Clock for RecordingClock {
    fn now(&self) -> Instant {
        *self.start.get_or_init(Instant::now) + self.state.lock().expect("clock lock").0
    }
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut state = self.state.lock().expect("clock lock");
        state.0 += duration;
        state.1.push(duration);
        Box::pin(std::future::ready(()))
    }
}

/// How a wait ended without success.
#[derive(Debug)]
pub enum WaitError<T, E> {
    /// The acceptor called a polled value a failure.
    Failed(T),
    /// The deadline passed; carries the last value polled, if any poll succeeded.
    TimedOut {
        /// Last value seen.
        last: Option<T>,
        /// Polls made.
        polls: u32,
    },
    /// A poll failed and `poll_error` said not to keep going.
    Poll(E),
}

/// Polls until `accept` says success or failure, or the deadline passes.
///
/// `poll_error` decides, for a failed poll, whether to keep waiting (`true`, e.g. a
/// transient network error) or to stop with [`WaitError::Poll`].
pub async fn wait<T, E, P, Fut>(
    config: WaiterConfig,
    clock: &dyn Clock,
    mut poll: P,
    accept: impl Fn(&T) -> Acceptance,
    poll_error: impl Fn(&E) -> bool,
) -> Result<T, WaitError<T, E>>
where
    P: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = clock.now() + config.max_wait;
    let mut last = None;
    let mut polls = 0u32;
    loop {
        polls += 1;
        match poll().await {
            Ok(value) => match accept(&value) {
                Acceptance::Success => return Ok(value),
                Acceptance::Failure => return Err(WaitError::Failed(value)),
                Acceptance::Retry => last = Some(value),
            },
            Err(err) if poll_error(&err) => {}
            Err(err) => return Err(WaitError::Poll(err)),
        }
        let now = clock.now();
        if now >= deadline {
            return Err(WaitError::TimedOut { last, polls });
        }
        let delay = config.delay(polls, fastrand::f64());
        // Never sleep past the deadline: the last poll happens at the deadline.
        clock.sleep(delay.min(deadline - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: WaiterConfig = WaiterConfig {
        min_delay: Duration::from_secs(2),
        max_delay: Duration::from_secs(5),
        max_wait: Duration::from_secs(30),
    };

    #[test]
    fn delays_grow_exponentially_within_bounds() {
        assert_eq!(CONFIG.delay(1, 1.0), Duration::from_secs(2));
        assert_eq!(CONFIG.delay(2, 1.0), Duration::from_secs(4));
        assert_eq!(CONFIG.delay(3, 1.0), Duration::from_secs(5));
        assert_eq!(CONFIG.delay(40, 1.0), Duration::from_secs(5));
        assert_eq!(CONFIG.delay(3, 0.0), Duration::from_secs(2));
        assert_eq!(CONFIG.delay(3, 0.5), Duration::from_millis(3500));
    }

    #[tokio::test]
    async fn succeeds_when_the_acceptor_says_so() {
        let clock = RecordingClock::default();
        let mut n = 0;
        let result: Result<u32, WaitError<u32, ()>> = wait(
            CONFIG,
            &clock,
            || {
                n += 1;
                std::future::ready(Ok(n))
            },
            |v| {
                if *v == 3 {
                    Acceptance::Success
                } else {
                    Acceptance::Retry
                }
            },
            |_| false,
        )
        .await;
        assert_eq!(result.unwrap(), 3);
        let sleeps = clock.sleeps();
        assert_eq!(sleeps.len(), 2);
        assert!(
            sleeps
                .iter()
                .all(|d| *d >= CONFIG.min_delay && *d <= CONFIG.max_delay)
        );
    }

    #[tokio::test]
    async fn stops_at_once_on_failure() {
        let clock = RecordingClock::default();
        let result: Result<&str, WaitError<&str, ()>> = wait(
            CONFIG,
            &clock,
            || std::future::ready(Ok("rejected")),
            |_| Acceptance::Failure,
            |_| false,
        )
        .await;
        assert!(matches!(result, Err(WaitError::Failed("rejected"))));
        assert!(clock.sleeps().is_empty());
    }

    #[tokio::test]
    async fn polls_one_last_time_at_the_deadline_then_times_out() {
        let clock = RecordingClock::default();
        let result: Result<u32, WaitError<u32, ()>> = wait(
            CONFIG,
            &clock,
            || std::future::ready(Ok(0)),
            |_| Acceptance::Retry,
            |_| false,
        )
        .await;
        let Err(WaitError::TimedOut {
            last: Some(0),
            polls,
        }) = result
        else {
            panic!("expected a timeout, got {result:?}");
        };
        let slept: Duration = clock.sleeps().iter().sum();
        assert_eq!(
            slept, CONFIG.max_wait,
            "the final poll is at the deadline exactly"
        );
        assert_eq!(polls as usize, clock.sleeps().len() + 1);
    }

    #[tokio::test]
    async fn transient_poll_errors_keep_waiting_and_others_stop() {
        let clock = RecordingClock::default();
        let mut n = 0;
        let result: Result<u32, WaitError<u32, &str>> = wait(
            CONFIG,
            &clock,
            || {
                n += 1;
                std::future::ready(match n {
                    1 => Err("timeout"),
                    2 => Err("unauthorized"),
                    _ => Ok(n),
                })
            },
            |_| Acceptance::Success,
            |e| *e == "timeout",
        )
        .await;
        assert!(matches!(result, Err(WaitError::Poll("unauthorized"))));
        assert_eq!(n, 2);
    }
}
