//! Exit codes, the contract scripts rely on.

use suppliers::Error;

/// Usage errors and input rejected before any request.
pub const USAGE: u8 = 2;

/// Another live process is buying with this reference.
pub const IN_PROGRESS: u8 = 7;

/// The webhook endpoint answered `410 Gone`: tracking stopped, reports stay pending.
pub const REPORTS_REFUSED: u8 = 8;

/// The exit code for an error.
pub fn code(error: &Error) -> u8 {
    match error {
        Error::Config(_)
        | Error::InvalidRequest { sent: false, .. }
        | Error::ReferenceConflict { .. } => USAGE,
        Error::Unauthorized { .. } | Error::Forbidden { .. } => 3,
        Error::NotFound { .. }
        | Error::InvalidRequest { sent: true, .. }
        | Error::InsufficientBalance { .. }
        | Error::OutOfStock { .. }
        | Error::Unavailable { .. }
        | Error::StoreClosed { .. }
        | Error::ValidationProblems { .. }
        | Error::NotBought { .. } => 4,
        Error::AmbiguousPurchase { .. } => 6,
        Error::PurchaseInProgress { .. } => IN_PROGRESS,
        Error::ReportsRefused { .. } => REPORTS_REFUSED,
        _ => 5,
    }
}

/// One or two plain sentences for stderr, with the supplier's code and message.
pub fn message(error: &Error) -> String {
    format!("error: {error}")
}
