//! The pending-event set: an adaptive calendar queue of keys over a slab.
//!
//! Why not `BinaryHeap`: its pop is about three quarters of a plain event
//! loop's cost, and at large populations every pop walks cold cache lines.
//! A calendar queue files each event in a bucket of a ring by its time and
//! sorts only the bucket being drained, so most pushes are an append and most
//! pops a `Vec::pop`.
//!
//! Why keys over a slab: the events themselves stay where they were pushed
//! (a slab of slots, reused last-freed first so the next push writes a slot
//! still in cache), and the buckets hold 16-byte `(time, slot)` keys. Sorting
//! a bucket and inserting into the one being drained move keys, not events:
//! models' events are 50–90 bytes, and on `examples/architecture_scale`
//! shifting them on insertion was 8 % of the run, on fastly-2021 sorting and
//! shifting them 9 %.
//!
//! Layout:
//! - `current`: the bucket being drained, sorted by time *descending* so the
//!   next event is `current.last()`;
//! - `late`: pushes into the window of `current` after it was sorted whose
//!   insertion would shift more than `SHIFT_BYTES_MAX` (the rest are
//!   inserted in place while `late` is empty), a binary heap keyed by
//!   `(time, arrival)`. On elastic-2019-02 three quarters of all pushes land
//!   in that window, in buckets of about 140 events;
//! - `ring`: the buckets of the current *epoch* `[epoch_start, epoch_last]`,
//!   each `1 << shift` nanoseconds wide, unsorted;
//! - `overflow`: everything after `epoch_last`, unsorted.
//!
//! When the ring is drained, a new epoch is cut from the overflow: its bucket
//! width is chosen from the density of the earliest half of the overflow, so
//! the ring adapts to the workload (a ladder-queue idea with one rung).
//!
//! **Invariant: FIFO among equal times.** Every bucket and the overflow hold
//! their keys in insertion order (appends only, order-preserving moves),
//! so a *stable* sort by time alone yields `(time, insertion sequence)` order
//! and keys need no sequence number (slots are reused, so they are not
//! one). `tests` check this against a `BinaryHeap` keyed by `(time, seq)`.

/// One pending event, as popped.
pub(crate) struct Entry<E> {
    pub(crate) time: u64,
    pub(crate) event: E,
}

/// Where a pending event is filed: its time and its slot in the slab.
#[derive(Clone, Copy, Debug)]
struct Key {
    time: u64,
    slot: u32,
}

/// A key pushed into the window being drained, with its arrival number
/// (FIFO among equal times inside the heap).
#[derive(Clone, Copy, Debug)]
struct Late {
    time: u64,
    arrival: u64,
    slot: u32,
}

impl PartialEq for Late {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.arrival) == (other.time, other.arrival)
    }
}

impl Eq for Late {}

impl PartialOrd for Late {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Late {
    /// Reversed, so that `BinaryHeap` (a max-heap) yields the earliest.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.time, other.arrival).cmp(&(self.time, self.arrival))
    }
}

/// The pending events themselves, each in a slot that stays put until it
/// is popped or removed. Freed slots are reused last-freed first.
struct Slab<E> {
    slots: Vec<Option<E>>,
    free: Vec<u32>,
}

impl<E> Slab<E> {
    #[inline]
    fn insert(&mut self, event: E) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                // More pending events than `u32` counts cannot be held in
                // memory anyway (the kernel's event limit stops far below).
                (self.slots.len() - 1) as u32
            }
        }
    }

    #[inline]
    fn take(&mut self, slot: u32) -> E {
        self.free.push(slot);
        self.slots[slot as usize]
            .take()
            .expect("a filed key names an occupied slot")
    }

    #[inline]
    fn get(&self, slot: u32) -> Option<&E> {
        self.slots[slot as usize].as_ref()
    }
}

/// Smallest ring, in buckets.
const RING_MIN: usize = 16;
/// Largest ring, in buckets (bounds the ring's memory).
const RING_MAX: usize = 1 << 20;
/// The most bytes a push shifts to insert into the sorted bucket; past it
/// the push goes to the `late` heap (see the module docs): 1,024 keys.
/// Measured with events in place of keys: 4 KiB sent so many of
/// `examples/architecture_scale`'s pushes to the heap that its pops cost
/// 10 % more; 16 KiB kept elastic-2019-02's gain.
const SHIFT_BYTES_MAX: usize = 16384;
/// Bucket width, in mean gaps between the earliest half's events.
const WIDTH_GAPS: u64 = 4;

pub(crate) struct EventQueue<E> {
    slab: Slab<E>,
    current: Vec<Key>,
    /// Last instant (inclusive) of the `current` bucket's window.
    current_last: u64,
    /// Pushed into `current`'s window after it was loaded. Every key of
    /// `current` was pushed before any of these, so at equal times
    /// `current` goes first.
    late: std::collections::BinaryHeap<Late>,
    /// Arrival numbers for `late`.
    arrivals: u64,
    ring: Vec<Vec<Key>>,
    /// Index of the next ring bucket to drain.
    next_bucket: usize,
    /// Number of ring buckets in use this epoch (a power of two).
    buckets: usize,
    shift: u32,
    epoch_start: u64,
    /// Last instant (inclusive) of the epoch (inclusive bounds so that
    /// `u64::MAX` itself has a bucket).
    epoch_last: u64,
    overflow: Vec<Key>,
    overflow_min: u64,
    /// The previous overflow buffer, kept to reuse its allocation.
    spare: Vec<Key>,
    /// Scratch space for choosing an epoch's bucket width.
    scratch: Vec<u64>,
    len: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub(crate) fn new() -> Self {
        EventQueue {
            slab: Slab {
                slots: Vec::new(),
                free: Vec::new(),
            },
            current: Vec::new(),
            current_last: 0,
            late: std::collections::BinaryHeap::new(),
            arrivals: 0,
            ring: Vec::new(),
            next_bucket: 0,
            buckets: 0,
            shift: 0,
            epoch_start: 0,
            epoch_last: 0,
            overflow: Vec::new(),
            overflow_min: u64::MAX,
            spare: Vec::new(),
            scratch: Vec::new(),
            len: 0,
        }
    }

    /// Number of pending events.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Files `event` at `time`. `time` must not be earlier than the time of
    /// the last event popped (the kernel never schedules into the past).
    #[inline]
    pub(crate) fn push(&mut self, time: u64, event: E) {
        self.len += 1;
        let key = Key {
            time,
            slot: self.slab.insert(event),
        };
        if time <= self.current_last {
            // Into the window being drained: into the sorted bucket when
            // that shifts little and keeps its keys ahead of `late`'s
            // (so `late` is empty), else into `late`.
            let at = self.current.partition_point(|k| k.time > time);
            let shift = (self.current.len() - at) * std::mem::size_of::<Key>();
            if self.late.is_empty() && shift <= SHIFT_BYTES_MAX {
                self.current.insert(at, key);
                return;
            }
            self.late.push(Late {
                time,
                arrival: self.arrivals,
                slot: key.slot,
            });
            self.arrivals += 1;
        } else if time <= self.epoch_last {
            // Before the first epoch `epoch_last` is 0, and time 0 is caught
            // by the `current` branch above, so the ring is never indexed
            // while empty.
            let index = ((time - self.epoch_start) >> self.shift) as usize;
            self.ring[index].push(key);
        } else {
            if time < self.overflow_min {
                self.overflow_min = time;
            }
            self.overflow.push(key);
        }
    }

    /// The time of the next event, if any.
    #[cfg(test)]
    pub(crate) fn peek_time(&mut self) -> Option<u64> {
        if self.current.is_empty() && self.late.is_empty() && !self.refill() {
            return None;
        }
        self.late_is_next().map(|late| {
            if late {
                self.late.peek().map_or(0, |l| l.time)
            } else {
                self.current.last().map_or(0, |k| k.time)
            }
        })
    }

    /// Which side holds the next event: `Some(true)` for `late`.
    #[inline]
    fn late_is_next(&self) -> Option<bool> {
        match (self.current.last(), self.late.peek()) {
            (Some(c), Some(l)) => Some(l.time < c.time),
            (Some(_), None) => Some(false),
            (None, Some(_)) => Some(true),
            (None, None) => None,
        }
    }

    /// Takes the next event of the window.
    #[inline]
    fn take(&mut self, late: bool) -> Option<Entry<E>> {
        let key = if late {
            self.late.pop().map(|l| Key {
                time: l.time,
                slot: l.slot,
            })
        } else {
            self.current.pop()
        }?;
        self.len -= 1;
        Some(Entry {
            time: key.time,
            event: self.slab.take(key.slot),
        })
    }

    /// Removes and returns the next event if its time is at most `limit`.
    #[inline]
    pub(crate) fn pop_at_or_before(&mut self, limit: u64) -> Option<Entry<E>> {
        if self.late.is_empty() {
            // The common case: the sorted bucket alone.
            if self.current.is_empty() && !self.refill() {
                return None;
            }
            if self.current.last().is_some_and(|k| k.time <= limit) {
                return self.take(false);
            }
            return None;
        }
        self.pop_either(limit)
    }

    /// Removes and returns the next event: the earliest, and among equal
    /// times the first pushed.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Entry<E>> {
        self.pop_at_or_before(u64::MAX)
    }

    /// [`Self::pop_at_or_before`] when `late` holds events.
    #[inline(never)]
    fn pop_either(&mut self, limit: u64) -> Option<Entry<E>> {
        let late = self.late_is_next()?;
        let time = if late {
            self.late.peek().map(|l| l.time)
        } else {
            self.current.last().map(|k| k.time)
        }?;
        if time <= limit { self.take(late) } else { None }
    }

    /// Removes the first event at `time` for which `matches` holds, if it
    /// is cheap to reach: in the bucket being drained or in a ring bucket
    /// (a few keys each). An event in the overflow or in `late` is left
    /// in place and `false` returned; so is one not found. Order among the
    /// others is kept (order-preserving removal), so FIFO among equal times
    /// holds.
    pub(crate) fn remove_at(&mut self, time: u64, matches: impl Fn(&E) -> bool) -> bool {
        let slab = &self.slab;
        let is = |k: &Key| k.time == time && slab.get(k.slot).is_some_and(&matches);
        let (bucket, at) = if time <= self.current_last {
            // Sorted descending: the keys at `time` are one run.
            let from = self.current.partition_point(|k| k.time > time);
            let at = self.current[from..]
                .iter()
                .take_while(|k| k.time == time)
                .position(is)
                .map(|i| from + i);
            (&mut self.current, at)
        } else if time <= self.epoch_last {
            let index = ((time - self.epoch_start) >> self.shift) as usize;
            let bucket = &mut self.ring[index];
            let at = bucket.iter().position(is);
            (bucket, at)
        } else {
            return false;
        };
        match at {
            Some(i) => {
                let key = bucket.remove(i);
                self.slab.take(key.slot);
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    /// Loads the next non-empty bucket into `current` (called when both
    /// `current` and `late` are empty); false if none is left.
    #[cold]
    fn refill(&mut self) -> bool {
        loop {
            while self.next_bucket < self.buckets {
                let index = self.next_bucket;
                self.next_bucket += 1;
                if !self.ring[index].is_empty() {
                    std::mem::swap(&mut self.current, &mut self.ring[index]);
                    self.current_last = self
                        .epoch_start
                        .saturating_add((((index + 1) as u64) << self.shift) - 1);
                    sort_bucket(&mut self.current);
                    return true;
                }
            }
            if !self.new_epoch() {
                // Empty. The ring has been scanned to its end, so close the
                // epoch where draining stopped: a later push must go to the
                // overflow, not into a bucket already passed.
                self.epoch_last = self.current_last;
                return false;
            }
        }
    }

    /// Starts a new epoch from the overflow; false if the overflow is empty.
    fn new_epoch(&mut self) -> bool {
        let n = self.overflow.len();
        if n == 0 {
            return false;
        }
        let start = self.overflow_min;
        // Bucket width from the density of the earliest half (a few events
        // per bucket there), and a ring of half as many buckets as events:
        // measured on PHOLD, small enough that the ring's headers stay in
        // cache at 65k pending events, large enough that buckets stay short.
        self.scratch.clear();
        self.scratch.extend(self.overflow.iter().map(|k| k.time));
        let half = n / 2;
        let (_, median, _) = self.scratch.select_nth_unstable(half);
        let front_span = *median - start;
        let width = (front_span.saturating_mul(WIDTH_GAPS) / (half as u64 + 1)).max(1);
        let shift = 64 - (width - 1).leading_zeros();
        let buckets = (n / 2).next_power_of_two().clamp(RING_MIN, RING_MAX);
        if self.ring.len() < buckets {
            self.ring.resize_with(buckets, Vec::new);
        }
        self.buckets = buckets;
        self.shift = shift.min(63);
        self.next_bucket = 0;
        self.epoch_start = start;
        // Never empty: the earliest event always lands in bucket 0.
        self.epoch_last = (buckets as u64)
            .checked_mul(1u64 << self.shift)
            .and_then(|span| start.checked_add(span - 1))
            .unwrap_or(u64::MAX);
        // Move what falls into the epoch, keeping insertion order on both sides.
        let mut rest_min = u64::MAX;
        let (epoch_last, shift) = (self.epoch_last, self.shift);
        let mut keep = std::mem::take(&mut self.spare);
        for key in self.overflow.drain(..) {
            if key.time <= epoch_last {
                let index = ((key.time - start) >> shift) as usize;
                self.ring[index].push(key);
            } else {
                rest_min = rest_min.min(key.time);
                keep.push(key);
            }
        }
        self.spare = std::mem::replace(&mut self.overflow, keep);
        self.overflow_min = rest_min;
        true
    }
}

/// Sorts a bucket (held in insertion order) into draining order: time
/// descending, and among equal times the newest first, so that popping from
/// the end yields `(time, insertion sequence)` order.
#[inline]
fn sort_bucket(bucket: &mut [Key]) {
    if bucket.len() <= 24 {
        // Insertion sort: a newer key moves left past every key that is
        // not later than it.
        for i in 1..bucket.len() {
            let mut j = i;
            while j > 0 && bucket[j - 1].time <= bucket[j].time {
                bucket.swap(j - 1, j);
                j -= 1;
            }
        }
    } else {
        bucket.reverse();
        bucket.sort_by_key(|k| std::cmp::Reverse(k.time));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    /// Random interleavings of push and pop agree with a `(time, seq)` heap.
    #[test]
    fn agrees_with_a_binary_heap_keyed_by_time_then_sequence() {
        for seed in 0..40u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut queue = EventQueue::new();
            let mut heap = BinaryHeap::new();
            let mut now = 0u64;
            let mut seq = 0u64;
            // Several delay shapes: ties, tiny gaps, heavy tails, far timers.
            let shape = seed % 4;
            for _ in 0..3_000 {
                if rng.random_range(0..10) < 6 || heap.is_empty() {
                    let delay = match shape {
                        0 => rng.random_range(0..3u64),
                        1 => rng.random_range(0..1_000u64),
                        2 => (rng.random::<f64>().powi(8) * 1e12) as u64,
                        _ => {
                            if rng.random_range(0..50) == 0 {
                                3_600_000_000_000
                            } else {
                                rng.random_range(0..100u64)
                            }
                        }
                    };
                    queue.push(now + delay, seq);
                    heap.push(Reverse((now + delay, seq)));
                    seq += 1;
                } else {
                    let Reverse((t, s)) = heap.pop().unwrap();
                    assert_eq!(queue.peek_time(), Some(t));
                    let e = queue.pop().unwrap();
                    assert_eq!((e.time, e.event), (t, s), "seed {seed}");
                    now = t;
                }
                assert_eq!(queue.len(), heap.len());
            }
            while let Some(Reverse((t, s))) = heap.pop() {
                let e = queue.pop().unwrap();
                assert_eq!((e.time, e.event), (t, s));
            }
            assert!(queue.pop().is_none());
        }
    }

    /// A long bucket being drained: pushes into its window would shift
    /// more than `SHIFT_BYTES_MAX`, so they go to `late`, and ties between
    /// `current`, `late` and later buckets still come out in `(time, seq)`
    /// order.
    #[test]
    fn pushes_into_a_long_drained_bucket_go_through_the_late_heap_in_order() {
        let mut went_late = 0;
        for seed in 0..20u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut queue: EventQueue<u64> = EventQueue::new();
            let mut heap = BinaryHeap::new();
            let (mut now, mut seq) = (0u64, 0u64);
            // Far more keys at a few instants than one insertion may shift.
            let long = 4 * SHIFT_BYTES_MAX / std::mem::size_of::<Key>();
            for _ in 0..long {
                let t = rng.random_range(0..4u64);
                queue.push(t, seq);
                heap.push(Reverse((t, seq)));
                seq += 1;
            }
            for _ in 0..6_000 {
                if rng.random_range(0..10) < 6 || heap.is_empty() {
                    let delay = if rng.random_range(0..4) == 0 {
                        rng.random_range(0..100_000u64)
                    } else {
                        rng.random_range(0..4u64)
                    };
                    queue.push(now + delay, seq);
                    heap.push(Reverse((now + delay, seq)));
                    seq += 1;
                    went_late = went_late.max(queue.late.len());
                } else {
                    let Reverse((t, s)) = heap.pop().unwrap();
                    assert_eq!(queue.peek_time(), Some(t));
                    let e = queue.pop().unwrap();
                    assert_eq!((e.time, e.event), (t, s), "seed {seed}");
                    now = t;
                }
                assert_eq!(queue.len(), heap.len());
            }
            while let Some(Reverse((t, s))) = heap.pop() {
                let e = queue.pop().unwrap();
                assert_eq!((e.time, e.event), (t, s));
            }
        }
        assert!(went_late > 10, "the late heap was exercised: {went_late}");
    }

    #[test]
    fn simultaneous_events_pop_in_insertion_order() {
        let mut queue = EventQueue::new();
        for i in 0..100u32 {
            queue.push(5, i);
        }
        let first = queue.pop().unwrap();
        assert_eq!(first.event, 0);
        // Pushed while the bucket is being drained, at the same instant.
        queue.push(5, 1000);
        let rest: Vec<u32> = std::iter::from_fn(|| queue.pop().map(|e| e.event)).collect();
        let mut expected: Vec<u32> = (1..100).collect();
        expected.push(1000);
        assert_eq!(rest, expected);
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let mut queue = EventQueue::new();
        queue.push(u64::MAX, 'z');
        queue.push(0, 'a');
        queue.push(u64::MAX - 1, 'y');
        assert_eq!(queue.pop().unwrap().event, 'a');
        queue.push(u64::MAX, 'Z');
        assert_eq!(queue.pop().unwrap().event, 'y');
        assert_eq!(queue.pop().unwrap().event, 'z');
        assert_eq!(queue.pop().unwrap().event, 'Z');
        queue.push(u64::MAX, '!');
        assert_eq!(queue.pop().unwrap().event, '!');
        assert!(queue.pop().is_none());
    }

    /// A queue drained empty and then pushed into (an injection after the
    /// run went idle) pops what it was given, wherever the drained epoch
    /// ended.
    #[test]
    fn a_push_after_draining_empty_is_not_lost() {
        for n in 1..120u64 {
            for gap in [1u64, 7, 1_000] {
                for delta in 1..40u64 {
                    let mut queue = EventQueue::new();
                    for t in 0..n {
                        queue.push(t * gap + 1, t);
                    }
                    let mut last = 0;
                    while let Some(e) = queue.pop() {
                        last = e.time;
                    }
                    queue.push(last + delta, 0);
                    queue.push(last + delta * 3, 1);
                    assert_eq!(queue.pop().map(|e| e.time), Some(last + delta));
                    assert_eq!(queue.pop().map(|e| e.time), Some(last + delta * 3));
                    assert!(queue.pop().is_none());
                }
            }
        }
    }

    /// Removal agrees with a heap: removed entries never pop, entries left
    /// in place (overflow) pop as before, and the rest keep `(time, seq)`
    /// order.
    #[test]
    fn removal_keeps_time_then_sequence_order() {
        let mut removed_somewhere = 0;
        let mut left_somewhere = 0;
        for seed in 0..40u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut queue = EventQueue::new();
            let mut heap = BinaryHeap::new();
            let mut live: Vec<(u64, u64)> = Vec::new();
            let mut cancelled = std::collections::BTreeSet::new();
            let (mut now, mut seq) = (0u64, 0u64);
            for _ in 0..3_000 {
                let roll = rng.random_range(0..10);
                if roll < 5 || heap.is_empty() {
                    let delay = match seed % 3 {
                        0 => rng.random_range(0..4u64),
                        1 => rng.random_range(0..1_000u64),
                        _ => (rng.random::<f64>().powi(6) * 1e9) as u64,
                    };
                    queue.push(now + delay, seq);
                    heap.push(Reverse((now + delay, seq)));
                    live.push((now + delay, seq));
                    seq += 1;
                } else if roll < 7 && !live.is_empty() {
                    let (t, s) = live.swap_remove(rng.random_range(0..live.len()));
                    if queue.remove_at(t, |&e| e == s) {
                        removed_somewhere += 1;
                    } else {
                        left_somewhere += 1;
                    }
                    cancelled.insert(s);
                } else {
                    let Reverse((t, s)) = heap.pop().unwrap();
                    if cancelled.contains(&s) {
                        // Its entry left the queue, or is skipped below.
                        continue;
                    }
                    live.retain(|&(_, x)| x != s);
                    let e = loop {
                        let e = queue.pop().unwrap();
                        if !cancelled.contains(&e.event) {
                            break e;
                        }
                    };
                    assert_eq!((e.time, e.event), (t, s), "seed {seed}");
                    now = t;
                }
            }
            let mut rest = Vec::new();
            while let Some(e) = queue.pop() {
                if !cancelled.contains(&e.event) {
                    rest.push((e.time, e.event));
                }
            }
            let mut expected = Vec::new();
            while let Some(Reverse((t, s))) = heap.pop() {
                if !cancelled.contains(&s) {
                    expected.push((t, s));
                }
            }
            assert_eq!(rest, expected, "seed {seed}");
        }
        // Both paths were taken.
        assert!(removed_somewhere > 1_000, "{removed_somewhere}");
        assert!(left_somewhere > 10, "{left_somewhere}");
    }
}
