//! FoxReload through the facade: catalog streams, orders created and paid exactly once,
//! waiting by polling (FoxReload has no webhooks), balances.

mod catalog;
mod purchase;
mod tracking;

// Each concern lives in its own file; every public item keeps its path here.
pub use purchase::{MAX_ITEMS, OrderLine, check, validate};
pub use tracking::{DEFAULT_WAIT, normalise};

use std::sync::Arc;

use foxreload::types;

use crate::catalog_walk::CatalogLimit;
use crate::error::{Error, Reconcile};
use crate::failure::{Failure, text_at};
use crate::model::{Balance, SupplierId};
use crate::pacer::Pacer;
use crate::retry::{Idempotency, Operation, RetryPolicy};
use crate::waiter::Clock;

const SUPPLIER: SupplierId = SupplierId::FoxReload;

/// FoxReload, with the facade's retries and error model.
#[derive(Clone)]
pub struct FoxReload {
    client: foxreload::Client,
    retry: RetryPolicy,
    /// Shared by every clone: one pace and one `Retry-After` pause per supplier.
    pacer: Arc<Pacer>,
    /// Shared by every clone: catalog requests in flight at once.
    catalog: CatalogLimit,
    clock: Arc<dyn Clock>,
    test_orders: bool,
}

impl std::fmt::Debug for FoxReload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FoxReload")
            .field("client", &self.client)
            .field("test_orders", &self.test_orders)
            .finish_non_exhaustive()
    }
}

fn op(name: &'static str, method: &'static str, idempotency: Idempotency) -> Operation {
    Operation {
        supplier: SUPPLIER,
        name,
        method,
        idempotency,
    }
}

impl FoxReload {
    /// Wraps a generated client.
    pub fn new(client: foxreload::Client, retry: RetryPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            retry,
            pacer: Arc::default(),
            catalog: CatalogLimit::default(),
            clock,
            test_orders: false,
        }
    }

    /// Places every order as a test order (`isMock: true`): FoxReload records it and
    /// charges nothing. `FOXRELOAD_TEST_ORDERS=1` sets it from the environment.
    pub fn with_test_orders(mut self, test_orders: bool) -> Self {
        self.test_orders = test_orders;
        self
    }

    /// The generated client, for calls the facade does not wrap.
    pub fn client(&self) -> &foxreload::Client {
        &self.client
    }

    /// Sends every request of this adapter (and its clones) at `pacer`'s pace.
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = pacer;
        self
    }

    /// The account's balances, one per currency.
    pub async fn balances(&self) -> Result<Vec<Balance>, Error> {
        let balances = self
            .send(op("list_balances", "GET", Idempotency::Safe), || {
                self.client.list_balances().send()
            })
            .await?;
        Ok(balances
            .into_iter()
            .map(|b| Balance {
                supplier: SUPPLIER,
                amount: b.available,
                currency: b.currency,
            })
            .collect())
    }

    async fn send<T, E, F, Fut>(&self, operation: Operation, call: F) -> Result<T, Error>
    where
        E: serde::Serialize,
        F: FnMut() -> Fut,
        Fut: std::future::Future<
                Output = Result<progenitor_client::ResponseValue<T>, foxreload::Error<E>>,
            >,
    {
        self.send_with(
            operation,
            Reconcile::FoxReloadRecentOrders {
                order_id: None,
                idempotency_key: None,
            },
            call,
        )
        .await
    }

    async fn send_with<T, E, F, Fut>(
        &self,
        operation: Operation,
        reconcile: Reconcile,
        call: F,
    ) -> Result<T, Error>
    where
        E: serde::Serialize,
        F: FnMut() -> Fut,
        Fut: std::future::Future<
                Output = Result<progenitor_client::ResponseValue<T>, foxreload::Error<E>>,
            >,
    {
        match crate::failure::send(&self.retry, &self.pacer, operation, call).await {
            Ok(response) => Ok(response.into_inner()),
            Err(failure) => Err(interpret(failure, operation, reconcile)),
        }
    }
}

/// FoxReload's FastAPI errors: `{"detail": "...", "code": "..."}`, or a list of
/// `{loc, msg}` on 422. The code decides where there is one; older answers without it are
/// read by their wording.
fn interpret(failure: Failure, operation: Operation, reconcile: Reconcile) -> Error {
    let Failure::Http { status, body, .. } = &failure else {
        return failure.into_error(operation, reconcile);
    };
    let message = text_at(body, "/detail/0/msg")
        .or_else(|| text_at(body, "/detail"))
        .unwrap_or_else(|| format!("HTTP {status}"));
    let code = text_at(body, "/code").map(|c| types::ErrorCode::from(c.as_str()));
    let lower = message.to_lowercase();
    let insufficient = || Error::InsufficientBalance {
        supplier: SUPPLIER,
        required: None,
        available: None,
        currency: None,
    };
    let invalid = |field| Error::InvalidRequest {
        supplier: SUPPLIER,
        field,
        message: message.clone(),
        sent: true,
    };
    match (code, *status) {
        (Some(types::ErrorCode::BalanceNotEnough), _) => insufficient(),
        (Some(types::ErrorCode::NotFound), _) => Error::NotFound {
            supplier: SUPPLIER,
            message,
        },
        (Some(types::ErrorCode::OrderPaymentNotPossible), _) => Error::Unavailable {
            supplier: SUPPLIER,
            message: format!("{message} (ORDER_PAYMENT_NOT_POSSIBLE)"),
        },
        (Some(types::ErrorCode::OfferPriceNotMatched), _) => Error::Unavailable {
            supplier: SUPPLIER,
            message: format!("{message} (OFFER_PRICE_NOT_MATCHED)"),
        },
        // A refusal of this request, never the earlier order: the answer does not say
        // which order that was, and FoxReload does not deduplicate on the key.
        (Some(types::ErrorCode::OrderAlreadyExists), _) => Error::InvalidRequest {
            supplier: SUPPLIER,
            field: Some("idempotencyKey".into()),
            message: format!("{message} (ORDER_ALREADY_EXISTS)"),
            sent: true,
        },
        (_, 401 | 403 | 404) => {
            Error::for_status(SUPPLIER, *status, message).expect("an auth or not-found status")
        }
        (_, 400) if lower.contains("balance") => insufficient(),
        (_, 400) if lower.contains("stock") => Error::OutOfStock {
            supplier: SUPPLIER,
            message,
        },
        (_, 400) if lower.contains("unavailable") || lower.contains("not available") => {
            Error::Unavailable {
                supplier: SUPPLIER,
                message,
            }
        }
        (_, 400 | 409 | 422) => invalid(validation_field(body)),
        _ => failure.into_error(operation, reconcile),
    }
}

/// The field a FastAPI validation error points at: `loc` without its leading `body`.
fn validation_field(body: &Option<serde_json::Value>) -> Option<String> {
    let loc = body.as_ref()?.pointer("/detail/0/loc")?.as_array()?;
    let parts: Vec<String> = loc
        .iter()
        .skip_while(|part| matches!(part.as_str(), Some("body" | "query" | "path")))
        .map(|part| match part {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_name_the_field() {
        let body = Some(serde_json::json!({"detail": [
            {"loc": ["body", "items", 0, "quantity"], "msg": "too big", "type": "x"}
        ]}));
        assert_eq!(validation_field(&body).as_deref(), Some("items.0.quantity"));
    }
}
