//! A keyed cache with single-flight: the first caller of a key starts the
//! work on its own task; callers that come while it runs wait on the same
//! result; a result kept for its time to live answers later callers at
//! once. A caller that stops waiting (its admission deadline passed) leaves
//! the work running: its result still fills the cache.
//!
//! No I/O and no verification here: what the work is and how long a result
//! is kept is the caller's (`verdicts`).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// How a lookup was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answered {
    /// A kept result.
    Hit,
    /// Work already running for this key.
    Joined,
    /// This caller started the work.
    Started,
}

enum Slot<V> {
    Ready { value: V, until: Instant },
    Running(watch::Receiver<Option<V>>),
}

/// The cache. `V` is cheap to clone (an `Arc`).
pub(crate) struct Flights<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
    max_entries: usize,
}

/// Waiting for one key's result.
pub(crate) enum Pending<V> {
    /// Already there.
    Ready(V),
    /// Being computed.
    Wait(watch::Receiver<Option<V>>),
}

impl<V: Clone> Pending<V> {
    /// The result, or `None` when `deadline` passes first (or the work
    /// ended without one: it panicked).
    pub(crate) async fn until(self, deadline: Instant) -> Option<V> {
        match self {
            Pending::Ready(v) => Some(v),
            Pending::Wait(mut rx) => {
                let wait = async {
                    loop {
                        if let Some(v) = rx.borrow_and_update().clone() {
                            return Some(v);
                        }
                        rx.changed().await.ok()?;
                    }
                };
                tokio::time::timeout_at(deadline, wait).await.ok().flatten()
            }
        }
    }
}

impl<K, V> Flights<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache keeping at most `max_entries` finished results (running work
    /// is not counted and never evicted).
    pub(crate) fn new(max_entries: usize) -> Arc<Self> {
        Arc::new(Flights {
            slots: Mutex::new(HashMap::new()),
            max_entries: max_entries.max(1),
        })
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<K, Slot<V>>> {
        // A panic while holding the lock leaves a consistent map (every
        // change is one insert or remove): keep using it.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The result for `key`: kept, being computed, or computed now by
    /// `work` on a new task. `keep` says how long a result is kept (`None`:
    /// not at all, so the next caller starts again).
    pub(crate) fn get<F, Fut, Keep>(
        self: &Arc<Self>,
        key: K,
        work: F,
        keep: Keep,
    ) -> (Answered, Pending<V>)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V> + Send + 'static,
        Keep: FnOnce(&V) -> Option<Duration> + Send + 'static,
    {
        let mut slots = self.slots();
        match slots.get(&key) {
            Some(Slot::Ready { value, until }) if *until > Instant::now() => {
                return (Answered::Hit, Pending::Ready(value.clone()));
            }
            // A sender that is gone (the work panicked) is started again.
            Some(Slot::Running(rx)) if rx.has_changed().is_ok() => {
                return (Answered::Joined, Pending::Wait(rx.clone()));
            }
            _ => {}
        }
        let (tx, rx) = watch::channel(None);
        slots.insert(key.clone(), Slot::Running(rx.clone()));
        drop(slots);
        let future = work();
        let this = self.clone();
        tokio::spawn(async move {
            let value = future.await;
            this.finish(key, value.clone(), keep(&value));
            // Nobody waiting is fine: the value is kept for the next caller.
            let _ = tx.send(Some(value));
        });
        (Answered::Started, Pending::Wait(rx))
    }

    fn finish(&self, key: K, value: V, keep: Option<Duration>) {
        let mut slots = self.slots();
        match keep {
            None => {
                slots.remove(&key);
            }
            Some(ttl) => {
                let now = Instant::now();
                let ready = |s: &Slot<V>| matches!(s, Slot::Ready { .. });
                if slots.values().filter(|s| ready(s)).count() >= self.max_entries {
                    slots.retain(|_, s| !matches!(s, Slot::Ready { until, .. } if *until <= now));
                }
                if slots.values().filter(|s| ready(s)).count() >= self.max_entries {
                    // Still full: drop the result that expires first.
                    let oldest = slots
                        .iter()
                        .filter_map(|(k, s)| match s {
                            Slot::Ready { until, .. } => Some((*until, k.clone())),
                            Slot::Running(_) => None,
                        })
                        .min_by_key(|(until, _)| *until)
                        .map(|(_, k)| k);
                    if let Some(k) = oldest {
                        slots.remove(&k);
                    }
                }
                slots.insert(
                    key,
                    Slot::Ready {
                        value,
                        until: now + ttl,
                    },
                );
            }
        }
    }

    /// Finished results kept now (expired ones included until evicted).
    pub(crate) fn kept(&self) -> usize {
        self.slots()
            .values()
            .filter(|s| matches!(s, Slot::Ready { .. }))
            .count()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn forever(_: &u32) -> Option<Duration> {
        Some(Duration::from_secs(3600))
    }

    fn never(_: &u32) -> Option<Duration> {
        None
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_of_one_key_share_one_run() {
        let cache = Flights::<&str, u32>::new(10);
        let runs = Arc::new(AtomicUsize::new(0));
        let (go, gate) = watch::channel(false);
        let mut waits = Vec::new();
        let mut answers = Vec::new();
        for _ in 0..50 {
            let (runs, mut gate) = (runs.clone(), gate.clone());
            let (how, pending) = cache.get(
                "img",
                move || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let _ = gate.wait_for(|open| *open).await;
                    7
                },
                forever,
            );
            answers.push(how);
            waits.push(pending.until(Instant::now() + Duration::from_secs(30)));
        }
        go.send(true).unwrap();
        for w in waits {
            assert_eq!(w.await, Some(7));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(answers[0], Answered::Started);
        assert!(answers[1..].iter().all(|a| *a == Answered::Joined));
        let (how, p) = cache.get("img", || async { 8 }, forever);
        assert_eq!(how, Answered::Hit);
        assert_eq!(p.until(Instant::now()).await, Some(7));
    }

    #[tokio::test]
    async fn a_caller_past_its_deadline_gets_nothing_and_the_work_still_fills_the_cache() {
        let cache = Flights::<&str, u32>::new(10);
        let (go, mut gate) = watch::channel(false);
        let (_, pending) = cache.get(
            "slow",
            move || async move {
                let _ = gate.wait_for(|open| *open).await;
                3
            },
            forever,
        );
        assert_eq!(
            pending
                .until(Instant::now() + Duration::from_millis(20))
                .await,
            None
        );
        go.send(true).unwrap();
        let (how, p) = cache.get("slow", || async { 4 }, forever);
        // Either still running (joined) or already kept: never a second run.
        assert_ne!(how, Answered::Started);
        assert_eq!(
            p.until(Instant::now() + Duration::from_secs(30)).await,
            Some(3)
        );
    }

    #[tokio::test]
    async fn results_not_kept_are_computed_again() {
        let cache = Flights::<&str, u32>::new(10);
        let (_, p) = cache.get("e", || async { 1 }, never);
        assert_eq!(
            p.until(Instant::now() + Duration::from_secs(30)).await,
            Some(1)
        );
        tokio::task::yield_now().await;
        let (how, p) = cache.get("e", || async { 2 }, never);
        assert_eq!(how, Answered::Started);
        assert_eq!(
            p.until(Instant::now() + Duration::from_secs(30)).await,
            Some(2)
        );
        assert_eq!(cache.kept(), 0);
    }

    #[tokio::test]
    async fn a_full_cache_drops_the_result_that_expires_first() {
        let cache = Flights::<u32, u32>::new(2);
        for k in 0..3 {
            let (_, p) = cache.get(k, move || async move { k }, forever);
            assert_eq!(
                p.until(Instant::now() + Duration::from_secs(30)).await,
                Some(k)
            );
            tokio::task::yield_now().await;
        }
        assert_eq!(cache.kept(), 2);
        let (how, _) = cache.get(0, || async { 9 }, forever);
        assert_eq!(how, Answered::Started, "the oldest entry was evicted");
    }
}
