//! The Chrome trace export against the Trace Event Format: every event
//! has the fields its phase requires, begins and ends match per thread,
//! time never goes back on a thread, flows pair up; same run, same bytes.

use blastradius::Seed;
use blastradius::report::perfetto::chrome_trace;
use blastradius::run::{RunOptions, run};
use serde_json::Value;
use std::collections::BTreeMap;

fn trace_of(name: &str, design: &str, seed: u64, messages: bool) -> String {
    let s = blastradius::incidents::find(name)
        .unwrap()
        .scenario()
        .unwrap();
    let options = RunOptions {
        trace: messages,
        ..Default::default()
    };
    let o = run(&s, Some(design), Seed(seed), &options).unwrap();
    chrome_trace(&s.name, &o)
}

/// Checks the format; returns the events.
fn validate(text: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(text).expect("JSON");
    let events = doc["traceEvents"].as_array().expect("traceEvents").clone();
    let mut stacks: BTreeMap<(u64, u64), Vec<String>> = BTreeMap::new();
    let mut last_ts: BTreeMap<(u64, u64), f64> = BTreeMap::new();
    let mut flows: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let ph = e["ph"]
            .as_str()
            .unwrap_or_else(|| panic!("event {i}: no ph: {e}"));
        let pid = e["pid"]
            .as_u64()
            .unwrap_or_else(|| panic!("event {i}: no pid: {e}"));
        let tid = e["tid"]
            .as_u64()
            .unwrap_or_else(|| panic!("event {i}: no tid: {e}"));
        assert!(e["name"].is_string(), "event {i}: no name: {e}");
        if ph == "M" {
            assert!(e["args"].is_object(), "event {i}: metadata without args");
            continue;
        }
        let ts = e["ts"]
            .as_f64()
            .unwrap_or_else(|| panic!("event {i}: no ts: {e}"));
        assert!(ts >= 0.0);
        let thread = (pid, tid);
        if ph != "C" {
            let last = last_ts.entry(thread).or_insert(0.0);
            assert!(
                ts >= *last,
                "event {i}: time goes back on {thread:?}: {ts} < {last}"
            );
            *last = ts;
        }
        match ph {
            "B" => stacks
                .entry(thread)
                .or_default()
                .push(e["name"].as_str().unwrap().to_string()),
            "E" => {
                let open = stacks.entry(thread).or_default().pop();
                assert_eq!(
                    open.as_deref(),
                    e["name"].as_str(),
                    "event {i}: end without its begin on {thread:?}"
                );
            }
            "X" => assert!(
                e["dur"].as_f64().is_some_and(|d| d >= 0.0),
                "event {i}: X without dur"
            ),
            "i" => assert!(
                matches!(e["s"].as_str(), Some("t" | "p" | "g")),
                "event {i}: scope"
            ),
            "C" => assert!(
                e["args"]
                    .as_object()
                    .is_some_and(|a| a.values().all(Value::is_number))
            ),
            "s" => {
                flows
                    .entry(e["id"].as_u64().expect("flow id"))
                    .or_default()
                    .0 += 1
            }
            "f" => {
                flows
                    .entry(e["id"].as_u64().expect("flow id"))
                    .or_default()
                    .1 += 1
            }
            other => panic!("event {i}: unexpected phase {other}"),
        }
    }
    for (thread, open) in &stacks {
        assert!(open.is_empty(), "{thread:?}: slices never ended: {open:?}");
    }
    for (id, (s, f)) in &flows {
        assert_eq!((*s, *f), (1, 1), "flow {id}");
    }
    events
}

fn named(events: &[Value], meta: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == meta)
        .map(|e| e["args"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn github_2018_trace_is_valid_and_shows_sites_roles_and_the_cut() {
    let text = trace_of("github-2018", "as-2018", 2018, false);
    let events = validate(&text);
    let processes = named(&events, "process_name");
    for site in ["site east_dc", "site west_dc"] {
        assert!(processes.iter().any(|p| p == site), "{processes:?}");
    }
    let threads = named(&events, "thread_name");
    assert!(
        threads.iter().any(|t| t == "mysql1-3-west_dc · mysql1"),
        "{threads:?}"
    );
    // The cut: a slice of 43 s from T0 (600 s).
    let cut = events
        .iter()
        .find(|e| e["ph"] == "B" && e["cat"] == "fault")
        .expect("a fault slice");
    assert_eq!(cut["ts"].as_f64(), Some(600e6));
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "i" && e["cat"] == "role change")
    );
    assert!(events.iter().any(|e| e["cat"] == "violation"));
    let again = trace_of("github-2018", "as-2018", 2018, false);
    assert!(text == again, "same run, same bytes");
}

#[test]
fn messages_are_flows_bounded_and_counted() {
    let text = trace_of("github-2018", "as-2018", 2018, true);
    let events = validate(&text);
    let doc: Value = serde_json::from_str(&text).unwrap();
    let drawn = doc["metadata"]["messages_drawn"].as_u64().unwrap();
    assert_eq!(drawn, blastradius::report::perfetto::MESSAGES_MAX as u64);
    assert!(doc["metadata"]["messages_left_out"].as_u64().unwrap() > 0);
    let starts = events.iter().filter(|e| e["ph"] == "s").count() as u64;
    assert_eq!(starts, drawn);
    // Drawn from 5 s before the cut.
    let first = events
        .iter()
        .filter(|e| e["ph"] == "s")
        .filter_map(|e| e["ts"].as_f64())
        .fold(f64::INFINITY, f64::min);
    assert!(first >= 595e6, "{first}");
    assert_eq!(text, trace_of("github-2018", "as-2018", 2018, true));
}

#[test]
fn series_become_counters() {
    let text = trace_of("clever-cloud-2021", "as-2021", 376, false);
    let events = validate(&text);
    let counters = events.iter().filter(|e| e["ph"] == "C").count();
    assert!(counters > 100, "{counters}");
    let faults = events
        .iter()
        .filter(|e| e["cat"] == "fault" && matches!(e["ph"].as_str(), Some("B" | "i" | "X")))
        .count();
    assert_eq!(faults, 16);
}
