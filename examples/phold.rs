//! PHOLD, the standard discrete-event benchmark (`docs/phold.md`), on the
//! blastradius kernel, and the plain `BinaryHeap` loop it is measured against.
//!
//! ```text
//! cargo run --release --example phold -- --lps 1024 --population 16 \
//!     --events 10000000 --remote 0.9 --lookahead 0.1 --mean 1.0 --seed 42
//! cargo run --release --example phold -- --engine compare --rounds 7
//! ```
//!
//! The last line is `key=value` pairs: `processed ev_per_s ns_per_ev
//! peak_rss_kib last_time_ns checksum` (and `ratio_vs_heap` with
//! `--engine compare`: the median over interleaved rounds of kernel ev/s
//! divided by heap ev/s). Only the event loop is timed.

use blastradius::phold::{self, Params, Summary};
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Engine {
    /// The blastradius kernel.
    Kernel,
    /// A plain `BinaryHeap` loop.
    Heap,
    /// Both, interleaved, and their ratio.
    Compare,
}

#[derive(Parser, Debug)]
#[command(about = "PHOLD benchmark on the blastradius kernel")]
struct Args {
    #[arg(long, default_value_t = 1024)]
    lps: u32,
    #[arg(long, default_value_t = 16)]
    population: u32,
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    #[arg(long, default_value_t = 0.9)]
    remote: f64,
    #[arg(long, default_value_t = 0.1)]
    lookahead: f64,
    #[arg(long, default_value_t = 1.0)]
    mean: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = Engine::Kernel)]
    engine: Engine,
    /// Interleaved rounds for `--engine compare`.
    #[arg(long, default_value_t = 7)]
    rounds: usize,
}

/// Wall-clock timing lives here, in the benchmark harness, never in the
/// library (clippy.toml bans it there).
#[allow(clippy::disallowed_methods)]
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = std::time::Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

fn kernel(p: Params) -> (Summary, f64) {
    let mut sim = phold::build(p);
    let (_, secs) = timed(|| phold::run_built(&mut sim));
    (phold::summary(&sim), secs)
}

fn heap(p: Params) -> (Summary, f64) {
    let mut world = phold::heap_world(p);
    timed(|| phold::heap_loop(&mut world))
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let a = Args::parse();
    if a.lps == 0
        || a.population == 0
        || !(0.0..=1.0).contains(&a.remote)
        || a.lookahead < 0.0
        || a.mean < 0.0
    {
        eprintln!(
            "phold: --lps and --population must be positive, --remote in [0, 1], --lookahead and --mean >= 0"
        );
        std::process::exit(3);
    }
    let p = Params {
        lps: a.lps,
        population: a.population,
        events: a.events,
        remote: a.remote,
        lookahead: a.lookahead,
        mean: a.mean,
        seed: a.seed,
    };
    println!(
        "phold lps={} population={} events={} remote={} lookahead={} mean={} seed={} engine={:?}",
        p.lps, p.population, p.events, p.remote, p.lookahead, p.mean, p.seed, a.engine
    );
    let (out, secs, ratio) = match a.engine {
        Engine::Kernel => {
            let (o, s) = kernel(p);
            (o, s, None)
        }
        Engine::Heap => {
            let (o, s) = heap(p);
            (o, s, None)
        }
        Engine::Compare => {
            let mut ratios = Vec::new();
            let mut kernel_secs = Vec::new();
            let mut last = None;
            for round in 0..a.rounds.max(1) {
                let (ko, ks) = kernel(p);
                let (ho, hs) = heap(p);
                if ko != ho {
                    eprintln!("phold: kernel and heap disagree: {ko:?} vs {ho:?}");
                    std::process::exit(1);
                }
                println!(
                    "round={round} kernel_ev_per_s={:.0} heap_ev_per_s={:.0} ratio={:.3}",
                    ko.processed as f64 / ks,
                    ho.processed as f64 / hs,
                    hs / ks
                );
                ratios.push(hs / ks);
                kernel_secs.push(ks);
                last = Some(ko);
            }
            (
                last.expect("at least one round"),
                median(kernel_secs),
                Some(median(ratios)),
            )
        }
    };
    let ev_per_s = out.processed as f64 / secs;
    let mut line = format!(
        "processed={} ev_per_s={:.0} ns_per_ev={:.1} peak_rss_kib={} last_time_ns={} checksum={:016x}",
        out.processed,
        ev_per_s,
        1e9 / ev_per_s,
        peak_rss_kib(),
        out.last_time_ns,
        out.checksum
    );
    if let Some(r) = ratio {
        line.push_str(&format!(" ratio_vs_heap={r:.3}"));
    }
    println!("{line}");
}
