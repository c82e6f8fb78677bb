//! MousaCard through the facade: catalog, orders paid from the balance, batch status
//! tracking (at most 50 ids a request), and `success: false` treated as the error it is.

use std::sync::Arc;
use std::time::Duration;

use mousacard::types;
use rust_decimal::Decimal;

use crate::error::{Error, Reconcile};
use crate::failure::{Failure, text_at};
use crate::model::SupplierId;
use crate::pacer::Pacer;
use crate::retry::{Idempotency, Operation, RetryPolicy};
use crate::waiter::{Clock, WaiterConfig};

mod catalog;
mod purchase;
mod tracking;

pub use catalog::product_of;
pub use purchase::Purchase;
pub use tracking::{BatchStats, Tracked, normalise};

const SUPPLIER: SupplierId = SupplierId::MousaCard;
/// Order ids one `POST /orders/status` accepts.
pub const MAX_BATCH: usize = 50;

/// MousaCard's documented cadence: 2-5 s between polls; give up after 10 minutes.
pub const DEFAULT_WAIT: WaiterConfig = WaiterConfig {
    min_delay: Duration::from_secs(2),
    max_delay: Duration::from_secs(5),
    max_wait: Duration::from_secs(600),
};

fn op(name: &'static str, method: &'static str, idempotency: Idempotency) -> Operation {
    Operation {
        supplier: SUPPLIER,
        name,
        method,
        idempotency,
    }
}

/// MousaCard, with the facade's retries and error model.
#[derive(Clone)]
pub struct MousaCard {
    client: mousacard::Client,
    retry: RetryPolicy,
    /// Shared by every clone: one pace and one `Retry-After` pause per supplier.
    pacer: Arc<Pacer>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MousaCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MousaCard")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl MousaCard {
    /// Wraps a generated client.
    pub fn new(client: mousacard::Client, retry: RetryPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            retry,
            pacer: Arc::default(),
            clock,
        }
    }

    /// The generated client, for calls the facade does not wrap.
    pub fn client(&self) -> &mousacard::Client {
        &self.client
    }

    /// Sends every request of this adapter (and its clones) at `pacer`'s pace.
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = pacer;
        self
    }

    async fn send<T, E, F, Fut>(&self, operation: Operation, call: F) -> Result<T, Error>
    where
        T: Envelope,
        E: serde::Serialize,
        F: FnMut() -> Fut,
        Fut: std::future::Future<
                Output = Result<progenitor_client::ResponseValue<T>, mousacard::Error<E>>,
            >,
    {
        match crate::failure::send(&self.retry, &self.pacer, operation, call).await {
            Ok(response) if response.succeeded() => Ok(response.into_inner()),
            // `success: false` next to a decodable `data`: the store says it failed
            // without saying why.
            Ok(response) => Err(interpret(
                Failure::Undecodable {
                    status: Some(response.status().as_u16()),
                    message: "the store answered success: false without an error".into(),
                    body: bytes::Bytes::new(),
                },
                operation,
            )),
            Err(failure) => Err(interpret(failure, operation)),
        }
    }
}

/// Every MousaCard answer is an envelope whose `success` must be true.
trait Envelope {
    fn succeeded(&self) -> bool;
}

macro_rules! envelopes {
    ($($envelope:ty),* $(,)?) => {
        $(impl Envelope for $envelope {
            fn succeeded(&self) -> bool {
                self.success
            }
        })*
    };
}

envelopes!(
    types::ProductListResponse,
    types::ProductResponse,
    types::CategoryListResponse,
    types::CreateOrderResponse,
    types::OrderResponse,
    types::OrdersStatusResponse,
    types::BalanceResponse,
);

/// MousaCard's `{"success": false, "error": {code, message, ...}}`, whatever the HTTP
/// status (it is sometimes 200, which the generated client sees as an undecodable body).
fn interpret(failure: Failure, operation: Operation) -> Error {
    let reconcile = Reconcile::MousaCardOrderStatus;
    let body = match &failure {
        Failure::Http { body, .. } => body.clone(),
        Failure::Undecodable { body, .. } => serde_json::from_slice(body).ok(),
        Failure::Transport { .. } | Failure::TooLarge(_) => None,
    };
    let is_error_envelope = body
        .as_ref()
        .is_some_and(|b| b.get("success") == Some(&serde_json::Value::Bool(false)));
    let code = text_at(&body, "/error/code");
    if !is_error_envelope || code.is_none() {
        return wordpress_error(&body).unwrap_or_else(|| failure.into_error(operation, reconcile));
    }
    let message = text_at(&body, "/error/message").unwrap_or_default();
    let amount = |pointer| {
        body.as_ref()?
            .pointer(pointer)
            .and_then(|v| serde_json::from_value::<Decimal>(v.clone()).ok())
    };
    let code = code.expect("checked above");
    match types::ErrorCode::from(code.as_str()) {
        types::ErrorCode::Unauthorized => Error::Unauthorized {
            supplier: SUPPLIER,
            message,
        },
        types::ErrorCode::Forbidden | types::ErrorCode::PurchaseDisabled => Error::Forbidden {
            supplier: SUPPLIER,
            code: Some(code),
            message,
        },
        types::ErrorCode::NotFound => Error::NotFound {
            supplier: SUPPLIER,
            message,
        },
        types::ErrorCode::InvalidRequest => Error::InvalidRequest {
            supplier: SUPPLIER,
            field: None,
            message,
            sent: true,
        },
        types::ErrorCode::InsufficientBalance => Error::InsufficientBalance {
            supplier: SUPPLIER,
            required: amount("/error/required"),
            available: amount("/error/available"),
            currency: text_at(&body, "/error/currency"),
        },
        types::ErrorCode::Unavailable => Error::Unavailable {
            supplier: SUPPLIER,
            message,
        },
        types::ErrorCode::InsufficientStock => Error::OutOfStock {
            supplier: SUPPLIER,
            message,
        },
        types::ErrorCode::StoreClosed => Error::StoreClosed {
            supplier: SUPPLIER,
            message,
        },
        // `ErrorCode` is non-exhaustive: a code the spec adds later lands here too.
        types::ErrorCode::SystemError | types::ErrorCode::Unknown(_) | _ => {
            failure.into_error(operation, reconcile)
        }
    }
}

/// WordPress's own error body, `{code, message, data: {status}}` (unknown routes,
/// `rest_forbidden`...), which the store's envelope does not cover. It may arrive on a
/// status the spec declares, so the generated client could not decode it.
fn wordpress_error(body: &Option<serde_json::Value>) -> Option<Error> {
    let status = body.as_ref()?.pointer("/data/status")?.as_u64()?;
    let code = text_at(body, "/code")?;
    let message = format!("{} ({code})", text_at(body, "/message").unwrap_or_default());
    if let Some(error) = Error::for_status(SUPPLIER, status as u16, message.clone()) {
        return Some(match error {
            Error::Forbidden {
                supplier, message, ..
            } => Error::Forbidden {
                supplier,
                code: Some(code),
                message,
            },
            other => other,
        });
    }
    Some(match status {
        400 => Error::InvalidRequest {
            supplier: SUPPLIER,
            field: None,
            message,
            sent: true,
        },
        status => Error::UnexpectedResponse {
            supplier: SUPPLIER,
            status: status as u16,
            excerpt: message,
        },
    })
}
