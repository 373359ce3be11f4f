//! Availability: did clients get answers, per time window, and against an SLO.
//!
//! A request succeeds if it completed `ok` (or a cas `fail`, which is an
//! answer: the compare failed); `fail` of anything else, `info` and no
//! completion are errors. Requests are counted in the window where they were
//! invoked. An *outage* runs from the first failed request after a success
//! to the next successful completion; the longest outage is the longest
//! unavailable window, and the RTO is how long after `fault_at` service came
//! back.

use super::{CheckError, CheckInput, Checker, Finding, Tallies, Tally, Verdict, secs};
use crate::history::{Completion, OpFn, Operation};
use crate::time::stamp_ns;

/// Which requests count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Requests {
    /// All of them.
    #[default]
    All,
    /// Reads only.
    Reads,
    /// Writes, cas and appends.
    Writes,
    /// Requests tallied per window and population
    /// ([`CheckInput::tallies`](super::CheckInput)), each population judged
    /// against the SLO on its own.
    Tallied,
}

/// "At least `windows` of all `window_ns` windows have a success ratio of at
/// least `success`."
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slo {
    /// Required success ratio within a window (e.g. 0.99).
    pub success: f64,
    /// Required fraction of windows meeting it (e.g. 0.999).
    pub windows: f64,
}

/// The `availability` checker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Availability {
    /// Window length, ns.
    pub window_ns: u64,
    /// Which requests count.
    pub requests: Requests,
    /// The assertion; `None` reports figures only (`Valid`, unless no
    /// request succeeded at all: `Invalid`).
    pub slo: Option<Slo>,
    /// When the fault began, for the RTO.
    pub fault_at: Option<u64>,
}

impl Default for Availability {
    fn default() -> Self {
        Self {
            window_ns: 60_000_000_000,
            requests: Requests::All,
            slo: Some(Slo {
                success: 0.99,
                windows: 0.999,
            }),
            fault_at: None,
        }
    }
}

/// Minutes of service lost, each window weighing its failed fraction:
/// a window of 60 s with half its requests failed is 0.5 minutes.
fn minutes_lost(windows: impl Iterator<Item = (u64, u64)>, window_ns: u64) -> f64 {
    let minutes = window_ns as f64 / 60e9;
    windows
        .filter(|(requests, _)| *requests > 0)
        .map(|(requests, ok)| (requests - ok.min(requests)) as f64 / requests as f64 * minutes)
        .sum()
}

/// The share of the run's error budget spent (1 = all of it): failed
/// requests over what the SLO's success ratio allows.
fn budget_burned(requests: f64, ok: f64, slo: &Slo) -> f64 {
    let allowed = requests * (1.0 - slo.success);
    if allowed <= 0.0 {
        return if ok < requests { f64::INFINITY } else { 0.0 };
    }
    (requests - ok) / allowed
}

fn succeeded(o: &Operation) -> bool {
    o.outcome == Completion::Ok || (o.f == OpFn::Cas && o.outcome == Completion::Fail)
}

/// One window's counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    /// Start, ns.
    pub start: u64,
    /// Requests invoked in it.
    pub requests: u64,
    /// Of which succeeded.
    pub ok: u64,
}

impl Availability {
    /// Per-window counts (windows with no requests are left out).
    pub fn windows(&self, ops: &[&Operation]) -> Vec<Window> {
        let mut out: Vec<Window> = Vec::new();
        for o in ops {
            let t = o.invoke_time.unwrap_or(0);
            let start = t - t % self.window_ns.max(1);
            if out.last().is_none_or(|w| w.start != start) {
                out.push(Window {
                    start,
                    requests: 0,
                    ok: 0,
                });
            }
            let Some(w) = out.last_mut() else { continue };
            w.requests += 1;
            w.ok += u64::from(succeeded(o));
        }
        out
    }
}

/// Sorts (time, success) pairs: as one integer each (time and the flag
/// packed, a failure first at equal times, as the tuples order) when every
/// time fits, which sorts about twice as fast; as tuples otherwise. Equal
/// entries are indistinguishable, so the unstable sort is exact.
fn sort_events(events: &mut [(u64, bool)]) {
    if events.iter().all(|&(t, _)| t < 1 << 63) {
        let mut packed: Vec<u64> = events
            .iter()
            .map(|&(t, ok)| t << 1 | u64::from(ok))
            .collect();
        packed.sort_unstable();
        for (e, p) in events.iter_mut().zip(packed) {
            *e = (p >> 1, p & 1 == 1);
        }
    } else {
        events.sort_unstable();
    }
}

/// Outages: from the first failure after a success until the next
/// success completes (the last one open runs to the history's end).
fn outages(ops: &[&Operation]) -> Vec<(u64, u64)> {
    let end_of_history = ops
        .iter()
        .filter_map(|o| o.complete_time.or(o.invoke_time))
        .max()
        .unwrap_or(0);
    let mut events: Vec<(u64, bool)> = ops
        .iter()
        .map(|o| {
            if succeeded(o) {
                (o.complete_time.unwrap_or(0), true)
            } else {
                (o.invoke_time.unwrap_or(0), false)
            }
        })
        .collect();
    sort_events(&mut events);
    let mut outages: Vec<(u64, u64)> = Vec::new();
    let mut down_since: Option<u64> = None;
    for (t, success) in events {
        match (success, down_since) {
            (false, None) => down_since = Some(t),
            (true, Some(s)) => {
                outages.push((s, t));
                down_since = None;
            }
            _ => {}
        }
    }
    if let Some(s) = down_since {
        outages.push((s, end_of_history.max(s)));
    }
    outages
}

impl Checker for Availability {
    fn name(&self) -> &str {
        "availability"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        if self.requests == Requests::Tallied {
            return self.check_tallies(input.tallies);
        }
        let h = input.history;
        if !h.has_times() {
            return Err(CheckError(
                "the history has no times; availability is measured per time window".into(),
            ));
        }
        let ops: Vec<&Operation> = h
            .ops()
            .iter()
            .filter(|o| match self.requests {
                Requests::All => true,
                Requests::Reads => o.f == OpFn::Read,
                Requests::Writes => o.f != OpFn::Read,
                Requests::Tallied => false,
            })
            .collect();
        if ops.is_empty() {
            return Err(CheckError("no requests of the selected kind".into()));
        }
        let total = ops.len() as f64;
        let ok = ops.iter().filter(|o| succeeded(o)).count() as f64;
        let windows = self.windows(&ops);
        let outages = outages(&ops);
        let longest = outages.iter().map(|(s, e)| e - s).max().unwrap_or(0);
        let unavailable: u64 = outages.iter().map(|(s, e)| e - s).sum();
        let rto = self.fault_at.map(|f| {
            outages
                .iter()
                .find(|&&(_, e)| e >= f)
                .map_or(0, |&(_, e)| e - f)
        });
        let mut f = Finding::new(self.name(), Verdict::Valid, String::new())
            .metric("requests", total)
            .metric("ok_fraction", ok / total)
            .metric("error_rate", 1.0 - ok / total)
            .metric("windows", windows.len() as f64)
            .metric("longest_unavailable_seconds", secs(longest))
            .metric("unavailable_seconds", secs(unavailable));
        if let Some(r) = rto {
            f = f.metric("rto_seconds", secs(r));
        }
        f = f.metric(
            "minutes_lost",
            minutes_lost(windows.iter().map(|w| (w.requests, w.ok)), self.window_ns),
        );
        if let Some(slo) = &self.slo {
            f = f.metric("error_budget_burned", budget_burned(total, ok, slo));
        }
        let mut summary = format!(
            "{:.3}% of {} requests succeeded; longest unavailable window {:.3}s",
            100.0 * ok / total,
            total,
            secs(longest)
        );
        // With no SLO the figures stand alone, but a service that answered
        // nothing is unavailable whatever the objective.
        if self.slo.is_none() && ok == 0.0 {
            f.verdict = Verdict::Invalid;
            summary.push_str("; no request succeeded (no SLO given, and none can excuse 0 %)");
        }
        if let Some(slo) = self.slo {
            f = self.judge_windows(f, &mut summary, &windows, slo);
        }
        for (s, e) in outages.iter().filter(|(s, e)| e - s == longest).take(1) {
            f.details.push(format!(
                "longest outage: {} to {}",
                stamp_ns(*s),
                stamp_ns(*e)
            ));
        }
        f.summary = summary;
        f.witness = serde_json::json!({ "windows": windows, "outages": outages });
        Ok(f)
    }
}

/// One tallied population: name, windows with requests, windows missing
/// the SLO (index, counts), and the worst window.
type Population<'a> = (&'a str, usize, Vec<(usize, Tally)>, Option<(usize, Tally)>);

impl Availability {
    /// The share of windows meeting the SLO, and the failing windows when
    /// too few do (the verdict then invalid).
    fn judge_windows(
        &self,
        mut f: Finding,
        summary: &mut String,
        windows: &[Window],
        slo: Slo,
    ) -> Finding {
        let met = windows
            .iter()
            .filter(|w| w.ok as f64 >= slo.success * w.requests as f64)
            .count();
        let fraction = met as f64 / windows.len().max(1) as f64;
        f = f.metric("windows_meeting_slo_fraction", fraction);
        let holds = fraction >= slo.windows;
        summary.push_str(&format!(
            "; SLO {}: {met} of {} {}s windows at >= {}% success (need {}%)",
            if holds { "met" } else { "missed" },
            windows.len(),
            secs(self.window_ns),
            100.0 * slo.success,
            100.0 * slo.windows
        ));
        if !holds {
            f.verdict = Verdict::Invalid;
            let failing = || {
                windows
                    .iter()
                    .filter(|w| (w.ok as f64) < slo.success * w.requests as f64)
            };
            if let (Some(a), Some(b)) = (failing().next(), failing().next_back()) {
                f = f.during(a.start, b.start + self.window_ns);
            }
            for w in windows
                .iter()
                .filter(|w| (w.ok as f64) < slo.success * w.requests as f64)
                .take(20)
            {
                f.details.push(format!(
                    "window at {}: {} of {} requests succeeded ({:.1}%)",
                    stamp_ns(w.start),
                    w.ok,
                    w.requests,
                    100.0 * w.ok as f64 / w.requests as f64
                ));
            }
        }
        f
    }

    /// One population's windows with requests, those missing the SLO,
    /// and its worst.
    fn population<'a>(&self, name: &'a str, windows: &[Tally]) -> Population<'a> {
        let used = windows.iter().filter(|w| w.requests > 0).count();
        let missing: Vec<(usize, Tally)> = match self.slo {
            Some(slo) => windows
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, w)| w.requests > 0 && (w.ok as f64) < slo.success * w.requests as f64)
                .collect(),
            None => Vec::new(),
        };
        let worst = windows
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, w)| w.requests > 0)
            .max_by(|a, b| {
                a.1.error_fraction()
                    .total_cmp(&b.1.error_fraction())
                    .then(b.0.cmp(&a.0))
            });
        (name, used, missing, worst)
    }

    /// Judges tallied populations: each must meet the SLO on its own.
    fn check_tallies(&self, tallies: &Tallies) -> Result<Finding, CheckError> {
        if tallies.requests.is_empty() {
            return Err(CheckError("no tallied requests to judge".into()));
        }
        let window = secs(tallies.window_ns);
        let (total, ok) = tallies
            .requests
            .values()
            .flatten()
            .fold((0u64, 0u64), |(t, o), w| (t + w.requests, o + w.ok));
        let per: Vec<Population<'_>> = tallies
            .requests
            .iter()
            .map(|(name, windows)| self.population(name, windows))
            .collect();
        let mut f = Finding::new(self.name(), Verdict::Valid, String::new())
            .metric("requests", total as f64)
            .metric(
                "ok_fraction",
                if total == 0 {
                    0.0
                } else {
                    ok as f64 / total as f64
                },
            );
        let lost: f64 = tallies
            .requests
            .values()
            .map(|ws| minutes_lost(ws.iter().map(|w| (w.requests, w.ok)), tallies.window_ns))
            .sum();
        f = f.metric("minutes_lost", lost);
        if let Some(slo) = &self.slo {
            f = f.metric(
                "error_budget_burned",
                budget_burned(total as f64, ok as f64, slo),
            );
        }
        let Some(slo) = self.slo else {
            f.summary = format!(
                "{:.3}% of {total} tallied requests succeeded (no SLO given)",
                if total == 0 {
                    0.0
                } else {
                    100.0 * ok as f64 / total as f64
                }
            );
            return Ok(f);
        };
        if let Some(at) = self.fault_at {
            let (longest, rto) = after_fault(tallies, slo, at);
            f = f.metric("longest_unavailable_seconds", longest as f64 * window);
            if let Some(r) = rto {
                f = f.metric("rto_seconds", secs(r));
            }
        }
        let mut missed = Vec::new();
        for (name, used, missing, worst) in &per {
            let fraction = 1.0 - missing.len() as f64 / (*used).max(1) as f64;
            if fraction < slo.windows {
                let peak = worst.map_or(0.0, |(_, w)| w.error_fraction());
                missed.push(format!(
                    "{name}: {} of {used} {window:.0}s window(s) over {:.1} % errors, peak {:.1} %",
                    missing.len(),
                    100.0 * (1.0 - slo.success),
                    100.0 * peak
                ));
                for (k, w) in missing.iter().take(10) {
                    f.details.push(format!(
                        "{name}: window at {}: {} of {} requests failed",
                        stamp_ns((*k as f64 * window * 1e9) as u64),
                        w.failed(),
                        w.requests
                    ));
                }
            }
        }
        f.witness = serde_json::json!({
            "populations": per.iter().map(|(name, used, missing, worst)| serde_json::json!({
                "population": name,
                "windows": used,
                "windows_missing_slo": missing.len(),
                "worst_window_start_ns": worst.map(|(k, _)| k as u64 * tallies.window_ns),
                "worst_window": worst.map(|(_, w)| w),
            })).collect::<Vec<_>>(),
        });
        if missed.is_empty() {
            let peak = per
                .iter()
                .filter_map(|p| p.3.map(|(_, w)| w.error_fraction()))
                .fold(0.0, f64::max);
            f.summary = format!(
                "every {window:.0}s window of every population at >= {}% success (peak errors {:.2} %)",
                100.0 * slo.success,
                100.0 * peak
            );
        } else {
            f.verdict = Verdict::Invalid;
            f.summary = missed.join("; ");
            let w = tallies.window_ns;
            let ks = per.iter().flat_map(|p| p.2.iter().map(|(k, _)| *k as u64));
            if let (Some(a), Some(b)) = (ks.clone().min(), ks.max()) {
                f = f.during(a * w, (b + 1) * w);
            }
        }
        Ok(f)
    }
}

/// Per population, the run of windows under the SLO that a fault at `at`
/// started (the first one at or after its window): the longest run of bad
/// windows of any population, and the latest recovery after the fault, ns.
fn after_fault(tallies: &Tallies, slo: Slo, at: u64) -> (usize, Option<u64>) {
    let w0 = (at / tallies.window_ns.max(1)) as usize;
    let mut rto: Option<u64> = None;
    let mut longest = 0usize;
    for windows in tallies.requests.values() {
        let bad = |k: usize| {
            windows
                .get(k)
                .is_some_and(|w| w.requests > 0 && (w.ok as f64) < slo.success * w.requests as f64)
        };
        let mut run = 0usize;
        for k in 0..windows.len() {
            run = if bad(k) { run + 1 } else { 0 };
            longest = longest.max(run);
        }
        if let Some(first) = (w0..windows.len()).find(|&k| bad(k)) {
            let end = (first..windows.len())
                .find(|&k| !bad(k) && windows[k].requests > 0)
                .unwrap_or(windows.len());
            let back = (end as u64 * tallies.window_ns).saturating_sub(at);
            rto = Some(rto.map_or(back, |r| r.max(back)));
        }
    }
    (longest, rto)
}

#[cfg(test)]
mod sort_tests {
    use super::sort_events;

    /// Packed or not, the order is the tuples' order.
    #[test]
    fn events_sort_as_tuples_do() {
        let mut small = vec![
            (5, true),
            (5, false),
            (0, true),
            (3, false),
            (5, true),
            (0, false),
        ];
        let mut expected = small.clone();
        expected.sort();
        sort_events(&mut small);
        assert_eq!(small, expected);
        let mut huge = vec![
            (u64::MAX, true),
            (1 << 63, false),
            (7, true),
            (u64::MAX, false),
        ];
        let mut expected = huge.clone();
        expected.sort();
        sort_events(&mut huge);
        assert_eq!(huge, expected);
    }
}

#[cfg(test)]
mod figure_tests {
    use super::{Slo, budget_burned, minutes_lost};

    #[test]
    fn minutes_lost_weigh_each_window_by_its_failed_share() {
        let minute = 60_000_000_000;
        // Half of one minute failed, all of another, none of a third, and
        // an empty window that counts for nothing.
        let w = [(10, 5), (4, 0), (7, 7), (0, 0)];
        assert!((minutes_lost(w.into_iter(), minute) - 1.5).abs() < 1e-9);
        // Twice the window length, twice the minutes.
        assert!((minutes_lost(w.into_iter(), 2 * minute) - 3.0).abs() < 1e-9);
        assert_eq!(minutes_lost([(3, 3)].into_iter(), minute), 0.0);
    }

    #[test]
    fn the_budget_burned_is_failures_over_what_the_slo_allows() {
        let slo = Slo {
            success: 0.99,
            windows: 0.999,
        };
        // 1 % may fail: 10 of 1,000 is the whole budget, 5 half of it.
        assert!((budget_burned(1000.0, 990.0, &slo) - 1.0).abs() < 1e-9);
        assert!((budget_burned(1000.0, 995.0, &slo) - 0.5).abs() < 1e-9);
        assert_eq!(budget_burned(1000.0, 1000.0, &slo), 0.0);
        let perfect = Slo {
            success: 1.0,
            windows: 1.0,
        };
        assert!(budget_burned(10.0, 9.0, &perfect).is_infinite());
    }
}
