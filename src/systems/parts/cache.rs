//! A cache server's store: bounded, CLOCK eviction (the usual
//! approximation of LRU), with TTL, stale-while-revalidate and
//! stale-if-error.
//!
//! Objects are `u32` ids (tenant in the high half, object in the low half)
//! drawn from a known universe (`tenants x objects`), so the index is a
//! dense array from object to slot rather than a hash table: one memory
//! access per lookup, no hashing, nothing that depends on process state.
//! The body is not modelled, only when the copy expires.

use crate::time::{SimDuration, SimTime};

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Within its TTL.
    Fresh,
    /// Past its TTL but inside stale-while-revalidate: serve it, refetch in
    /// the background.
    StaleRevalidate,
    /// Too old to serve unless the fetch fails (it is still inside
    /// stale-if-error).
    StaleIfError,
    /// Not usable at all.
    Miss,
}

/// Caching rules, shared by every object of a deployment.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// Time to live.
    pub ttl: SimDuration,
    /// Serve-stale window while refetching.
    pub stale_while_revalidate: SimDuration,
    /// Serve-stale window when the fetch fails.
    pub stale_if_error: SimDuration,
}

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Slot {
    obj: u32,
    referenced: bool,
    expires: SimTime,
}

/// One server's cache.
#[derive(Clone, Debug)]
pub struct Cache {
    /// Dense object index → slot, or `NONE`.
    slot_of: Vec<u32>,
    slots: Vec<Slot>,
    hand: usize,
    capacity: usize,
    objects_per_tenant: u32,
    rules: Rules,
}

impl Cache {
    /// An empty cache of `capacity` objects (at least one) over a universe
    /// of `tenants` x `objects_per_tenant` objects.
    pub fn new(capacity: u32, tenants: u32, objects_per_tenant: u32, rules: Rules) -> Self {
        Cache {
            slot_of: vec![NONE; (tenants as usize) * (objects_per_tenant as usize)],
            slots: Vec::new(),
            hand: 0,
            capacity: capacity.max(1) as usize,
            objects_per_tenant,
            rules,
        }
    }

    #[inline]
    fn dense(&self, obj: u32) -> usize {
        (obj >> 16) as usize * self.objects_per_tenant as usize + (obj & 0xFFFF) as usize
    }

    /// Looks `obj` up at `now` (a usable hit is marked referenced).
    #[inline]
    pub fn lookup(&mut self, obj: u32, now: SimTime) -> Lookup {
        let i = self.dense(obj);
        let s = self.slot_of[i];
        if s == NONE {
            return Lookup::Miss;
        }
        let slot = &mut self.slots[s as usize];
        if now < slot.expires {
            slot.referenced = true;
            return Lookup::Fresh;
        }
        let late = now.saturating_since(slot.expires);
        if late < self.rules.stale_while_revalidate {
            slot.referenced = true;
            Lookup::StaleRevalidate
        } else if late < self.rules.stale_if_error {
            Lookup::StaleIfError
        } else {
            Lookup::Miss
        }
    }

    /// Whether `obj` may still be served because its fetch failed.
    pub fn usable_on_error(&self, obj: u32, now: SimTime) -> bool {
        let s = self.slot_of[self.dense(obj)];
        s != NONE && {
            let expires = self.slots[s as usize].expires;
            now < expires
                || now.saturating_since(expires)
                    < self
                        .rules
                        .stale_if_error
                        .max(self.rules.stale_while_revalidate)
        }
    }

    /// Stores a fresh copy of `obj` fetched at `now`, evicting by CLOCK
    /// when full.
    #[inline]
    pub fn store(&mut self, obj: u32, now: SimTime) {
        let i = self.dense(obj);
        let expires = now + self.rules.ttl;
        let s = self.slot_of[i];
        if s != NONE {
            let slot = &mut self.slots[s as usize];
            slot.expires = expires;
            slot.referenced = true;
            return;
        }
        let fresh = Slot {
            obj,
            referenced: false,
            expires,
        };
        if self.slots.len() < self.capacity {
            self.slot_of[i] = self.slots.len() as u32;
            self.slots.push(fresh);
            return;
        }
        loop {
            let h = self.hand;
            self.hand = (h + 1) % self.capacity;
            if self.slots[h].referenced {
                self.slots[h].referenced = false;
                continue;
            }
            let old = self.dense(self.slots[h].obj);
            self.slot_of[old] = NONE;
            self.slots[h] = fresh;
            self.slot_of[i] = h as u32;
            return;
        }
    }

    /// Drops everything (a restarted server starts cold).
    pub fn clear(&mut self) {
        for k in 0..self.slots.len() {
            let d = self.dense(self.slots[k].obj);
            self.slot_of[d] = NONE;
        }
        self.slots.clear();
        self.hand = 0;
    }

    /// Objects held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            ttl: SimDuration::from_secs(60),
            stale_while_revalidate: SimDuration::from_secs(10),
            stale_if_error: SimDuration::from_secs(300),
        }
    }

    #[test]
    fn ages_through_fresh_swr_sie_and_miss() {
        let mut c = Cache::new(10, 2, 10, rules());
        let t = SimTime::from_secs(100);
        assert_eq!(c.lookup(1, t), Lookup::Miss);
        c.store(1, t);
        assert_eq!(c.lookup(1, t + SimDuration::from_secs(59)), Lookup::Fresh);
        assert_eq!(
            c.lookup(1, t + SimDuration::from_secs(65)),
            Lookup::StaleRevalidate
        );
        assert_eq!(
            c.lookup(1, t + SimDuration::from_secs(200)),
            Lookup::StaleIfError
        );
        assert!(c.usable_on_error(1, t + SimDuration::from_secs(200)));
        assert_eq!(c.lookup(1, t + SimDuration::from_secs(400)), Lookup::Miss);
        assert!(!c.usable_on_error(1, t + SimDuration::from_secs(400)));
    }

    #[test]
    fn clock_evicts_what_was_not_used_since_the_last_sweep() {
        let mut c = Cache::new(2, 2, 10, rules());
        let t = SimTime::from_secs(1);
        let b = (1 << 16) | 3; // tenant 1, object 3
        c.store(1, t);
        c.store(b, t);
        assert_eq!(c.lookup(1, t), Lookup::Fresh); // 1 referenced, b not
        c.store(3, t);
        assert_eq!(c.lookup(b, t), Lookup::Miss);
        assert_eq!(c.lookup(1, t), Lookup::Fresh);
        assert_eq!(c.lookup(3, t), Lookup::Fresh);
        assert_eq!(c.len(), 2);
        c.clear();
        assert!(c.is_empty());
        assert_eq!(c.lookup(1, t), Lookup::Miss);
    }
}
