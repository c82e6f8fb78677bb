//! The `suppliers` binary against a stand-in for production FoxReload and Cryptorefills
//! (`standin/`), configured only through the environment, as against the real APIs.
//!
//! The stand-in is written from `WIRE-EVIDENCE.md` (what public integrations recorded
//! against the live APIs), not from this repository's specs or sandbox: a failure here
//! is a place where the SDK disagrees with production. Each test starts its own
//! stand-in, so the requests it records are that test's alone.

mod standin;

use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::{Value, json};
use standin::{
    CANCELLED_ORDER, CR_APP_VERSION, CR_PARTNER, ESIM_CATEGORY, ESIM_EUROPE, FOX_BALANCE, FOX_KEY,
    KYC_EMAIL, NETFLIX, PUBG_UC, SOLANA_WALLET, STEAM_CATEGORY, STEAM_TOPUP, StandIn,
};

/// The fixed Target product: its id carries the product's own denomination string.
const TARGET_10: &str = "giftcard/Target/US/10 USD";
/// The Target range product (5 to 200 USD, step 1).
const TARGET_RANGE: &str = "giftcard/Target/US/range";

/// Variables that would point the CLI elsewhere or change its limits.
const CLEARED: [&str; 6] = [
    "MOUSACARD_TOKEN",
    "MOUSACARD_BASE_URL",
    "CRYPTOREFILLS_COUNTRY",
    "SUPPLIERS_SANDBOX_FAULTS",
    "SUPPLIERS_REQUEST_TIMEOUT",
    "SUPPLIERS_MAX_RESPONSE_BYTES",
];

fn environment(standin: &StandIn) -> Vec<(&'static str, String)> {
    vec![
        ("FOXRELOAD_API_KEY", FOX_KEY.to_owned()),
        ("FOXRELOAD_BASE_URL", standin.foxreload_url()),
        ("CRYPTOREFILLS_PARTNER_ID", CR_PARTNER.to_owned()),
        ("CRYPTOREFILLS_APP_VERSION", CR_APP_VERSION.to_owned()),
        ("CRYPTOREFILLS_BASE_URL", standin.cryptorefills_url()),
    ]
}

/// What one run of the binary did.
struct Run {
    args: Vec<String>,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "`suppliers {}` exited {:?}, expected {code}\nstdout: {}\nstderr: {}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "`suppliers {}`: stdout is not JSON ({e}): {}\nstderr: {}",
                self.args.join(" "),
                self.stdout,
                self.stderr
            )
        })
    }

    /// A refusal by the CLI itself, not clap failing on a flag it does not know.
    fn expect_refused_before_sending(&self) -> &Self {
        self.expect_code(2);
        for clap_error in ["unexpected argument", "unrecognized subcommand", "Usage:"] {
            assert!(
                !self.stderr.contains(clap_error),
                "`suppliers {}` was refused by the argument parser, not by the CLI's checks: {}",
                self.args.join(" "),
                self.stderr
            );
        }
        self
    }
}

fn run(standin: &StandIn, args: &[&str]) -> Run {
    run_with(standin, args, &[])
}

fn run_with(standin: &StandIn, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let mut command = Command::cargo_bin("suppliers").unwrap();
    for var in CLEARED {
        command.env_remove(var);
    }
    command.envs(environment(standin));
    // Each run journals in its own memory, never in the user's default file.
    command.env("SUPPLIERS_JOURNAL", ":memory:");
    command.envs(extra.iter().copied());
    command.args(args).timeout(Duration::from_secs(30));
    let output = command.output().unwrap();
    // Shown by the test harness only when the test fails.
    eprintln!(
        "after `suppliers {}` the stand-in has seen:\n{}",
        args.join(" "),
        standin.summary()
    );
    Run {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The ids of a `--json` product list.
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|p| {
            p["id"]
                .as_str()
                .unwrap_or_else(|| panic!("no id: {p}"))
                .to_owned()
        })
        .collect()
}

fn assert_distinct(ids: &[String]) {
    let mut sorted = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "duplicate ids: {ids:?}");
}

/// Decimal strings compared by value ("4.77" and "4.7700" are the same money).
fn same_money(value: &Value, expected: &str) -> bool {
    let normal = |text: &str| {
        let text = text.trim();
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            text.to_owned()
        }
    };
    value
        .as_str()
        .is_some_and(|v| normal(v) == normal(expected))
}

fn assert_nothing_posted(standin: &StandIn, what: &str) {
    let posts: Vec<String> = standin
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path)
        .collect();
    assert!(
        posts.is_empty(),
        "{what}: nothing may be sent, yet: {posts:?}"
    );
}

/// Every FoxReload request carried the key (the stand-in answers 401 otherwise).
fn assert_fox_key_on_every_request(standin: &StandIn) {
    for request in standin.requests() {
        if request.path.starts_with("/foxreload/") {
            assert_eq!(
                request.header("x-api-key"),
                Some(FOX_KEY),
                "{} {}",
                request.method,
                request.path
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// FoxReload
// ---------------------------------------------------------------------------------

#[test]
fn foxreload_catalog_of_a_category_lists_its_products() {
    let standin = StandIn::start();
    let run = run(
        &standin,
        &[
            "--json",
            "catalog",
            "foxreload",
            "--category",
            "pubg-mobile",
        ],
    );
    let list = run.expect_code(0).json();
    let found = ids(&list);
    assert_distinct(&found);
    let mut sorted = found.clone();
    sorted.sort();
    assert_eq!(sorted, [PUBG_UC, NETFLIX], "{list}");
    let netflix = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == NETFLIX)
        .unwrap();
    assert_eq!(netflix["supplier"], "foxreload");
    assert_eq!(netflix["name"], "Netflix 25 USD");
    assert!(same_money(&netflix["price"], "24.1000"), "{netflix}");
    assert_eq!(netflix["min_quantity"], 1, "{netflix}");
    assert_eq!(netflix["max_quantity"], 5, "{netflix}");
    assert_eq!(netflix["available"], false, "stock 0: {netflix}");
    let pubg = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == PUBG_UC)
        .unwrap();
    assert_eq!(pubg["price"], Value::Null, "price null: {pubg}");

    let lists = standin.requests_to("GET", "/foxreload/api/products");
    assert!(!lists.is_empty(), "{:?}", standin.requests());
    for request in &lists {
        assert_eq!(
            request.query_value("category_id_or_slug").as_deref(),
            Some("pubg-mobile")
        );
    }

    // By category id too.
    let run = self::run(
        &standin,
        &[
            "--json",
            "catalog",
            "foxreload",
            "--category",
            STEAM_CATEGORY,
        ],
    );
    assert_eq!(ids(&run.expect_code(0).json()), [STEAM_TOPUP]);
    assert_fox_key_on_every_request(&standin);
}

#[test]
fn foxreload_catalog_search_reads_a_bare_array() {
    let standin = StandIn::start();
    let run = run(
        &standin,
        &["--json", "catalog", "foxreload", "--search", "steam"],
    );
    let list = run.expect_code(0).json();
    let found = ids(&list);
    assert_distinct(&found);
    assert_eq!(found, [STEAM_TOPUP], "{list}");
    let searches = standin.requests_to("GET", "/foxreload/api/products/search");
    assert!(!searches.is_empty(), "{:?}", standin.requests());
    assert_eq!(searches[0].query_value("query").as_deref(), Some("steam"));
}

#[test]
fn foxreload_product_by_id() {
    let standin = StandIn::start();
    let run = run(&standin, &["--json", "product", "foxreload", STEAM_TOPUP]);
    let product = run.expect_code(0).json();
    assert_eq!(product["supplier"], "foxreload");
    assert_eq!(product["id"], STEAM_TOPUP);
    assert_eq!(product["name"], "$5 Steam top up");
    assert!(same_money(&product["price"], "4.7700"), "{product}");
    assert!(
        product["currency"]
            .as_str()
            .is_some_and(|c| c.eq_ignore_ascii_case("usd")),
        "{product}"
    );
    assert_eq!(product["available"], true, "{product}");
    assert_eq!(product["min_quantity"], 1, "{product}");
    assert_eq!(product["max_quantity"], 300, "{product}");
}

#[test]
fn foxreload_product_without_a_price_prints_null_and_a_dash() {
    let standin = StandIn::start();
    let run = run(&standin, &["--json", "product", "foxreload", PUBG_UC]);
    let product = run.expect_code(0).json();
    assert_eq!(product["id"], PUBG_UC);
    assert_eq!(product["name"], "PUBG Mobile 660 UC");
    assert_eq!(product["price"], Value::Null, "{product}");
    assert_eq!(product["max_quantity"], 10, "{product}");

    let text = self::run(&standin, &["product", "foxreload", PUBG_UC]);
    text.expect_code(0);
    let row = text
        .stdout
        .lines()
        .find(|line| line.starts_with(PUBG_UC))
        .unwrap_or_else(|| panic!("no row for {PUBG_UC}: {}", text.stdout));
    assert_eq!(
        row.split_whitespace().last(),
        Some("-"),
        "the price column shows `-`: {row:?}"
    );
}

#[test]
fn foxreload_buy_with_a_note_field_waits_for_the_codes() {
    let standin = StandIn::start();
    let run = run(
        &standin,
        &[
            "--json",
            "buy",
            "foxreload",
            STEAM_TOPUP,
            "--quantity",
            "2",
            "--field",
            "login=steam_user",
            "--yes",
            "--wait",
        ],
    );
    let order = run.expect_code(0).json();

    let creates = standin.requests_to("POST", "/foxreload/api/orders");
    assert_eq!(creates.len(), 1, "one create: {:?}", standin.requests());
    let body = creates[0].json();
    let items = body["items"].as_array().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(items.len(), 1, "{body}");
    assert_eq!(items[0]["itemId"], STEAM_TOPUP, "{body}");
    assert_eq!(items[0]["quantity"], 2, "{body}");
    assert_eq!(items[0]["note"], json!({"login": "steam_user"}), "{body}");
    assert!(
        body["idempotencyKey"]
            .as_str()
            .is_some_and(|k| !k.is_empty()),
        "an idempotencyKey: {body}"
    );
    let pays: Vec<_> = standin
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/pay"))
        .collect();
    assert_eq!(pays.len(), 1, "one pay: {:?}", standin.requests());
    let pay = pays[0].json();
    assert!(
        pay == json!({}) || pay == json!({"paymentProvider": null}),
        "pay from the balance: {pay}"
    );

    let id = order["id"].as_str().unwrap_or_else(|| panic!("{order}"));
    let held = standin
        .foxreload_order(id)
        .unwrap_or_else(|| panic!("the stand-in has no order {id}"));
    assert_eq!(order["supplier"], "foxreload");
    assert_eq!(order["status"], "completed", "{order}");
    assert_eq!(order["supplier_status"], "completed", "{order}");
    assert_eq!(order["codes"], held["items"][0]["externalData"], "{order}");
    assert_eq!(order["codes"].as_array().unwrap().len(), 2, "{order}");
    assert!(same_money(&order["total"], "9.5400"), "{order}");
    assert_fox_key_on_every_request(&standin);
}

#[test]
fn foxreload_buy_above_the_products_max_quantity_is_refused_before_sending() {
    let standin = StandIn::start();
    let run = run(
        &standin,
        &[
            "buy",
            "foxreload",
            STEAM_TOPUP,
            "--quantity",
            "301",
            "--field",
            "login=steam_user",
            "--yes",
        ],
    );
    run.expect_refused_before_sending();
    assert_nothing_posted(&standin, "orderMaxQuantity is 300");
}

#[test]
fn foxreload_buy_without_a_required_note_field_is_refused_before_sending() {
    let standin = StandIn::start();
    let run = run(
        &standin,
        &["buy", "foxreload", STEAM_TOPUP, "--quantity", "1", "--yes"],
    );
    run.expect_refused_before_sending();
    assert!(
        run.stderr.contains("login"),
        "names the missing field: {}",
        run.stderr
    );
    assert_nothing_posted(&standin, "requiredNoteFields [login]");
}

#[test]
fn foxreload_balance() {
    let standin = StandIn::start();
    let run = run(&standin, &["--json", "balance", "foxreload"]);
    let balance = run.expect_code(0).json();
    assert_eq!(balance["supplier"], "foxreload");
    assert!(same_money(&balance["balance"], FOX_BALANCE), "{balance}");
    assert!(
        balance["currency"]
            .as_str()
            .is_some_and(|c| c.eq_ignore_ascii_case("usd")),
        "{balance}"
    );
}

#[test]
fn foxreload_wrong_key_exits_3_without_showing_it() {
    let standin = StandIn::start();
    let run = run_with(
        &standin,
        &["balance", "foxreload"],
        &[("FOXRELOAD_API_KEY", "wrong-key-123")],
    );
    run.expect_code(3);
    assert!(!run.stderr.contains("wrong-key-123"), "{}", run.stderr);
}

#[test]
fn foxreload_cancelled_order_shows_cancelled() {
    let standin = StandIn::start();
    let run = run(&standin, &["--json", "order", "foxreload", CANCELLED_ORDER]);
    let order = run.expect_code(0).json();
    assert_eq!(order["id"], CANCELLED_ORDER);
    assert_eq!(order["status"], "cancelled", "{order}");
    assert_eq!(order["supplier_status"], "cancelled", "{order}");
    assert!(same_money(&order["total"], "4.7700"), "{order}");
}

// ---------------------------------------------------------------------------------
// Cryptorefills
// ---------------------------------------------------------------------------------

fn catalog_ids(standin: &StandIn) -> Vec<String> {
    let run = run(
        standin,
        &["--json", "catalog", "cryptorefills", "--country", "US"],
    );
    ids(&run.expect_code(0).json())
}

#[test]
fn cryptorefills_catalog_of_a_country_prints_buyable_ids() {
    let standin = StandIn::start();
    let found = catalog_ids(&standin);
    assert_distinct(&found);
    for id in [TARGET_10, TARGET_RANGE] {
        assert!(found.iter().any(|f| f == id), "{id} in {found:?}");
    }
    // Production refuses the product list without a family (400): every call named one.
    let lists: Vec<_> = standin
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/cryptorefills/v5/products/country/"))
        .collect();
    assert!(!lists.is_empty(), "{:?}", standin.requests());
    for request in lists {
        assert!(
            request.query_value("family_name").is_some(),
            "{}?{}",
            request.path,
            request.query
        );
    }
}

/// The delivery of the one `POST /v5/orders` the test made.
fn posted_delivery(standin: &StandIn) -> Value {
    let creates = standin.requests_to("POST", "/cryptorefills/v5/orders");
    assert_eq!(creates.len(), 1, "one create: {:?}", standin.requests());
    assert_eq!(
        creates[0].header("x-cr-application"),
        Some(CR_PARTNER),
        "the partner id earns the commission"
    );
    let body = creates[0].json();
    assert_eq!(body["user"]["email"], "buyer@example.com", "{body}");
    let deliveries = body["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(deliveries.len(), 1, "{body}");
    let delivery = deliveries[0].clone();
    assert!(delivery.get("deliverable").is_none(), "flat: {body}");
    assert_eq!(delivery["brand_name"], "Target", "{body}");
    assert_eq!(delivery["country_code"], "US", "{body}");
    assert_eq!(
        delivery["beneficiary_account"], "buyer@example.com",
        "{body}"
    );
    delivery
}

fn assert_awaiting_payment(order: &Value, standin: &StandIn, amount: &str) {
    let id = order["id"].as_str().unwrap_or_else(|| panic!("{order}"));
    assert!(
        standin.cryptorefills_order(id).is_some(),
        "order_id {id}: {order}"
    );
    assert_eq!(order["supplier"], "cryptorefills");
    assert_eq!(order["status"], "awaiting_payment", "{order}");
    assert_eq!(order["supplier_status"], "WaitingForPayment", "{order}");
    let payment = &order["payment"];
    assert_eq!(payment["address"], SOLANA_WALLET, "{order}");
    assert!(same_money(&payment["amount"], amount), "{order}");
    assert_eq!(payment["coin"], "USDC", "{order}");
    assert_eq!(payment["network"], "Solana", "{order}");
    assert_eq!(order["codes"], json!([]), "{order}");
}

#[test]
fn cryptorefills_buy_a_fixed_product_from_the_catalog_awaits_payment() {
    let standin = StandIn::start();
    let found = catalog_ids(&standin);
    let id = found
        .iter()
        .find(|id| id.contains("Target") && id.ends_with("10 USD"))
        .unwrap_or_else(|| panic!("no Target 10 USD id in {found:?}"));
    let run = run(
        &standin,
        &[
            "--json",
            "buy",
            "cryptorefills",
            id,
            "--email",
            "buyer@example.com",
            "--yes",
        ],
    );
    let order = run.expect_code(0).json();
    let delivery = posted_delivery(&standin);
    assert_eq!(delivery["denomination"], "10 USD", "{delivery}");
    assert_awaiting_payment(&order, &standin, "10.1200");
}

#[test]
fn cryptorefills_buy_a_range_product_sends_range_and_the_value() {
    let standin = StandIn::start();
    let run = run(
        &standin,
        &[
            "--json",
            "buy",
            "cryptorefills",
            TARGET_RANGE,
            "--amount",
            "50",
            "--email",
            "buyer@example.com",
            "--yes",
        ],
    );
    let order = run.expect_code(0).json();
    let delivery = posted_delivery(&standin);
    assert_eq!(delivery["denomination"], "range", "{delivery}");
    let value = &delivery["product_value"];
    assert!(
        value.as_f64() == Some(50.0) || value.as_str().and_then(|s| s.parse().ok()) == Some(50.0),
        "product_value 50: {delivery}"
    );
    assert_awaiting_payment(&order, &standin, "50.6000");
}

#[test]
fn cryptorefills_amount_off_the_step_is_refused_before_sending() {
    let standin = StandIn::start();
    let run = run(
        &standin,
        &[
            "buy",
            "cryptorefills",
            TARGET_RANGE,
            "--amount",
            "7.5",
            "--email",
            "buyer@example.com",
            "--yes",
        ],
    );
    run.expect_refused_before_sending();
    assert_nothing_posted(&standin, "7.5 is not on the range's step of 1");
}

#[test]
fn cryptorefills_validate_reports_kyc_missing_with_exit_4() {
    let standin = StandIn::start();
    let run = run(
        &standin,
        &["validate", "cryptorefills", TARGET_10, "--email", KYC_EMAIL],
    );
    run.expect_code(4);
    assert!(run.stderr.contains("KYC_MISSING"), "{}", run.stderr);
    let validations = standin.requests_to("POST", "/cryptorefills/v5/orders/validations");
    assert_eq!(validations.len(), 1, "{:?}", standin.requests());
    let body = validations[0].json();
    assert_eq!(body["deliveries"][0]["denomination"], "10 USD", "{body}");
    assert_eq!(body["deliveries"][0]["brand_name"], "Target", "{body}");
    assert!(
        standin
            .requests_to("POST", "/cryptorefills/v5/orders")
            .is_empty()
    );
}

fn seed_target_order(standin: &StandIn) -> String {
    standin.seed_cryptorefills_order(json!({
        "beneficiary_account": "buyer@example.com", "brand_name": "Target",
        "country_code": "US", "denomination": "10 USD",
    }))
}

#[test]
fn cryptorefills_order_shows_the_payment_instructions() {
    let standin = StandIn::start();
    let id = seed_target_order(&standin);
    let run = run(&standin, &["--json", "order", "cryptorefills", &id]);
    let order = run.expect_code(0).json();
    assert_eq!(order["id"], id.as_str(), "{order}");
    assert_awaiting_payment(&order, &standin, "10.1200");
}

#[test]
fn cryptorefills_wait_follows_the_stream_to_the_pin_code() {
    let standin = StandIn::start();
    let id = seed_target_order(&standin);
    let mut command = Process::new(env!("CARGO_BIN_EXE_suppliers"));
    for var in CLEARED {
        command.env_remove(var);
    }
    let mut child = command
        .envs(environment(&standin))
        .args(["--json", "wait", "cryptorefills", &id, "--timeout", "30"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Pay once the CLI listens (or after 10 s, for a CLI that only polls).
    let subscribe = format!("/cryptorefills/v5/orders/{id}/subscribe");
    let started = Instant::now();
    while standin.requests_to("GET", &subscribe).is_empty()
        && started.elapsed() < Duration::from_secs(10)
        && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    standin.pay_cryptorefills(&id);

    while child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(40) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap();
    eprintln!("the stand-in has seen:\n{}", standin.summary());
    let run = Run {
        args: vec![
            "--json".into(),
            "wait".into(),
            "cryptorefills".into(),
            id.clone(),
        ],
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    let order = run.expect_code(0).json();
    let held = standin.cryptorefills_order(&id).unwrap();
    let pin = held["deliveries"][0]["deliverable"]["pin_code"].clone();
    assert_eq!(order["id"], id.as_str(), "{order}");
    assert_eq!(order["status"], "completed", "{order}");
    assert_eq!(order["supplier_status"], "Done", "{order}");
    assert_eq!(order["codes"], json!([pin]), "{order}");
    assert!(
        !standin.requests_to("GET", &subscribe).is_empty(),
        "followed over SSE: {:?}",
        standin.requests()
    );
}

#[test]
fn cryptorefills_quote_a_fixed_face_value() {
    let standin = StandIn::start();
    let run = run(
        &standin,
        &[
            "--json",
            "quote",
            "cryptorefills",
            "--brand",
            "Target",
            "--country",
            "US",
            "--face-value",
            "10",
        ],
    );
    let quote = run.expect_code(0).json();
    assert_eq!(quote["supplier"], "cryptorefills");
    assert!(same_money(&quote["coin_amount"], "10.1200"), "{quote}");
    assert_eq!(quote["coin"], "USDC", "{quote}");
    let prices = standin.requests_to("GET", "/cryptorefills/v4/products/price");
    assert_eq!(prices.len(), 1, "{:?}", standin.requests());
    assert_eq!(
        prices[0].query_value("brand_name").as_deref(),
        Some("Target")
    );
    assert_eq!(prices[0].query_value("country_code").as_deref(), Some("US"));
}

// ---------------------------------------------------------------------------------
// The stand-in itself: it answers and refuses as the evidence says, so that a failure
// above is the CLI's, not the stand-in's. A bare HTTP/1.1 client, no SDK code.
// ---------------------------------------------------------------------------------

struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

fn http(
    standin: &StandIn,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(standin.address()).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
        standin.address(),
        body.len()
    );
    if let Some(key) = key {
        head += &format!("x-api-key: {key}\r\n");
    }
    if !body.is_empty() {
        head += "content-type: application/json\r\n";
    }
    socket
        .write_all(format!("{head}\r\n{body}").as_bytes())
        .unwrap();
    let mut raw = Vec::new();
    socket.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (headers, mut rest) = raw.split_once("\r\n\r\n").unwrap();
    let status = headers[9..12].parse().unwrap();
    let headers = headers.to_ascii_lowercase();
    let body = if headers.contains("transfer-encoding: chunked") {
        let mut body = String::new();
        loop {
            let (size, tail) = rest.split_once("\r\n").unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            if size == 0 {
                break body;
            }
            body += &tail[..size];
            rest = &tail[size + 2..];
        }
    } else {
        rest.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

#[test]
fn standin_foxreload_refuses_and_answers_as_production() {
    let s = StandIn::start();
    let key = Some(FOX_KEY);
    let balances = "/foxreload/api/access/me/balances/";
    for wrong in [None, Some("nope")] {
        let answer = http(&s, "GET", balances, wrong, None);
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert!(answer.json()["detail"].is_string());
    }
    assert_eq!(
        http(&s, "GET", balances, key, None).json(),
        json!([{"currency": "usd", "available": "12.3400"}])
    );
    let categories = http(&s, "GET", "/foxreload/api/categories/?limit=2", key, None).json();
    assert_eq!(categories["limit"], 2);
    assert!(categories["nextCursor"].is_string(), "{categories}");
    let cursor = categories["nextCursor"].as_str().unwrap();
    let last = http(
        &s,
        "GET",
        &format!("/foxreload/api/categories/?limit=2&cursor={cursor}"),
        key,
        None,
    )
    .json();
    assert_eq!(last["nextCursor"], Value::Null, "{last}");

    let missing = http(&s, "GET", "/foxreload/api/products/", key, None);
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.json()["detail"][0]["loc"],
        json!(["query", "category_id_or_slug"])
    );
    for limit in ["0", "201"] {
        let path =
            format!("/foxreload/api/products/?category_id_or_slug=pubg-mobile&limit={limit}");
        assert_eq!(
            http(&s, "GET", &path, key, None).status,
            422,
            "limit {limit}"
        );
    }
    let page = http(
        &s,
        "GET",
        "/foxreload/api/products/?category_id_or_slug=pubg-mobile&limit=200",
        key,
        None,
    )
    .json();
    assert_eq!(page["total"], 2, "{page}");
    assert_eq!(page["offset"], 0, "{page}");
    let redirect = http(
        &s,
        "GET",
        "/foxreload/api/products?category_id_or_slug=pubg-mobile",
        key,
        None,
    );
    assert_eq!(redirect.status, 307, "FastAPI redirects to the slash form");
    let search = http(
        &s,
        "GET",
        "/foxreload/api/products/search?query=steam&offset=50",
        key,
        None,
    )
    .json();
    assert_eq!(
        search.as_array().map(Vec::len),
        Some(1),
        "a bare array: {search}"
    );
    for path in [
        format!("/foxreload/api/products/{PUBG_UC}"),
        format!("/foxreload/api/products/{PUBG_UC}/"),
    ] {
        let product = http(&s, "GET", &path, key, None).json();
        assert_eq!(product["price"], Value::Null);
        assert_eq!(product["quantity"], Value::Null);
    }

    let orders = "/foxreload/api/orders/";
    let item = |quantity: u64, note: Value| json!({"itemId": STEAM_TOPUP, "quantity": quantity, "note": note});
    let refused = [
        (
            json!({"items": [item(1, json!("steam_user"))], "idempotencyKey": "k1"}),
            422,
        ),
        (json!({"items": [item(1, json!({"login": "u"}))]}), 422),
        (
            json!({"items": vec![item(1, json!({"login": "u"})); 11], "idempotencyKey": "k2"}),
            422,
        ),
        (
            json!({"items": [item(301, json!({"login": "u"}))], "idempotencyKey": "k3"}),
            400,
        ),
        (
            json!({"items": [item(0, json!({"login": "u"}))], "idempotencyKey": "k4"}),
            422,
        ),
        (
            json!({"items": [item(1, json!({}))], "idempotencyKey": "k5"}),
            400,
        ),
    ];
    for (body, status) in refused {
        let answer = http(&s, "POST", orders, key, Some(&body));
        assert_eq!(answer.status, status, "{body} -> {}", answer.body);
        assert!(answer.json().get("detail").is_some(), "{}", answer.body);
        if status == 400 {
            assert!(answer.json()["code"].is_string(), "{}", answer.body);
        }
    }
    assert!(s.foxreload_order("missing").is_none());

    let body = json!({"items": [item(2, json!({"login": "steam_user"}))], "idempotencyKey": "k6", "isMock": false});
    let created = http(&s, "POST", orders, key, Some(&body));
    assert_eq!(created.status, 201, "{}", created.body);
    let order = created.json();
    assert_eq!(order["status"], "active");
    assert!(order["paymentExpiresAt"].is_string());
    assert_eq!(order["totalPrice"], "9.5400");
    let again = http(&s, "POST", orders, key, Some(&body));
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["code"], "ORDER_ALREADY_EXISTS");
    let id = order["id"].as_str().unwrap();
    let pay = format!("/foxreload/api/orders/{id}/pay");
    let paid = http(
        &s,
        "POST",
        &pay,
        key,
        Some(&json!({"paymentProvider": null})),
    );
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(paid.json()["status"], "paid");
    let twice = http(&s, "POST", &pay, key, Some(&json!({})));
    assert_eq!(twice.json()["code"], "ORDER_PAYMENT_NOT_POSSIBLE");
    let done = http(&s, "GET", &format!("/foxreload/api/orders/{id}"), key, None).json();
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["items"][0]["externalData"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        http(&s, "GET", balances, key, None).json()[0]["available"],
        "2.8000"
    );

    // 4.77 > 2.80 left; a mock order charges nothing.
    let poor = json!({"items": [item(1, json!({"login": "u"}))], "idempotencyKey": "k7"});
    let poor = http(&s, "POST", orders, key, Some(&poor)).json();
    let refused = http(
        &s,
        "POST",
        &format!("/foxreload/api/orders/{}/pay", poor["id"].as_str().unwrap()),
        key,
        Some(&json!({})),
    );
    assert_eq!(refused.json()["code"], "BALANCE_NOT_ENOUGH");
    let mock =
        json!({"items": [item(1, json!({"login": "u"}))], "idempotencyKey": "k8", "isMock": true});
    let mock = http(&s, "POST", orders, key, Some(&mock)).json();
    let paid = http(
        &s,
        "POST",
        &format!("/foxreload/api/orders/{}/pay", mock["id"].as_str().unwrap()),
        key,
        Some(&json!({})),
    );
    assert_eq!(paid.status, 200, "{}", paid.body);

    let cancelled = http(
        &s,
        "GET",
        &format!("/foxreload/api/orders/{CANCELLED_ORDER}"),
        key,
        None,
    )
    .json();
    assert_eq!(cancelled["cancelReason"], "payment_expiration");
    let list = http(
        &s,
        "GET",
        "/foxreload/api/orders/?status=cancelled",
        key,
        None,
    )
    .json();
    assert_eq!(list["total"], 1, "{list}");
}

#[test]
fn standin_cryptorefills_refuses_and_answers_as_production() {
    let s = StandIn::start();
    let bare = http(
        &s,
        "GET",
        "/cryptorefills/v5/products/country/US",
        None,
        None,
    );
    assert_eq!(bare.status, 400);
    let error = bare.json();
    assert!(
        error["status"] == 400 && error["detail"].is_string() && error.get("moreDetails").is_some()
    );
    let families = http(
        &s,
        "GET",
        "/cryptorefills/v5/products/country/US?family_name=target",
        None,
        None,
    )
    .json();
    let products = families[0]["products"].as_array().unwrap();
    assert_eq!(products[0]["denomination"], "10 USD");
    assert_eq!(products[1]["is_dynamic"], true);
    assert_eq!(products[1]["range"]["step_size"], 1.0);
    let brands = http(
        &s,
        "GET",
        "/cryptorefills/v2/brands?country_code=US",
        None,
        None,
    )
    .json();
    assert_eq!(brands["all_brands"][0]["family"], "Target", "{brands}");
    let price = http(&s, "GET", "/cryptorefills/v4/products/price?brand_name=Target&country_code=US&face_value=50&coin=USDC", None, None).json();
    assert_eq!(price["coin_amount"], "50.6000", "{price}");
    assert_eq!(price["is_dynamic"], true, "{price}");

    let order = |delivery: Value| {
        json!({"email": "buyer@example.com", "user": {"email": "buyer@example.com", "has_accepted_newsletter": false},
            "lang": "en", "payment": {"type": "via", "payment_via": "USER_WALLET", "coin": "USDC", "network": "Solana"},
            "deliveries": [delivery]})
    };
    let flat = |denomination: &str, value: Value| {
        json!({"beneficiary_account": "buyer@example.com", "brand_name": "Target", "country_code": "US",
            "denomination": denomination, "product_value": value})
    };
    let nested = json!({"kind": "giftcard", "quantity": 1, "deliverable": {"beneficiary_account": "buyer@example.com",
        "brand_name": "Target", "country_code": "US", "denomination": "10 USD"}});
    for bad in [
        nested,
        flat("range", json!(7.5)),
        flat("range", json!(201)),
        flat("range", Value::Null),
        flat("10", Value::Null),
    ] {
        let answer = http(
            &s,
            "POST",
            "/cryptorefills/v5/orders",
            None,
            Some(&order(bad.clone())),
        );
        assert_eq!(answer.status, 400, "{bad} -> {}", answer.body);
        assert!(answer.json()["detail"].is_string(), "{}", answer.body);
    }
    let preview = http(
        &s,
        "POST",
        "/cryptorefills/v5/orders/validations",
        None,
        Some(&order(flat("10 USD", Value::Null))),
    )
    .json();
    assert_eq!(preview["problems"], Value::Null, "{preview}");
    assert_eq!(preview["coin_amount"], "10.1200", "{preview}");
    let mut kyc = flat("10 USD", Value::Null);
    kyc["beneficiary_account"] = json!(KYC_EMAIL);
    let preview = http(
        &s,
        "POST",
        "/cryptorefills/v5/orders/validations",
        None,
        Some(&order(kyc)),
    )
    .json();
    assert_eq!(
        preview["problems"],
        json!([{"problem": "KYC_MISSING", "moreDetails": null}])
    );

    let created = http(
        &s,
        "POST",
        "/cryptorefills/v5/orders",
        None,
        Some(&order(flat("range", json!(50)))),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let created = created.json();
    assert!(
        created.get("id").is_none() && created.get("status").is_none(),
        "{created}"
    );
    assert_eq!(created["order_state"], "WaitingForPayment");
    assert_eq!(created["coin_amount"], "50.6000");
    assert!(
        created["created_at"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(created["deliveries"][0]["deliverable"]["product_value"], 50);
    let id = created["order_id"].as_str().unwrap().to_owned();
    let fetched = http(
        &s,
        "GET",
        &format!("/cryptorefills/v5/orders/{id}"),
        None,
        None,
    )
    .json();
    assert_eq!(fetched, created);
    assert_eq!(
        http(&s, "GET", "/cryptorefills/v5/orders/nope", None, None).status,
        404
    );

    let subscribe = format!("/cryptorefills/v5/orders/{id}/subscribe");
    let stream = std::thread::scope(|scope| {
        let reader = scope.spawn(|| http(&s, "GET", &subscribe, None, None));
        let started = Instant::now();
        while s.requests_to("GET", &subscribe).is_empty()
            && started.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(50));
        let paid = http(
            &s,
            "POST",
            &format!("/cryptorefills/_standin/pay/{id}"),
            None,
            None,
        );
        assert_eq!(paid.status, 200);
        reader.join().unwrap()
    });
    assert!(
        stream.headers.contains("content-type: text/event-stream"),
        "{}",
        stream.headers
    );
    assert!(
        stream.body.ends_with("event: stop\ndata: {}\n\n"),
        "{}",
        stream.body
    );
    let events: Vec<&str> = stream.body.trim_end().split("\n\n").collect();
    let (stop, messages) = events.split_last().unwrap();
    assert_eq!(*stop, "event: stop\ndata: {}");
    let states: Vec<Value> = messages
        .iter()
        .map(|event| {
            let data = event
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("unnamed: {event:?}"));
            serde_json::from_str::<Value>(data).unwrap()["order_state"].clone()
        })
        .collect();
    assert_eq!(
        states.first(),
        Some(&json!("WaitingForPayment")),
        "{states:?}"
    );
    assert_eq!(states.last(), Some(&json!("Done")), "{states:?}");
    let done: Value =
        serde_json::from_str(messages.last().unwrap().strip_prefix("data: ").unwrap()).unwrap();
    let deliverable = &done["deliveries"][0]["deliverable"];
    assert!(deliverable["pin_code"].is_string() && deliverable["pin_serial"].is_string());
    assert!(
        deliverable["redeem_instructions"]
            .as_str()
            .unwrap()
            .starts_with('<')
    );
}

// ---------------------------------------------------------------------------------
// Round two of the wire: activation data, ORDER_ALREADY_EXISTS, the end user
// ---------------------------------------------------------------------------------

#[test]
fn foxreload_esim_activation_data_prints_as_json_and_as_text() {
    let standin = StandIn::start();
    let listed = run(
        &standin,
        &[
            "--json",
            "catalog",
            "foxreload",
            "--category",
            ESIM_CATEGORY,
        ],
    );
    assert_eq!(ids(&listed.expect_code(0).json()), [ESIM_EUROPE]);
    let bought = run(
        &standin,
        &[
            "--json",
            "buy",
            "foxreload",
            ESIM_EUROPE,
            "--quantity",
            "2",
            "--yes",
            "--wait",
        ],
    );
    let order = bought.expect_code(0).json();
    let id = order["id"].as_str().unwrap_or_else(|| panic!("{order}"));
    let held = standin.foxreload_order(id).unwrap();
    let delivered = &held["items"][0]["externalData"];
    assert!(
        delivered
            .as_array()
            .is_some_and(|d| d.len() == 2 && d.iter().all(Value::is_object)),
        "the stand-in delivered objects: {held}"
    );
    assert_eq!(order["status"], "completed", "{order}");
    assert_eq!(order["activation_data"], *delivered, "{order}");
    assert_eq!(order["codes"], json!([]), "{order}");

    let shown = run(&standin, &["--json", "order", "foxreload", id]);
    assert_eq!(shown.expect_code(0).json()["activation_data"], *delivered);

    let text = run(&standin, &["order", "foxreload", id]);
    let text = &text.expect_code(0).stdout;
    assert!(text.contains("activation data:\n"), "{text}");
    for data in delivered.as_array().unwrap() {
        let code = data["code"].as_str().unwrap();
        assert!(text.contains(&format!("  - code: {code}\n")), "{text}");
    }
    assert!(text.contains("    pin: 1234\n"), "{text}");
}

/// The SDK sends a fresh `idempotencyKey` per order; a deployment that answers
/// `ORDER_ALREADY_EXISTS` all the same has refused this create. Exit 4, nothing paid,
/// no earlier order looked for or printed, the balance untouched.
#[test]
fn foxreload_create_answered_order_already_exists_exits_4_and_buys_nothing() {
    let standin = StandIn::start();
    standin.refuse_every_idempotency_key();
    let run = run(
        &standin,
        &[
            "--json",
            "buy",
            "foxreload",
            ESIM_EUROPE,
            "--reference",
            "invoice-2044",
            "--yes",
            "--wait",
        ],
    );
    run.expect_code(4);
    assert!(
        run.stderr.contains("ORDER_ALREADY_EXISTS"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "", "no order is printed");
    let creates = standin.requests_to("POST", "/foxreload/api/orders");
    assert_eq!(creates.len(), 1, "sent once: {}", standin.summary());
    assert_eq!(creates[0].status, 409);
    let after_create: Vec<String> = standin
        .requests()
        .into_iter()
        .filter(|r| {
            r.path.starts_with("/foxreload/api/orders")
                && !(r.method == "POST" && r.path.trim_end_matches('/') == "/foxreload/api/orders")
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        after_create.is_empty(),
        "no pay, no order list, no order read: {after_create:?}"
    );
    assert_eq!(standin.foxreload_balance(), FOX_BALANCE);
}

const END_USER_IP: &str = "2001:db8::7";
const END_USER_AGENT: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148";

/// `args` with the end-user flags in front.
fn for_end_user<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec![
        "--end-user-ip",
        END_USER_IP,
        "--end-user-agent",
        END_USER_AGENT,
    ];
    all.extend_from_slice(args);
    all
}

/// The Cryptorefills requests from index `from` on.
fn cryptorefills_requests(standin: &StandIn, from: usize) -> Vec<standin::Recorded> {
    let requests: Vec<_> = standin.requests().into_iter().skip(from).collect();
    assert!(!requests.is_empty(), "nothing was sent");
    requests
        .into_iter()
        .filter(|r| r.path.starts_with("/cryptorefills/"))
        .collect()
}

#[test]
fn cryptorefills_end_user_flags_go_on_every_request_and_only_with_them() {
    let standin = StandIn::start();
    run(
        &standin,
        &for_end_user(&["--json", "catalog", "cryptorefills", "--country", "US"]),
    )
    .expect_code(0);
    let bought = run(
        &standin,
        &for_end_user(&[
            "--json",
            "buy",
            "cryptorefills",
            TARGET_10,
            "--email",
            "buyer@example.com",
            "--yes",
        ]),
    );
    let id = bought.expect_code(0).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    run(
        &standin,
        &for_end_user(&[
            "--json",
            "validate",
            "cryptorefills",
            TARGET_10,
            "--email",
            "buyer@example.com",
        ]),
    )
    .expect_code(0);
    run(
        &standin,
        &for_end_user(&["--json", "order", "cryptorefills", &id]),
    )
    .expect_code(0);
    run(
        &standin,
        &for_end_user(&[
            "--json",
            "quote",
            "cryptorefills",
            "--brand",
            "Target",
            "--country",
            "US",
            "--face-value",
            "10",
        ]),
    )
    .expect_code(0);
    let made_for_the_user = cryptorefills_requests(&standin, 0);
    let paths: Vec<&str> = made_for_the_user.iter().map(|r| r.path.as_str()).collect();
    for path in [
        "/cryptorefills/v2/brands",
        "/cryptorefills/v5/orders",
        "/cryptorefills/v5/orders/validations",
        "/cryptorefills/v4/products/price",
    ] {
        assert!(paths.contains(&path), "{path} in {paths:?}");
    }
    for request in &made_for_the_user {
        let count = |name: &str| request.headers.iter().filter(|(k, _)| k == name).count();
        assert_eq!(
            (
                request.header("x-forwarded-for"),
                request.header("user-agent")
            ),
            (Some(END_USER_IP), Some(END_USER_AGENT)),
            "{} {}",
            request.method,
            request.path
        );
        assert_eq!((count("x-forwarded-for"), count("user-agent")), (1, 1));
    }

    // FoxReload is not Cryptorefills: the flags change nothing there.
    let seen = standin.requests().len();
    run(&standin, &for_end_user(&["--json", "balance", "foxreload"])).expect_code(0);
    for request in standin.requests().into_iter().skip(seen) {
        assert_eq!(request.header("x-forwarded-for"), None, "{}", request.path);
        assert!(
            request
                .header("user-agent")
                .is_some_and(|a| a.starts_with("suppliers-sdk/"))
        );
    }

    // Without the flags: the tool's own agent, no forwarded IP.
    let seen = standin.requests().len();
    run(&standin, &["--json", "order", "cryptorefills", &id]).expect_code(0);
    for request in cryptorefills_requests(&standin, seen) {
        assert_eq!(request.header("x-forwarded-for"), None, "{}", request.path);
        assert!(
            request
                .header("user-agent")
                .is_some_and(|a| a.starts_with("suppliers-sdk/")),
            "{:?}",
            request.header("user-agent")
        );
    }
}

#[test]
fn an_end_user_ip_that_is_not_an_ip_address_exits_2_and_sends_nothing() {
    let standin = StandIn::start();
    for (ip, agent) in [
        ("203.0.113", END_USER_AGENT),
        ("localhost", END_USER_AGENT),
        ("203.0.113.7, 198.51.100.2", END_USER_AGENT),
        ("203.0.113.7", "Mozilla/5.0\u{1}"),
    ] {
        let run = run(
            &standin,
            &[
                "--end-user-ip",
                ip,
                "--end-user-agent",
                agent,
                "buy",
                "cryptorefills",
                TARGET_10,
                "--email",
                "buyer@example.com",
                "--yes",
            ],
        );
        run.expect_code(2);
        assert!(
            run.stderr.contains("end-user") || run.stderr.contains("end_user"),
            "{ip}: {}",
            run.stderr
        );
    }
    let half = run(
        &standin,
        &[
            "--end-user-ip",
            "203.0.113.7",
            "order",
            "cryptorefills",
            "x",
        ],
    );
    half.expect_code(2);
    assert!(half.stderr.contains("--end-user-agent"), "{}", half.stderr);
    assert!(standin.requests().is_empty(), "sent: {}", standin.summary());
}
