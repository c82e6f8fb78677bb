//! [`Suppliers`]: one shared HTTP client and one adapter per configured supplier.

use std::sync::Arc;
use std::time::Duration;

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
    /// Connect and per-read timeouts of the shared HTTP client (no total timeout).
    pub fn timeouts(mut self, connect: Duration, read: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self
    }

    /// One `reqwest::Client` (rustls, pooled) shared by every supplier.
    pub fn build(self) -> Result<Suppliers, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        let (retry, clock) = (self.retry, self.clock);
        Ok(Suppliers {
            foxreload: self
                .foxreload
                .map(|c| {
                    c.client(http.clone())
                        .map(|client| FoxReload::new(client, retry, clock.clone()))
                })
                .transpose()?,
            mousacard: self
                .mousacard
                .map(|c| {
                    c.client(http.clone())
                        .map(|client| MousaCard::new(client, retry, clock.clone()))
                })
                .transpose()?,
            cryptorefills: self
                .cryptorefills
                .map(|c| {
                    c.client(http.clone())
                        .map(|client| Cryptorefills::new(client, retry, clock.clone()))
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
    /// [`FoxReloadConfig::from_env`] and its siblings). A supplier whose credential
    /// variable is unset is left out; any other configuration problem is an error.
    pub fn from_env() -> Result<Self, Error> {
        fn optional<T>(config: Result<T, ConfigError>) -> Result<Option<T>, ConfigError> {
            match config {
                Ok(config) => Ok(Some(config)),
                Err(ConfigError::MissingVariable(_)) => Ok(None),
                Err(err) => Err(err),
            }
        }
        let mut builder = Self::builder();
        builder.foxreload = optional(FoxReloadConfig::from_env())?;
        builder.mousacard = optional(MousaCardConfig::from_env())?;
        builder.cryptorefills = optional(CryptorefillsConfig::from_env())?;
        builder.build()
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
