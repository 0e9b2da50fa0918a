//! What one verification may spend: a total of bytes read from every source
//! ([`crate::Limits::max_total_bytes`]) and a deadline
//! ([`crate::VerifierBuilder::deadline`]). Owns the accounting, not the reads.
//!
//! The budget is carried by the verification's task (a tokio task-local set
//! by [`crate::Verifier::verify_reference`]), so every read — network bodies,
//! layout files, disk-cache entries, a layout's subject scan — is charged
//! where it happens without threading a parameter through discovery.
//! Discovery runs its concurrent fetches on that one task (no spawned tasks),
//! so every read sees it. Outside a verification (unit tests of a source) no
//! budget is in scope and nothing is counted.
//!
//! Exceeding either is sticky: once over, every later charge fails too, and
//! the error is "could not check" (exit 3), never a verdict.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::SourceError;

/// One verification's allowance. Cheap to share.
#[derive(Debug)]
pub(crate) struct Budget {
    max_bytes: u64,
    used: AtomicU64,
    deadline: Duration,
    started: Instant,
    /// What is being read now (each entry once per reader), for the
    /// deadline's message.
    in_flight: Mutex<Vec<(u64, String)>>,
    next_id: AtomicU64,
    /// The first charge refused, kept so that a refusal some caller did not
    /// propagate (a layout's scan) still ends the verification as an error.
    refused: Mutex<Option<SourceError>>,
}

tokio::task_local! {
    static BUDGET: Arc<Budget>;
}

impl Budget {
    /// A budget of `max_bytes` bytes and `deadline` from now.
    pub(crate) fn new(max_bytes: u64, deadline: Duration) -> Arc<Self> {
        Arc::new(Budget {
            max_bytes,
            used: AtomicU64::new(0),
            deadline,
            started: Instant::now(),
            in_flight: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
            refused: Mutex::new(None),
        })
    }

    /// Runs `f` with this budget in scope.
    pub(crate) async fn scope<F: std::future::Future>(self: &Arc<Self>, f: F) -> F::Output {
        BUDGET.scope(self.clone(), f).await
    }

    /// When the deadline passes.
    pub(crate) fn deadline_at(&self) -> Instant {
        self.started + self.deadline
    }

    /// The deadline, as configured.
    pub(crate) fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Bytes charged so far.
    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// What was being read when asked, oldest first ("" when nothing).
    pub(crate) fn in_flight(&self) -> Vec<String> {
        lock(&self.in_flight)
            .iter()
            .map(|(_, w)| w.clone())
            .collect()
    }

    /// The first charge or deadline check that failed, if any.
    pub(crate) fn refused(&self) -> Option<SourceError> {
        lock(&self.refused).clone()
    }

    fn refuse(&self, e: SourceError) -> Result<(), SourceError> {
        lock(&self.refused).get_or_insert_with(|| e.clone());
        Err(e)
    }

    fn check_deadline(&self, what: &dyn Fn() -> String) -> Result<(), SourceError> {
        if self.started.elapsed() >= self.deadline {
            return self.refuse(SourceError::DeadlineExceeded {
                deadline_ms: millis(self.deadline),
                what: what(),
            });
        }
        Ok(())
    }

    fn charge_bytes(&self, bytes: u64, what: &dyn Fn() -> String) -> Result<(), SourceError> {
        self.check_deadline(what)?;
        let before = self.used.fetch_add(bytes, Ordering::SeqCst);
        let after = before.saturating_add(bytes);
        if after > self.max_bytes {
            return self.refuse(SourceError::BudgetExceeded {
                limit: self.max_bytes,
                read: after,
                what: what(),
            });
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Pushes and removals only: consistent even after a panic elsewhere.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Charges `bytes` read for `what` to the verification in scope: an error
/// when that takes it over [`crate::Limits::max_total_bytes`] or past its
/// deadline. Charged before the bytes are used, so nothing over the budget
/// reaches a parser.
pub(crate) fn charge(bytes: u64, what: impl Fn() -> String) -> Result<(), SourceError> {
    BUDGET
        .try_with(|b| b.charge_bytes(bytes, &what))
        .unwrap_or(Ok(()))
}

/// Fails when the deadline of the verification in scope has passed.
pub(crate) fn check_deadline(what: impl Fn() -> String) -> Result<(), SourceError> {
    BUDGET
        .try_with(|b| b.check_deadline(&what))
        .unwrap_or(Ok(()))
}

/// Records that `what` is being read until the guard drops, so that a
/// deadline passing meanwhile can say what it was waiting for.
pub(crate) fn reading(what: impl FnOnce() -> String) -> Reading {
    let budget = BUDGET.try_with(Arc::clone).ok();
    let id = match &budget {
        Some(b) => {
            let id = b.next_id.fetch_add(1, Ordering::SeqCst);
            lock(&b.in_flight).push((id, what()));
            id
        }
        None => 0,
    };
    Reading { budget, id }
}

/// See [`reading`].
#[derive(Debug)]
pub(crate) struct Reading {
    budget: Option<Arc<Budget>>,
    id: u64,
}

impl Drop for Reading {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            lock(&b.in_flight).retain(|(id, _)| *id != self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn reads_up_to_the_budget_pass_and_one_byte_more_fails_and_stays_failed() {
        let b = Budget::new(10, Duration::from_secs(60));
        run(b.scope(async {
            assert_eq!(charge(4, || "a".into()), Ok(()));
            assert_eq!(charge(6, || "b".into()), Ok(()));
            assert_eq!(
                charge(1, || "c".into()),
                Err(SourceError::BudgetExceeded {
                    limit: 10,
                    read: 11,
                    what: "c".into()
                })
            );
            assert!(charge(0, || "d".into()).is_err());
        }));
        assert_eq!(b.used(), 11);
        assert!(matches!(
            b.refused(),
            Some(SourceError::BudgetExceeded { read: 11, .. })
        ));
    }

    #[test]
    fn a_passed_deadline_fails_every_charge() {
        let b = Budget::new(u64::MAX, Duration::ZERO);
        run(b.scope(async {
            assert_eq!(
                charge(0, || "x".into()),
                Err(SourceError::DeadlineExceeded {
                    deadline_ms: 0,
                    what: "x".into()
                })
            );
            assert!(check_deadline(|| "y".into()).is_err());
        }));
    }

    #[test]
    fn outside_a_verification_nothing_is_counted() {
        assert_eq!(charge(u64::MAX, || "x".into()), Ok(()));
        let _r = reading(|| "x".into());
    }

    #[test]
    fn reads_in_flight_are_listed_until_they_end() {
        let b = Budget::new(10, Duration::from_secs(60));
        run(b.scope(async {
            let one = reading(|| "one".into());
            let two = reading(|| "two".into());
            assert_eq!(b.in_flight(), ["one", "two"]);
            drop(one);
            assert_eq!(b.in_flight(), ["two"]);
            drop(two);
            assert!(b.in_flight().is_empty());
        }));
    }
}
