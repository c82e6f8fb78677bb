//! `suppliers track --follow --metrics-addr` as an operator sees it: a webhook receiver
//! that is down, then refuses, then accepts; `/metrics` scraped over HTTP and read with
//! a Prometheus text-format parser; `/readyz` turning 503 while the journal is away;
//! one JSON log line per failed delivery; and no secret in any log line at any level.
//! The sandbox and the receiver run in this process on 127.0.0.1.

#[path = "../../suppliers-journal/tests/support/postgres.rs"]
mod postgres;
mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use suppliers::config::{CryptorefillsConfig, FoxReloadConfig, MousaCardConfig};
use suppliers::model::SupplierId;
use suppliers::{BuyRequest, Journal, Suppliers};
use suppliers_sandbox::{Sandbox, SandboxConfig, Timings};
use support::{journal_file, runtime, suppliers_process};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The sandbox's credential: distinctive, so a leak of it is found.
const API_KEY: &str = "sk_sandbox_7Hq2LmX9pRvT4wZc";

fn sandbox(rt: &tokio::runtime::Runtime) -> (Sandbox, HashMap<String, String>) {
    let sandbox = rt
        .block_on(Sandbox::start(SandboxConfig {
            timings: Timings::fast(),
            credential: API_KEY.into(),
            ..SandboxConfig::default()
        }))
        .unwrap();
    let vars = sandbox
        .environment()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    (sandbox, vars)
}

/// One FoxReload and one MousaCard order, bought without waiting.
fn buy_two(rt: &tokio::runtime::Runtime, sandbox: &Sandbox, journal: &str) {
    rt.block_on(async {
        let suppliers = Suppliers::builder()
            .foxreload(FoxReloadConfig::new(API_KEY, &sandbox.foxreload_url()).unwrap())
            .mousacard(MousaCardConfig::new(API_KEY, &sandbox.mousacard_url()).unwrap())
            .cryptorefills(
                CryptorefillsConfig::new(API_KEY, "1.0.0", &sandbox.cryptorefills_url()).unwrap(),
            )
            .journal(Journal::open(journal).await.unwrap())
            .build()
            .unwrap();
        for (supplier, product) in [
            (SupplierId::FoxReload, "product_01krgfgww8eth9xvvysd6y7r4j"),
            (SupplierId::MousaCard, "12330"),
        ] {
            let mut request = BuyRequest::new(product, 1);
            request.reference = Some(format!("op-{supplier}"));
            suppliers.buy(supplier, &request).await.unwrap();
        }
    });
}

/// What the receiver does with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Refuse,
    Accept,
}

#[derive(Debug)]
struct Receiver {
    mode: Mode,
    /// Accepted deliveries: webhook-id, body.
    taken: Vec<(String, Value)>,
    /// Every signature header seen (must never reach a log).
    signatures: Vec<String>,
}

impl Receiver {
    /// The delivered codes in the events it took.
    fn codes(&self) -> Vec<String> {
        self.taken
            .iter()
            .flat_map(|(_, event)| event["data"]["order"]["codes"].as_array().unwrap().clone())
            .map(|code| code.as_str().unwrap().to_owned())
            .collect()
    }

    /// What must never reach a log: the API key, the webhook secret, every signature
    /// it saw and every code it took.
    fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![
            API_KEY.to_owned(),
            SECRET.trim_start_matches("whsec_").to_owned(),
        ];
        secrets.extend(
            self.signatures
                .iter()
                .map(|s| s.trim_start_matches("v1,").to_owned()),
        );
        secrets.extend(self.codes());
        secrets
    }
}

type Shared = Arc<Mutex<Receiver>>;

async fn receive(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let mut receiver = shared.lock().unwrap();
    receiver
        .signatures
        .push(headers["webhook-signature"].to_str().unwrap().to_owned());
    match receiver.mode {
        Mode::Refuse => StatusCode::INTERNAL_SERVER_ERROR,
        Mode::Accept => {
            let id = headers["webhook-id"].to_str().unwrap().to_owned();
            receiver
                .taken
                .push((id, serde_json::from_slice(&body).unwrap()));
            StatusCode::NO_CONTENT
        }
    }
}

/// A port nothing listens on yet (connections are refused until [`listen`]).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn listen(rt: &tokio::runtime::Runtime, port: u16, shared: Shared) {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
        .unwrap();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(shared);
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
}

/// A running `suppliers` whose stderr lines are collected as they come.
struct Tracking {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    metrics: String,
}

impl Drop for Tracking {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tracking {
    fn start(mut child: Child) -> Self {
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let mut tracking = Self {
            child,
            stderr,
            metrics: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        tracking.metrics = loop {
            let found = tracking
                .lines()
                .iter()
                .find_map(|l| l.strip_prefix("metrics on http://").map(str::to_owned));
            if let Some(addr) = found {
                break addr;
            }
            assert!(
                Instant::now() < deadline,
                "no metrics line: {:?}",
                tracking.lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        tracking
    }

    fn lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.metrics, path)
    }

    fn scrape(&self) -> Scrape {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
        Scrape(prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap())
    }

    /// Waits until `done` holds for a scrape (at most 60 s).
    fn until(&self, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let scrape = self.scrape();
            if done(&scrape) {
                return scrape;
            }
            assert!(
                Instant::now() < deadline,
                "{what}; stderr: {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `/readyz` answers `want` (at most `limit`): how long it took, and
    /// the body.
    fn readyz_within(&self, want: u16, limit: Duration) -> (Duration, String) {
        let start = Instant::now();
        loop {
            let (status, body) = self.get("/readyz");
            if status == want {
                return (start.elapsed(), body);
            }
            assert!(
                start.elapsed() < limit,
                "/readyz {status} {body}; {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit code.
    fn terminate(&mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        self.child.wait().unwrap().code()
    }
}

/// A plain HTTP/1.1 GET: status and body.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

struct Scrape(prometheus_parse::Scrape);

impl Scrape {
    /// The sum of `name`'s samples whose labels include `want` (0 when there is none).
    fn value(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| want.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                prometheus_parse::Value::Histogram(b) => b.last().map_or(0.0, |b| b.count),
                prometheus_parse::Value::Summary(_) => panic!("{name}: a summary"),
            })
            .sum()
    }

    fn present(&self, name: &str) -> bool {
        self.0.samples.iter().any(|s| s.metric == name)
    }

    fn deliveries(&self, outcome: &str) -> f64 {
        self.value(
            "suppliers_webhook_deliveries_total",
            &[("outcome", outcome)],
        )
    }

    fn both(&self, name: &str) -> f64 {
        self.value(name, &[("supplier", "foxreload")])
            + self.value(name, &[("supplier", "mousacard")])
    }
}

/// Every stderr line that is a JSON object.
fn json_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_receiver_down_then_refusing_then_accepting_is_seen_in_metrics_logs_and_pending() {
    let rt = runtime();
    let (sandbox, vars) = sandbox(&rt);
    let (_dir, journal) = journal_file();
    buy_two(&rt, &sandbox, &journal);
    let port = free_port();
    let shared: Shared = Arc::new(Mutex::new(Receiver {
        mode: Mode::Refuse,
        taken: Vec::new(),
        signatures: Vec::new(),
    }));

    let mut tracking = Tracking::start(
        suppliers_process(&vars, &journal)
            .args([
                "--log-format",
                "json",
                "track",
                "--follow",
                "--round",
                "0.5",
            ])
            .args(["--webhook", &format!("http://127.0.0.1:{port}/hook")])
            .args(["--metrics-addr", "127.0.0.1:0"])
            .env("SUPPLIERS_WEBHOOK_SECRET", SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert_eq!(tracking.get("/livez").0, 200);

    // Down: both orders settle, neither report is accepted; the last success is never.
    let down = tracking.until("two refused connections, both orders settled", |s| {
        s.deliveries("connect") >= 2.0 && s.both("suppliers_reports_pending") == 2.0
    });
    assert_eq!(down.both("suppliers_orders_awaiting"), 0.0);
    assert_eq!(down.both("suppliers_oldest_awaiting_seconds"), 0.0);
    assert_eq!(down.deliveries("success"), 0.0);
    assert!(down.present("suppliers_webhook_last_success_timestamp_seconds"));
    assert_eq!(
        down.value("suppliers_webhook_last_success_timestamp_seconds", &[]),
        0.0
    );
    assert_eq!(
        down.value("suppliers_fulfilment_seconds", &[("outcome", "delivered")]),
        2.0
    );
    assert!(down.value("suppliers_tracker_last_round_timestamp_seconds", &[]) > 1.7e9);
    let (ready, why) = tracking.get("/readyz");
    assert_eq!(ready, 200, "{why}");
    // `pending` tells the same: delivered, and the report's attempts and last error.
    let pending = support::json(&vars, &journal, &["pending"]);
    for entry in pending.as_array().unwrap() {
        assert_eq!(entry["fulfilment"], "delivered", "{entry}");
        if entry["report_attempts"].as_u64().unwrap() > 0 {
            assert!(
                entry["report_error"]
                    .as_str()
                    .unwrap()
                    .contains("refused the connection"),
                "{entry}"
            );
        }
    }

    // Refusing: the receiver answers 500.
    listen(&rt, port, shared.clone());
    tracking.until("a 5xx delivery", |s| s.deliveries("http_5xx") >= 1.0);

    // Accepting: both reports taken, nothing pending, a fresh last success.
    shared.lock().unwrap().mode = Mode::Accept;
    let accepted = tracking.until("both reports accepted", |s| {
        s.deliveries("success") == 2.0 && s.both("suppliers_reports_pending") == 0.0
    });
    let last_success = accepted.value("suppliers_webhook_last_success_timestamp_seconds", &[]);
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        (now - 60.0..=now + 1.0).contains(&last_success),
        "{last_success}"
    );
    assert_eq!(
        accepted.deliveries("gone") + accepted.deliveries("timeout"),
        0.0
    );
    assert_eq!(tracking.terminate(), Some(0), "{:#?}", tracking.lines());

    // One warning per failed delivery, naming the supplier, the reference, the attempt,
    // the next try and the cause; nothing else at warning level or above.
    let failed = accepted.deliveries("connect") + accepted.deliveries("http_5xx");
    let logs = json_lines(&tracking.lines());
    let warnings: Vec<&Value> = logs.iter().filter(|l| l["level"] != "INFO").collect();
    assert_eq!(warnings.len() as f64, failed, "{warnings:#?}");
    let mut causes = BTreeMap::<&str, usize>::new();
    for warning in &warnings {
        assert_eq!(warning["level"], "WARN", "{warning}");
        assert!(
            warning["message"]
                .as_str()
                .unwrap()
                .starts_with("report not accepted")
        );
        assert!(["foxreload", "mousacard"].contains(&warning["supplier"].as_str().unwrap()));
        assert!(warning["reference"].as_str().unwrap().starts_with("op-"));
        assert!(warning["attempt"].as_u64().unwrap() >= 1);
        assert!(warning["next_try_ms"].as_u64().is_some(), "{warning}");
        let error = warning["error"].as_str().unwrap();
        let cause = match error {
            e if e.contains("refused the connection") => "connect",
            e if e.contains("500") => "http_5xx",
            other => panic!("cause: {other}"),
        };
        *causes.entry(cause).or_default() += 1;
    }
    assert_eq!(causes["connect"] as f64, accepted.deliveries("connect"));
    assert_eq!(causes["http_5xx"] as f64, accepted.deliveries("http_5xx"));

    // Both were taken, each under its own event id, and nothing is pending.
    let receiver = shared.lock().unwrap();
    assert_eq!(receiver.taken.len(), 2);
    let pending = support::json(&vars, &journal, &["pending"]);
    assert_eq!(pending, serde_json::json!([]));
    // No secret in any line: keys, the webhook secret, signatures, delivered codes.
    let stderr = tracking.lines().join("\n");
    let secrets = receiver.secrets();
    assert!(secrets.len() >= 5, "{secrets:?}");
    for secret in &secrets {
        assert!(!stderr.contains(secret.as_str()), "{secret} in {stderr}");
    }
    drop(receiver);
    rt.block_on(sandbox.shutdown());
}

#[test]
fn a_receiver_that_stays_down_is_named_in_the_closing_summary_not_the_supplier() {
    let rt = runtime();
    let (sandbox, vars) = sandbox(&rt);
    let (_dir, journal) = journal_file();
    buy_two(&rt, &sandbox, &journal);
    let port = free_port();
    let output = suppliers_process(&vars, &journal)
        .args(["track", "--round", "0.5", "--timeout", "4"])
        .args(["--webhook", &format!("http://127.0.0.1:{port}/hook")])
        .env("SUPPLIERS_WEBHOOK_SECRET", SECRET)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    let summary = stderr.lines().last().unwrap();
    assert!(
        summary.starts_with("2 delivered, not yet accepted by the webhook: the receiver refused the connection or is unreachable, "),
        "{summary}"
    );
    assert!(summary.contains("attempt(s)"), "{summary}");
    assert!(!summary.contains("awaiting their goods"), "{summary}");
    // Text logs: one warning a failed delivery, before the summary.
    assert!(
        stderr.lines().filter(|l| l.contains("WARN")).count() >= 2,
        "{stderr}"
    );
    let pending = support::suppliers(&vars, &journal)
        .arg("pending")
        .output()
        .unwrap();
    let pending = String::from_utf8_lossy(&pending.stdout);
    assert_eq!(pending.matches("goods delivered").count(), 2, "{pending}");
    assert!(pending.contains("report not accepted after"), "{pending}");
    rt.block_on(sandbox.shutdown());
}

#[test]
fn a_receiver_that_answers_410_gone_stops_tracking_with_exit_8_and_keeps_the_reports() {
    let rt = runtime();
    let (sandbox, vars) = sandbox(&rt);
    let (_dir, journal) = journal_file();
    buy_two(&rt, &sandbox, &journal);
    let port = free_port();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
        .unwrap();
    let app =
        axum::Router::new().route("/hook", axum::routing::post(|| async { StatusCode::GONE }));
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    let output = suppliers_process(&vars, &journal)
        .args(["track", "--follow", "--round", "0.5"])
        .args(["--webhook", &format!("http://127.0.0.1:{port}/hook")])
        .env("SUPPLIERS_WEBHOOK_SECRET", SECRET)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(8), "{stderr}");
    assert!(stderr.contains("410 Gone"), "{stderr}");
    assert!(stderr.contains("stay pending"), "{stderr}");
    let pending = support::json(&vars, &journal, &["pending"]);
    assert_eq!(pending.as_array().unwrap().len(), 2, "{pending}");
    rt.block_on(sandbox.shutdown());
}

#[test]
fn no_secret_reaches_stderr_at_any_log_level() {
    let rt = runtime();
    let (sandbox, vars) = sandbox(&rt);
    let port = free_port();
    let shared: Shared = Arc::new(Mutex::new(Receiver {
        mode: Mode::Accept,
        taken: Vec::new(),
        signatures: Vec::new(),
    }));
    listen(&rt, port, shared.clone());
    let hook = format!("http://127.0.0.1:{port}/hook");
    for (level, filter) in [
        ("-q", None),
        ("", None),
        ("-v", None),
        ("-vv", None),
        ("-vvv", None),
        ("", Some("trace")),
    ] {
        let (_dir, journal) = journal_file();
        let mut stdout = String::new();
        let mut stderr = String::new();
        let mut run = |args: &[&str]| {
            let mut command = suppliers_process(&vars, &journal);
            command
                .args(["--log-format", "json"])
                .args(Some(level).filter(|l| !l.is_empty()))
                .args(args)
                .env("SUPPLIERS_WEBHOOK_SECRET", SECRET);
            if let Some(filter) = filter {
                command.env("SUPPLIERS_LOG", filter);
            }
            let output = command.output().unwrap();
            let err = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(output.status.success(), "{args:?} {level}: {err}");
            stdout.push_str(&String::from_utf8_lossy(&output.stdout));
            stderr.push_str(&err);
        };
        run(&[
            "--json",
            "buy",
            "foxreload",
            "product_01krgfgww8eth9xvvysd6y7r4j",
            "--yes",
            "--wait",
        ]);
        run(&[
            "--json",
            "buy",
            "mousacard",
            "12330",
            "--yes",
            "--reference",
            "m-1",
        ]);
        run(&["track", "--round", "0.3", "--webhook", &hook]);
        // Every JSON line on stderr parses; the codes went to stdout and the receiver.
        json_lines(&stderr.lines().map(str::to_owned).collect::<Vec<_>>());
        let receiver = shared.lock().unwrap();
        let mut secrets = receiver.secrets();
        let mut codes = receiver.codes().len();
        for line in stdout.lines().filter(|l| l.starts_with('{')) {
            let order: Value = serde_json::from_str(line).unwrap();
            for code in order["codes"].as_array().into_iter().flatten() {
                secrets.push(code.as_str().unwrap().to_owned());
                codes += 1;
            }
        }
        assert!(codes >= 2, "{level}: codes were delivered");
        for secret in &secrets {
            assert!(
                !stderr.contains(secret.as_str()),
                "{level}: {secret} in {stderr}"
            );
        }
        if level == "-vvv" || filter.is_some() {
            assert!(stderr.lines().count() > 20, "{level}: trace logs");
        }
    }
    rt.block_on(sandbox.shutdown());
}

/// A TCP forwarder in front of PostgreSQL that can be cut: while cut, every connection
/// is closed and new ones are closed as soon as they are accepted.
struct Cuttable {
    port: u16,
    cut: Arc<std::sync::atomic::AtomicBool>,
    generation: Arc<std::sync::atomic::AtomicU64>,
}

impl Cuttable {
    fn start(rt: &tokio::runtime::Runtime) -> Self {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(0));
        let (host, pg_port) = (
            std::env::var("PGHOST").unwrap(),
            std::env::var("PGPORT").unwrap_or_else(|_| "5432".into()),
        );
        let (is_cut, current) = (cut.clone(), generation.clone());
        rt.spawn(async move {
            loop {
                let (mut client, _) = listener.accept().await.unwrap();
                if is_cut.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let born = current.load(Ordering::SeqCst);
                let current = current.clone();
                let (host, pg_port) = (host.clone(), pg_port.clone());
                tokio::spawn(async move {
                    let copy = async {
                        if host.starts_with('/') {
                            let path = format!("{host}/.s.PGSQL.{pg_port}");
                            let mut server = tokio::net::UnixStream::connect(path).await?;
                            tokio::io::copy_bidirectional(&mut client, &mut server).await
                        } else {
                            let mut server =
                                tokio::net::TcpStream::connect(format!("{host}:{pg_port}")).await?;
                            tokio::io::copy_bidirectional(&mut client, &mut server).await
                        }
                    };
                    let cut_off = async {
                        while current.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = copy => {}
                        () = cut_off => {}
                    }
                });
            }
        });
        Self {
            port,
            cut,
            generation,
        }
    }

    fn set_cut(&self, cut: bool) {
        use std::sync::atomic::Ordering;
        self.cut.store(cut, Ordering::SeqCst);
        if cut {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn readyz_turns_503_while_the_postgres_journal_is_away_and_tracking_resumes() {
    if !postgres::available() {
        return;
    }
    let rt = runtime();
    let (sandbox, vars) = sandbox(&rt);
    let database = postgres::fresh_database();
    let name = database.trim_start_matches("postgres:///");
    let proxy = Cuttable::start(&rt);
    let journal = format!("postgres://127.0.0.1:{}/{name}", proxy.port);
    let round = 0.5;
    let mut tracking = Tracking::start(
        suppliers_process(&vars, &journal)
            .args([
                "--log-format",
                "json",
                "track",
                "--follow",
                "--round",
                "0.5",
            ])
            .args(["--metrics-addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    tracking.readyz_within(200, Duration::from_secs(20));

    proxy.set_cut(true);
    let (took, why) = tracking.readyz_within(503, Duration::from_secs(10));
    assert!(
        took <= Duration::from_secs_f64(2.0 * round + 0.5),
        "503 after {took:?}, more than two rounds"
    );
    assert!(why.contains("journal"), "{why}");
    assert_eq!(tracking.get("/livez").0, 200, "alive all the same");
    assert!(
        tracking.child.try_wait().unwrap().is_none(),
        "still running"
    );

    proxy.set_cut(false);
    tracking.readyz_within(200, Duration::from_secs(30));
    let scrape = tracking.scrape();
    assert!(scrape.value("suppliers_journal_errors_total", &[]) >= 1.0);
    assert_eq!(tracking.terminate(), Some(0));

    let logs = json_lines(&tracking.lines());
    let errors: Vec<&Value> = logs.iter().filter(|l| l["level"] == "ERROR").collect();
    assert_eq!(errors.len(), 1, "logged once: {errors:#?}");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("journal does not answer")
    );
    assert!(
        logs.iter().any(|l| l["message"]
            .as_str()
            .unwrap()
            .contains("journal answers again")),
        "{logs:#?}"
    );
    rt.block_on(sandbox.shutdown());
}
