//! The network fault matrix, over real TCP on 127.0.0.1: every fault real networks make
//! (through the project's fault proxy, armed by the request it targets on pooled
//! connections, and the sandbox's HTTP faults) against every kind of call: a catalog
//! page, a purchase (FoxReload's pay, where the money moves), an order poll, a MousaCard
//! batch status and a Cryptorefills event stream. Each cell asserts the outcome the
//! README promises and how many requests the supplier saw: reads are read again and
//! decode whole; a purchase is settled from the supplier's side, bought once, and sent
//! at most once per attempt the journal allowed.

use std::time::{Duration, Instant};

use axum::http::Method;
use futures::TryStreamExt;
use suppliers::config::{CryptorefillsConfig, FoxReloadConfig, MousaCardConfig};
use suppliers::model::{OrderStatus, SupplierId};
use suppliers::order_stream::TrackConfig;
use suppliers::{BuyRequest, CatalogQuery, Error, Suppliers};
use suppliers_sandbox::fault_proxy::{FaultProxy, Stream, Toxic, ToxicKind};
use suppliers_sandbox::{Fault as HttpFault, FaultRule, Sandbox, SandboxConfig, Timings};

const STEAM_500_RUB: &str = "product_01krgfgww8eth9xvvysd6y7r4j";
/// Attempt deadline of the facade under test: short, so stalls are quick to see.
const ATTEMPT: Duration = Duration::from_millis(1500);

/// What a cell does to the network.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Nothing listens: every connection is refused.
    Refused,
    /// The proxy resets the connection as the request arrives: it never reaches the
    /// supplier.
    ResetBeforeSent,
    /// The request reaches the supplier; the connection is reset before its answer.
    ResetBeforeAnswer,
    /// The answer stops mid-body and the connection closes.
    ResetMidBody,
    /// `Content-Length` longer than the body sent (the sandbox's `short-body`).
    TruncatedLength,
    /// A chunked body without its last chunk (`cut-chunked`).
    UnterminatedChunked,
    /// The request is handled; no answer comes before the deadline (`stall`).
    StallBeforeHeaders,
    /// The answer drips a byte every 3 s, under the 1 byte/s floor.
    DripUnderFloor,
    /// A pooled connection went half-open: what is sent on it vanishes, nothing comes.
    HalfOpenPooled,
    /// 300 ms of latency, under the deadline.
    LatencyUnderDeadline,
    /// Latency past the deadline.
    LatencyOverDeadline,
    /// 10 KB/s: slow, above the floor.
    BandwidthAboveFloor,
}

/// The call each cell makes.
#[derive(Debug, Clone, Copy)]
enum Op {
    CatalogPage,
    Purchase,
    OrderPoll,
    MousaBatch,
    EventStream,
}

impl Op {
    /// The text that starts its request (what arms a toxic), and its route.
    fn request(self, ids: &Ids) -> (&'static str, String) {
        match self {
            Op::CatalogPage => ("GET", "/mousacard/products".into()),
            Op::Purchase => ("POST", "/foxreload/api/orders/".into()),
            Op::OrderPoll => ("GET", format!("/foxreload/api/orders/{}", ids.fox_order)),
            Op::MousaBatch => ("POST", "/mousacard/orders/status".into()),
            Op::EventStream => ("GET", "/cryptorefills/v5/orders/".into()),
        }
    }

    /// The text that arms the toxics: the request line's start, so one request on a
    /// pooled connection is targeted.
    fn arming(self, ids: &Ids) -> String {
        match self {
            // The pay request, where the money moves.
            Op::Purchase => "/pay HTTP/1.1".into(),
            Op::EventStream => "/subscribe HTTP/1.1".into(),
            other => {
                let (method, path) = other.request(ids);
                format!("{method} {path}")
            }
        }
    }

    fn is_read(self) -> bool {
        !matches!(self, Op::Purchase | Op::EventStream)
    }
}

/// What the setup bought, for the cells to read.
struct Ids {
    fox_order: String,
    mousa_orders: Vec<u64>,
    cr_order: String,
}

struct Rig {
    sandbox: Sandbox,
    proxy: FaultProxy,
    suppliers: Suppliers,
    ids: Ids,
    _dir: tempfile::TempDir,
}

async fn rig(refused: bool) -> Rig {
    let sandbox = Sandbox::start(SandboxConfig {
        timings: Timings::fast(),
        cryptorefills_auto_pay_after: Some(chrono::TimeDelta::milliseconds(400)),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let proxy = FaultProxy::start(sandbox.address()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite3").display().to_string();
    let build = |port: u16| {
        let base = move |supplier: &str| format!("http://127.0.0.1:{port}/{supplier}");
        let journal = journal.clone();
        async move {
            Suppliers::builder()
                .foxreload(FoxReloadConfig::new("sandbox", &base("foxreload")).unwrap())
                .mousacard(MousaCardConfig::new("sandbox", &base("mousacard")).unwrap())
                .cryptorefills(
                    CryptorefillsConfig::new("sandbox", "1.0.0", &base("cryptorefills")).unwrap(),
                )
                .attempt_timeout(ATTEMPT)
                .journal(suppliers::Journal::open(&journal).await.unwrap())
                .build()
                .unwrap()
        }
    };
    let good = build(proxy.address().port()).await;
    let ids = setup(&good).await;
    let suppliers = match refused {
        true => {
            let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = closed.local_addr().unwrap().port();
            drop(closed);
            build(port).await
        }
        false => good,
    };
    Rig {
        sandbox,
        proxy,
        suppliers,
        ids,
        _dir: dir,
    }
}

/// Orders for the reads to read, bought before any fault.
async fn setup(suppliers: &Suppliers) -> Ids {
    let fox = suppliers
        .buy(SupplierId::FoxReload, &request(STEAM_500_RUB, "setup-fox"))
        .await
        .unwrap();
    let mut mousa_orders = Vec::new();
    for n in 0..2 {
        let receipt = suppliers
            .buy(
                SupplierId::MousaCard,
                &request("12330", &format!("setup-mousa-{n}")),
            )
            .await
            .unwrap();
        mousa_orders.push(receipt.order.id.parse().unwrap());
    }
    let mut card = request("giftcard/Airbnb/US/100 USD", "setup-cr");
    card.email = Some("user@example.com".into());
    let cr = suppliers
        .buy(SupplierId::Cryptorefills, &card)
        .await
        .unwrap();
    // The order the polls read is done, with its codes.
    suppliers
        .get(SupplierId::FoxReload)
        .unwrap()
        .wait_for_order(&fox.order.id, Duration::from_secs(10))
        .await
        .unwrap();
    Ids {
        fox_order: fox.order.id,
        mousa_orders,
        cr_order: cr.order.id,
    }
}

fn request(product: &str, reference: &str) -> BuyRequest {
    let mut request = BuyRequest::new(product, 1);
    request.reference = Some(reference.into());
    request
}

/// Arms `fault` for the next `op` call.
fn arm(rig: &Rig, op: Op, fault: Fault) {
    let arming = op.arming(&rig.ids);
    let once = |kind: ToxicKind, stream: Stream| {
        Toxic::new(kind)
            .on(stream)
            .named("cell")
            .when_request(arming.clone())
            .on_connections(1)
    };
    // The request the sandbox's HTTP faults target: the purchase's pay (FoxReload's
    // order ids are sequential: the next order's), or the order's event stream.
    let (method, route) = op.request(&rig.ids);
    let (method, path) = match op {
        Op::Purchase => (
            Method::POST,
            format!(
                "/foxreload/api/orders/5f0c3f7e-0000-4000-8000-{:012}/pay",
                rig.sandbox.foxreload().order_count() + 1
            ),
        ),
        Op::EventStream => (
            Method::GET,
            format!("/cryptorefills/v5/orders/{}/subscribe", rig.ids.cr_order),
        ),
        _ => (Method::from_bytes(method.as_bytes()).unwrap(), route),
    };
    let http = |fault: HttpFault| {
        rig.sandbox
            .faults()
            .add(FaultRule::new(&path, fault, 1).for_method(method.clone()));
    };
    match fault {
        Fault::Refused => {}
        Fault::ResetBeforeSent => rig.proxy.add(once(
            ToxicKind::ResetPeer {
                timeout: Duration::ZERO,
            },
            Stream::Upstream,
        )),
        Fault::ResetBeforeAnswer => rig.proxy.add(once(
            ToxicKind::ResetPeer {
                timeout: Duration::ZERO,
            },
            Stream::Downstream,
        )),
        Fault::ResetMidBody => rig.proxy.add(once(
            ToxicKind::LimitData { bytes: 180 },
            Stream::Downstream,
        )),
        Fault::TruncatedLength => http(HttpFault::ShortBody),
        Fault::UnterminatedChunked => http(HttpFault::UnterminatedChunked),
        Fault::StallBeforeHeaders => http(HttpFault::StallBeforeHeaders(Duration::from_secs(4))),
        Fault::DripUnderFloor => rig.proxy.add(once(
            ToxicKind::Slicer {
                average_size: 1,
                size_variation: 0,
                delay: Duration::from_secs(3),
            },
            Stream::Downstream,
        )),
        Fault::HalfOpenPooled => {
            for stream in [Stream::Upstream, Stream::Downstream] {
                rig.proxy.add(
                    once(
                        ToxicKind::Timeout {
                            timeout: Duration::ZERO,
                        },
                        stream,
                    )
                    .named(format!("half-open-{stream}")),
                );
            }
        }
        Fault::LatencyUnderDeadline => rig.proxy.add(once(
            ToxicKind::Latency {
                latency: Duration::from_millis(300),
                jitter: Duration::ZERO,
            },
            Stream::Downstream,
        )),
        Fault::LatencyOverDeadline => rig.proxy.add(once(
            ToxicKind::Latency {
                latency: ATTEMPT + Duration::from_millis(500),
                jitter: Duration::ZERO,
            },
            Stream::Downstream,
        )),
        Fault::BandwidthAboveFloor => rig
            .proxy
            .add(once(ToxicKind::Bandwidth { rate: 10 }, Stream::Downstream)),
    }
}

/// Whether `fault` makes the first attempt of a call fail.
fn fails_once(fault: Fault) -> bool {
    !matches!(
        fault,
        Fault::LatencyUnderDeadline | Fault::BandwidthAboveFloor | Fault::Refused
    )
}

/// Whether the first attempt's request reached the supplier.
fn first_reached(fault: Fault) -> bool {
    !matches!(
        fault,
        Fault::Refused | Fault::ResetBeforeSent | Fault::HalfOpenPooled
    )
}

async fn cell(op: Op, fault: Fault) {
    let rig = rig(matches!(fault, Fault::Refused)).await;
    // A half-open pooled connection: one request before, so the call finds it pooled.
    if matches!(fault, Fault::HalfOpenPooled) && op.is_read() {
        rig.suppliers.mousacard().unwrap().balance().await.unwrap();
    }
    // Requests one call makes without faults (a catalog walk reads several pages).
    let (method, route) = op.request(&rig.ids);
    let per_call = match op {
        Op::CatalogPage if !matches!(fault, Fault::Refused) => {
            let before = rig.sandbox.requests_to(method, &route);
            read_once(&rig, op).await.unwrap();
            rig.sandbox.requests_to(method, &route) - before
        }
        _ => 1,
    };
    let before = rig.sandbox.requests_to(method, &route);
    arm(&rig, op, fault);
    let started = Instant::now();
    match op {
        Op::CatalogPage | Op::OrderPoll | Op::MousaBatch => {
            read(&rig, op, fault, before, per_call).await
        }
        Op::Purchase => purchase(&rig, fault).await,
        Op::EventStream => event_stream(&rig, fault).await,
    }
    // Nothing waits for the 30 s budget: stalls and drips are cut first.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{op:?} {fault:?}: {:?}",
        started.elapsed()
    );
    rig.sandbox.shutdown().await;
}

/// One read: how many products, codes or orders it decoded.
async fn read_once(rig: &Rig, op: Op) -> Result<usize, Error> {
    match op {
        Op::CatalogPage => rig
            .suppliers
            .get(SupplierId::MousaCard)
            .unwrap()
            .catalog(CatalogQuery::default())
            .try_collect::<Vec<_>>()
            .await
            .map(|products| products.len()),
        Op::OrderPoll => rig
            .suppliers
            .foxreload()
            .unwrap()
            .order(&rig.ids.fox_order)
            .await
            .map(|order| order.delivery.codes.len()),
        Op::MousaBatch => rig
            .suppliers
            .mousacard()
            .unwrap()
            .orders_now(&rig.ids.mousa_orders)
            .await
            .map(|orders| orders.len()),
        _ => unreachable!(),
    }
}

/// A read is read again on a fresh connection and decodes whole, or (refused) ends in
/// a typed transport error with nothing sent.
async fn read(rig: &Rig, op: Op, fault: Fault, before: u64, per_call: u64) {
    let outcome = read_once(rig, op).await;
    let (method, route) = op.request(&rig.ids);
    let seen = rig.sandbox.requests_to(method, &route) - before;
    if matches!(fault, Fault::Refused) {
        assert!(
            matches!(outcome, Err(Error::Transport { .. })),
            "{op:?}: {outcome:?}"
        );
        assert_eq!(seen, 0);
        return;
    }
    let got = outcome.unwrap_or_else(|e| panic!("{op:?} {fault:?}: {e}"));
    match op {
        Op::CatalogPage => assert!(got > 0),
        Op::OrderPoll => assert!(got > 0, "codes decoded"),
        Op::MousaBatch => assert_eq!(got, rig.ids.mousa_orders.len()),
        _ => unreachable!(),
    }
    // The failed attempt is sent again; one the proxy swallowed never reached it.
    let retried = u64::from(fails_once(fault));
    let lost = u64::from(fails_once(fault) && !first_reached(fault));
    assert_eq!(
        seen,
        per_call + retried - lost,
        "{op:?} {fault:?}: requests seen"
    );
}

/// A purchase: bought exactly once, each attempt sending its pay at most once; an
/// unknown outcome settled from the order's status, or left for the same reference.
async fn purchase(rig: &Rig, fault: Fault) {
    let orders_before = rig.sandbox.foxreload().order_count();
    let pays = || {
        rig.sandbox
            .requests_to("POST", "/foxreload/api/orders/5f0c")
    };
    let pays_before = pays();
    let outcome = rig
        .suppliers
        .buy(SupplierId::FoxReload, &request(STEAM_500_RUB, "cell"))
        .await;
    if matches!(fault, Fault::Refused) {
        assert!(
            matches!(outcome, Err(Error::Transport { .. })),
            "{outcome:?}"
        );
        assert_eq!(
            rig.sandbox.foxreload().order_count(),
            orders_before,
            "nothing sent"
        );
        return;
    }
    let bought = match outcome {
        Ok(receipt) => receipt,
        // The pay never reached FoxReload: the order is created and unpaid, and the same
        // reference pays it (never a new order).
        Err(Error::NotBought { .. }) if !first_reached(fault) => rig
            .suppliers
            .buy(SupplierId::FoxReload, &request(STEAM_500_RUB, "cell"))
            .await
            .unwrap_or_else(|e| panic!("{fault:?}, again: {e}")),
        Err(err) => panic!("{fault:?}: {err}"),
    };
    assert!(!bought.order.id.is_empty());
    assert_eq!(
        rig.sandbox.foxreload().order_count(),
        orders_before + 1,
        "{fault:?}: one order"
    );
    let sent = pays() - pays_before;
    let attempts = 1 + u64::from(!first_reached(fault));
    // Pays on the order; a pay the proxy swallowed never reached the sandbox.
    assert!(
        sent <= attempts,
        "{fault:?}: {sent} pays for {attempts} attempts"
    );
    assert!(sent >= 1, "{fault:?}: paid");
    let entry = rig
        .suppliers
        .journal()
        .unwrap()
        .get("foxreload", "cell")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, suppliers::journal::State::Bought, "{fault:?}");
}

/// An event stream: whatever happens to it, the order is reported completed.
async fn event_stream(rig: &Rig, fault: Fault) {
    let cr = rig
        .suppliers
        .cryptorefills()
        .unwrap()
        .clone()
        .with_track_config(TrackConfig {
            keep_alive_gap: Duration::from_secs(2),
            reconnect_min: Duration::from_millis(200),
            reconnect_max: Duration::from_millis(400),
            poll_min: Duration::from_millis(200),
            poll_max: Duration::from_millis(400),
            ..TrackConfig::default()
        });
    let outcome = cr
        .wait_for_order(&rig.ids.cr_order, Duration::from_secs(15))
        .await;
    if matches!(fault, Fault::Refused) {
        assert!(outcome.is_err(), "{outcome:?}");
        return;
    }
    let order = outcome.unwrap_or_else(|e| panic!("{fault:?}: {e}"));
    assert_eq!(order.status, OrderStatus::Completed, "{fault:?}");
    assert!(!order.delivery.codes.is_empty());
}

macro_rules! row {
    ($op:ident, $module:ident) => {
        mod $module {
            use super::*;

            async fn run(fault: Fault) {
                cell(Op::$op, fault).await;
            }

            #[tokio::test]
            async fn refused() {
                run(Fault::Refused).await;
            }
            #[tokio::test]
            async fn reset_before_the_request_is_sent() {
                run(Fault::ResetBeforeSent).await;
            }
            #[tokio::test]
            async fn reset_before_the_answer() {
                run(Fault::ResetBeforeAnswer).await;
            }
            #[tokio::test]
            async fn reset_mid_body() {
                run(Fault::ResetMidBody).await;
            }
            #[tokio::test]
            async fn truncated_content_length() {
                run(Fault::TruncatedLength).await;
            }
            #[tokio::test]
            async fn unterminated_chunked_body() {
                run(Fault::UnterminatedChunked).await;
            }
            #[tokio::test]
            async fn stall_before_headers() {
                run(Fault::StallBeforeHeaders).await;
            }
            #[tokio::test]
            async fn drip_under_the_floor() {
                run(Fault::DripUnderFloor).await;
            }
            #[tokio::test]
            async fn half_open_pooled_connection() {
                run(Fault::HalfOpenPooled).await;
            }
            #[tokio::test]
            async fn latency_under_the_deadline() {
                run(Fault::LatencyUnderDeadline).await;
            }
            #[tokio::test]
            async fn latency_over_the_deadline() {
                run(Fault::LatencyOverDeadline).await;
            }
            #[tokio::test]
            async fn bandwidth_above_the_floor() {
                run(Fault::BandwidthAboveFloor).await;
            }
        }
    };
}

row!(CatalogPage, catalog_page);
row!(Purchase, purchase_pay);
row!(OrderPoll, order_poll);
row!(MousaBatch, mousacard_batch);
row!(EventStream, cryptorefills_event_stream);
