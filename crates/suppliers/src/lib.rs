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
//! - goods never lost either ([`Tracker`]): every bought purchase is followed until its
//!   goods arrive or the supplier gives up on the order, and handed to the caller at
//!   least once, across crashes and workers ([`tracker`]; [`webhook`] pushes it to a
//!   reseller's server as a Standard Webhook),
//! - catalogs streamed in order with several requests in flight per supplier
//!   ([`catalog_walk`]; 8 by default, [`SuppliersBuilder::catalog_concurrency`]),
//! - waiters ([`waiter`]) and Cryptorefills' SSE tracking ([`order_stream`]),
//! - one order model ([`model`]) and one [`Error`].
//!
//! FoxReload: the product is read (quantity limits and required note fields are
//! checked before anything is sent), the order created and paid, then polled until its
//! codes arrive (eSIMs may deliver activation data instead: JSON objects in
//! [`model::Delivery::activation_data`]). Buying again with the same reference returns
//! the same order; that rests on the journal alone, since FoxReload does not
//! deduplicate on the `idempotencyKey` each order is sent with.
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
//! wallet address), then follow it over Server-Sent Events. Cryptorefills applies
//! identity checks and spending limits per end user, recognised by their IP and
//! `User-Agent`: pass the [`EndUser`] on the request ([`BuyRequest::end_user`],
//! [`CatalogQuery::end_user`]) or scope the facade to them
//! ([`Suppliers::for_end_user`]) for orders, quotes and waits. Every Cryptorefills
//! request made for them then carries `X-Forwarded-For` and their `User-Agent`;
//! without one, requests carry [`USER_AGENT`] and no `X-Forwarded-For`.
//!
//! ```no_run
//! # async fn run() -> Result<(), suppliers::Error> {
//! use std::time::Duration;
//! use suppliers::{BuyRequest, EndUser, model::SupplierId};
//!
//! let suppliers = suppliers::Suppliers::from_env().await?; // CRYPTOREFILLS_PARTNER_ID, ...
//! // From your storefront's request: the buyer's IP (IPv4 or IPv6) and browser.
//! let buyer = EndUser::parse("203.0.113.7", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)")?;
//! let mut request = BuyRequest::new("giftcard/Airbnb/US/100 USD", 1);
//! request.email = Some("user@example.com".into());
//! request.end_user = Some(buyer.clone());
//! suppliers.get(SupplierId::Cryptorefills)?.validate(&request).await?;
//! let order = suppliers.buy(SupplierId::Cryptorefills, &request).await?.order;
//! if let Some(payment) = &order.payment {
//!     println!("pay {:?} {:?} to {}", payment.amount, payment.coin, payment.address);
//! }
//! let for_buyer = suppliers.for_end_user(buyer);
//! let cryptorefills = for_buyer.get(SupplierId::Cryptorefills)?;
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
//!
//! The purchase journal's stores and the webhook sender:
//! - `sqlite` (default): journals in an SQLite file (rusqlite, SQLite bundled).
//! - `postgres`: journals in PostgreSQL (sqlx), for several workers or machines.
//! - `webhooks` (default): [`webhook`], signed deliveries of tracked orders.
//!
//! Without `sqlite` and `postgres` no database driver is compiled, so an application
//! that links its own SQLite can add this crate; its purchases then take a journal it
//! gives, [`Journal::from_store`] over its own [`journal::JournalStore`], checked with
//! [`journal::conformance::check`].

pub mod adapters;
pub mod catalog_walk;
pub mod config;
mod end_user;
pub mod error;
mod facade;
mod failure;
pub mod metrics;
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
#[cfg(feature = "webhooks")]
pub mod webhook;

pub use catalog_walk::DEFAULT_CATALOG_CONCURRENCY;
pub use end_user::EndUser;
pub use error::Error;
pub use facade::{Suppliers, SuppliersBuilder, USER_AGENT};
pub use purchase::{MAX_REFERENCE_LEN, Receipt, new_reference};
pub use supplier::{BuyRequest, CatalogQuery, Supplier};
pub use suppliers_journal as journal;
pub use suppliers_journal::Journal;
pub use tracker::{Report, Tracker, TrackerConfig};
