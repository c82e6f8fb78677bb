//! The status of the answer a call received, for errors that lose it.
//!
//! progenitor's `InvalidResponsePayload` (a success status whose body did not decode)
//! keeps the body but not the status. [`execute`](crate::execute) notes each answer's
//! status in a task-local slot that [`with_answer_status`] opens around one call.

use std::cell::Cell;
use std::future::Future;

use reqwest::StatusCode;

tokio::task_local! {
    static ANSWER_STATUS: Cell<Option<StatusCode>>;
}

/// Runs `call` and returns its output with the status of the last answer
/// [`execute`](crate::execute) received while it ran (`None` if none arrived).
pub async fn with_answer_status<F: Future>(call: F) -> (F::Output, Option<StatusCode>) {
    ANSWER_STATUS
        .scope(Cell::new(None), async move {
            let output = call.await;
            (output, ANSWER_STATUS.with(Cell::get))
        })
        .await
}

/// Notes `status` for the enclosing [`with_answer_status`], if any.
pub(crate) fn note(status: StatusCode) {
    let _ = ANSWER_STATUS.try_with(|slot| slot.set(Some(status)));
}
