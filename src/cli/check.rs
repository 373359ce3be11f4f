//! `check`: linearizability of history files, in parallel, reported in the
//! order given.

use super::{EXIT_BAD_INPUT, EXIT_INVALID, EXIT_LIMIT, Format, Stopwatch};
use blastradius::check::{Verdict, linear};
use blastradius::history;
use clap::ValueEnum;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    Register,
    CasRegister,
    Kv,
}

/// The outcome of checking one file.
enum Checked {
    /// The report, and the history when a picture needs it.
    Verdict(Box<linear::Report>, Option<Box<history::History>>),
    BadInput(String),
}

/// How `.edn` files are read.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EdnArg {
    /// What the client saw: registers start at null, :fail is observed.
    Observed,
    /// Knossos's: registers start at 0, :fail did not happen, an ok read of
    /// nil is unknown.
    Knossos,
}

fn check_one(
    file: &Path,
    options: &linear::Options,
    keep: bool,
    edn: history::edn::Semantics,
) -> (Checked, usize, f64, f64) {
    let clock = Stopwatch::start();
    let h = match history::read_file_with(file, edn) {
        Ok(h) => h,
        Err(e) => return (Checked::BadInput(e.to_string()), 0, clock.seconds(), 0.0),
    };
    let parsed = clock.seconds();
    let n = h.ops().len();
    let result = match linear::check(&h, options) {
        Ok(r) => Checked::Verdict(Box::new(r), keep.then(|| Box::new(h))),
        Err(e) => Checked::BadInput(format!("{}:{e}", file.display())),
    };
    (result, n, parsed, clock.seconds() - parsed)
}

pub fn check(
    files: &[PathBuf],
    model: ModelArg,
    edn: EdnArg,
    max_states: u64,
    max_memory_mib: u64,
    format: Format,
    stats: bool,
) -> ExitCode {
    use rayon::prelude::*;
    let options = linear::Options {
        model: match model {
            ModelArg::Register => linear::Model::Register,
            ModelArg::CasRegister => linear::Model::CasRegister,
            ModelArg::Kv => linear::Model::Kv,
        },
        budget: linear::Budget {
            max_states,
            max_bytes: max_memory_mib.saturating_mul(1 << 20),
        },
        witness: true,
    };
    let clock = Stopwatch::start();
    let keep = format == Format::Html;
    let results: Vec<_> = files
        .par_iter()
        .map(|f| {
            let edn = match edn {
                EdnArg::Observed => history::edn::Semantics::Observed,
                EdnArg::Knossos => history::edn::Semantics::Knossos,
            };
            check_one(f, &options, keep, edn)
        })
        .collect();
    let mut pages: Vec<(String, &history::History, &linear::Report)> = Vec::new();
    let (mut invalid, mut unknown, mut bad) = (false, false, false);
    let mut out = String::new();
    for (file, (result, n_ops, ..)) in files.iter().zip(&results) {
        let name = file.display();
        match result {
            Checked::BadInput(e) => {
                bad = true;
                eprintln!("error: {e}");
                if format == Format::Json {
                    out.push_str(
                        &serde_json::json!({"file": name.to_string(), "error": e}).to_string(),
                    );
                    out.push('\n');
                }
            }
            Checked::Verdict(r, h) => {
                if *n_ops == 0 {
                    eprintln!(
                        "warning: {name}: the history has no operations; it is trivially linearizable"
                    );
                }
                invalid |= r.verdict == Verdict::Invalid;
                unknown |= r.verdict == Verdict::Unknown;
                match format {
                    Format::Text => {
                        out.push_str(&format!("{name}\t{}\n", r.verdict));
                        if let Some(w) = &r.witness {
                            for l in w.to_lines() {
                                out.push_str(&format!("    {l}\n"));
                            }
                        }
                        if let Some(reason) = &r.reason {
                            out.push_str(&format!("    {reason}\n"));
                        }
                    }
                    Format::Json => {
                        let mut v = serde_json::to_value(r).unwrap_or_default();
                        v["file"] = serde_json::Value::String(name.to_string());
                        out.push_str(&v.to_string());
                        out.push('\n');
                    }
                    Format::Html => {
                        if let Some(h) = h {
                            pages.push((name.to_string(), h, r));
                        }
                    }
                }
            }
        }
    }
    if format == Format::Html {
        out = blastradius::report::html::history_checks(&pages);
    }
    print!("{out}");
    if stats {
        let ops: usize = results.iter().map(|r| r.1).sum();
        let parse: f64 = results.iter().map(|r| r.2).sum();
        let search: f64 = results.iter().map(|r| r.3).sum();
        let wall = clock.seconds();
        eprintln!(
            "checked {ops} operations in {} file(s): {wall:.3} s wall ({parse:.3} s reading, {search:.3} s checking, summed over files); {:.0} ops/s",
            files.len(),
            ops as f64 / wall.max(1e-9)
        );
    }
    ExitCode::from(if bad {
        EXIT_BAD_INPUT
    } else if invalid {
        EXIT_INVALID
    } else if unknown {
        EXIT_LIMIT
    } else {
        0
    })
}
