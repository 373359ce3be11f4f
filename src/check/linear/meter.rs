//! One budget for a whole check: bytes held by every search running at
//! once (their memo tables, arenas, model tables and working lists), the
//! histories being checked, and a wall-clock deadline.
//!
//! A per-search limit does not bound a process that searches several keys,
//! or several files, at once: two keys at their limits hold twice it. So
//! searches charge a shared [`Meter`] *before* they grow (a memo table
//! doubles in one allocation; the charge covers the old and new tables
//! both, as both are held while it rehashes), and grow with `try_reserve`,
//! so that an allocation the system refuses ends the search as `unknown`
//! rather than aborting the process. The deadline is the one place the
//! checker reads the wall clock: it decides only whether an answer is
//! given, never which.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What stopped a check short of a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// A key's search stored its limit of configurations (`--max-states`).
    States,
    /// The check's memory budget ran out (`--max-memory-mib`), or the
    /// system refused an allocation.
    Memory,
    /// The wall-clock deadline passed (`--deadline`).
    Deadline,
}

/// Bytes and time a check may use, shared by everything it runs at once.
#[derive(Debug)]
pub struct Meter {
    limit: u64,
    used: AtomicU64,
    peak: AtomicU64,
    /// Bytes taken for the process itself.
    process: u64,
    deadline: Option<Instant>,
}

/// Bytes the process needs besides what the meter counts: its code, stacks
/// and first allocations (48 MiB), and the 64 MiB of address space glibc's
/// allocator reserves for each thread that allocates (a thread arena), one
/// per worker thread of the check. Charged up front, so that a budget equal
/// to an address-space limit (`ulimit -v`) leaves room for them: with 2
/// threads, 176 MiB.
pub fn process_bytes() -> u64 {
    (48 << 20) + (64 << 20) * rayon::current_num_threads().max(1) as u64
}

impl Meter {
    /// A meter of `max_bytes` (of which [`process_bytes`] are taken at
    /// once), ending at `deadline` from now.
    #[allow(clippy::disallowed_methods)] // the deadline is wall time by definition
    pub fn new(max_bytes: u64, deadline: Option<Duration>) -> Self {
        let process = process_bytes();
        Self {
            limit: max_bytes,
            used: AtomicU64::new(process),
            peak: AtomicU64::new(process),
            process,
            deadline: deadline.map(|d| Instant::now() + d),
        }
    }

    /// Takes `bytes` from the budget, or refuses (and takes nothing).
    pub(crate) fn charge(&self, bytes: u64) -> Result<(), Limit> {
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        let after = before.saturating_add(bytes);
        if after > self.limit {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            return Err(Limit::Memory);
        }
        self.peak.fetch_max(after, Ordering::Relaxed);
        Ok(())
    }

    /// Gives `bytes` back.
    pub(crate) fn release(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// True once the deadline has passed.
    #[allow(clippy::disallowed_methods)] // see `new`
    pub(crate) fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The budget, bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes taken for the process itself ([`process_bytes`] when made).
    pub fn process(&self) -> u64 {
        self.process
    }

    /// The most charged at once so far, bytes (an estimate of what the
    /// check held, [`process_bytes`] included).
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

/// Bytes charged to a [`Meter`], given back when dropped.
#[derive(Debug)]
pub(crate) struct Held<'m> {
    meter: &'m Meter,
    bytes: u64,
}

impl<'m> Held<'m> {
    pub fn new(meter: &'m Meter) -> Self {
        Self { meter, bytes: 0 }
    }

    /// Charges `bytes` more.
    pub fn grow(&mut self, bytes: u64) -> Result<(), Limit> {
        self.meter.charge(bytes)?;
        self.bytes += bytes;
        Ok(())
    }

    /// Gives `bytes` back (at most what is held).
    pub fn shrink(&mut self, bytes: u64) {
        let b = bytes.min(self.bytes);
        self.meter.release(b);
        self.bytes -= b;
    }

    /// Holds exactly `bytes` from now on: charges or gives back the
    /// difference.
    pub fn set(&mut self, bytes: u64) -> Result<(), Limit> {
        if bytes > self.bytes {
            self.grow(bytes - self.bytes)
        } else {
            self.shrink(self.bytes - bytes);
            Ok(())
        }
    }

    pub fn meter(&self) -> &'m Meter {
        self.meter
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.meter.release(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_past_the_limit_are_refused_and_drops_give_bytes_back() {
        let m = Meter::new(process_bytes() + 100, None);
        let mut a = Held::new(&m);
        a.grow(60).unwrap();
        {
            let mut b = Held::new(&m);
            assert_eq!(b.grow(50), Err(Limit::Memory));
            b.grow(40).unwrap();
            assert_eq!(a.grow(1), Err(Limit::Memory));
        }
        a.grow(40).unwrap();
        assert_eq!(m.peak(), m.process() + 100);
        a.set(10).unwrap();
        drop(a);
        assert_eq!(m.used.load(Ordering::Relaxed), m.process());
    }

    #[test]
    fn a_deadline_of_zero_has_passed_and_none_never_passes() {
        assert!(Meter::new(1 << 30, Some(Duration::ZERO)).past_deadline());
        assert!(!Meter::new(1 << 30, None).past_deadline());
    }
}
