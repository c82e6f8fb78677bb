//! [`Suppliers`]: one shared HTTP client and one adapter per configured supplier.
//!
//! The shared client follows redirects only within a supplier's origin
//! ([`suppliers_http::redirect_policy`]), bounds every answer's body
//! ([`SuppliersBuilder::max_response_bytes`]) and every attempt's duration
//! ([`SuppliersBuilder::attempt_timeout`]).

use std::sync::Arc;
use std::time::Duration;

use suppliers_http::ResponseLimits;
use suppliers_journal::Journal;

use crate::adapters::{cryptorefills::Cryptorefills, foxreload::FoxReload, mousacard::MousaCard};
use crate::config::{ConfigError, CryptorefillsConfig, FoxReloadConfig, MousaCardConfig};
use crate::error::Error;
use crate::model::SupplierId;
use crate::retry::RetryPolicy;
use crate::waiter::{Clock, TokioClock};

/// `User-Agent` of every request: this SDK and its version.
pub const USER_AGENT: &str = concat!("suppliers-sdk/", env!("CARGO_PKG_VERSION"));

/// The facade. Cheap to clone: clones share the connection pool.
#[derive(Clone, Debug, Default)]
pub struct Suppliers {
    foxreload: Option<FoxReload>,
    mousacard: Option<MousaCard>,
    cryptorefills: Option<Cryptorefills>,
    journal: Option<Journal>,
}

/// Builds [`Suppliers`] from explicit configuration.
pub struct SuppliersBuilder {
    foxreload: Option<FoxReloadConfig>,
    mousacard: Option<MousaCardConfig>,
    cryptorefills: Option<CryptorefillsConfig>,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    connect_timeout: Duration,
    read_timeout: Duration,
    limits: ResponseLimits,
    catalog_concurrency: usize,
    journal: Option<Journal>,
}

impl Default for SuppliersBuilder {
    fn default() -> Self {
        Self {
            foxreload: None,
            mousacard: None,
            cryptorefills: None,
            retry: RetryPolicy::default(),
            clock: Arc::new(TokioClock),
            connect_timeout: Duration::from_secs(10),
            // Long enough for an SSE stream between keep-alives.
            read_timeout: Duration::from_secs(90),
            limits: ResponseLimits::default(),
            catalog_concurrency: crate::DEFAULT_CATALOG_CONCURRENCY,
            journal: None,
        }
    }
}

impl SuppliersBuilder {
    /// Adds FoxReload.
    pub fn foxreload(mut self, config: FoxReloadConfig) -> Self {
        self.foxreload = Some(config);
        self
    }
    /// Adds MousaCard.
    pub fn mousacard(mut self, config: MousaCardConfig) -> Self {
        self.mousacard = Some(config);
        self
    }
    /// Adds Cryptorefills.
    pub fn cryptorefills(mut self, config: CryptorefillsConfig) -> Self {
        self.cryptorefills = Some(config);
        self
    }
    /// The purchase journal [`Suppliers::buy`] records every purchase in.
    pub fn journal(mut self, journal: Journal) -> Self {
        self.journal = Some(journal);
        self
    }
    /// Retry bounds for requests safe to repeat.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }
    /// The clock waiters sleep on (tests substitute one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// Connect and per-read timeouts of the shared HTTP client (no total timeout: each
    /// attempt has [`Self::attempt_timeout`] instead).
    pub fn timeouts(mut self, connect: Duration, read: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self
    }
    /// Deadline of one request attempt, from sending to the last byte of its answer
    /// (default 30 s; [`RetryPolicy::attempt_timeout`]). Event streams are bounded by
    /// their keep-alive gap instead.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.retry.attempt_timeout = timeout;
        self
    }
    /// Largest response body read (default 16 MiB); a larger one is an
    /// [`Error::UnexpectedResponse`] naming the limit, or ambiguous for a purchase.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_body_bytes = bytes;
        self
    }
    /// Catalog requests in flight at once per supplier (default 8): FoxReload's category
    /// and product pages, Cryptorefills' brand families. Products still come in the
    /// order of a one-page-at-a-time walk; 1 is that walk. 0 counts as 1.
    pub fn catalog_concurrency(mut self, requests: usize) -> Self {
        self.catalog_concurrency = requests;
        self
    }
    /// `SUPPLIERS_REQUEST_TIMEOUT` (seconds, fractions allowed) and
    /// `SUPPLIERS_MAX_RESPONSE_BYTES`, where set.
    pub fn limits_from_env(self) -> Result<Self, ConfigError> {
        self.limits_from_lookup(|name| std::env::var(name).ok())
    }
    /// Like [`Self::limits_from_env`] with another source of variables.
    pub fn limits_from_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        if let Some(value) = lookup("SUPPLIERS_REQUEST_TIMEOUT") {
            let seconds = value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .ok_or(ConfigError::InvalidVariable("SUPPLIERS_REQUEST_TIMEOUT"))?;
            self = self.attempt_timeout(Duration::from_secs_f64(seconds));
        }
        if let Some(value) = lookup("SUPPLIERS_MAX_RESPONSE_BYTES") {
            let bytes = value
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|b| *b > 0)
                .ok_or(ConfigError::InvalidVariable("SUPPLIERS_MAX_RESPONSE_BYTES"))?;
            self = self.max_response_bytes(bytes);
        }
        Ok(self)
    }

    /// One pooled `reqwest::Client` (TLS from the `rustls` or `native-tls` feature) shared
    /// by every supplier.
    pub fn build(self) -> Result<Suppliers, Error> {
        let http = suppliers_http::client_builder(USER_AGENT)
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        let (retry, clock, limits) = (self.retry, self.clock, self.limits);
        let catalog = self.catalog_concurrency;
        Ok(Suppliers {
            journal: self.journal,
            foxreload: self
                .foxreload
                .map(|c| {
                    c.client(http.clone(), limits).map(|client| {
                        FoxReload::new(client, retry, clock.clone())
                            .with_test_orders(c.test_orders)
                            .with_catalog_concurrency(catalog)
                    })
                })
                .transpose()?,
            mousacard: self
                .mousacard
                .map(|c| {
                    c.client(http.clone(), limits)
                        .map(|client| MousaCard::new(client, retry, clock.clone()))
                })
                .transpose()?,
            cryptorefills: self
                .cryptorefills
                .map(|c| {
                    c.client(http.clone(), limits).map(|client| {
                        Cryptorefills::new(client, retry, clock.clone())
                            .with_catalog_concurrency(catalog)
                    })
                })
                .transpose()?,
        })
    }
}

impl Suppliers {
    /// Starts an explicit configuration.
    pub fn builder() -> SuppliersBuilder {
        SuppliersBuilder::default()
    }

    /// Every supplier whose credentials are in the environment (see
    /// [`FoxReloadConfig::from_env`] and its siblings), and the purchase journal from
    /// [`Journal::from_env`] (`SUPPLIERS_JOURNAL`, or a file under the user's data
    /// directory). A supplier whose credential variable is unset is left out; any
    /// other configuration problem is an error.
    pub async fn from_env() -> Result<Self, Error> {
        Self::builder_from_env()?
            .journal(Journal::from_env().await?)
            .build()
    }

    /// What [`Self::from_env`] configures, without a journal (add one with
    /// [`SuppliersBuilder::journal`]). Limits come from
    /// [`SuppliersBuilder::limits_from_env`].
    pub fn builder_from_env() -> Result<SuppliersBuilder, Error> {
        fn optional<T>(config: Result<T, ConfigError>) -> Result<Option<T>, ConfigError> {
            match config {
                Ok(config) => Ok(Some(config)),
                Err(ConfigError::MissingVariable(_)) => Ok(None),
                Err(err) => Err(err),
            }
        }
        let mut builder = Self::builder().limits_from_env()?;
        builder.foxreload = optional(FoxReloadConfig::from_env())?;
        builder.mousacard = optional(MousaCardConfig::from_env())?;
        builder.cryptorefills = optional(CryptorefillsConfig::from_env())?;
        Ok(builder)
    }

    /// Gives each configured supplier a new pacer from `pacer`.
    pub(crate) fn set_pacers(&mut self, pacer: impl Fn() -> Arc<crate::pacer::Pacer>) {
        self.foxreload = self.foxreload.take().map(|a| a.with_pacer(pacer()));
        self.mousacard = self.mousacard.take().map(|a| a.with_pacer(pacer()));
        self.cryptorefills = self.cryptorefills.take().map(|a| a.with_pacer(pacer()));
    }

    pub(crate) fn journal_ref(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// FoxReload, if configured.
    pub fn foxreload(&self) -> Result<&FoxReload, Error> {
        self.foxreload
            .as_ref()
            .ok_or(not_configured(SupplierId::FoxReload))
    }

    /// MousaCard, if configured.
    pub fn mousacard(&self) -> Result<&MousaCard, Error> {
        self.mousacard
            .as_ref()
            .ok_or(not_configured(SupplierId::MousaCard))
    }

    /// Cryptorefills, if configured.
    pub fn cryptorefills(&self) -> Result<&Cryptorefills, Error> {
        self.cryptorefills
            .as_ref()
            .ok_or(not_configured(SupplierId::Cryptorefills))
    }
}

impl Suppliers {
    /// The same suppliers acting for `end_user`: every Cryptorefills request made
    /// through the result (orders, quotes, waits, catalogs, purchases) carries the end
    /// user's IP and agent; FoxReload and MousaCard are unchanged. Cheap: clones share
    /// the connection pool and the journal.
    pub fn for_end_user(&self, end_user: crate::EndUser) -> Self {
        Self {
            cryptorefills: self
                .cryptorefills
                .as_ref()
                .map(|cr| cr.for_end_user(end_user)),
            ..self.clone()
        }
    }

    /// One supplier, by id, with the calls every supplier shares.
    pub fn get(&self, id: SupplierId) -> Result<crate::Supplier<'_>, Error> {
        Ok(match id {
            SupplierId::FoxReload => crate::Supplier::FoxReload(self.foxreload()?),
            SupplierId::MousaCard => crate::Supplier::MousaCard(self.mousacard()?),
            SupplierId::Cryptorefills => crate::Supplier::Cryptorefills(self.cryptorefills()?),
        })
    }
}

fn not_configured(supplier: SupplierId) -> Error {
    Error::Config(ConfigError::NotConfigured(supplier))
}
