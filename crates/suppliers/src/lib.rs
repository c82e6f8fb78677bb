//! One safe way to browse, buy and collect codes from FoxReload, MousaCard and
//! Cryptorefills, on top of the generated clients (`foxreload`, `mousacard`,
//! `cryptorefills`), which stay reachable through each adapter's `client()`.
//!
//! - one shared `reqwest` client, credentials from [`config`] (never in `Debug`),
//! - one retry layer ([`retry`]): reads retry with jittered backoff and `Retry-After`;
//!   purchase requests are sent exactly once,
//! - purchases never bought twice and never lost ([`Suppliers::buy`]): each is claimed
//!   under the caller's reference in a durable [`Journal`] (SQLite, or PostgreSQL for
//!   several workers) before its first byte is sent, and an unknown outcome is settled
//!   from what the supplier can tell ([`reconcile`]); [`Error::AmbiguousPurchase`]
//!   remains only when the supplier cannot tell,
//! - waiters ([`waiter`]) and Cryptorefills' SSE tracking ([`order_stream`]),
//! - one order model ([`model`]) and one [`Error`].
//!
//! FoxReload: the product is read (quantity limits and required note fields are
//! checked before anything is sent), the order created and paid, then polled until its
//! codes arrive. Buying again with the same reference returns the same order.
//!
//! ```no_run
//! # async fn run() -> Result<(), suppliers::Error> {
//! use suppliers::BuyRequest;
//! use suppliers::model::SupplierId;
//! use suppliers::adapters::foxreload::DEFAULT_WAIT;
//!
//! // FOXRELOAD_API_KEY, ...; the journal from SUPPLIERS_JOURNAL or the default file.
//! let suppliers = suppliers::Suppliers::from_env().await?;
//! let mut request = BuyRequest::new("product_01kq2w3e4r5t6y7u8i9o0p1a2s", 5); // $5 top-up
//! request.fields.insert("login".into(), "steam_user".into());
//! request.reference = Some("invoice-1042".into()); // your id for this purchase
//! let receipt = suppliers.buy(SupplierId::FoxReload, &request).await?;
//! let fox = suppliers.foxreload()?;
//! let order = fox.wait_for_order(&receipt.order.id, DEFAULT_WAIT).await?;
//! println!("{} {} codes", order.status, order.delivery.codes.len());
//! # Ok(()) }
//! ```
//!
//! MousaCard: buy from the balance (quantity and custom fields checked against the
//! product first), then track many orders with the 50-id batch endpoint. After a crash,
//! [`Suppliers::pending`] lists what was in flight and [`Suppliers::reconcile`] settles
//! it.
//!
//! ```no_run
//! # async fn run() -> Result<(), suppliers::Error> {
//! use suppliers::{BuyRequest, Journal, Suppliers, model::SupplierId};
//! use suppliers::adapters::mousacard::DEFAULT_WAIT;
//!
//! let suppliers = Suppliers::builder_from_env()? // MOUSACARD_TOKEN
//!     .journal(Journal::open("postgres://worker:secret@db.internal/shop").await?)
//!     .build()?;
//! for line in suppliers.reconcile().await? {
//!     println!("{} {} -> {}", line.entry.reference, line.before, line.entry.state);
//! }
//! let mut request = BuyRequest::new("12310", 1);
//! request.fields.insert("playerid".into(), "12345678".into());
//! let receipt = suppliers.buy(SupplierId::MousaCard, &request).await?;
//! let (outcomes, _stats) = suppliers
//!     .mousacard()?
//!     .wait_for_orders(&[receipt.order.id.parse().unwrap(), 242859], DEFAULT_WAIT)
//!     .await?;
//! println!("{} {outcomes:?}", receipt.reference);
//! # Ok(()) }
//! ```
//!
//! Cryptorefills: validate, create the order (paid in stablecoins to the returned
//! wallet address), then follow it over Server-Sent Events.
//!
//! ```no_run
//! # async fn run() -> Result<(), suppliers::Error> {
//! use std::time::Duration;
//! use suppliers::{BuyRequest, model::SupplierId};
//!
//! let suppliers = suppliers::Suppliers::from_env().await?; // CRYPTOREFILLS_PARTNER_ID, ...
//! let mut request = BuyRequest::new("giftcard/Airbnb/US/100 USD", 1);
//! request.email = Some("user@example.com".into());
//! suppliers.get(SupplierId::Cryptorefills)?.validate(&request).await?;
//! let order = suppliers.buy(SupplierId::Cryptorefills, &request).await?.order;
//! if let Some(payment) = &order.payment {
//!     println!("pay {:?} {:?} to {}", payment.amount, payment.coin, payment.address);
//! }
//! let cryptorefills = suppliers.get(SupplierId::Cryptorefills)?;
//! let done = cryptorefills.wait_for_order(&order.id, Duration::from_secs(1800)).await?;
//! println!("{}", done.status);
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! The TLS backend of every supplier client and of the journal's PostgreSQL
//! connections, forwarded to `foxreload`, `mousacard`, `cryptorefills`,
//! `suppliers-http` and `suppliers-journal`:
//! - `rustls` (default): TLS through rustls (aws-lc-rs), certificates checked by the
//!   platform's verifier.
//! - `native-tls`: TLS through the platform's library (OpenSSL on Linux, which needs
//!   `libssl-dev` and `pkg-config` to build; Security.framework; SChannel). With both,
//!   the platform's library is used;
//!   for it alone: `default-features = false, features = ["native-tls"]`.

pub mod adapters;
pub mod config;
pub mod error;
mod facade;
mod failure;
pub mod model;
pub mod order_stream;
pub mod pacer;
mod paging;
mod purchase;
pub mod reconcile;
pub mod retry;
pub mod supplier;
pub mod tracker;
pub mod waiter;
pub mod webhook;

pub use error::Error;
pub use facade::{Suppliers, SuppliersBuilder, USER_AGENT};
pub use purchase::{MAX_REFERENCE_LEN, Receipt, new_reference};
pub use supplier::{BuyRequest, CatalogQuery, Supplier};
pub use suppliers_journal as journal;
pub use suppliers_journal::Journal;
pub use tracker::{Report, Tracker, TrackerConfig};
