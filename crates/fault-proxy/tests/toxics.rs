//! Each toxic's meaning, over real TCP on 127.0.0.1: a small upstream server, the proxy
//! in front of it, a client through the proxy.

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use fault_proxy::{FaultProxy, Stream, Toxic, ToxicKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::{Instant, timeout};

/// Fails the test if `future` takes more than 10 s.
async fn bounded<T>(future: impl Future<Output = T>) -> T {
    timeout(Duration::from_secs(10), future)
        .await
        .expect("the test took more than 10 s")
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn toxic(text: &str) -> Toxic {
    text.parse().unwrap()
}

/// A server that runs `handle` on every connection.
async fn server<F, Fut>(handle: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream));
        }
    });
    address
}

/// Echoes every connection until it ends, then closes.
async fn echo_server() -> SocketAddr {
    server(|mut stream| async move {
        let (mut read, mut write) = stream.split();
        let _ = tokio::io::copy(&mut read, &mut write).await;
        let _ = write.shutdown().await;
    })
    .await
}

/// Sends `payload` on every connection, then keeps it open until the client closes.
async fn sending_server(payload: &'static [u8]) -> SocketAddr {
    server(move |mut stream| async move {
        let _ = stream.write_all(payload).await;
        let _ = stream.read_to_end(&mut Vec::new()).await;
    })
    .await
}

/// Sends `payload` on every connection and closes its side at once.
async fn closing_server(payload: &'static [u8]) -> SocketAddr {
    server(move |mut stream| async move {
        let _ = stream.write_all(payload).await;
        let _ = stream.shutdown().await;
        let _ = stream.read_to_end(&mut Vec::new()).await;
    })
    .await
}

/// Sends `message` and reads its echo; how long that took.
async fn round_trip(stream: &mut TcpStream, message: &[u8]) -> Duration {
    let started = Instant::now();
    stream.write_all(message).await.unwrap();
    let mut echo = vec![0; message.len()];
    stream.read_exact(&mut echo).await.unwrap();
    assert_eq!(echo, message);
    started.elapsed()
}

#[tokio::test]
async fn without_toxics_bytes_pass_unchanged_both_ways_and_a_half_close_gets_the_whole_answer() {
    bounded(async {
        // The server answers once the client has finished sending: the whole request,
        // reversed, then as much again.
        let upstream = server(|mut stream| async move {
            let mut request = Vec::new();
            stream.read_to_end(&mut request).await.unwrap();
            let mut answer: Vec<u8> = request.iter().rev().copied().collect();
            answer.extend_from_slice(&request);
            stream.write_all(&answer).await.unwrap();
            stream.shutdown().await.unwrap();
        })
        .await;
        let proxy = FaultProxy::start(upstream).await.unwrap();
        assert_ne!(proxy.address(), upstream);
        assert_eq!(proxy.upstream(), upstream);
        let request: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        client.write_all(&request).await.unwrap();
        client.shutdown().await.unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        let mut expected: Vec<u8> = request.iter().rev().copied().collect();
        expected.extend_from_slice(&request);
        assert!(
            answer == expected,
            "the answer differs from what the server sent"
        );
        let stats = proxy.stats();
        assert_eq!(stats.connections, 1);
        assert_eq!(stats.applied.len(), 7);
        assert!(stats.applied.values().all(|n| *n == 0), "{stats:?}");
        proxy.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn latency_adds_at_least_itself_to_a_round_trip_in_each_direction() {
    bounded(async {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        proxy.set_toxics(vec![
            toxic("upstream/latency:100"),
            toxic("downstream/latency:150"),
        ]);
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        for _ in 0..3 {
            let took = round_trip(&mut client, b"ping").await;
            assert!(took >= ms(250), "{took:?}");
            assert!(took < ms(1250), "{took:?}");
        }
        assert_eq!(proxy.stats().applied["latency"], 2);
    })
    .await;
}

#[tokio::test]
async fn latency_jitter_varies_the_delay_within_its_bounds() {
    bounded(async {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        proxy.add(toxic("latency:100:80"));
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        let mut took = Vec::new();
        for _ in 0..6 {
            took.push(round_trip(&mut client, b"ping").await);
        }
        assert!(
            took.iter().all(|t| *t >= ms(20) && *t < ms(1180)),
            "{took:?}"
        );
        let (shortest, longest) = (took.iter().min().unwrap(), took.iter().max().unwrap());
        assert!(*longest - *shortest >= ms(10), "no jitter: {took:?}");
    })
    .await;
}

#[tokio::test]
async fn bandwidth_bounds_the_rate() {
    bounded(async {
        static BODY: [u8; 60_000] = [b'b'; 60_000];
        let proxy = FaultProxy::start(closing_server(&BODY).await)
            .await
            .unwrap();
        proxy.add(toxic("bandwidth:100"));
        let started = Instant::now();
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        let mut body = Vec::new();
        client.read_to_end(&mut body).await.unwrap();
        let took = started.elapsed();
        assert_eq!(body.len(), BODY.len());
        // 60 kB at 100 kB/s: 600 ms.
        assert!(took >= ms(590), "{took:?}");
        assert!(took < ms(1500), "{took:?}");
    })
    .await;
}

#[tokio::test]
async fn slicer_delivers_a_body_in_small_pieces_with_delays() {
    bounded(async {
        static BODY: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL";
        let proxy = FaultProxy::start(closing_server(BODY).await).await.unwrap();
        // Pieces of 6 +/- 2 bytes, 40 ms apart.
        proxy.add(toxic("slicer:6:2:40000"));
        let started = Instant::now();
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        let mut body = Vec::new();
        let mut pieces = Vec::new();
        loop {
            let mut buf = [0; 1024];
            let n = client.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            pieces.push(n);
            body.extend_from_slice(&buf[..n]);
        }
        let took = started.elapsed();
        assert_eq!(body, BODY);
        assert!(pieces.iter().all(|n| *n <= 8), "{pieces:?}");
        assert!(pieces.len() >= BODY.len() / 8, "{pieces:?}");
        let least = ms(40) * (pieces.len() as u32 - 1);
        assert!(took >= least, "{took:?} for {pieces:?}");
    })
    .await;
}

#[tokio::test]
async fn timeout_stops_data_and_closes_the_connection_after_its_time() {
    bounded(async {
        let proxy = FaultProxy::start(sending_server(b"hello").await)
            .await
            .unwrap();
        proxy.add(toxic("timeout:300"));
        let started = Instant::now();
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        let took = started.elapsed();
        assert_eq!(received, b"", "data passed a timeout");
        assert!(took >= ms(300), "closed after {took:?}");
        assert!(took < ms(1300), "closed after {took:?}");
    })
    .await;
}

#[tokio::test]
async fn timeout_zero_stalls_until_removed_and_then_data_passes_again() {
    bounded(async {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        proxy.add(toxic("upstream/timeout:0").named("stall"));
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        client.write_all(b"lost").await.unwrap();
        let mut buf = [0; 16];
        let stalled = timeout(ms(400), client.read(&mut buf)).await;
        assert!(stalled.is_err(), "no stall: {stalled:?}");
        assert!(proxy.remove("stall"));
        assert!(!proxy.remove("stall"));
        // Data sent during the stall was dropped; what comes after passes.
        let took = round_trip(&mut client, b"found").await;
        assert!(took < ms(1000), "{took:?}");
    })
    .await;
}

#[tokio::test]
async fn limit_data_closes_after_exactly_its_bytes() {
    bounded(async {
        static BODY: [u8; 5000] = [b'd'; 5000];
        let proxy = FaultProxy::start(sending_server(&BODY).await)
            .await
            .unwrap();
        proxy.add(toxic("limit_data:1000"));
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        assert_eq!(received.len(), 1000);
        assert_eq!(received, BODY[..1000]);
    })
    .await;
}

#[tokio::test]
async fn reset_peer_downstream_resets_the_client_after_its_timeout() {
    bounded(async {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        proxy.add(toxic("downstream/reset_peer:200"));
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        let started = Instant::now();
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0; 16];
        let read = client.read(&mut buf).await;
        let took = started.elapsed();
        assert_eq!(
            read.map_err(|e| e.kind()),
            Err(ErrorKind::ConnectionReset),
            "the answer's data never passes; the connection is reset"
        );
        assert!(took >= ms(200), "{took:?}");
        assert!(took < ms(1200), "{took:?}");
        assert_eq!(proxy.stats().applied["reset_peer"], 1);
    })
    .await;
}

#[tokio::test]
async fn reset_peer_upstream_resets_the_server() {
    bounded(async {
        let (seen_tx, seen_rx) = oneshot::channel();
        let seen_tx = std::sync::Mutex::new(Some(seen_tx));
        let upstream = server(move |mut stream| {
            let seen_tx = seen_tx.lock().unwrap().take();
            async move {
                let mut buf = [0; 16];
                let read = stream.read(&mut buf).await.map_err(|e| e.kind());
                if let Some(seen_tx) = seen_tx {
                    let _ = seen_tx.send(read);
                }
            }
        })
        .await;
        let proxy = FaultProxy::start(upstream).await.unwrap();
        proxy.add(toxic("upstream/reset_peer:0"));
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        client.write_all(b"request").await.unwrap();
        assert_eq!(
            seen_rx.await.unwrap(),
            Err(ErrorKind::ConnectionReset),
            "the server sees a reset, not the request"
        );
        let mut buf = [0; 16];
        let read = client.read(&mut buf).await.map_err(|e| e.kind());
        assert_eq!(read, Err(ErrorKind::ConnectionReset));
    })
    .await;
}

#[tokio::test]
async fn slow_close_delays_the_fin_but_not_the_data() {
    bounded(async {
        let proxy = FaultProxy::start(closing_server(b"bye").await)
            .await
            .unwrap();
        proxy.add(toxic("slow_close:300"));
        let started = Instant::now();
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        let mut buf = [0; 16];
        let n = client.read(&mut buf).await.unwrap();
        let data_at = started.elapsed();
        assert_eq!(&buf[..n], b"bye");
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
        let fin_at = started.elapsed();
        assert!(fin_at >= ms(300), "{fin_at:?}");
        assert!(
            fin_at - data_at >= ms(250),
            "data {data_at:?}, FIN {fin_at:?}"
        );
        assert!(fin_at < ms(1300), "{fin_at:?}");
    })
    .await;
}

/// Connects `count` times in turn through a proxy with a downstream `limit_data:0`
/// applied to a `share` of the connections: which ones it cut.
async fn cut_connections(proxy: &FaultProxy, share: f64, count: usize) -> Vec<bool> {
    proxy.add(Toxic::new(ToxicKind::LimitData { bytes: 0 }).with_toxicity(share));
    let mut cut = Vec::new();
    for _ in 0..count {
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        cut.push(received.is_empty());
    }
    cut
}

#[tokio::test]
async fn toxicity_applies_to_a_share_of_connections_and_a_seed_picks_the_same_ones() {
    bounded(async {
        let upstream = closing_server(b"x").await;
        let proxy = FaultProxy::start_seeded(upstream, 7).await.unwrap();
        let first = cut_connections(&proxy, 0.5, 200).await;
        let cut = first.iter().filter(|cut| **cut).count();
        assert!((70..=130).contains(&cut), "{cut} of 200 cut at 0.5");
        let stats = proxy.stats();
        assert_eq!(stats.connections, 200);
        assert_eq!(stats.applied["limit_data"], cut as u64);
        proxy.shutdown().await;

        let again = FaultProxy::start_seeded(upstream, 7).await.unwrap();
        assert_eq!(cut_connections(&again, 0.5, 200).await, first, "same seed");
        let other = FaultProxy::start_seeded(upstream, 8).await.unwrap();
        assert_ne!(
            cut_connections(&other, 0.5, 200).await,
            first,
            "another seed"
        );
        let unseeded = FaultProxy::start(upstream).await.unwrap();
        assert_eq!(cut_connections(&unseeded, 0.0, 20).await, [false; 20]);
        assert_eq!(cut_connections(&unseeded, 1.0, 20).await, [true; 20]);
    })
    .await;
}

#[tokio::test]
async fn toxics_change_on_a_live_connection_and_for_new_ones() {
    bounded(async {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        let mut live = TcpStream::connect(proxy.address()).await.unwrap();
        let before = round_trip(&mut live, b"one").await;
        assert!(before < ms(300), "{before:?}");

        proxy.add(Toxic::new(ToxicKind::Latency {
            latency: ms(300),
            jitter: Duration::ZERO,
        }));
        let slowed = round_trip(&mut live, b"two").await;
        assert!(
            slowed >= ms(300),
            "an addition reaches a live connection: {slowed:?}"
        );
        assert!(proxy.remove("latency_downstream"));
        let after = round_trip(&mut live, b"three").await;
        assert!(
            after < ms(300),
            "a removal reaches a live connection: {after:?}"
        );

        proxy.set_toxics(vec![
            Toxic::new(ToxicKind::LimitData { bytes: 0 }).on(Stream::Downstream),
        ]);
        let mut cut = TcpStream::connect(proxy.address()).await.unwrap();
        cut.write_all(b"four").await.unwrap();
        let mut received = Vec::new();
        cut.read_to_end(&mut received).await.unwrap();
        assert_eq!(received, b"", "a new connection sees the new set");
        proxy.clear();
        assert!(proxy.toxics().is_empty());
        let mut fresh = TcpStream::connect(proxy.address()).await.unwrap();
        round_trip(&mut fresh, b"five").await;
        round_trip(&mut live, b"six").await;

        let stats = proxy.stats();
        assert_eq!(stats.connections, 3);
        assert_eq!(stats.applied["latency"], 1);
        // The live connection took the limit in too, though nothing passed meanwhile.
        assert_eq!(stats.applied["limit_data"], 2);
    })
    .await;
}

#[tokio::test]
async fn adding_a_toxic_of_the_same_name_replaces_it() {
    bounded(async {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        proxy.add(toxic("latency:300"));
        proxy.add(toxic("slow_close:5"));
        proxy.add(toxic("latency:0"));
        let toxics = proxy.toxics();
        assert_eq!(toxics.len(), 2);
        assert_eq!(toxics[0].to_string(), "downstream/latency:0:0");
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        let took = round_trip(&mut client, b"quick").await;
        assert!(took < ms(300), "{took:?}");
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_open_connections_and_stops_listening() {
    bounded(async {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        let address = proxy.address();
        let mut client = TcpStream::connect(address).await.unwrap();
        round_trip(&mut client, b"hi").await;
        proxy.shutdown().await;
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).await.unwrap(), 0);
        let refused = TcpStream::connect(address).await;
        assert_eq!(
            refused.map(|_| ()).map_err(|e| e.kind()),
            Err(ErrorKind::ConnectionRefused)
        );
    })
    .await;
}

#[tokio::test]
async fn a_toxic_armed_by_a_request_acts_from_that_request_on_and_on_so_many_connections() {
    bounded(async {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        proxy.add(
            Toxic::new(ToxicKind::ResetPeer {
                timeout: Duration::ZERO,
            })
            .when_request("POST /orders")
            .on_connections(1),
        );
        // On one connection: other requests pass, the arming one is reset.
        let mut first = TcpStream::connect(proxy.address()).await.unwrap();
        round_trip(&mut first, b"GET /products ").await;
        round_trip(&mut first, b"GET /balance ").await;
        first.write_all(b"POST /orders {}").await.unwrap();
        let mut answer = [0; 16];
        let err = first.read(&mut answer).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        // One connection only: the same request on the next passes.
        let mut second = TcpStream::connect(proxy.address()).await.unwrap();
        round_trip(&mut second, b"POST /orders {}").await;
        assert_eq!(proxy.stats().applied["reset_peer"], 1);
    })
    .await;
}
