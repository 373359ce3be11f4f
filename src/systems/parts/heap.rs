//! A garbage-collected heap's stop-the-world pauses.
//!
//! Why a part: ZooKeeper servers and HDFS NameNodes are JVMs whose pauses
//! grow steeply as the live heap approaches its size, and both outages
//! turned on that curve: a pause longer than a client's heartbeat window
//! looks like a dead server, and one longer than a journal write timeout
//! kills the NameNode. A collection's pause here is
//! `base / (1 − occupancy)^exponent`, capped at `max`; occupancy is
//! clamped below 1 (a full heap pauses for `max`).

use crate::time::SimDuration;

/// The pause of one collection at `occupancy` (live heap / heap size).
pub fn pause(base: SimDuration, exponent: f64, max: SimDuration, occupancy: f64) -> SimDuration {
    let free = (1.0 - occupancy.clamp(0.0, 0.995)).max(0.005);
    SimDuration::from_secs_f64((base.as_secs_f64() / free.powf(exponent)).min(max.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_steeply_near_full_and_stop_at_the_cap() {
        let ms = SimDuration::from_millis;
        let p = |u| pause(ms(10), 2.0, ms(60_000), u).as_secs_f64();
        assert!((p(0.0) - 0.01).abs() < 1e-9);
        assert!((p(0.5) - 0.04).abs() < 1e-9);
        assert!((p(0.9) - 1.0).abs() < 1e-6);
        assert!(p(0.99) > 50.0);
        assert_eq!(p(1.5), 60.0);
        // Monotone.
        let mut last = 0.0;
        for k in 0..100 {
            let v = p(k as f64 / 100.0);
            assert!(v >= last);
            last = v;
        }
    }
}
