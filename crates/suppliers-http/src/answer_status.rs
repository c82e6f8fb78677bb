//! The status of the answer a call received, for errors that lose it.
//!
//! progenitor's `InvalidResponsePayload` (a success status whose body did not decode)
//! keeps the body but not the status. [`execute`](crate::execute) notes each answer's
//! status in a task-local slot that [`with_answer_status`] opens around one call.

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

/// Notes `status` for the enclosing [`with_answer_status`], if any.
pub(crate) fn note(status: StatusCode) {
    let _ = ANSWER_STATUS.try_with(|slot| slot.set(Some(status)));
}
