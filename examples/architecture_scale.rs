//! How the `architecture` model's cost grows with services, replicas and
//! load, beside the PHOLD kernel measured in the same process.
//!
//! ```text
//! cargo run --release --example architecture_scale                 # 50 services, 500 replicas, 2,000 req/s, 1 h
//! cargo run --release --example architecture_scale -- --table      # the growth table (10 simulated minutes each)
//! ```
//!
//! The architecture is generated: `services / 5` entry services (one user
//! cohort each, sharing the rate), `2/5` middle services and `2/5` leaves
//! over three zones; each entry calls two middle services in turn, each
//! middle service one leaf, so a user request visits five services. Every
//! service has `replicas / services` replicas, 8 workers and an
//! exponential service time of 2 ms (5 ms for leaves, the stores), sized
//! so that nothing is overloaded: the figure is the model's cost in steady
//! state. The last line is `key=value` pairs.
//!
//! The host is shared and its speed drifts by tens of percent within
//! minutes, so both sides are taken at their best case: PHOLD before and
//! after, the model `--runs` times (same seed, same events), each the
//! fastest of its runs.

use blastradius::phold::{self, Params};
use blastradius::prelude::*;
use clap::Parser;
use std::fmt::Write;

#[derive(Parser, Debug)]
struct Args {
    /// Services (a multiple of 5).
    #[arg(long, default_value_t = 50)]
    services: usize,
    /// Replicas in all.
    #[arg(long, default_value_t = 500)]
    replicas: usize,
    /// User requests per second, all cohorts.
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
    /// Simulated time.
    #[arg(long, default_value = "1h")]
    duration: String,
    /// Print the growth table instead.
    #[arg(long)]
    table: bool,
    /// Runs of the model; the fastest counts.
    #[arg(long, default_value_t = 2)]
    runs: usize,
}

/// Wall-clock timing lives in the harness, never in the library.
#[allow(clippy::disallowed_methods)]
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = std::time::Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The scenario text.
fn scenario(services: usize, replicas: usize, rate: f64, duration: &str) -> String {
    let zones = ["zone-a", "zone-b", "zone-c"];
    let entries = (services / 5).max(1);
    let middle = (services * 2 / 5).max(1);
    let leaves = services.saturating_sub(entries + middle).max(1);
    let per = (replicas / services).max(1);
    let mut t = format!("[scenario]\nname = \"scale\"\nseed = 1\nduration = \"{duration}\"\n\n");
    for z in zones {
        let _ = writeln!(
            t,
            "[[site]]\nname = \"{z}\"\nlocal_latency = {{ dist = \"constant\", value = \"200us\" }}\n"
        );
    }
    for (i, a) in zones.iter().enumerate() {
        for b in &zones[i + 1..] {
            let _ = writeln!(
                t,
                "[[link]]\nname = \"{a}-{b}\"\na = \"{a}\"\nb = \"{b}\"\nlatency = {{ dist = \"uniform\", min = \"800us\", max = \"1200us\" }}\n"
            );
        }
    }
    t.push_str("[architecture]\nresolution = \"10s\"\n\n");
    let service = |t: &mut String, name: &str, time: &str, calls: &[String]| {
        let _ = writeln!(
            t,
            "[[architecture.service]]\nname = \"{name}\"\nreplicas = {per}\nsites = [\"zone-a\", \"zone-b\", \"zone-c\"]\nworkers = 8\nqueue_max = 1000\nservice_time = {{ dist = \"exponential\", mean = \"{time}\" }}"
        );
        for c in calls {
            let _ = writeln!(
                t,
                "\n[[architecture.service.call]]\nto = \"{c}\"\ntimeout = \"1s\"\nretries = 1"
            );
        }
        t.push('\n');
    };
    for e in 0..entries {
        let calls = [
            format!("mid-{}", (2 * e) % middle),
            format!("mid-{}", (2 * e + 1) % middle),
        ];
        service(&mut t, &format!("entry-{e}"), "2ms", &calls);
    }
    for m in 0..middle {
        service(
            &mut t,
            &format!("mid-{m}"),
            "2ms",
            &[format!("leaf-{}", m % leaves)],
        );
    }
    for l in 0..leaves {
        service(&mut t, &format!("leaf-{l}"), "5ms", &[]);
    }
    for e in 0..entries {
        let _ = writeln!(
            t,
            "[[architecture.cohort]]\nname = \"users-{e}\"\nsite = \"{}\"\nservice = \"entry-{e}\"\nrate = {:.3}\ntimeout = \"5s\"\nretries = 1\n",
            zones[e % 3],
            rate / entries as f64
        );
    }
    t
}

/// One run: (user requests, events, seconds).
fn measure(services: usize, replicas: usize, rate: f64, duration: &str) -> (f64, u64, f64) {
    let text = scenario(services, replicas, rate, duration);
    let s = Scenario::parse(std::path::Path::new("scale.toml"), &text)
        .expect("the generated scenario is valid");
    let (o, secs) = timed(|| run(&s, None, Seed(1), &RunOptions::default()).expect("runs"));
    assert_eq!(
        o.metrics["failed_requests"], 0.0,
        "sized so that nothing fails"
    );
    (o.metrics["requests"], o.events, secs)
}

fn phold_ns_per_event() -> f64 {
    let p = Params {
        events: 50_000_000,
        ..Params::default()
    };
    let mut sim = phold::build(p);
    let (_, secs) = timed(|| phold::run_built(&mut sim));
    secs * 1e9 / p.events as f64
}

fn main() {
    let a = Args::parse();
    let phold = phold_ns_per_event();
    if a.table {
        println!(
            "services replicas rate_per_s  user_requests  events      wall_s  ns_per_event  s_per_sim_hour"
        );
        for (services, replicas, rate) in [
            (10, 100, 2000.0),
            (50, 100, 2000.0),
            (50, 500, 2000.0),
            (50, 2000, 2000.0),
            (50, 500, 500.0),
            (50, 500, 8000.0),
            (200, 2000, 2000.0),
        ] {
            let (req, ev, secs) = measure(services, replicas, rate, "10m");
            println!(
                "{services:8} {replicas:8} {rate:10.0} {req:14.0} {ev:11} {secs:7.2} {:13.1} {:15.1}",
                secs * 1e9 / ev as f64,
                secs * 6.0
            );
        }
        println!("phold_ns_per_event={phold:.1}");
        return;
    }
    let mut best = f64::INFINITY;
    let (mut req, mut ev) = (0.0, 0);
    for _ in 0..a.runs.max(1) {
        let (r, e, secs) = measure(a.services, a.replicas, a.rate, &a.duration);
        (req, ev, best) = (r, e, best.min(secs));
    }
    let phold = phold.min(phold_ns_per_event());
    let secs = best;
    let ns = secs * 1e9 / ev as f64;
    println!(
        "services={} replicas={} rate={} duration={} user_requests={req:.0} events={ev} wall_s={secs:.2} ns_per_event={ns:.1} phold_ns_per_event={phold:.1} ratio={:.2} peak_rss_mib={:.0} runs={}",
        a.services,
        a.replicas,
        a.rate,
        a.duration,
        ns / phold,
        peak_rss_mib(),
        a.runs.max(1)
    );
}
