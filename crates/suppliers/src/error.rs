//! The one error type a caller matches on, whatever the supplier.
//!
//! Messages name the supplier, its error code and message, never a credential, a
//! delivered code or a response body that could hold one.

use std::time::Duration;

use rust_decimal::Decimal;

use crate::config::ConfigError;
use crate::model::{OrderStatus, SupplierId};

/// A Cryptorefills validation problem code (open: unknown codes are kept).
pub use cryptorefills::types::ProblemCode;

/// One problem Cryptorefills found with an order.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The code, e.g. `INVALID_BENEFICIARY_ACCOUNT`.
    pub code: ProblemCode,
    /// `moreDetails`, as sent (allowed payment vias, supported coin/network pairs...).
    pub details: Option<serde_json::Value>,
}

/// What a caller needs to find out whether an ambiguous purchase went through.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reconcile {
    /// FoxReload: list recent orders (`suppliers orders foxreload`) and look for it
    /// before buying again.
    FoxReloadRecentOrders {
        /// The order being paid, when the ambiguous call was `pay_order`.
        order_id: Option<String>,
        /// The `idempotencyKey` the order was created with.
        idempotency_key: Option<String>,
    },
    /// MousaCard: check recent order ids with `POST /orders/status`, or the balance.
    MousaCardOrderStatus,
    /// Cryptorefills: the order list in the partner dashboard; nothing is charged until
    /// the wallet payment is made.
    CryptorefillsOrders,
}

/// Every way a supplier call can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad configuration; nothing was sent.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The credential was refused.
    #[error("{supplier}: unauthorized ({message})")]
    Unauthorized {
        /// Which supplier.
        supplier: SupplierId,
        /// The supplier's message.
        message: String,
    },
    /// Authenticated, but not allowed (IP allowlist, purchases disabled...).
    #[error("{supplier}: forbidden{}: {message}", code_suffix(.code))]
    Forbidden {
        /// Which supplier.
        supplier: SupplierId,
        /// The supplier's error code, e.g. `purchase_disabled`.
        code: Option<String>,
        /// The supplier's message.
        message: String,
    },
    /// No such product or order.
    #[error("{supplier}: not found: {message}")]
    NotFound {
        /// Which supplier.
        supplier: SupplierId,
        /// The supplier's message.
        message: String,
    },
    /// The request was rejected as invalid, by this SDK before sending (`sent: false`)
    /// or by the supplier.
    #[error("{supplier}: invalid request{}: {message}", field_suffix(.field))]
    InvalidRequest {
        /// Which supplier.
        supplier: SupplierId,
        /// The offending field, when known.
        field: Option<String>,
        /// What is wrong.
        message: String,
        /// Whether the request reached the supplier.
        sent: bool,
    },
    /// Not enough balance for the purchase.
    #[error("{supplier}: insufficient balance{}", balance_suffix(.required, .available, .currency))]
    InsufficientBalance {
        /// Which supplier.
        supplier: SupplierId,
        /// What the purchase needs, when the supplier says.
        required: Option<Decimal>,
        /// What the account holds, when the supplier says.
        available: Option<Decimal>,
        /// Currency (code or symbol) of both amounts.
        currency: Option<String>,
    },
    /// Not enough stock.
    #[error("{supplier}: out of stock: {message}")]
    OutOfStock {
        /// Which supplier.
        supplier: SupplierId,
        /// The supplier's message.
        message: String,
    },
    /// The product or variation cannot be bought now.
    #[error("{supplier}: unavailable: {message}")]
    Unavailable {
        /// Which supplier.
        supplier: SupplierId,
        /// The supplier's message.
        message: String,
    },
    /// The store is under maintenance.
    #[error("{supplier}: store closed: {message}")]
    StoreClosed {
        /// Which supplier.
        supplier: SupplierId,
        /// The supplier's message.
        message: String,
    },
    /// Still rate limited after the retries allowed.
    #[error("{supplier}: rate limited{}", retry_suffix(.retry_after))]
    RateLimited {
        /// Which supplier.
        supplier: SupplierId,
        /// How long the supplier asked to wait.
        retry_after: Option<Duration>,
    },
    /// Cryptorefills found problems with the order.
    #[error("{supplier}: the order has problems: {}", problem_list(.problems))]
    ValidationProblems {
        /// Which supplier.
        supplier: SupplierId,
        /// Every problem reported.
        problems: Vec<Problem>,
    },
    /// A purchase request may or may not have reached the supplier, and the supplier
    /// cannot tell yet. It was not resent.
    #[error(
        "{supplier}: the outcome of {operation} is unknown ({cause}); the purchase may have gone through: {}",
        reconcile_hint(.reconcile, .reference.as_deref())
    )]
    AmbiguousPurchase {
        /// Which supplier.
        supplier: SupplierId,
        /// The purchase operation (`create_order`, `pay_order`...).
        operation: &'static str,
        /// What went wrong after sending (connection dropped, timeout, 5xx...).
        cause: String,
        /// How to find out.
        reconcile: Reconcile,
        /// The purchase's journal reference (purchases through [`crate::Suppliers::buy`]).
        reference: Option<String>,
    },
    /// Known not to have gone through (after an unknown outcome was reconciled):
    /// nothing was charged. Buying again with the same reference is safe.
    #[error("{supplier}: not bought: {reason}; nothing was charged (reference {reference})")]
    NotBought {
        /// Which supplier.
        supplier: SupplierId,
        /// The purchase's reference.
        reference: String,
        /// The supplier's order, when one exists unpaid (FoxReload `active`).
        order_id: Option<String>,
        /// How this is known.
        reason: String,
    },
    /// The reference already names a purchase of another product or quantity.
    #[error(
        "{supplier}: reference {reference:?} already names a purchase of {quantity} x {product_id}; nothing was sent: use another reference"
    )]
    ReferenceConflict {
        /// Which supplier.
        supplier: SupplierId,
        /// The reference.
        reference: String,
        /// The product it was first used for.
        product_id: String,
        /// And the quantity.
        quantity: u64,
    },
    /// Another live process is buying with this reference right now.
    #[error(
        "{supplier}: the purchase with reference {reference:?} is in progress in another process ({owner}); nothing was sent"
    )]
    PurchaseInProgress {
        /// Which supplier.
        supplier: SupplierId,
        /// The reference.
        reference: String,
        /// The process holding it (`host:pid:token`).
        owner: String,
    },
    /// The purchase journal failed.
    #[error(transparent)]
    Journal(#[from] suppliers_journal::JournalError),
    /// A tracker's report handler said never again (a webhook endpoint answered
    /// `410 Gone`): the run ended, and every unreported order stays pending in the
    /// journal for a run with a receiver that takes them.
    #[error("reports refused: {reason}; the reports stay pending in the journal")]
    ReportsRefused {
        /// Why, as the handler said it.
        reason: String,
    },
    /// A wait reached its deadline.
    #[error("{supplier}: order {order_id} did not finish within {waited:?} (last status: {})", last_status.map_or("unknown", |s| s.as_str()))]
    WaitTimedOut {
        /// Which supplier.
        supplier: SupplierId,
        /// The order waited for.
        order_id: String,
        /// How long.
        waited: Duration,
        /// The last status seen.
        last_status: Option<OrderStatus>,
    },
    /// The network failed (connect, reset, timeout) on a request safe to repeat, after
    /// the retries allowed.
    #[error("{supplier}: transport error: {message}")]
    Transport {
        /// Which supplier.
        supplier: SupplierId,
        /// What failed, without URLs' query strings or bodies.
        message: String,
    },
    /// A response this SDK cannot interpret.
    #[error("{supplier}: unexpected response (HTTP {status}): {excerpt}")]
    UnexpectedResponse {
        /// Which supplier.
        supplier: SupplierId,
        /// HTTP status.
        status: u16,
        /// The start of an error body, or a description of why a success body did not
        /// decode (success bodies are never quoted: they may hold codes).
        excerpt: String,
    },
}

impl Error {
    /// The supplier the error came from, if any.
    pub fn supplier(&self) -> Option<SupplierId> {
        match self {
            Self::Config(_) | Self::Journal(_) | Self::ReportsRefused { .. } => None,
            Self::Unauthorized { supplier, .. }
            | Self::Forbidden { supplier, .. }
            | Self::NotFound { supplier, .. }
            | Self::InvalidRequest { supplier, .. }
            | Self::InsufficientBalance { supplier, .. }
            | Self::OutOfStock { supplier, .. }
            | Self::Unavailable { supplier, .. }
            | Self::StoreClosed { supplier, .. }
            | Self::RateLimited { supplier, .. }
            | Self::ValidationProblems { supplier, .. }
            | Self::AmbiguousPurchase { supplier, .. }
            | Self::NotBought { supplier, .. }
            | Self::ReferenceConflict { supplier, .. }
            | Self::PurchaseInProgress { supplier, .. }
            | Self::WaitTimedOut { supplier, .. }
            | Self::Transport { supplier, .. }
            | Self::UnexpectedResponse { supplier, .. } => Some(*supplier),
        }
    }

    /// The supplier answered and said no: nothing was bought (unauthorized, forbidden,
    /// not found, invalid, no balance or stock, unavailable, closed, rate limited,
    /// problems with the order, or known not bought after an unknown outcome).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::Unauthorized { .. }
                | Self::Forbidden { .. }
                | Self::NotFound { .. }
                | Self::InvalidRequest { sent: true, .. }
                | Self::InsufficientBalance { .. }
                | Self::OutOfStock { .. }
                | Self::Unavailable { .. }
                | Self::StoreClosed { .. }
                | Self::RateLimited { .. }
                | Self::ValidationProblems { .. }
                | Self::NotBought { .. }
        )
    }

    /// The error every supplier means by 401, 403 and 404; `None` for other statuses.
    pub(crate) fn for_status(supplier: SupplierId, status: u16, message: String) -> Option<Self> {
        match status {
            401 => Some(Self::Unauthorized { supplier, message }),
            403 => Some(Self::Forbidden {
                supplier,
                code: None,
                message,
            }),
            404 => Some(Self::NotFound { supplier, message }),
            _ => None,
        }
    }

    /// An input error found before any request was sent.
    pub(crate) fn rejected(supplier: SupplierId, field: &str, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            supplier,
            field: Some(field.to_owned()),
            message: message.into(),
            sent: false,
        }
    }
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
}

fn field_suffix(field: &Option<String>) -> String {
    field
        .as_ref()
        .map(|f| format!(" ({f})"))
        .unwrap_or_default()
}

fn balance_suffix(
    required: &Option<Decimal>,
    available: &Option<Decimal>,
    currency: &Option<String>,
) -> String {
    let currency = currency
        .as_deref()
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    match (required, available) {
        (Some(r), Some(a)) => format!(": {r}{currency} required, {a}{currency} available"),
        (Some(r), None) => format!(": {r}{currency} required"),
        (None, Some(a)) => format!(": {a}{currency} available"),
        (None, None) => String::new(),
    }
}

fn retry_suffix(retry_after: &Option<Duration>) -> String {
    retry_after
        .map(|d| format!(" (retry after {}s)", d.as_secs()))
        .unwrap_or_default()
}

fn problem_list(problems: &[Problem]) -> String {
    let codes: Vec<&str> = problems.iter().map(|p| p.code.as_str()).collect();
    codes.join(", ")
}

fn reconcile_hint(reconcile: &Reconcile, reference: Option<&str>) -> String {
    if let Some(reference) = reference {
        return format!(
            "it is kept in the purchase journal under reference {reference}: `suppliers reconcile` settles it, and `suppliers buy --reference {reference}` never buys it twice"
        );
    }
    let check = match reconcile {
        Reconcile::FoxReloadRecentOrders {
            order_id: Some(id), ..
        } => format!("order {id} (`suppliers order foxreload {id}`)"),
        Reconcile::FoxReloadRecentOrders {
            order_id: None,
            idempotency_key,
        } => {
            let key = idempotency_key
                .as_ref()
                .map(|k| format!(", created with idempotencyKey {k}"))
                .unwrap_or_default();
            format!("the recent orders (`suppliers orders foxreload`{key})")
        }
        Reconcile::MousaCardOrderStatus => {
            "the balance (`suppliers balance mousacard`) and the store's order history".into()
        }
        Reconcile::CryptorefillsOrders => {
            "the orders in the Cryptorefills partner dashboard".into()
        }
    };
    format!("check {check} before buying again")
}
