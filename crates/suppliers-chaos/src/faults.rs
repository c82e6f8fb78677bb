//! The network faults of a chaos run: the fault matrix's cells as toxics, each on a
//! share of the connections, drawn per connection from the run's seed.

use fault_proxy::Toxic;

/// Each toxic in the proxy's command-line syntax, the request text that arms it
/// (`None`: from the connection's start), and the matrix cell it stands for.
const MATRIX: [(&str, Option<&str>, &str); 12] = [
    (
        "downstream/latency:300:200@0.10",
        None,
        "latency under the deadline",
    ),
    (
        "downstream/latency:35000@0.003",
        None,
        "latency over the deadline",
    ),
    (
        "downstream/bandwidth:2@0.05",
        None,
        "bandwidth above the floor",
    ),
    (
        "downstream/slicer:1:0:2000000@0.01",
        None,
        "a drip under the floor",
    ),
    (
        "downstream/timeout:0@0.01",
        None,
        "a stall: nothing passes, never closed",
    ),
    (
        "upstream/timeout:3000@0.01",
        None,
        "the request swallowed, closed 3 s later",
    ),
    (
        "downstream/limit_data:400@0.03",
        None,
        "an answer cut short",
    ),
    (
        "downstream/reset_peer:0@0.03",
        None,
        "a reset before the answer",
    ),
    (
        "upstream/reset_peer:0@0.02",
        None,
        "a reset as the request is sent",
    ),
    ("downstream/slow_close:1000@0.05", None, "a slow close"),
    (
        "downstream/reset_peer:0@0.05",
        Some("POST "),
        "a reset of a purchase's answer",
    ),
    (
        "downstream/limit_data:200@0.03",
        Some("POST "),
        "a purchase's answer cut short",
    ),
];

/// The toxics of the run, named by their position (names must differ).
pub fn toxics() -> Vec<Toxic> {
    MATRIX
        .iter()
        .enumerate()
        .map(|(n, (spec, armed_by, _))| {
            let toxic: Toxic = spec.parse().expect("the matrix's syntax is valid");
            let name = format!("chaos_{n}_{}", toxic.kind.name());
            let toxic = toxic.named(name);
            match armed_by {
                Some(text) => toxic.when_request(*text),
                None => toxic,
            }
        })
        .collect()
}

/// One line per toxic for the run's header: syntax, arming and meaning.
pub fn described() -> Vec<String> {
    MATRIX
        .iter()
        .map(|(spec, armed_by, meaning)| match armed_by {
            Some(text) => format!("{spec} (once the client sends {text:?}): {meaning}"),
            None => format!("{spec}: {meaning}"),
        })
        .collect()
}
