//! The SQLite writer thread's queue: one order for every statement, and a wake-up only
//! for those a caller waits on.
//!
//! A statement queued without waiting (a progress record) does not wake the writer:
//! waking a thread costs two context switches, more than the statement itself, and on
//! a busy core the woken writer also waits for the caller's time slice. Such
//! statements commit with the next statement a caller waits on, or after [`LINGER`].

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Longest a statement queued without waiting stays uncommitted.
pub(crate) const LINGER: Duration = Duration::from_millis(20);

/// Items in order; `push_waited` wakes the consumer, `push_quietly` does not.
pub(crate) struct WriterQueue<T> {
    state: Mutex<State<T>>,
    wake: Condvar,
}

struct State<T> {
    items: Vec<T>,
    /// Something in `items` has a caller waiting for it.
    waited: bool,
    closed: bool,
    /// How the consumer is blocked in `next_batch`, if it is.
    sleeping: Option<Sleep>,
}

#[derive(Clone, Copy, PartialEq)]
enum Sleep {
    /// On an empty queue: the first item of any kind wakes it (to start its linger).
    Empty,
    /// On quiet items, until [`LINGER`] passes or something is waited for.
    Lingering,
}

impl<T> WriterQueue<T> {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                items: Vec::new(),
                waited: false,
                closed: false,
                sleeping: None,
            }),
            wake: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues an item a caller waits for and wakes the consumer; false once closed.
    pub(crate) fn push_waited(&self, item: T) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        state.items.push(item);
        state.waited = true;
        if state.sleeping.is_some() {
            self.wake.notify_one();
        }
        true
    }

    /// Queues an item nobody waits for, waking the consumer only if the queue was
    /// empty (so that its linger starts); false once closed.
    pub(crate) fn push_quietly(&self, item: T) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        state.items.push(item);
        if state.sleeping == Some(Sleep::Empty) {
            self.wake.notify_one();
        }
        true
    }

    /// No more items; the consumer drains what is queued, then stops.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        self.wake.notify_one();
    }

    /// Everything queued, in order, once something is waited for, [`LINGER`] has
    /// passed since quiet items were seen, or the queue is closed; `None` once closed
    /// and empty.
    pub(crate) fn next_batch(&self) -> Option<Vec<T>> {
        let mut state = self.lock();
        let mut lingered = false;
        while !(state.waited || state.closed || lingered) {
            if state.items.is_empty() {
                state.sleeping = Some(Sleep::Empty);
                state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
            } else {
                state.sleeping = Some(Sleep::Lingering);
                let (next, wait) = self
                    .wake
                    .wait_timeout(state, LINGER)
                    .unwrap_or_else(|e| e.into_inner());
                state = next;
                lingered = wait.timed_out();
            }
        }
        state.sleeping = None;
        state.waited = false;
        if state.items.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut state.items))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_waited_item_wakes_the_consumer_and_carries_what_was_queued_before_it() {
        let queue = Arc::new(WriterQueue::new());
        let consumer = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.next_batch())
        };
        std::thread::sleep(Duration::from_millis(5));
        assert!(queue.push_quietly(1));
        assert!(queue.push_waited(2));
        let started = Instant::now();
        assert_eq!(consumer.join().unwrap(), Some(vec![1, 2]));
        assert!(started.elapsed() < LINGER * 10);
    }

    #[test]
    fn a_quiet_item_is_handed_over_after_the_linger() {
        let queue = Arc::new(WriterQueue::new());
        assert!(queue.push_quietly(7));
        let started = Instant::now();
        assert_eq!(queue.next_batch(), Some(vec![7]));
        assert!(started.elapsed() >= LINGER);
    }

    #[test]
    fn closing_drains_then_ends() {
        let queue = WriterQueue::new();
        assert!(queue.push_quietly(1));
        queue.close();
        assert!(!queue.push_waited(2));
        assert_eq!(queue.next_batch(), Some(vec![1]));
        assert_eq!(queue.next_batch(), None);
    }
}
