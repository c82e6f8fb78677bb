//! One proxied connection: two readers feeding two pumps, one per direction, each pump
//! applying the toxics of its direction that apply to this connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep, sleep_until};

use crate::toxic::{Stream, Toxic, ToxicKind};

/// The most bytes read at once.
const CHUNK: usize = 16 * 1024;
/// Chunks read ahead of a pump: what lets latency delay chunks from when they arrived,
/// and bounds the memory of a slow direction (backpressure beyond it).
const CHUNKS_AHEAD: usize = 16;
/// No deadline goes further than this, so instants never overflow.
const LONGEST: Duration = Duration::from_secs(365 * 24 * 3600);

/// A toxic as installed on a proxy: `uid` tells a replaced toxic from its predecessor.
#[derive(Debug, Clone)]
pub(crate) struct Installed {
    pub(crate) uid: u64,
    pub(crate) toxic: Toxic,
    /// Connections it was applied to, for [`Toxic::connections`].
    pub(crate) taken: Arc<AtomicU64>,
}

/// The toxics a request armed on one connection ([`Toxic::when_request`]), shared by
/// its two pumps: the client's pump arms them, either pump then applies its own.
#[derive(Default)]
struct Armed {
    uids: std::sync::Mutex<std::collections::HashSet<u64>>,
    /// Bumped at every arming, so the other pump takes the new toxics in.
    changed: watch::Sender<u64>,
}

impl Armed {
    fn contains(&self, uid: u64) -> bool {
        self.uids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&uid)
    }

    /// Arms every toxic whose request text `chunk` holds; whether any was.
    fn arm(&self, set: &ToxicSet, chunk: &[u8]) -> bool {
        let mut uids = self.uids.lock().unwrap_or_else(|e| e.into_inner());
        let mut armed = false;
        for installed in set.iter() {
            let Some(text) = &installed.toxic.when_request else {
                continue;
            };
            let text = text.as_bytes();
            if !uids.contains(&installed.uid)
                && !text.is_empty()
                && chunk.windows(text.len()).any(|window| window == text)
            {
                uids.insert(installed.uid);
                armed = true;
            }
        }
        if armed {
            self.changed.send_modify(|n| *n += 1);
        }
        armed
    }
}

/// The toxics in force, as every connection sees them.
pub(crate) type ToxicSet = Arc<Vec<Installed>>;

/// What the proxy and its connections share.
pub(crate) struct Shared {
    pub(crate) upstream: std::net::SocketAddr,
    pub(crate) toxics: watch::Sender<ToxicSet>,
    pub(crate) next_uid: AtomicU64,
    pub(crate) connections: AtomicU64,
    /// Connections each kind was applied to, by [`ToxicKind::index`].
    pub(crate) applied: [AtomicU64; 7],
}

/// How a direction, or the whole connection, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Its source ended and the end (FIN) was passed on.
    Finished,
    /// Closed (FIN both ways): by a toxic, a failed read or write, or the proxy's
    /// shutdown.
    Close,
    /// Reset (RST both ways) by `reset_peer`.
    Reset,
}

/// What a reader hands its pump.
enum Item {
    Data { bytes: Vec<u8>, at: Instant },
    Eof,
    Failed,
}

/// Serves one accepted connection until it ends or `stop` turns true.
pub(crate) async fn serve(
    client: TcpStream,
    shared: Arc<Shared>,
    seed: u64,
    mut stop: watch::Receiver<bool>,
) {
    let server = tokio::select! {
        connected = TcpStream::connect(shared.upstream) => connected,
        _ = stopped(&mut stop) => return,
    };
    // Upstream unreachable: the client's connection closes.
    let Ok(server) = server else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let end = {
        let (up_tx, up_rx) = mpsc::channel(CHUNKS_AHEAD);
        let (down_tx, down_rx) = mpsc::channel(CHUNKS_AHEAD);
        let read_up = read(&mut client_read, up_tx);
        let read_down = read(&mut server_read, down_tx);
        let armed = Arc::new(Armed::default());
        let pump_up =
            Pump::new(Stream::Upstream, &shared, seed, armed.clone()).run(up_rx, &mut server_write);
        let pump_down =
            Pump::new(Stream::Downstream, &shared, seed, armed).run(down_rx, &mut client_write);
        tokio::pin!(read_up, read_down, pump_up, pump_down);
        let (mut read_up_done, mut read_down_done) = (false, false);
        let (mut up, mut down) = (None, None);
        loop {
            tokio::select! {
                _ = &mut read_up, if !read_up_done => read_up_done = true,
                _ = &mut read_down, if !read_down_done => read_down_done = true,
                end = &mut pump_up, if up.is_none() => up = Some(end),
                end = &mut pump_down, if down.is_none() => down = Some(end),
                _ = stopped(&mut stop) => break End::Close,
            }
            match (up, down) {
                (Some(End::Reset), _) | (_, Some(End::Reset)) => break End::Reset,
                (Some(End::Close), _) | (_, Some(End::Close)) => break End::Close,
                (Some(End::Finished), Some(End::Finished)) => break End::Finished,
                _ => {}
            }
        }
        // The readers and pumps are dropped here: nothing reads or writes the sockets
        // any more, so closing them below takes effect at once.
    };
    match end {
        End::Reset => {
            // A socket closed with SO_LINGER 0 sends RST instead of FIN. Reuniting the
            // halves keeps the write half from sending a FIN first when dropped.
            for (read, write) in [(client_read, client_write), (server_read, server_write)] {
                if let Ok(stream) = read.reunite(write) {
                    let _ = stream.set_zero_linger();
                }
            }
        }
        End::Close | End::Finished => {
            let _ = client_write.shutdown().await;
            let _ = server_write.shutdown().await;
        }
    }
}

/// Reads `source` into `chunks` until it ends, fails, or the pump is gone.
async fn read(source: &mut OwnedReadHalf, chunks: mpsc::Sender<Item>) {
    loop {
        let mut bytes = vec![0; CHUNK];
        let item = match source.read(&mut bytes).await {
            Ok(0) => Item::Eof,
            Ok(n) => {
                bytes.truncate(n);
                Item::Data {
                    bytes,
                    at: Instant::now(),
                }
            }
            Err(_) => Item::Failed,
        };
        let last = !matches!(item, Item::Data { .. });
        if chunks.send(item).await.is_err() || last {
            return;
        }
    }
}

/// A toxic of this direction as this connection sees it.
struct Seen {
    /// Whether its toxicity picked this connection.
    applies: bool,
    /// When this connection first saw it.
    since: Instant,
    /// `limit_data`: bytes passed since.
    passed: u64,
    /// `reset_peer`: when the reset comes, once data arrived.
    reset_at: Option<Instant>,
}

/// One direction of a connection.
struct Pump<'a> {
    stream: Stream,
    shared: &'a Shared,
    toxics: watch::Receiver<ToxicSet>,
    /// The connection's seed: toxicity is drawn from it and the toxic's name.
    seed: u64,
    /// Jitter and slice sizes.
    rng: fastrand::Rng,
    /// Every toxic of this direction seen, by uid (removed ones forgotten).
    seen: HashMap<u64, Seen>,
    /// Those that apply, in the proxy's order.
    active: Vec<(u64, ToxicKind)>,
    /// `bandwidth`: when the bytes sent so far are paid for.
    paid_until: Option<Instant>,
    /// What requests armed on this connection.
    armed: Arc<Armed>,
    armed_changed: watch::Receiver<u64>,
}

impl<'a> Pump<'a> {
    fn new(stream: Stream, shared: &'a Shared, seed: u64, armed: Arc<Armed>) -> Self {
        let stream_seed = match stream {
            Stream::Upstream => 0x7570_7374_7265_616d,
            Stream::Downstream => 0x646f_776e_7374_7265,
        };
        let mut pump = Self {
            stream,
            shared,
            toxics: shared.toxics.subscribe(),
            seed,
            rng: fastrand::Rng::with_seed(seed ^ stream_seed),
            seen: HashMap::new(),
            active: Vec::new(),
            paid_until: None,
            armed_changed: armed.changed.subscribe(),
            armed,
        };
        // Toxics present at the connection's start apply (or not) from its start.
        pump.refresh();
        pump
    }

    /// Takes in the current toxics: decides the new ones' toxicity for this connection
    /// and forgets the removed ones.
    fn refresh(&mut self) {
        let set = self.toxics.borrow_and_update().clone();
        self.armed_changed.borrow_and_update();
        let now = Instant::now();
        self.active.clear();
        for installed in set.iter().filter(|i| i.toxic.stream == self.stream) {
            // Armed by a request: nothing until the request came.
            if installed.toxic.when_request.is_some() && !self.armed.contains(installed.uid) {
                continue;
            }
            let (seed, shared) = (self.seed, self.shared);
            let seen = self.seen.entry(installed.uid).or_insert_with(|| {
                let limited = |taken: &AtomicU64| {
                    installed
                        .toxic
                        .connections
                        .is_some_and(|most| taken.fetch_add(1, Ordering::Relaxed) >= most)
                };
                let applies = picks(seed, &installed.toxic) && !limited(&installed.taken);
                if applies {
                    shared.applied[installed.toxic.kind.index()].fetch_add(1, Ordering::Relaxed);
                }
                Seen {
                    applies,
                    since: now,
                    passed: 0,
                    reset_at: None,
                }
            });
            if seen.applies {
                self.active.push((installed.uid, installed.toxic.kind));
            }
        }
        self.seen
            .retain(|uid, _| set.iter().any(|installed| installed.uid == *uid));
    }

    /// Refreshes if the toxics changed.
    fn refresh_if_changed(&mut self) {
        if self.toxics.has_changed().unwrap_or(false) {
            self.refresh();
        }
    }

    fn seen(&self, uid: u64) -> &Seen {
        &self.seen[&uid]
    }

    /// `timeout`: whether data is stopped, and when the connection closes.
    fn stalled(&self) -> (bool, Option<Instant>) {
        let mut stalled = false;
        let mut close_at: Option<Instant> = None;
        for (uid, kind) in &self.active {
            if let ToxicKind::Timeout { timeout } = kind {
                stalled = true;
                if !timeout.is_zero() {
                    let at = self.seen(*uid).since + (*timeout).min(LONGEST);
                    close_at = Some(close_at.map_or(at, |earlier| earlier.min(at)));
                }
            }
        }
        (stalled, close_at)
    }

    /// `reset_peer`: when the reset comes, once one is under way.
    fn reset_at(&self) -> Option<Instant> {
        self.active
            .iter()
            .filter_map(|(uid, _)| self.seen(*uid).reset_at)
            .min()
    }

    /// `reset_peer`: data arrived; the first such toxic starts its countdown. Whether
    /// one did.
    fn start_reset(&mut self) -> bool {
        let Some((uid, timeout)) = self.active.iter().find_map(|(uid, kind)| match kind {
            ToxicKind::ResetPeer { timeout } => Some((*uid, *timeout)),
            _ => None,
        }) else {
            return false;
        };
        let at = Instant::now() + timeout.min(LONGEST);
        if let Some(seen) = self.seen.get_mut(&uid) {
            seen.reset_at = Some(at);
        }
        true
    }

    /// `latency`: this chunk's delay, the sum of the latencies, each with its jitter.
    fn latency(&mut self) -> Duration {
        let mut total = Duration::ZERO;
        for (_, kind) in &self.active {
            if let ToxicKind::Latency { latency, jitter } = kind {
                let latency = latency.min(&LONGEST).as_nanos() as u64;
                let jitter = jitter.min(&LONGEST).as_nanos() as u64;
                let drawn = if jitter == 0 {
                    latency
                } else {
                    (latency + self.rng.u64(0..=2 * jitter)).saturating_sub(jitter)
                };
                total += Duration::from_nanos(drawn);
            }
        }
        total
    }

    fn has_latency(&self) -> bool {
        self.active
            .iter()
            .any(|(_, kind)| matches!(kind, ToxicKind::Latency { .. }))
    }

    /// `limit_data`: bytes that may still pass, if limited.
    fn limit(&self) -> Option<u64> {
        self.active
            .iter()
            .filter_map(|(uid, kind)| match kind {
                ToxicKind::LimitData { bytes } => {
                    Some(bytes.saturating_sub(self.seen(*uid).passed))
                }
                _ => None,
            })
            .min()
    }

    fn count_passed(&mut self, bytes: usize) {
        for (uid, kind) in &self.active {
            if let ToxicKind::LimitData { .. } = kind
                && let Some(seen) = self.seen.get_mut(uid)
            {
                seen.passed += bytes as u64;
            }
        }
    }

    /// `slicer`: the first one's sizes and delay.
    fn slicer(&self) -> Option<(usize, usize, Duration)> {
        self.active.iter().find_map(|(_, kind)| match *kind {
            ToxicKind::Slicer {
                average_size,
                size_variation,
                delay,
            } => Some((average_size, size_variation, delay)),
            _ => None,
        })
    }

    /// `bandwidth`: the lowest limiting rate, in bytes a second.
    fn rate(&self) -> Option<u64> {
        self.active
            .iter()
            .filter_map(|(_, kind)| match kind {
                ToxicKind::Bandwidth { rate } if *rate > 0 => Some(rate.saturating_mul(1000)),
                _ => None,
            })
            .min()
    }

    /// `slow_close`: how long a close waits.
    fn close_delay(&self) -> Duration {
        self.active
            .iter()
            .map(|(_, kind)| match kind {
                ToxicKind::SlowClose { delay } => (*delay).min(LONGEST),
                _ => Duration::ZERO,
            })
            .sum::<Duration>()
            .min(LONGEST)
    }

    /// Passes `chunks` to `sink` through the toxics until the direction ends.
    async fn run(mut self, mut chunks: mpsc::Receiver<Item>, sink: &mut OwnedWriteHalf) -> End {
        let mut input_open = true;
        loop {
            let (_, close_at) = self.stalled();
            let reset_at = self.reset_at();
            enum Event {
                Changed,
                Reset,
                TimedOut,
                Input(Option<Item>),
            }
            let event = tokio::select! {
                biased;
                _ = self.toxics.changed() => Event::Changed,
                _ = self.armed_changed.changed() => Event::Changed,
                _ = until(reset_at) => Event::Reset,
                _ = until(close_at) => Event::TimedOut,
                item = chunks.recv(), if input_open => Event::Input(item),
            };
            match event {
                Event::Changed => self.refresh(),
                Event::Reset => return End::Reset,
                Event::TimedOut => return self.close(sink, End::Close).await,
                Event::Input(Some(Item::Data { bytes, at })) => {
                    // A request that arms toxics: they act from this chunk on.
                    if self.stream == Stream::Upstream
                        && self.armed.arm(&self.toxics.borrow(), &bytes)
                    {
                        self.refresh();
                    }
                    let (stalled, _) = self.stalled();
                    let reset_at = self.reset_at();
                    // Stopped by a timeout, or a reset under way: the data is dropped.
                    if stalled || reset_at.is_some() || self.start_reset() {
                        continue;
                    }
                    match self.pass(bytes, at, sink).await {
                        Ok(true) => {}
                        Ok(false) => return self.close(sink, End::Close).await,
                        Err(_) => return End::Close,
                    }
                }
                Event::Input(Some(Item::Eof) | None) => {
                    if reset_at.is_some() {
                        // The reset still comes.
                        input_open = false;
                        continue;
                    }
                    return self.close(sink, End::Finished).await;
                }
                Event::Input(Some(Item::Failed)) => return End::Close,
            }
        }
    }

    /// Waits out `slow_close`, then passes a finished direction's end on (a closing
    /// connection is shut down by its owner).
    async fn close(&mut self, sink: &mut OwnedWriteHalf, end: End) -> End {
        let delay = self.close_delay();
        if !delay.is_zero() {
            sleep(delay).await;
        }
        if end == End::Finished {
            let _ = sink.shutdown().await;
        }
        end
    }

    /// Passes one chunk read at `at`: latency, then what `limit_data` lets through, in
    /// the slicer's pieces at the bandwidth's pace. Whether the direction goes on (not
    /// at its data limit).
    async fn pass(
        &mut self,
        mut bytes: Vec<u8>,
        at: Instant,
        sink: &mut OwnedWriteHalf,
    ) -> std::io::Result<bool> {
        let delay = self.latency();
        if !delay.is_zero() {
            let due = at + delay;
            loop {
                tokio::select! {
                    _ = sleep_until(due) => break,
                    _ = self.toxics.changed() => {
                        self.refresh();
                        // Latency removed: what waits goes at once.
                        if !self.has_latency() {
                            break;
                        }
                    }
                }
            }
        }
        if let Some(limit) = self.limit() {
            bytes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            self.refresh_if_changed();
            let slicer = self.slicer();
            let size = match slicer {
                Some((average, variation, _)) => {
                    let average = average.max(1);
                    let variation = variation.min(average - 1);
                    self.rng.usize(average - variation..=average + variation)
                }
                None => rest.len(),
            };
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            self.write_paced(piece, sink).await?;
            self.count_passed(piece.len());
            rest = tail;
            if let Some((_, _, delay)) = slicer
                && !delay.is_zero()
            {
                let due = Instant::now() + delay.min(LONGEST);
                loop {
                    tokio::select! {
                        _ = sleep_until(due) => break,
                        _ = self.toxics.changed() => {
                            self.refresh();
                            // Slicer removed: the rest goes in one piece.
                            if self.slicer().is_none() {
                                break;
                            }
                        }
                    }
                }
            }
        }
        Ok(self.limit() != Some(0))
    }

    /// Writes `piece`, at the bandwidth's pace if one applies: in parts of a tenth of
    /// a second's worth, each sent once its time is paid for.
    async fn write_paced(
        &mut self,
        piece: &[u8],
        sink: &mut OwnedWriteHalf,
    ) -> std::io::Result<()> {
        let mut rest = piece;
        while !rest.is_empty() {
            let Some(rate) = self.rate() else {
                return sink.write_all(rest).await;
            };
            let tenth = usize::try_from(rate / 10).unwrap_or(usize::MAX).max(1);
            let (part, tail) = rest.split_at(tenth.min(rest.len()));
            let cost = Duration::from_secs_f64(part.len() as f64 / rate as f64);
            let now = Instant::now();
            let start = self.paid_until.filter(|paid| *paid > now).unwrap_or(now);
            let due = start + cost;
            self.paid_until = Some(due);
            sleep_until(due).await;
            sink.write_all(part).await?;
            rest = tail;
            self.refresh_if_changed();
        }
        Ok(())
    }
}

/// Returns once `stop` turns true (or its proxy is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Sleeps until `deadline`; forever without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Whether `toxic`'s toxicity picks the connection of `seed`: a draw from the seed and
/// the toxic's name, so a seeded schedule picks the same connections whatever order
/// toxics come in.
fn picks(seed: u64, toxic: &Toxic) -> bool {
    if toxic.toxicity >= 1.0 {
        return true;
    }
    if toxic.toxicity.is_nan() || toxic.toxicity <= 0.0 {
        return false;
    }
    fastrand::Rng::with_seed(seed ^ fnv1a(toxic.name.as_bytes())).f64() < toxic.toxicity
}

/// FNV-1a, a hash that stays the same across Rust releases (std's does not promise to).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
