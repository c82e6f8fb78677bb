//! This process's holds on journal entries: which entries a task of this process is
//! working on, and the one task that renews their leases while any is held.
//!
//! One renewer per journal, not one per hold: a purchase costs a set insert and
//! remove, not a spawned task and a timer. The renewer ends when the last hold is
//! dropped, so it keeps the journal's connections only while something is held.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::JoinHandle;

/// An entry's key: supplier and reference.
pub(crate) type Key = (String, String);

/// The keys held now, and the renewer while any is.
#[derive(Default)]
pub(crate) struct Holds {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    keys: HashSet<Key>,
    renewer: Option<JoinHandle<()>>,
}

impl Holds {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks `key` held; false when a task of this process already holds it.
    pub(crate) fn try_activate(&self, key: Key) -> bool {
        self.lock().keys.insert(key)
    }

    /// Whether a task of this process holds `key`.
    pub(crate) fn is_active(&self, key: &Key) -> bool {
        self.lock().keys.contains(key)
    }

    /// The keys held now.
    pub(crate) fn keys(&self) -> Vec<Key> {
        self.lock().keys.iter().cloned().collect()
    }

    /// Holds `key` until the returned [`Hold`] drops, starting the renewer with
    /// `spawn_renewer` if none runs.
    pub(crate) fn hold(
        self: &Arc<Self>,
        key: Key,
        spawn_renewer: impl FnOnce() -> JoinHandle<()>,
    ) -> Hold {
        let mut state = self.lock();
        state.keys.insert(key.clone());
        if state.renewer.is_none() {
            state.renewer = Some(spawn_renewer());
        }
        Hold {
            holds: self.clone(),
            key,
        }
    }

    fn release(&self, key: &Key) {
        let mut state = self.lock();
        state.keys.remove(key);
        if state.keys.is_empty()
            && let Some(renewer) = state.renewer.take()
        {
            renewer.abort();
        }
    }
}

/// This process's hold on an entry ([`crate::Journal::claim`], [`crate::Journal::take`]):
/// keeps its lease renewed and other tasks of this process off it while it lives.
pub struct Hold {
    holds: Arc<Holds>,
    key: Key,
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hold")
            .field("supplier", &self.key.0)
            .field("reference", &self.key.1)
            .finish()
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.holds.release(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(reference: &str) -> Key {
        ("foxreload".into(), reference.into())
    }

    #[tokio::test]
    async fn one_renewer_runs_while_anything_is_held() {
        let holds = Arc::new(Holds::default());
        let spawned = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let spawn = || {
            spawned.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(std::future::pending())
        };
        let a = holds.hold(key("a"), spawn);
        let b = holds.hold(key("b"), spawn);
        assert_eq!(spawned.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(!holds.try_activate(key("a")), "a task holds it");
        drop(a);
        assert!(!holds.is_active(&key("a")));
        assert!(holds.lock().renewer.is_some(), "b is still held");
        drop(b);
        assert!(
            holds.lock().renewer.is_none(),
            "nothing held: the renewer ends"
        );
        let _c = holds.hold(key("c"), spawn);
        assert_eq!(spawned.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(holds.keys(), vec![key("c")]);
    }
}
