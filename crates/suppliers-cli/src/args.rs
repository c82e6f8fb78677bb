//! The command line, as clap parses it.

use clap::{Parser, Subcommand};
use suppliers::model::SupplierId;

/// Browse, buy and collect codes from FoxReload, MousaCard and Cryptorefills.
///
/// Credentials and base URLs come from FOXRELOAD_API_KEY, FOXRELOAD_BASE_URL,
/// MOUSACARD_TOKEN, MOUSACARD_BASE_URL, CRYPTOREFILLS_PARTNER_ID,
/// CRYPTOREFILLS_APP_VERSION, CRYPTOREFILLS_COUNTRY and CRYPTOREFILLS_BASE_URL, or from
/// --sandbox. Exit codes: 0 ok, 2 usage or input rejected before any request,
/// 3 unauthorized or forbidden, 4 refused by the supplier, 5 transport failure, rate
/// limited, wait timed out or reconcile left an outcome unknown, 6 purchase outcome unknown, 7 a purchase with this
/// reference is in progress in another process.
///
/// Every purchase is recorded in a journal first: SUPPLIERS_JOURNAL or --journal (an
/// SQLite file, or postgres://...), by default a file under the user's data directory;
/// --sandbox runs use an in-memory journal unless one is given.
#[derive(Debug, Parser)]
#[command(name = "suppliers", version)]
pub struct Cli {
    /// Start the local sandbox in-process and point every supplier at it.
    #[arg(long, global = true)]
    pub sandbox: bool,
    /// Machine output on stdout (JSON), nothing else there.
    #[arg(long, global = true)]
    pub json: bool,
    /// The purchase journal: an SQLite file, or postgres://... (default
    /// SUPPLIERS_JOURNAL, else a file under the user's data directory).
    #[arg(long, global = true, value_name = "PATH")]
    pub journal: Option<String>,
    /// Cryptorefills: the IP address (IPv4 or IPv6) of the end user this command acts
    /// for, sent as X-Forwarded-For on every Cryptorefills request (needs
    /// --end-user-agent). Cryptorefills applies identity checks and spending limits per
    /// end user.
    #[arg(long, global = true, value_name = "IP", requires = "end_user_agent")]
    pub end_user_ip: Option<std::net::IpAddr>,
    /// Cryptorefills: the end user's User-Agent (their browser's or app's), sent
    /// instead of this tool's own (needs --end-user-ip).
    #[arg(long, global = true, value_name = "AGENT", requires = "end_user_ip")]
    pub end_user_agent: Option<String>,
    /// Log lines on stderr: warnings and errors by default; -v info, -vv debug,
    /// -vvv trace; -q errors only, -qq none. SUPPLIERS_LOG (RUST_LOG syntax, e.g.
    /// `suppliers=debug`) overrides them.
    #[command(flatten)]
    pub verbosity: clap_verbosity_flag::Verbosity<clap_verbosity_flag::WarnLevel>,
    /// Log lines as text (coloured on a terminal unless NO_COLOR is set) or as one
    /// JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per event.
    Json,
}

/// The purchase flags shared by `buy` and `validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct PurchaseArgs {
    /// How many.
    #[arg(long, default_value_t = 1)]
    pub quantity: u64,
    /// A field the product asks for, KEY=VALUE: a FoxReload note field (e.g.
    /// login=steam_user) or a MousaCard custom field (e.g. playerid=12345678).
    #[arg(long = "field", value_parser = parse_field)]
    pub fields: Vec<(String, String)>,
    /// Where Cryptorefills delivers: email, or E.164 phone for mobile top-ups.
    #[arg(long)]
    pub beneficiary: Option<String>,
    /// The end user's email (Cryptorefills).
    #[arg(long)]
    pub email: Option<String>,
    /// Coin to pay with (Cryptorefills, default USDC).
    #[arg(long)]
    pub coin: Option<String>,
    /// Network (Cryptorefills, default Solana).
    #[arg(long)]
    pub network: Option<String>,
    /// Face value of a range product (Cryptorefills ids ending in /range), e.g. 50;
    /// checked against the product's range and step before anything is sent.
    #[arg(long)]
    pub amount: Option<rust_decimal::Decimal>,
}

fn parse_field(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List a supplier's catalog.
    Catalog {
        /// foxreload, mousacard or cryptorefills.
        supplier: SupplierId,
        /// Category (FoxReload id or slug, MousaCard slug).
        #[arg(long)]
        category: Option<String>,
        /// Country (Cryptorefills).
        #[arg(long)]
        country: Option<String>,
        /// Search text (FoxReload) or brand family (Cryptorefills).
        #[arg(long)]
        search: Option<String>,
        /// Catalog requests in flight at once (default 8; 1 fetches one page at a time).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        concurrency: Option<u16>,
    },
    /// Show one product.
    Product {
        /// foxreload, mousacard or cryptorefills.
        supplier: SupplierId,
        /// Product id.
        product_id: String,
    },
    /// Show the account balance.
    Balance {
        /// foxreload or mousacard (Cryptorefills is paid per order).
        supplier: SupplierId,
    },
    /// Crypto price of a gift card (Cryptorefills).
    Quote {
        /// cryptorefills.
        supplier: SupplierId,
        /// Brand, e.g. Airbnb.
        #[arg(long)]
        brand: String,
        /// Country, e.g. US.
        #[arg(long)]
        country: String,
        /// Face value, e.g. 100.
        #[arg(long)]
        face_value: String,
        /// Coin (default USDC).
        #[arg(long, default_value = "USDC")]
        coin: String,
    },
    /// Check a purchase without buying.
    Validate {
        /// foxreload, mousacard or cryptorefills.
        supplier: SupplierId,
        /// Product id.
        product_id: String,
        #[command(flatten)]
        purchase: PurchaseArgs,
    },
    /// Buy a product.
    Buy {
        /// foxreload, mousacard or cryptorefills.
        supplier: SupplierId,
        /// Product id.
        product_id: String,
        #[command(flatten)]
        purchase: PurchaseArgs,
        /// Wait until the order is finished and show its codes.
        #[arg(long)]
        wait: bool,
        /// Do not ask for confirmation (required without a terminal).
        #[arg(long)]
        yes: bool,
        /// Your reference for this purchase: buying again with it never buys twice
        /// (a fresh one is generated and printed when absent).
        #[arg(long)]
        reference: Option<String>,
    },
    /// List purchases in the journal not yet bought, not bought or failed, and bought
    /// ones whose goods have not been reported yet.
    Pending,
    /// Settle every pending purchase from what its supplier can tell.
    Reconcile,
    /// Show one order.
    Order {
        /// foxreload, mousacard or cryptorefills.
        supplier: SupplierId,
        /// Order id.
        order_id: String,
    },
    /// List recent orders (FoxReload).
    Orders {
        /// foxreload.
        supplier: SupplierId,
        /// Only this supplier status.
        #[arg(long)]
        status: Option<String>,
    },
    /// Wait until orders are finished.
    Wait {
        /// foxreload, mousacard or cryptorefills.
        supplier: SupplierId,
        /// Order ids.
        #[arg(required = true)]
        order_ids: Vec<String>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Follow every bought order until its goods arrive (or the supplier gives up on
    /// it), and report each as it settles: one line each, a JSON object per line with
    /// --json, or a signed POST to --webhook (Standard Webhooks, secret in
    /// SUPPLIERS_WEBHOOK_SECRET as `whsec_<base64>`).
    Track {
        /// Keep running and take up new purchases as they are journaled (until SIGINT
        /// or SIGTERM).
        #[arg(long)]
        follow: bool,
        /// Without --follow: give up after this many seconds (exit 5); what is still
        /// open stays in the journal for the next run.
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
        /// POST each report here: https://, or http:// to a loopback address.
        #[arg(long, value_name = "URL")]
        webhook: Option<String>,
        /// Requests a second to each supplier, shared by all of the tracking.
        #[arg(long, default_value_t = 10.0)]
        requests_per_second: f64,
        /// Seconds between two rounds of FoxReload and MousaCard status checks and two
        /// looks at the journal for new purchases.
        #[arg(long, default_value_t = 5.0)]
        round: f64,
        /// Most journal entries taken up at each look: several trackers on one journal
        /// share the open orders in batches of this size.
        #[arg(long, default_value_t = 1000)]
        claim_batch: usize,
        /// Serve GET /metrics (Prometheus text format), /livez and /readyz here while
        /// tracking, e.g. 127.0.0.1:9464 (port 0: a free port; the address is printed
        /// on stderr as `metrics on http://ADDR`).
        #[arg(long, value_name = "ADDR")]
        metrics_addr: Option<std::net::SocketAddr>,
    },
    /// Run the sandbox until Ctrl-C.
    Sandbox {
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        #[command(flatten)]
        flags: suppliers_sandbox::SandboxFlags,
    },
}
