//! Writes a linearizable-by-construction history as JSON Lines to stdout,
//! for benchmarking `blastradius check`:
//!
//! ```text
//! cargo run --release --example gen_history -- --ops 1000000 --keys 1000 --clients 50 --info 0.01 > kv.jsonl
//! target/release/blastradius check --stats kv.jsonl
//! ```
//!
//! `--corrupt` changes the last read to a value never written, `--stale`
//! to an old value of its key (a stale read), so the history is invalid.
//! Each operation takes effect at a uniformly random instant inside its
//! interval; `--appends`, `--info` and `--hot` give the key-value shapes
//! of Jepsen and porcupine tests.
//!
//! `--shape many-clients` (or `many-clients-append`) gives the hard
//! shapes: 100 clients on one key (`--keys` to change), 3 % indeterminate
//! operations, unique values (appended pieces), every operation
//! overlapping dozens of others, where a search over orders runs out of
//! memory and the read-mapping decides at once:
//!
//! ```text
//! cargo run --release --example gen_history -- --shape many-clients --ops 20000 --stale > hard.jsonl
//! ```

use blastradius::Seed;
use blastradius::history::{jsonl, synth};
use clap::Parser;
use std::io::Write;

/// A preset of the flags below (flags given too still apply on top).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Shape {
    /// The flags as given.
    Flags,
    /// 100 clients, 1 key, 3 % indeterminate, reads and writes.
    ManyClients,
    /// 100 clients, 1 key, 3 % indeterminate, reads and appends.
    ManyClientsAppend,
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum, default_value_t = Shape::Flags)]
    shape: Shape,
    #[arg(long, default_value_t = 100)]
    ops: usize,
    #[arg(long, default_value_t = 0)]
    keys: usize,
    #[arg(long, default_value_t = 5)]
    clients: usize,
    /// Values drawn from 0..N; 0 writes unique values.
    #[arg(long, default_value_t = 0)]
    values: u32,
    #[arg(long, default_value_t = 0.5)]
    reads: f64,
    #[arg(long, default_value_t = 0.0)]
    cas: f64,
    #[arg(long, default_value_t = 0.0)]
    appends: f64,
    #[arg(long, default_value_t = 0.01)]
    info: f64,
    /// Mean latency, microseconds.
    #[arg(long, default_value_t = 1000)]
    latency_us: u64,
    /// Mean pause between a client's operations, microseconds.
    #[arg(long, default_value_t = 100)]
    think_us: u64,
    /// Skew traffic to a few keys.
    #[arg(long)]
    hot: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Make the history invalid: the last read returns a value never written.
    #[arg(long, conflicts_with = "stale")]
    corrupt: bool,
    /// Make the history invalid: the last read returns an old value.
    #[arg(long)]
    stale: bool,
}

fn main() -> std::io::Result<()> {
    let mut a = Args::parse();
    if a.shape != Shape::Flags {
        let given = |name: &str| std::env::args().any(|x| x == format!("--{name}"));
        if !given("clients") {
            a.clients = 100;
        }
        if !given("keys") {
            a.keys = 1;
        }
        if !given("info") {
            a.info = 0.03;
        }
        a.values = 0;
        if a.shape == Shape::ManyClientsAppend && !given("appends") {
            a.appends = 1.0 - a.reads;
        }
    }
    let p = synth::Params {
        ops: a.ops,
        keys: a.keys,
        clients: a.clients,
        values: a.values,
        reads: a.reads,
        cas: a.cas,
        appends: a.appends,
        info: a.info,
        pending: 0.2,
        fail: 0.01,
        latency_ns: a.latency_us * 1000,
        think_ns: a.think_us * 1000,
        hot_keys: a.hot,
    };
    let h = synth::generate(&p, Seed(a.seed));
    let mut text = jsonl::to_string(&h);
    let how = if a.corrupt {
        Some(synth::Corruption::NeverWritten)
    } else if a.stale {
        Some(synth::Corruption::Stale)
    } else {
        None
    };
    if let Some(how) = how {
        match synth::corrupt(&text, how) {
            Some(t) => text = t,
            None => {
                eprintln!("error: no read to corrupt in this history");
                std::process::exit(3);
            }
        }
    }
    std::io::stdout().lock().write_all(text.as_bytes())
}
