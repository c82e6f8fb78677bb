//! Who holds a journal entry, and whether that process still lives.
//!
//! A holder is `host:pid:token`. Its hold counts until its lease ends (it renews the
//! lease while it works); on the same host a holder whose process is gone releases
//! at once, so a purchase killed mid-request is reconcilable immediately.

use chrono::{DateTime, Utc};

/// This process, as a journal holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    host: String,
    pid: u32,
    id: String,
}

impl Owner {
    /// A fresh holder identity for this process (one per opened journal).
    pub(crate) fn this_process() -> Self {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let pid = std::process::id();
        let token = uuid::Uuid::new_v4().simple().to_string();
        let id = format!("{host}:{pid}:{}", &token[..12]);
        Self { host, pid, id }
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Whether the holder `other` (an entry's `owner`) may still be working on it.
    pub(crate) fn holds(
        &self,
        other: Option<&str>,
        lease_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(other) = other else {
            return false;
        };
        if other == self.id {
            return true;
        }
        if lease_until.is_none_or(|until| until <= now) {
            return false;
        }
        match parse(other) {
            Some((host, pid)) if host == self.host => pid == self.pid || process_exists(pid),
            // Another machine: only its lease tells.
            _ => true,
        }
    }
}

fn parse(owner: &str) -> Option<(&str, u32)> {
    let mut parts = owner.rsplitn(3, ':');
    let _token = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    let host = parts.next()?;
    Some((host, pid))
}

#[cfg(target_os = "linux")]
fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Without `/proc`, a live lease is taken at its word.
#[cfg(not(target_os = "linux"))]
fn process_exists(_pid: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_dead_process_on_this_host_holds_nothing_even_with_a_lease() {
        let me = Owner::this_process();
        let now = Utc::now();
        let lease = Some(now + Duration::seconds(60));
        // pid 0 is never a user process; /proc/0 does not exist.
        let dead = format!("{}:0:abc", me.host);
        assert_eq!(
            me.holds(Some(&dead), lease, now),
            !cfg!(target_os = "linux")
        );
        let parent = format!("{}:1:abc", me.host);
        assert!(me.holds(Some(&parent), lease, now), "pid 1 lives");
        assert!(!me.holds(Some(&parent), Some(now), now), "lease over");
        assert!(me.holds(Some("elsewhere:0:abc"), lease, now), "other host");
        assert!(me.holds(Some(me.id()), None, now), "itself");
        assert!(!me.holds(None, lease, now));
    }
}
