//! One request pace per supplier, shared by every request an adapter sends: at most a
//! given number of requests a second (none by default), and one pause for all of them
//! when the supplier answers with `Retry-After` (a 429 slows every caller of that
//! supplier, not only the request that got it).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A supplier's request pace. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Pacer {
    /// Time between two requests; zero: no limit.
    interval: Duration,
    /// The earliest the next request may leave.
    next: Mutex<Instant>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::unlimited()
    }
}

impl Pacer {
    /// No rate limit; only `Retry-After` pauses.
    pub fn unlimited() -> Self {
        Self::with_interval(Duration::ZERO)
    }

    /// At most `rate` requests a second (evenly spaced); a rate that is not a positive
    /// number means no limit.
    pub fn per_second(rate: f64) -> Self {
        let interval = match rate {
            rate if rate.is_finite() && rate > 0.0 => Duration::from_secs_f64(1.0 / rate),
            _ => Duration::ZERO,
        };
        Self::with_interval(interval)
    }

    fn with_interval(interval: Duration) -> Self {
        Self {
            interval,
            next: Mutex::new(Instant::now()),
        }
    }

    /// Requests a second this pacer allows (`None`: no limit).
    pub fn rate(&self) -> Option<f64> {
        (!self.interval.is_zero()).then(|| 1.0 / self.interval.as_secs_f64())
    }

    /// Waits for this request's turn.
    pub async fn ready(&self) {
        if let Some(turn) = self.turn() {
            tokio::time::sleep_until(turn).await;
        }
    }

    /// Takes the next turn: when it comes, or `None` if it has come already. A turn
    /// that has come goes at once: the timer wheel would round a zero wait up to its
    /// next millisecond, a millisecond added to every unpaced request.
    pub(crate) fn turn(&self) -> Option<Instant> {
        let turn = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let turn = (*next).max(Instant::now());
            *next = turn + self.interval;
            turn
        };
        (turn > Instant::now()).then_some(turn)
    }

    /// Holds every request back for `delay` from now (the supplier's `Retry-After`).
    pub fn pause(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        *next = (*next).max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_and_a_pause_holds_them_all() {
        let pacer = Pacer::per_second(10.0);
        let start = Instant::now();
        for _ in 0..5 {
            pacer.ready().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(400));
        pacer.pause(Duration::from_secs(3));
        pacer.ready().await;
        assert_eq!(start.elapsed(), Duration::from_millis(3400));

        let unlimited = Pacer::unlimited();
        let start = Instant::now();
        for _ in 0..100 {
            unlimited.ready().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        unlimited.pause(Duration::from_secs(2));
        unlimited.ready().await;
        unlimited.ready().await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert_eq!(unlimited.rate(), None);
        assert_eq!(Pacer::per_second(4.0).rate(), Some(4.0));
    }

    #[tokio::test]
    async fn a_request_whose_turn_has_come_does_not_wait_for_the_timer() {
        use futures::FutureExt;
        let unlimited = Pacer::unlimited();
        for _ in 0..3 {
            assert!(unlimited.ready().now_or_never().is_some());
        }
        let paced = Pacer::per_second(1.0);
        assert!(
            paced.ready().now_or_never().is_some(),
            "the first goes at once"
        );
        assert!(
            paced.ready().now_or_never().is_none(),
            "the second waits a second"
        );
    }
}
