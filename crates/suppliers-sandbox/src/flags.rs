//! The command-line flags that shape a sandbox's orders, distance and network faults,
//! shared by the `suppliers-sandbox` binary and `suppliers sandbox`.

use std::time::Duration;

use crate::config::{CatalogSize, Latency, SandboxConfig, Timings};

/// The longest delay a flag takes, a year: later instants would overflow the clock.
const YEAR_SECS: u64 = 365 * 24 * 3600;
const YEAR_MS: u64 = YEAR_SECS * 1000;
/// The most generated families, categories or products per category a flag takes.
const MAX_GENERATED: u64 = 100_000;

/// Flags over [`SandboxConfig`]; each one left out keeps the configuration's value.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SandboxFlags {
    /// Orders complete (or fail) MS milliseconds after payment: FoxReload after pay,
    /// MousaCard after the purchase, Cryptorefills after the customer's payment.
    /// FoxReload orders are `processing` from a third of it. Default 3000.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(..=YEAR_MS))]
    pub complete_after: Option<u64>,
    /// Share of orders, 0.0 to 1.0, that fail after the purchase, without codes:
    /// FoxReload `failed` and MousaCard `rejected` (both refunded to the balance),
    /// Cryptorefills `Refunded`. Picked evenly by a counter. Default 0.
    #[arg(long, value_name = "F", value_parser = share)]
    pub failure_share: Option<f64>,
    /// Share of Cryptorefills orders, 0.0 to 1.0, that their customer never pays:
    /// they end `Expired` when the payment window closes. Default 0.
    #[arg(long, value_name = "F", value_parser = share)]
    pub unpaid_share: Option<f64>,
    /// Cryptorefills payment window, in seconds: unpaid orders expire after it.
    /// Default 1800. A window shorter than --auto-pay-after expires every order.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=YEAR_SECS))]
    pub payment_window: Option<u64>,
    /// Cryptorefills orders the customer pays count as paid MS milliseconds after
    /// creation. Default 2000.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(..=YEAR_MS))]
    pub auto_pay_after: Option<u64>,
    /// Delay every answer by MS milliseconds plus a random part of JITTER_MS (e.g.
    /// 50:250 for 50 to 300 ms); an event stream only before its opening. Default none.
    #[arg(long, value_name = "MS[:JITTER_MS]")]
    pub latency: Option<Latency>,
    /// Cryptorefills brand families to add in each country (US, DE), after the
    /// hand-picked ones: one catalog request each. Default 0.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(..=MAX_GENERATED))]
    pub cryptorefills_families: Option<u64>,
    /// FoxReload categories to add, after the hand-picked ones. Default 0.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(..=MAX_GENERATED))]
    pub foxreload_categories: Option<u64>,
    /// Products in each added FoxReload category (100 a page). Default 0.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(..=MAX_GENERATED))]
    pub foxreload_products_per_category: Option<u64>,
    /// Serve through a TCP fault proxy applying this Toxiproxy toxic (repeatable):
    /// `[upstream/|downstream/]TOXIC[:ARG...][@SHARE]`, downstream (server to client)
    /// by default, on a SHARE of the connections from 0 to 1 (default 1). Toxics:
    /// `latency:MS[:JITTER_MS]`, `bandwidth:RATE_KB` (kilobytes a second),
    /// `slicer:AVERAGE_SIZE[:SIZE_VARIATION[:DELAY_US]]`, `timeout[:MS]` (0: never
    /// close), `limit_data:BYTES`, `reset_peer[:MS]`, `slow_close:MS`. E.g.
    /// `latency:300`, `reset_peer:0@0.1`, `downstream/slicer:1:0:3000000@0.2`.
    #[arg(long = "network-fault", value_name = "TOXIC[:ARGS][@SHARE]")]
    pub network_faults: Vec<fault_proxy::Toxic>,
    /// Seed of the network faults' random choices (which connections a share picks,
    /// jitter, slice sizes), to reproduce a run. Default random.
    #[arg(long, value_name = "N")]
    pub network_fault_seed: Option<u64>,
}

impl SandboxFlags {
    /// `config` with every flag given applied.
    pub fn apply(self, config: SandboxConfig) -> SandboxConfig {
        let Self {
            complete_after,
            failure_share,
            unpaid_share,
            payment_window,
            auto_pay_after,
            latency,
            cryptorefills_families,
            foxreload_categories,
            foxreload_products_per_category,
            network_faults,
            network_fault_seed,
        } = self;
        let size = config.catalog_size;
        let count = |flag: Option<u64>, default: usize| flag.map_or(default, |n| n as usize);
        let catalog_size = CatalogSize {
            cryptorefills_families: count(cryptorefills_families, size.cryptorefills_families),
            foxreload_categories: count(foxreload_categories, size.foxreload_categories),
            foxreload_products_per_category: count(
                foxreload_products_per_category,
                size.foxreload_products_per_category,
            ),
        };
        SandboxConfig {
            timings: complete_after.map_or(config.timings, |ms| {
                Timings::completing_after(Duration::from_millis(ms))
            }),
            failure_share: failure_share.unwrap_or(config.failure_share),
            cryptorefills_unpaid_share: unpaid_share.unwrap_or(config.cryptorefills_unpaid_share),
            cryptorefills_payment_window: payment_window
                .map_or(config.cryptorefills_payment_window, |secs| {
                    chrono::TimeDelta::seconds(secs as i64)
                }),
            cryptorefills_auto_pay_after: auto_pay_after
                .map_or(config.cryptorefills_auto_pay_after, |ms| {
                    Some(chrono::TimeDelta::milliseconds(ms as i64))
                }),
            latency: latency.or(config.latency),
            catalog_size,
            network_faults: if network_faults.is_empty() {
                config.network_faults
            } else {
                network_faults
            },
            network_faults_seed: network_fault_seed.or(config.network_faults_seed),
            ..config
        }
    }
}

/// A share from 0.0 to 1.0.
fn share(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!("{text:?} is not a share from 0.0 to 1.0")),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        flags: SandboxFlags,
    }

    fn parse(args: &[&str]) -> Result<SandboxConfig, clap::Error> {
        let command =
            Command::try_parse_from(std::iter::once("sandbox").chain(args.iter().copied()))?;
        Ok(command.flags.apply(SandboxConfig::default()))
    }

    #[test]
    fn no_flags_keep_the_defaults() {
        let config = parse(&[]).unwrap();
        let default = SandboxConfig::default();
        assert_eq!(config.timings, default.timings);
        assert_eq!(config.failure_share, 0.0);
        assert_eq!(config.cryptorefills_unpaid_share, 0.0);
        assert_eq!(
            config.cryptorefills_payment_window,
            default.cryptorefills_payment_window
        );
        assert_eq!(
            config.cryptorefills_auto_pay_after,
            default.cryptorefills_auto_pay_after
        );
        assert_eq!(config.latency, None);
        assert_eq!(config.catalog_size, CatalogSize::default());
        assert!(config.network_faults.is_empty());
        assert_eq!(config.network_faults_seed, None);
    }

    #[test]
    fn every_flag_reaches_the_configuration() {
        let config = parse(&[
            "--complete-after",
            "600",
            "--failure-share",
            "0.25",
            "--unpaid-share",
            "0.5",
            "--payment-window",
            "2",
            "--auto-pay-after",
            "100",
            "--latency",
            "50:250",
            "--cryptorefills-families",
            "300",
            "--foxreload-categories",
            "40",
            "--foxreload-products-per-category",
            "50",
            "--network-fault",
            "latency:300",
            "--network-fault",
            "upstream/reset_peer:0@0.1",
            "--network-fault-seed",
            "42",
        ])
        .unwrap();
        let ms = Duration::from_millis;
        assert_eq!(
            config.timings,
            Timings {
                processing_after: ms(200),
                completed_after: ms(600)
            }
        );
        assert_eq!(config.failure_share, 0.25);
        assert_eq!(config.cryptorefills_unpaid_share, 0.5);
        assert_eq!(
            config.cryptorefills_payment_window,
            chrono::TimeDelta::seconds(2)
        );
        assert_eq!(
            config.cryptorefills_auto_pay_after,
            Some(chrono::TimeDelta::milliseconds(100))
        );
        assert_eq!(
            config.latency,
            Some(Latency {
                base: ms(50),
                jitter: ms(250)
            })
        );
        assert_eq!(
            config.catalog_size,
            CatalogSize {
                cryptorefills_families: 300,
                foxreload_categories: 40,
                foxreload_products_per_category: 50,
            }
        );
        let faults: Vec<String> = config
            .network_faults
            .iter()
            .map(|t| t.to_string())
            .collect();
        assert_eq!(
            faults,
            ["downstream/latency:300:0", "upstream/reset_peer:0@0.1"]
        );
        assert_eq!(config.network_faults_seed, Some(42));
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for args in [
            ["--failure-share", "1.5"],
            ["--failure-share", "-0.1"],
            ["--unpaid-share", "NaN"],
            ["--payment-window", "0"],
            ["--latency", "fast"],
            ["--complete-after", "-1"],
            ["--payment-window", "99999999999"],
            ["--cryptorefills-families", "-1"],
            ["--foxreload-categories", "100001"],
            ["--foxreload-products-per-category", "many"],
            ["--network-fault", "nonsense"],
            ["--network-fault", "latency:300@2"],
            ["--network-fault", "latency:soon"],
            ["--network-fault-seed", "-1"],
        ] {
            assert!(parse(&args).is_err(), "{args:?}");
        }
    }
}
