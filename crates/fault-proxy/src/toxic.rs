//! Toxics, what a [`FaultProxy`](crate::FaultProxy) does to a connection's bytes, and
//! their command-line syntax.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The longest duration the command-line syntax takes, a year: later instants would
/// overflow the clock.
const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// A direction of a proxied connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Client to server (Toxiproxy's `upstream`): what the client sends, e.g. requests.
    Upstream,
    /// Server to client (Toxiproxy's `downstream`, and its default): what the server
    /// sends, e.g. answers.
    #[default]
    Downstream,
}

impl Stream {
    /// Toxiproxy's name for it: `upstream` or `downstream`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Upstream => "upstream",
            Self::Downstream => "downstream",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a toxic does, with Toxiproxy's meaning and parameters (as durations where
/// Toxiproxy takes milliseconds or microseconds).
///
/// Several toxics of one kind on one direction of a connection combine: latencies and
/// slow-close delays add up, the lowest bandwidth and the smallest remaining data limit
/// win, the first slicer slices, the earliest timeout or reset comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToxicKind {
    /// Every chunk of data waits `latency`, plus or minus up to `jitter` (drawn per
    /// chunk), from the moment the proxy read it.
    Latency {
        /// The delay.
        latency: Duration,
        /// The most the delay varies either way.
        jitter: Duration,
    },
    /// Data passes at most `rate` kilobytes (1000 bytes) a second; 0 does not limit.
    Bandwidth {
        /// Kilobytes a second.
        rate: u64,
    },
    /// Data passes in pieces of `average_size` bytes, give or take `size_variation`
    /// (drawn per piece, never larger than their sum), each followed by `delay`: a
    /// drip when the pieces are small and the delay long.
    Slicer {
        /// Bytes in an average piece (at least 1).
        average_size: usize,
        /// The most a piece's size varies either way (smaller than `average_size`).
        size_variation: usize,
        /// The pause after each piece (Toxiproxy takes microseconds).
        delay: Duration,
    },
    /// No data passes (it is dropped) from the moment the toxic applies, and the
    /// connection is closed `timeout` later; with `Duration::ZERO` it is never closed
    /// and data is dropped until the toxic is removed, after which data passes again.
    Timeout {
        /// Until the close; zero for never.
        timeout: Duration,
    },
    /// The connection is closed (FIN) once `bytes` bytes have passed in this direction
    /// (counted from the moment the toxic applies); the rest is not sent.
    LimitData {
        /// Bytes that pass.
        bytes: u64,
    },
    /// At the first data in this direction after the toxic applies, data stops
    /// passing, and `timeout` later both sides of the connection are reset (TCP RST:
    /// the sockets are closed with `SO_LINGER` 0), so the peers' reads fail with
    /// `ConnectionReset`.
    ResetPeer {
        /// From the first data to the reset; zero for at once.
        timeout: Duration,
    },
    /// When this direction ends (its source closed, or a toxic closes the
    /// connection), the close waits `delay` before it is passed on.
    SlowClose {
        /// How long the close waits.
        delay: Duration,
    },
}

impl ToxicKind {
    /// Toxiproxy's names of the seven kinds, in this enum's order.
    pub const NAMES: [&'static str; 7] = [
        "latency",
        "bandwidth",
        "slicer",
        "timeout",
        "limit_data",
        "reset_peer",
        "slow_close",
    ];

    /// Toxiproxy's name of this kind, e.g. `reset_peer`.
    pub fn name(&self) -> &'static str {
        Self::NAMES[self.index()]
    }

    /// The position of this kind in [`ToxicKind::NAMES`].
    pub(crate) fn index(&self) -> usize {
        match self {
            Self::Latency { .. } => 0,
            Self::Bandwidth { .. } => 1,
            Self::Slicer { .. } => 2,
            Self::Timeout { .. } => 3,
            Self::LimitData { .. } => 4,
            Self::ResetPeer { .. } => 5,
            Self::SlowClose { .. } => 6,
        }
    }
}

impl fmt::Display for ToxicKind {
    /// The command-line syntax with every argument, e.g. `latency:300:0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match *self {
            Self::Latency { latency, jitter } => {
                write!(f, "{name}:{}:{}", latency.as_millis(), jitter.as_millis())
            }
            Self::Bandwidth { rate } => write!(f, "{name}:{rate}"),
            Self::Slicer {
                average_size,
                size_variation,
                delay,
            } => write!(
                f,
                "{name}:{average_size}:{size_variation}:{}",
                delay.as_micros()
            ),
            Self::Timeout { timeout } | Self::ResetPeer { timeout } => {
                write!(f, "{name}:{}", timeout.as_millis())
            }
            Self::LimitData { bytes } => write!(f, "{name}:{bytes}"),
            Self::SlowClose { delay } => write!(f, "{name}:{}", delay.as_millis()),
        }
    }
}

/// A toxic: a [`ToxicKind`] on one direction of the connections, applied to a share of
/// them.
#[derive(Debug, Clone, PartialEq)]
pub struct Toxic {
    /// What [`FaultProxy::remove`](crate::FaultProxy::remove) and
    /// [`FaultProxy::add`](crate::FaultProxy::add) know it by; Toxiproxy's default is
    /// `KIND_STREAM`, e.g. `latency_downstream`.
    pub name: String,
    /// What it does.
    pub kind: ToxicKind,
    /// The direction it acts on.
    pub stream: Stream,
    /// The share of connections it applies to, from 0.0 to 1.0, decided once per
    /// connection (values outside act as the nearest bound).
    pub toxicity: f64,
    /// Armed by a request: on a connection, the toxic acts only from the first chunk
    /// the client sends that contains this text (e.g. `POST /mousacard/orders `), that
    /// chunk included; `None`: from the connection's start. Not part of the
    /// command-line syntax (a test harness's targeting).
    pub when_request: Option<String>,
    /// At most this many connections get it (`None`: no limit).
    pub connections: Option<u64>,
}

impl Toxic {
    /// `kind` on the [`Stream::Downstream`] direction of every connection, named
    /// `KIND_downstream` (Toxiproxy's defaults).
    pub fn new(kind: ToxicKind) -> Self {
        Self {
            name: default_name(&kind, Stream::Downstream),
            kind,
            stream: Stream::Downstream,
            toxicity: 1.0,
            when_request: None,
            connections: None,
        }
    }

    /// The same toxic on `stream`; a name still the default follows the stream.
    pub fn on(mut self, stream: Stream) -> Self {
        if self.name == default_name(&self.kind, self.stream) {
            self.name = default_name(&self.kind, stream);
        }
        self.stream = stream;
        self
    }

    /// The same toxic applied to a `share` of the connections (0.0 to 1.0).
    pub fn with_toxicity(mut self, share: f64) -> Self {
        self.toxicity = share;
        self
    }

    /// The same toxic under another name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The same toxic, acting on a connection only once the client sent `text` on it
    /// (see [`Toxic::when_request`]).
    pub fn when_request(mut self, text: impl Into<String>) -> Self {
        self.when_request = Some(text.into());
        self
    }

    /// The same toxic, on at most `count` connections.
    pub fn on_connections(mut self, count: u64) -> Self {
        self.connections = Some(count);
        self
    }
}

fn default_name(kind: &ToxicKind, stream: Stream) -> String {
    format!("{}_{}", kind.name(), stream.name())
}

impl fmt::Display for Toxic {
    /// The command-line syntax, without the name: `STREAM/KIND:ARGS[@SHARE]`, e.g.
    /// `downstream/reset_peer:0@0.1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.stream, self.kind)?;
        if self.toxicity != 1.0 {
            write!(f, "@{}", self.toxicity)?;
        }
        Ok(())
    }
}

/// Why a text is not a toxic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseToxicError {
    /// The toxic's name is none of the seven.
    #[error(
        "unknown toxic {0:?}; known toxics: latency, bandwidth, slicer, timeout, limit_data, \
         reset_peer, slow_close"
    )]
    UnknownToxic(String),
    /// What comes before a `/` is neither `upstream` nor `downstream`.
    #[error("unknown stream {0:?}; expected upstream/ or downstream/ before the toxic")]
    UnknownStream(String),
    /// An argument is not a whole number, or is too large.
    #[error("{toxic}: {argument} {value:?} is not a whole number{limit}; expected {usage}")]
    BadNumber {
        /// The toxic's name.
        toxic: &'static str,
        /// The argument's name, e.g. `LATENCY_MS`.
        argument: &'static str,
        /// The text given.
        value: String,
        /// The bound it broke, if any, e.g. ` up to 31536000000`.
        limit: String,
        /// The toxic's syntax.
        usage: &'static str,
    },
    /// A required argument is missing.
    #[error("{toxic}: missing {argument}; expected {usage}")]
    MissingArgument {
        /// The toxic's name.
        toxic: &'static str,
        /// The argument's name.
        argument: &'static str,
        /// The toxic's syntax.
        usage: &'static str,
    },
    /// More arguments than the toxic takes.
    #[error("{toxic}: too many arguments; expected {usage}")]
    TooManyArguments {
        /// The toxic's name.
        toxic: &'static str,
        /// The toxic's syntax.
        usage: &'static str,
    },
    /// The slicer's sizes do not make pieces: an average of 0, or a variation not
    /// smaller than the average.
    #[error(
        "slicer: AVERAGE_SIZE must be at least 1 and SIZE_VARIATION smaller than it, not \
         {average_size} and {size_variation}"
    )]
    BadSlices {
        /// The average size given.
        average_size: usize,
        /// The variation given.
        size_variation: usize,
    },
    /// The share after `@` is not a number from 0 to 1.
    #[error("share {0:?} after @ is not a number from 0 to 1")]
    BadShare(String),
}

/// One argument of a toxic's syntax: its name and the most it takes.
struct Argument {
    name: &'static str,
    max: u64,
}

const MS: u64 = YEAR.as_millis() as u64;
const US: u64 = YEAR.as_micros() as u64;

impl FromStr for Toxic {
    type Err = ParseToxicError;

    /// `[upstream/|downstream/]TOXIC[:ARG[:ARG...]][@SHARE]`, with Toxiproxy's names
    /// and argument order:
    ///
    /// - `latency:LATENCY_MS[:JITTER_MS]` (jitter 0 by default);
    /// - `bandwidth:RATE_KB` (kilobytes a second);
    /// - `slicer:AVERAGE_SIZE[:SIZE_VARIATION[:DELAY_US]]` (bytes, bytes, microseconds;
    ///   0 and 0 by default);
    /// - `timeout[:MS]` (0, never closing, by default);
    /// - `limit_data:BYTES`;
    /// - `reset_peer[:MS]` (0, at once, by default);
    /// - `slow_close:MS`.
    ///
    /// The stream is `downstream` (server to client) unless given; SHARE, the toxicity,
    /// is 1 unless given. The name is Toxiproxy's default, `TOXIC_STREAM`. Durations
    /// go up to a year.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (body, toxicity) = match text.rsplit_once('@') {
            Some((body, share)) => (body, parse_share(share)?),
            None => (text, 1.0),
        };
        let (stream, body) = match body.split_once('/') {
            Some((stream, rest)) => match stream.trim() {
                "upstream" => (Stream::Upstream, rest),
                "downstream" => (Stream::Downstream, rest),
                other => return Err(ParseToxicError::UnknownStream(other.to_owned())),
            },
            None => (Stream::Downstream, body),
        };
        let mut parts = body.split(':');
        let name = parts.next().unwrap_or_default().trim();
        let args: Vec<&str> = parts.collect();
        let ms = |name| Argument { name, max: MS };
        let count = |name| Argument {
            name,
            max: u64::MAX,
        };
        let (toxic, usage, required, optional): (_, _, &[Argument], &[Argument]) = match name {
            "latency" => (
                "latency",
                "latency:LATENCY_MS[:JITTER_MS]",
                &[ms("LATENCY_MS")],
                &[ms("JITTER_MS")],
            ),
            "bandwidth" => ("bandwidth", "bandwidth:RATE_KB", &[count("RATE_KB")], &[]),
            "slicer" => (
                "slicer",
                "slicer:AVERAGE_SIZE[:SIZE_VARIATION[:DELAY_US]]",
                &[count("AVERAGE_SIZE")],
                &[
                    count("SIZE_VARIATION"),
                    Argument {
                        name: "DELAY_US",
                        max: US,
                    },
                ],
            ),
            "timeout" => ("timeout", "timeout[:MS]", &[], &[ms("MS")]),
            "limit_data" => ("limit_data", "limit_data:BYTES", &[count("BYTES")], &[]),
            "reset_peer" => ("reset_peer", "reset_peer[:MS]", &[], &[ms("MS")]),
            "slow_close" => ("slow_close", "slow_close:MS", &[ms("MS")], &[]),
            other => return Err(ParseToxicError::UnknownToxic(other.to_owned())),
        };
        if args.len() > required.len() + optional.len() {
            return Err(ParseToxicError::TooManyArguments { toxic, usage });
        }
        if let Some(missing) = required.get(args.len()) {
            return Err(ParseToxicError::MissingArgument {
                toxic,
                argument: missing.name,
                usage,
            });
        }
        let mut values = [0u64; 3];
        for ((value, text), argument) in values
            .iter_mut()
            .zip(&args)
            .zip(required.iter().chain(optional))
        {
            *value = match text.trim().parse::<u64>() {
                Ok(number) if number <= argument.max => number,
                parsed => {
                    return Err(ParseToxicError::BadNumber {
                        toxic,
                        argument: argument.name,
                        value: (*text).to_owned(),
                        limit: match parsed {
                            Ok(_) => format!(" up to {}", argument.max),
                            Err(_) => String::new(),
                        },
                        usage,
                    });
                }
            };
        }
        let [a, b, c] = values;
        let millis = Duration::from_millis;
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let kind = match toxic {
            "latency" => ToxicKind::Latency {
                latency: millis(a),
                jitter: millis(b),
            },
            "bandwidth" => ToxicKind::Bandwidth { rate: a },
            "slicer" => {
                let (average_size, size_variation) = (size(a), size(b));
                if average_size == 0 || size_variation >= average_size {
                    return Err(ParseToxicError::BadSlices {
                        average_size,
                        size_variation,
                    });
                }
                ToxicKind::Slicer {
                    average_size,
                    size_variation,
                    delay: Duration::from_micros(c),
                }
            }
            "timeout" => ToxicKind::Timeout { timeout: millis(a) },
            "limit_data" => ToxicKind::LimitData { bytes: a },
            "reset_peer" => ToxicKind::ResetPeer { timeout: millis(a) },
            _ => ToxicKind::SlowClose { delay: millis(a) },
        };
        Ok(Toxic::new(kind).on(stream).with_toxicity(toxicity))
    }
}

fn parse_share(text: &str) -> Result<f64, ParseToxicError> {
    match text.trim().parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(ParseToxicError::BadShare(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn parse(text: &str) -> Toxic {
        text.parse()
            .unwrap_or_else(|e| panic!("{text:?} does not parse: {e}"))
    }

    #[test]
    fn every_kind_parses_with_toxiproxys_argument_order() {
        let cases = [
            (
                "latency:300",
                ToxicKind::Latency {
                    latency: ms(300),
                    jitter: ms(0),
                },
            ),
            (
                "latency:300:50",
                ToxicKind::Latency {
                    latency: ms(300),
                    jitter: ms(50),
                },
            ),
            ("bandwidth:64", ToxicKind::Bandwidth { rate: 64 }),
            (
                "slicer:10",
                ToxicKind::Slicer {
                    average_size: 10,
                    size_variation: 0,
                    delay: Duration::ZERO,
                },
            ),
            (
                "slicer:1:0:3000000",
                ToxicKind::Slicer {
                    average_size: 1,
                    size_variation: 0,
                    delay: Duration::from_secs(3),
                },
            ),
            (
                "slicer:100:20:500",
                ToxicKind::Slicer {
                    average_size: 100,
                    size_variation: 20,
                    delay: Duration::from_micros(500),
                },
            ),
            ("timeout", ToxicKind::Timeout { timeout: ms(0) }),
            ("timeout:0", ToxicKind::Timeout { timeout: ms(0) }),
            ("timeout:2000", ToxicKind::Timeout { timeout: ms(2000) }),
            ("limit_data:1024", ToxicKind::LimitData { bytes: 1024 }),
            ("reset_peer", ToxicKind::ResetPeer { timeout: ms(0) }),
            ("reset_peer:150", ToxicKind::ResetPeer { timeout: ms(150) }),
            ("slow_close:700", ToxicKind::SlowClose { delay: ms(700) }),
        ];
        for (text, kind) in cases {
            let toxic = parse(text);
            assert_eq!(toxic.kind, kind, "{text}");
            assert_eq!(toxic.stream, Stream::Downstream, "{text}");
            assert_eq!(toxic.toxicity, 1.0, "{text}");
            assert_eq!(toxic.name, format!("{}_downstream", kind.name()), "{text}");
        }
    }

    #[test]
    fn the_stream_prefix_and_the_share_are_read() {
        let toxic = parse("upstream/reset_peer:0@0.1");
        assert_eq!(toxic.stream, Stream::Upstream);
        assert_eq!(toxic.toxicity, 0.1);
        assert_eq!(toxic.name, "reset_peer_upstream");
        assert_eq!(toxic.kind, ToxicKind::ResetPeer { timeout: ms(0) });
        let toxic = parse("downstream/slicer:1:0:3000000@0.2");
        assert_eq!(toxic.stream, Stream::Downstream);
        assert_eq!(toxic.toxicity, 0.2);
        assert_eq!(parse("timeout:0@0").toxicity, 0.0);
        assert_eq!(parse("timeout:0@1").toxicity, 1.0);
    }

    #[test]
    fn display_gives_back_what_parses_to_the_same_toxic() {
        for text in [
            "latency:300",
            "upstream/latency:300:20@0.5",
            "bandwidth:10",
            "downstream/slicer:1:0:3000000@0.2",
            "timeout:0",
            "limit_data:5",
            "upstream/reset_peer:30@0.1",
            "slow_close:9",
        ] {
            let toxic = parse(text);
            assert_eq!(parse(&toxic.to_string()), toxic, "{text} -> {toxic}");
        }
        assert_eq!(
            parse("upstream/latency:300@0.5").to_string(),
            "upstream/latency:300:0@0.5"
        );
    }

    #[test]
    fn an_unknown_toxic_is_named_with_the_known_ones() {
        let error = "nonsense".parse::<Toxic>().unwrap_err();
        assert_eq!(error, ParseToxicError::UnknownToxic("nonsense".into()));
        let message = error.to_string();
        for name in ToxicKind::NAMES {
            assert!(message.contains(name), "{message}");
        }
        // Toxiproxy's names only: no dashes, no other spellings.
        for text in ["reset-peer", "Latency:3", "down", "", "@0.5"] {
            assert!(
                matches!(text.parse::<Toxic>(), Err(ParseToxicError::UnknownToxic(_))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn bad_arguments_are_named() {
        let error = |text: &str| text.parse::<Toxic>().unwrap_err();
        assert!(matches!(
            error("latency:soon"),
            ParseToxicError::BadNumber {
                argument: "LATENCY_MS",
                ..
            }
        ));
        assert!(matches!(
            error("latency:300:-5"),
            ParseToxicError::BadNumber {
                argument: "JITTER_MS",
                ..
            }
        ));
        assert!(matches!(
            error("latency:1.5"),
            ParseToxicError::BadNumber { .. }
        ));
        assert!(matches!(
            error("latency:"),
            ParseToxicError::BadNumber { .. }
        ));
        let too_long = error("timeout:99999999999999");
        assert!(
            too_long.to_string().contains("up to 31536000000"),
            "{too_long}"
        );
        assert!(matches!(
            error("latency"),
            ParseToxicError::MissingArgument {
                argument: "LATENCY_MS",
                ..
            }
        ));
        for text in ["bandwidth", "slicer", "limit_data", "slow_close"] {
            assert!(
                matches!(error(text), ParseToxicError::MissingArgument { .. }),
                "{text}"
            );
        }
        assert!(matches!(
            error("latency:1:2:3"),
            ParseToxicError::TooManyArguments { .. }
        ));
        assert!(matches!(
            error("reset_peer:1:2"),
            ParseToxicError::TooManyArguments { .. }
        ));
        assert!(matches!(
            error("slicer:0"),
            ParseToxicError::BadSlices { .. }
        ));
        assert!(matches!(
            error("slicer:10:10"),
            ParseToxicError::BadSlices { .. }
        ));
        assert!(matches!(
            error("sideways/latency:3"),
            ParseToxicError::UnknownStream(_)
        ));
        let message = error("latency:soon").to_string();
        assert!(
            message.contains("latency:LATENCY_MS[:JITTER_MS]"),
            "{message}"
        );
    }

    #[test]
    fn a_share_outside_zero_to_one_is_refused() {
        for text in [
            "latency:3@1.5",
            "latency:3@-0.1",
            "latency:3@NaN",
            "latency:3@",
            "latency:3@half",
        ] {
            assert!(
                matches!(text.parse::<Toxic>(), Err(ParseToxicError::BadShare(_))),
                "{text}"
            );
        }
        let message = "latency:3@2".parse::<Toxic>().unwrap_err().to_string();
        assert!(message.contains("from 0 to 1"), "{message}");
    }

    #[test]
    fn a_default_name_follows_the_stream_and_a_chosen_one_stays() {
        let kind = ToxicKind::LimitData { bytes: 1 };
        assert_eq!(
            Toxic::new(kind).on(Stream::Upstream).name,
            "limit_data_upstream"
        );
        let named = Toxic::new(kind).named("cut").on(Stream::Upstream);
        assert_eq!(named.name, "cut");
    }
}
