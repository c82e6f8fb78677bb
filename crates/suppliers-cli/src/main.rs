//! `suppliers`: browse, buy and collect codes from FoxReload, MousaCard and
//! Cryptorefills, or from the local sandbox with `--sandbox`.

mod args;
mod exit;
mod logging;
mod metrics_server;
mod output;
mod track;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use futures::TryStreamExt;
use serde_json::Value;
use suppliers::config::{CryptorefillsConfig, FoxReloadConfig, MousaCardConfig};
use suppliers::journal::State;
use suppliers::model::{Order, SupplierId};
use suppliers::{BuyRequest, CatalogQuery, EndUser, Error, Journal, Suppliers, SuppliersBuilder};
use suppliers_sandbox::{Sandbox, SandboxConfig};

use args::{Cli, Command, PurchaseArgs};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(message) = logging::install(&cli.verbosity, cli.log_format) {
        eprintln!("error: {message}");
        return ExitCode::from(exit::USAGE);
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Supplier(error)) => {
            eprintln!("{}", exit::message(&error));
            ExitCode::from(exit::code(&error))
        }
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(exit::USAGE)
        }
        Err(Failure::Io(error)) => {
            eprintln!("error: {error}");
            ExitCode::from(5)
        }
        Err(Failure::Incomplete(message)) => {
            eprintln!("{message}");
            ExitCode::from(5)
        }
    }
}

pub(crate) enum Failure {
    Supplier(Error),
    Usage(String),
    Io(std::io::Error),
    /// Work left for a later run (exit 5).
    Incomplete(String),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self::Supplier(error)
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Self::Io(error)
    }
}

/// Prints `json` with `--json`, `text` otherwise.
fn emit(cli_json: bool, json: Value, text: String) {
    if cli_json {
        println!("{json}");
    } else {
        print!("{text}");
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Sandbox { port, flags } = cli.command {
        let sandbox = Sandbox::start(flags.apply(SandboxConfig {
            port,
            faults: sandbox_faults()?,
            ..SandboxConfig::default()
        }))
        .await?;
        print_sandbox(&sandbox);
        tokio::signal::ctrl_c().await?;
        sandbox.shutdown().await;
        return Ok(());
    }
    // Installed before anything records (the webhook sender's gauge is set at once).
    let prometheus = match &cli.command {
        Command::Track {
            metrics_addr: Some(_),
            ..
        } => Some(metrics_server::install_recorder()?),
        _ => None,
    };
    // A webhook that breaks the rules is refused before anything is opened or sent.
    let webhook = match &cli.command {
        Command::Track {
            webhook: Some(url), ..
        } => Some(
            suppliers::webhook::WebhookSender::from_env(url)
                .map_err(|e| Failure::Usage(e.to_string()))?,
        ),
        _ => None,
    };
    let journal = open_journal(&cli).await?;
    // Kept alive for the whole command.
    let (suppliers, _sandbox) = if cli.sandbox {
        let sandbox = Sandbox::start(SandboxConfig {
            faults: sandbox_faults()?,
            ..SandboxConfig::default()
        })
        .await?;
        let builder = Suppliers::builder()
            .limits_from_env()
            .map_err(Error::from)?
            .foxreload(
                FoxReloadConfig::new("sandbox", &sandbox.foxreload_url()).map_err(Error::from)?,
            )
            .mousacard(
                MousaCardConfig::new("sandbox", &sandbox.mousacard_url()).map_err(Error::from)?,
            )
            .cryptorefills(
                CryptorefillsConfig::new("sandbox", "1.0.0", &sandbox.cryptorefills_url())
                    .map_err(Error::from)?,
            );
        (configured(builder, &cli, journal).build()?, Some(sandbox))
    } else {
        let builder = Suppliers::builder_from_env()?;
        (configured(builder, &cli, journal).build()?, None)
    };
    // Every Cryptorefills request of this command is made for the end user, if given.
    let suppliers = match (cli.end_user_ip, &cli.end_user_agent) {
        (Some(ip), Some(agent)) => suppliers.for_end_user(EndUser::new(ip, agent.as_str())?),
        _ => suppliers,
    };
    let json = cli.json;
    match cli.command {
        Command::Catalog {
            supplier,
            category,
            country,
            search,
            ..
        } => {
            let query = CatalogQuery {
                category,
                country,
                search,
                ..CatalogQuery::default()
            };
            let products: Vec<_> = suppliers
                .get(supplier)?
                .catalog(query)
                .try_collect()
                .await?;
            let list = products.iter().map(output::product_json).collect();
            emit(json, Value::Array(list), output::products_text(&products));
        }
        Command::Product {
            supplier,
            product_id,
        } => {
            let product = suppliers.get(supplier)?.product(&product_id).await?;
            emit(
                json,
                output::product_json(&product),
                output::products_text(&[product]),
            );
        }
        Command::Balance { supplier } => {
            let Some(balance) = suppliers.get(supplier)?.balance().await? else {
                return Err(Failure::Usage(format!(
                    "{supplier} has no balance: orders are paid one by one"
                )));
            };
            let text = format!("{} {}\n", balance.amount, balance.currency);
            emit(json, output::balance_json(&balance), text);
        }
        Command::Quote {
            supplier,
            brand,
            country,
            face_value,
            coin,
        } => {
            let product_id = format!("giftcard/{brand}/{country}/{face_value}");
            let Some(quote) = suppliers.get(supplier)?.quote(&product_id, &coin).await? else {
                return Err(Failure::Usage(format!(
                    "{supplier} has no price quotes; see `suppliers product`"
                )));
            };
            let text = format!("{} {}\n", quote.coin_amount, quote.coin);
            emit(json, output::quote_json(&quote), text);
        }
        Command::Validate {
            supplier,
            product_id,
            purchase,
        } => {
            suppliers
                .get(supplier)?
                .validate(&request(product_id, purchase))
                .await?;
            emit(json, serde_json::json!({"valid": true}), "valid\n".into());
        }
        Command::Buy {
            supplier,
            product_id,
            purchase,
            wait,
            yes,
            reference,
        } => {
            let mut request = request(product_id, purchase);
            confirm(supplier, &request, yes)?;
            if reference.is_none() {
                // Told before anything is sent, so that even a killed run leaves it.
                let fresh = suppliers::new_reference();
                eprintln!("reference {fresh} (buy again with --reference {fresh})");
                request.reference = Some(fresh);
            } else {
                request.reference = reference;
            }
            let handle = suppliers.get(supplier)?;
            let receipt = suppliers.buy(supplier, &request).await;
            // What the purchase's answers showed is on disk before anything is printed;
            // if it cannot be, the purchase still is what the supplier said.
            if let Err(err) = suppliers.journal()?.flush().await {
                eprintln!("warning: {err}: `suppliers reconcile` settles this purchase");
            }
            let receipt = receipt?;
            if receipt.replayed {
                eprintln!(
                    "reference {} already bought {supplier} order {}: nothing was sent",
                    receipt.reference, receipt.order.id
                );
            }
            let mut order = receipt.order;
            if wait && !order.status.is_terminal() {
                let spinner = spinner(json, &format!("waiting for {supplier} order {}", order.id));
                let result = handle
                    .wait_for_order(&order.id, Duration::from_secs(1800))
                    .await;
                spinner.finish_and_clear();
                order = result?;
            }
            emit(
                json,
                output::receipt_json(&receipt.reference, receipt.replayed, &order),
                format!(
                    "reference {}\n{}",
                    receipt.reference,
                    output::order_text(&order)
                ),
            );
            if wait {
                // Shown, so `track` need not report it; without --wait it does.
                std::io::stdout().flush()?;
                suppliers
                    .record_reported(supplier, &receipt.reference, &order)
                    .await?;
            }
        }
        Command::Pending => {
            let mut pending = suppliers.pending().await?;
            pending.extend(suppliers.awaiting_fulfilment().await?);
            let list = pending
                .iter()
                .map(|entry| output::entry_json(entry, suppliers.held_elsewhere(entry)))
                .collect();
            emit(json, Value::Array(list), output::pending_text(&pending));
        }
        Command::Track {
            follow,
            timeout,
            webhook: ref webhook_url,
            requests_per_second,
            round,
            claim_batch,
            metrics_addr,
            ..
        } => {
            let round = Duration::try_from_secs_f64(round)
                .ok()
                .filter(|r| !r.is_zero())
                .ok_or_else(|| {
                    Failure::Usage("--round takes a positive number of seconds".into())
                })?;
            let summary = track::track(
                &suppliers,
                track::TrackArgs {
                    json,
                    follow,
                    timeout: Duration::from_secs(timeout),
                    webhook,
                    requests_per_second,
                    round,
                    claim_batch: claim_batch.max(1),
                    metrics: metrics_addr.zip(prometheus),
                },
            )
            .await?;
            let by = match webhook_url {
                Some(_) => "the webhook",
                None => "stdout",
            };
            let waited = (!follow).then_some(timeout);
            if let Some(left) = track::closing_summary(&summary, by, waited) {
                if summary.stopped {
                    eprintln!("stopped; {left}");
                } else {
                    return Err(Failure::Incomplete(left));
                }
            }
        }
        Command::Reconcile => {
            let report = suppliers.reconcile().await?;
            let list = report.iter().map(output::reconciled_json).collect();
            emit(json, Value::Array(list), output::reconciled_text(&report));
            // An outcome still unknown is work for a later run; `created` is known.
            let unknown = report
                .iter()
                .filter(|line| matches!(line.entry.state, State::Unknown | State::Sending))
                .count();
            if unknown > 0 {
                return Err(Failure::Incomplete(format!(
                    "{unknown} purchase(s) still of unknown outcome: run `suppliers reconcile` again later"
                )));
            }
        }
        Command::Order { supplier, order_id } => {
            let order = suppliers.get(supplier)?.order(&order_id).await?;
            emit(json, output::order_json(&order), output::order_text(&order));
        }
        Command::Orders { supplier, status } => {
            if supplier != SupplierId::FoxReload {
                return Err(Failure::Usage(format!(
                    "{supplier} has no order list; use `suppliers order {supplier} <id>`"
                )));
            }
            let status = status.map(|s| foxreload::types::OrderStatus::from(s.as_str()));
            let orders = suppliers.foxreload()?.orders(status, 50).await?;
            let list = orders.iter().map(output::order_json).collect();
            emit(json, Value::Array(list), output::orders_text(&orders));
        }
        Command::Wait {
            supplier,
            order_ids,
            timeout,
        } => {
            let spinner = spinner(
                json,
                &format!("waiting for {} {supplier} order(s)", order_ids.len()),
            );
            let waited = wait_all(
                &suppliers,
                supplier,
                &order_ids,
                Duration::from_secs(timeout),
            )
            .await;
            spinner.finish_and_clear();
            let orders = waited?;
            let value = match orders.as_slice() {
                [one] => output::order_json(one),
                many => Value::Array(many.iter().map(output::order_json).collect()),
            };
            let text = orders.iter().map(output::order_text).collect();
            emit(json, value, text);
        }
        Command::Sandbox { .. } => unreachable!("handled above"),
    }
    Ok(())
}

/// The journal a command needs: `--journal`, else `SUPPLIERS_JOURNAL`, else in memory
/// for `--sandbox` and the default file otherwise. Only purchases and the journal's own
/// commands open one.
async fn open_journal(cli: &Cli) -> Result<Option<Journal>, Failure> {
    if !matches!(
        cli.command,
        Command::Buy { .. } | Command::Pending | Command::Reconcile | Command::Track { .. }
    ) {
        return Ok(None);
    }
    let journal = match (&cli.journal, std::env::var("SUPPLIERS_JOURNAL")) {
        (Some(location), _) => Journal::open(location).await,
        (None, Ok(location)) => Journal::open(&location).await,
        (None, Err(_)) if cli.sandbox => Journal::in_memory().await,
        (None, Err(_)) => Journal::from_env().await,
    };
    let journal = journal.map_err(Error::from)?;
    // How long a dead process's hold counts on another machine (default 60 s).
    let journal = match std::env::var("SUPPLIERS_JOURNAL_LEASE") {
        Ok(seconds) => {
            let lease = seconds
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .filter(|lease| !lease.is_zero())
                .ok_or_else(|| {
                    Failure::Usage(
                        "SUPPLIERS_JOURNAL_LEASE takes a positive number of seconds".into(),
                    )
                })?;
            journal.with_lease(lease)
        }
        Err(_) => journal,
    };
    Ok(Some(journal))
}

/// The command line's settings on top of the sandbox's or the environment's: the journal,
/// and `catalog --concurrency`.
fn configured(
    mut builder: SuppliersBuilder,
    cli: &Cli,
    journal: Option<Journal>,
) -> SuppliersBuilder {
    if let Some(journal) = journal {
        builder = builder.journal(journal);
    }
    if let Command::Catalog {
        concurrency: Some(requests),
        ..
    } = cli.command
    {
        builder = builder.catalog_concurrency(usize::from(requests));
    }
    builder
}

/// Waits for every order. Several MousaCard orders share batch status requests.
async fn wait_all(
    suppliers: &Suppliers,
    supplier: SupplierId,
    ids: &[String],
    timeout: Duration,
) -> Result<Vec<Order>, Error> {
    use suppliers::adapters::mousacard::{DEFAULT_WAIT, Tracked};
    let numeric: Option<Vec<u64>> = ids.iter().map(|id| id.parse().ok()).collect();
    let numeric = match numeric {
        Some(numeric) if supplier == SupplierId::MousaCard && numeric.len() > 1 => numeric,
        // One by one; a malformed MousaCard id is reported there in its own words.
        _ => {
            let handle = suppliers.get(supplier)?;
            let mut orders = Vec::with_capacity(ids.len());
            for id in ids {
                orders.push(handle.wait_for_order(id, timeout).await?);
            }
            return Ok(orders);
        }
    };
    let config = suppliers::waiter::WaiterConfig {
        max_wait: timeout,
        ..DEFAULT_WAIT
    };
    let (outcomes, _) = suppliers
        .mousacard()?
        .wait_for_orders(&numeric, config)
        .await?;
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Tracked::Finished(order) => Ok(order),
            Tracked::NotFound { message, .. } => Err(Error::NotFound { supplier, message }),
            Tracked::TimedOut(order) => Err(Error::WaitTimedOut {
                supplier,
                order_id: order.id,
                waited: timeout,
                last_status: Some(order.status),
            }),
        })
        .collect()
}

/// Faults for the in-process sandbox, from `SUPPLIERS_SANDBOX_FAULTS` (rules separated
/// by `;`, as `suppliers-sandbox --fault` takes them). For reliability tests.
fn sandbox_faults() -> Result<Vec<suppliers_sandbox::FaultRule>, Failure> {
    let Ok(rules) = std::env::var("SUPPLIERS_SANDBOX_FAULTS") else {
        return Ok(Vec::new());
    };
    rules
        .split(';')
        .filter(|rule| !rule.trim().is_empty())
        .map(|rule| rule.trim().parse().map_err(Failure::Usage))
        .collect()
}

fn request(product_id: String, purchase: PurchaseArgs) -> BuyRequest {
    BuyRequest {
        product_id,
        quantity: purchase.quantity,
        fields: purchase.fields.into_iter().collect(),
        beneficiary: purchase.beneficiary,
        email: purchase.email,
        coin: purchase.coin,
        network: purchase.network,
        amount: purchase.amount,
        ..BuyRequest::default()
    }
}

/// Asks on a terminal; without one, `--yes` is required.
fn confirm(supplier: SupplierId, request: &BuyRequest, yes: bool) -> Result<(), Failure> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(
            "buying without a terminal needs --yes".into(),
        ));
    }
    eprint!(
        "Buy {} x {} from {supplier}? [y/N] ",
        request.quantity, request.product_id
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Failure::Usage("not confirmed; nothing was bought".into()))
    }
}

/// A spinner on stderr, only on a terminal and never with `--json`.
fn spinner(json: bool, message: &str) -> indicatif::ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn print_sandbox(sandbox: &Sandbox) {
    for (name, value) in sandbox.environment() {
        println!("{name}={value}");
    }
    println!("sandbox running on {}; Ctrl-C stops it", sandbox.address());
}
