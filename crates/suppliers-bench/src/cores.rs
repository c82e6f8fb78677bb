//! Which core the measured client and the sandbox run on.
//!
//! Left to the scheduler, the two threads of a request/response ping-pong migrate
//! between sharing a core (a wake-up costs a context switch) and using two (a wake-up
//! costs an inter-processor interrupt, far dearer on a virtual machine). One-at-a-time
//! throughput then jumps between two levels within a run. Pinning each to a core of
//! its own keeps every trial in the same regime, and gives the client a whole core.

use core_affinity::CoreId;

/// The client's and the sandbox's cores, if there are two to give.
fn cores() -> Option<(CoreId, CoreId)> {
    match core_affinity::get_core_ids()?.as_slice() {
        [client, server, ..] => Some((*client, *server)),
        _ => None,
    }
}

/// Pins the calling thread to the client's core; false if it could not be pinned.
pub fn pin_client() -> bool {
    cores().is_some_and(|(client, _)| core_affinity::set_for_current(client))
}

/// Pins the calling thread to the sandbox's core; false if it could not be pinned.
pub fn pin_server() -> bool {
    cores().is_some_and(|(_, server)| core_affinity::set_for_current(server))
}
