//! Cryptorefills through the facade: a catalog of brand families, crypto price quotes,
//! validation, orders paid in stablecoins, and order tracking over Server-Sent Events
//! with a polling fallback.
//!
//! Production orders carry `order_id` and `order_state` (the seed's `id` and `status`
//! are read when they are there), codes in `deliveries[].deliverable.pin_code`. Orders
//! are sent with flat deliveries, one per unit, each with the product's own
//! denomination string, or `"range"` and a `product_value` for a range product
//! (`specs/README.md`).
//!
//! Cryptorefills applies identity checks and spending limits per end user: an adapter
//! made [`Cryptorefills::for_end_user`] sends that user's IP (`X-Forwarded-For`) and
//! agent (`User-Agent`) on every request; otherwise requests carry the SDK's own
//! `User-Agent` and no `X-Forwarded-For`.

mod catalog;
mod purchase;
mod tracking;

// Each concern lives in its own file; every public item keeps its path here.
pub use catalog::parse_product_id;
pub use purchase::{Purchase, is_e164, is_email};
pub use tracking::{PAYMENT_WINDOW, normalise};

use std::sync::Arc;

use cryptorefills::types;

use crate::catalog_walk::CatalogLimit;
use crate::end_user::EndUser;
use crate::error::{Error, Problem, Reconcile};
use crate::failure::{Failure, text_at};
use crate::model::SupplierId;
use crate::order_stream::TrackConfig;
use crate::pacer::Pacer;
use crate::retry::{Idempotency, Operation, RetryPolicy};
use crate::waiter::Clock;

const SUPPLIER: SupplierId = SupplierId::Cryptorefills;

/// The denomination a range product is ordered with, beside its `product_value`.
pub const RANGE: &str = "range";

/// Deliveries one order holds at most (one per unit).
pub const MAX_UNITS: u32 = 10;

fn op(name: &'static str, method: &'static str, idempotency: Idempotency) -> Operation {
    Operation {
        supplier: SUPPLIER,
        name,
        method,
        idempotency,
    }
}

/// Cryptorefills, with the facade's retries and error model.
#[derive(Clone)]
pub struct Cryptorefills {
    client: cryptorefills::Client,
    retry: RetryPolicy,
    /// Shared by every clone: one pace and one `Retry-After` pause per supplier.
    pacer: Arc<Pacer>,
    /// Shared by every clone: catalog requests in flight at once.
    catalog: CatalogLimit,
    clock: Arc<dyn Clock>,
    track: TrackConfig,
    end_user: Option<EndUser>,
}

impl std::fmt::Debug for Cryptorefills {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cryptorefills")
            .field("client", &self.client)
            .field("end_user", &self.end_user)
            .finish_non_exhaustive()
    }
}

/// The builders of the operations this adapter calls, each of which takes the end
/// user's headers (the spec declares them on every operation).
trait EndUserHeaders: Sized {
    fn end_user_headers(self, ip: String, user_agent: String) -> Self;
}

macro_rules! end_user_headers {
    ($($builder:ident),+) => {$(
        impl EndUserHeaders for cryptorefills::builder::$builder<'_> {
            fn end_user_headers(self, ip: String, user_agent: String) -> Self {
                self.x_forwarded_for(ip).user_agent(user_agent)
            }
        }
    )+};
}

end_user_headers!(
    ListBrands,
    ListProducts,
    GetPrice,
    ValidateOrder,
    CreateOrder,
    GetOrder,
    SubscribeOrder
);

impl Cryptorefills {
    /// Wraps a generated client.
    pub fn new(client: cryptorefills::Client, retry: RetryPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            retry,
            pacer: Arc::default(),
            catalog: CatalogLimit::default(),
            clock,
            track: TrackConfig::default(),
            end_user: None,
        }
    }

    /// The same adapter acting for `end_user`: every request it makes (catalog,
    /// quotes, validation, orders, tracking) carries the end user's IP in
    /// `X-Forwarded-For` and their agent in `User-Agent`. Cheap: clones share the
    /// connection pool.
    pub fn for_end_user(&self, end_user: EndUser) -> Self {
        Self {
            end_user: Some(end_user),
            ..self.clone()
        }
    }

    /// The end user this adapter acts for, if any.
    pub fn end_user(&self) -> Option<&EndUser> {
        self.end_user.as_ref()
    }

    /// `builder` with the end user's headers, when there is one.
    fn as_end_user<B: EndUserHeaders>(&self, builder: B) -> B {
        match &self.end_user {
            Some(user) => builder.end_user_headers(user.ip().to_string(), user.user_agent().into()),
            None => builder,
        }
    }

    /// The same adapter with other tracking timings.
    pub fn with_track_config(mut self, track: TrackConfig) -> Self {
        self.track = track;
        self
    }

    /// The generated client, for calls the facade does not wrap.
    pub fn client(&self) -> &cryptorefills::Client {
        &self.client
    }

    /// Sends every request of this adapter (and its clones) at `pacer`'s pace.
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = pacer;
        self
    }

    async fn send<T, F, Fut>(&self, operation: Operation, call: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<
                Output = Result<
                    progenitor_client::ResponseValue<T>,
                    cryptorefills::Error<types::HttpError>,
                >,
            >,
    {
        match crate::failure::send(&self.retry, &self.pacer, operation, call).await {
            Ok(response) => Ok(response.into_inner()),
            Err(failure) => Err(interpret(failure, operation)),
        }
    }
}

fn problems_error(problems: Vec<types::Problem>) -> Error {
    Error::ValidationProblems {
        supplier: SUPPLIER,
        problems: problems
            .into_iter()
            .map(|p| Problem {
                code: p.problem,
                details: p.more_details,
            })
            .collect(),
    }
}

/// Cryptorefills errors: `{status, detail, moreDetails}`, `{status, detail, reason}`,
/// `{message}`, possibly with `problems`; 422 `{"detail": "LOGIN_REQUIRED"}` for brands
/// that need an account.
fn interpret(failure: Failure, operation: Operation) -> Error {
    let reconcile = Reconcile::CryptorefillsOrders;
    let Failure::Http { status, body, .. } = &failure else {
        return failure.into_error(operation, reconcile);
    };
    if let Some(problems) = body
        .as_ref()
        .and_then(|b| b.get("problems"))
        .and_then(|p| serde_json::from_value::<Vec<types::Problem>>(p.clone()).ok())
        .filter(|p| !p.is_empty())
    {
        return problems_error(problems);
    }
    let message = text_at(body, "/detail")
        .or_else(|| text_at(body, "/message"))
        .or_else(|| text_at(body, "/error"))
        .unwrap_or_else(|| format!("HTTP {status}"));
    let message = match text_at(body, "/reason") {
        Some(reason) => format!("{message} ({reason})"),
        None => message,
    };
    match status {
        401 | 403 | 404 => {
            Error::for_status(SUPPLIER, *status, message).expect("an auth or not-found status")
        }
        400 | 422 => match types::HttpErrorCode::from(message.as_str()) {
            code @ (types::HttpErrorCode::SuspendedCoin
            | types::HttpErrorCode::SuspendedNetwork
            | types::HttpErrorCode::LoginRequired) => Error::Unavailable {
                supplier: SUPPLIER,
                message: code.to_string(),
            },
            _ => Error::InvalidRequest {
                supplier: SUPPLIER,
                field: None,
                message,
                sent: true,
            },
        },
        _ => failure.into_error(operation, reconcile),
    }
}
