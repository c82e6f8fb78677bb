//! The status of the answer a call received, for errors that lose it.
//!
//! progenitor's `InvalidResponsePayload` (a success status whose body did not decode)
//! keeps the body but not the status. [`execute`](crate::execute) notes each answer's
//! status in a task-local slot that [`with_answer_status`] opens around one call, or that
//! an [`AnswerStatus`] opens around each poll of a call in a future of your own.

use std::cell::Cell;
use std::future::Future;

use futures::FutureExt;
use reqwest::StatusCode;

tokio::task_local! {
    static ANSWER_STATUS: Cell<Option<StatusCode>>;
}

/// Runs `call` and returns its output with the status of the last answer
/// [`execute`](crate::execute) received while it ran (`None` if none arrived).
///
/// A combinator, not an `async` block: each `async` layer would hold `call` once
/// unstarted and once awaited, tripling what every request future moves.
pub fn with_answer_status<F: Future>(
    call: F,
) -> impl Future<Output = (F::Output, Option<StatusCode>)> {
    // `map` runs inside the scope's poll, while the slot is still set.
    ANSWER_STATUS.scope(
        Cell::new(None),
        call.map(|output| (output, ANSWER_STATUS.with(Cell::get))),
    )
}

/// The status of the last answer [`execute`](crate::execute) received while the slot was
/// open: [`with_answer_status`] for a future you own by hand, where wrapping the call in
/// another future would move it once more.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AnswerStatus(Option<StatusCode>);

impl AnswerStatus {
    /// Runs `poll` (one poll of the call) with this slot open.
    pub fn noting<R>(&mut self, poll: impl FnOnce() -> R) -> R {
        ANSWER_STATUS.sync_scope(Cell::new(self.0), || {
            let output = poll();
            self.0 = ANSWER_STATUS.with(Cell::get);
            output
        })
    }

    /// The status noted, if an answer came.
    pub fn get(&self) -> Option<StatusCode> {
        self.0
    }
}

/// Notes `status` for the enclosing [`with_answer_status`] or [`AnswerStatus::noting`],
/// if any.
pub(crate) fn note(status: StatusCode) {
    let _ = ANSWER_STATUS.try_with(|slot| slot.set(Some(status)));
}
