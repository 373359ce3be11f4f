//! `check`: linearizability (or any history-level check) of history
//! files, in parallel, reported in the order given.

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
    /// The report, the history when a picture needs it, and the line
    /// reading stopped at when the history read so far already failed.
    Verdict(
        Box<linear::Report>,
        Option<Box<history::History>>,
        Option<usize>,
    ),
    BadInput(String),
}

/// States a look while reading may search per key: the keys the
/// read-mapping decides cost none, and a hard key waits for the whole file.
const LOOK_STATES: u64 = 10_000;

/// While a file is read, the history so far is checked now and then
/// (after 65,536 lines, then each time four times as many): a cut of a history
/// that is not linearizable shows the whole is not, so an invalid file
/// stops being read there, at most four times further than the failure.
/// The looks cost about a third more checking in all (checking is a tenth
/// of reading on large files); no witness is built until the end.
fn looks_invalid(
    h: &history::History,
    (options, meter): (&linear::Options, &linear::Meter),
) -> bool {
    let quick = linear::Options {
        witness: false,
        budget: linear::Budget {
            max_states: LOOK_STATES.min(options.budget.max_states),
            ..options.budget
        },
        ..*options
    };
    linear::check_metered(h, &quick, meter).is_ok_and(|r| r.verdict == Verdict::Invalid)
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
    (options, meter): (&linear::Options, &linear::Meter),
    keep: bool,
    edn: history::edn::Semantics,
) -> (Checked, usize, f64, f64) {
    let clock = Stopwatch::start();
    let mut look_seconds = 0.0;
    let look = |h: &history::History, _line: usize| {
        let started = clock.seconds();
        let stop = looks_invalid(h, (options, meter));
        look_seconds += clock.seconds() - started;
        stop
    };
    let (h, stopped) = match history::read_file_watched(file, edn, look) {
        Ok(read) => read,
        Err(e) => return (Checked::BadInput(e.to_string()), 0, clock.seconds(), 0.0),
    };
    let parsed = clock.seconds() - look_seconds;
    let n = h.ops().len();
    let result = match linear::check_metered(&h, options, meter) {
        Ok(r) => Checked::Verdict(Box::new(r), keep.then(|| Box::new(h)), stopped),
        Err(e) => Checked::BadInput(format!("{}:{e}", file.display())),
    };
    (result, n, parsed, clock.seconds() - parsed)
}

/// What `check` was asked.
pub struct Args<'a> {
    pub files: &'a [PathBuf],
    pub checks: &'a [String],
    pub model: ModelArg,
    pub edn: EdnArg,
    pub max_states: u64,
    pub max_memory_mib: u64,
    pub format: Format,
    pub stats: bool,
    pub read_mapping: bool,
    pub deadline: Option<std::time::Duration>,
}

pub fn check(args: &Args<'_>) -> ExitCode {
    use rayon::prelude::*;
    let Args {
        files,
        edn,
        format,
        stats,
        ..
    } = *args;
    let options = options(args);
    if args.checks.iter().any(|c| c != "linearizable") {
        return suites(args, options);
    }
    let clock = Stopwatch::start();
    let keep = format == Format::Html;
    // One budget for every file checked at once.
    let meter = linear::Meter::new(options.budget.max_bytes, options.deadline);
    let results: Vec<_> = files
        .par_iter()
        .map(|f| check_one(f, (&options, &meter), keep, semantics(edn)))
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
            Checked::Verdict(r, h, stopped) => {
                if *n_ops == 0 {
                    eprintln!(
                        "warning: {name}: the history has no operations; it is trivially linearizable"
                    );
                }
                invalid |= r.verdict == Verdict::Invalid;
                unknown |= r.verdict == Verdict::Unknown;
                match format {
                    Format::Text => text_verdict(&mut out, &name.to_string(), r, *stopped),
                    Format::Json => {
                        let mut v = serde_json::to_value(r).unwrap_or_default();
                        v["file"] = serde_json::Value::String(name.to_string());
                        if let Some(line) = stopped {
                            v["read_until_line"] = serde_json::Value::from(*line);
                        }
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
        print_stats(&results, clock.seconds(), &meter);
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

/// The linearizability checker's options from the command line.
fn options(args: &Args<'_>) -> linear::Options {
    linear::Options {
        model: match args.model {
            ModelArg::Register => linear::Model::Register,
            ModelArg::CasRegister => linear::Model::CasRegister,
            ModelArg::Kv => linear::Model::Kv,
        },
        budget: linear::Budget {
            max_states: args.max_states,
            max_bytes: args.max_memory_mib.saturating_mul(1 << 20),
        },
        witness: true,
        read_mapping: args.read_mapping,
        deadline: args.deadline,
    }
}

/// One file's verdict as text: the verdict, where reading stopped, the
/// witness and why the search stopped.
fn text_verdict(out: &mut String, name: &str, r: &linear::Report, stopped: Option<usize>) {
    out.push_str(&format!("{name}\t{}\n", r.verdict));
    if let Some(line) = stopped {
        out.push_str(&format!(
            "    reading stopped after line {line}: the history up to there is already not linearizable\n"
        ));
    }
    if let Some(w) = &r.witness {
        for l in w.to_lines() {
            out.push_str(&format!("    {l}\n"));
        }
    }
    if let Some(reason) = &r.reason {
        out.push_str(&format!("    {reason}\n"));
    }
}

/// `--stats`: operations and time, then what the read-mapping decided and
/// the memory charged.
fn print_stats(results: &[(Checked, usize, f64, f64)], wall: f64, meter: &linear::Meter) {
    let ops: usize = results.iter().map(|r| r.1).sum();
    let parse: f64 = results.iter().map(|r| r.2).sum();
    let search: f64 = results.iter().map(|r| r.3).sum();
    eprintln!(
        "checked {ops} operations in {} file(s): {wall:.3} s wall ({parse:.3} s reading, {search:.3} s checking, summed over files); {:.0} ops/s",
        results.len(),
        ops as f64 / wall.max(1e-9)
    );
    let (mut keys, mut mapped, mut states) = (0, 0, 0);
    for r in results {
        if let Checked::Verdict(r, ..) = &r.0 {
            (keys, mapped, states) = (keys + r.keys, mapped + r.read_mapped, states + r.states);
        }
    }
    eprintln!(
        "{mapped} of {keys} key(s) decided from the read-mapping, the rest searched ({states} configurations stored); at most {} MiB charged to the {} MiB budget ({} MiB of it for the process)",
        meter.peak() >> 20,
        meter.limit() >> 20,
        meter.process() >> 20
    );
}

fn semantics(edn: EdnArg) -> history::edn::Semantics {
    match edn {
        EdnArg::Observed => history::edn::Semantics::Observed,
        EdnArg::Knossos => history::edn::Semantics::Knossos,
    }
}

/// `--checks` beyond linearizability: each file judged by a suite of the
/// named history-level checks (worst verdict wins), text or JSON.
fn suites(args: &Args<'_>, options: linear::Options) -> ExitCode {
    use blastradius::check::{CheckInput, Facts, HISTORY_CHECKS, Suite, history_check};
    use rayon::prelude::*;
    if let Some(bad) = args
        .checks
        .iter()
        .find(|c| history_check(c, options).is_none())
    {
        eprintln!(
            "error: --checks: no history-level check {bad:?} (known: {})",
            HISTORY_CHECKS.join(", ")
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if args.format == Format::Html {
        eprintln!(
            "error: --format html draws linearizability only; use text or json with --checks"
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let results: Vec<_> = args
        .files
        .par_iter()
        .map(|f| {
            let h = history::read_file_with(f, semantics(args.edn)).map_err(|e| e.to_string())?;
            let mut suite = Suite::new();
            for c in args.checks {
                suite.push(history_check(c, options).expect("names checked above"));
            }
            let mut report = suite.run(&CheckInput::new(&h, &Facts::new()));
            report.render_stamps(None);
            Ok(report)
        })
        .collect::<Vec<Result<_, String>>>();
    let mut worst = Verdict::Valid;
    let mut bad = false;
    for (file, r) in args.files.iter().zip(results) {
        let name = file.display().to_string();
        let report = match r {
            Ok(report) => report,
            Err(e) => {
                bad = true;
                eprintln!("error: {e}");
                continue;
            }
        };
        worst = worst.worst(report.verdict);
        if args.format == Format::Json {
            let checks: Vec<_> = report
                .findings
                .iter()
                .map(|f| serde_json::json!({"name": f.name, "verdict": f.verdict, "summary": f.summary, "witness": f.witness}))
                .collect();
            println!(
                "{}",
                serde_json::json!({"file": name, "verdict": report.verdict, "checks": checks})
            );
            continue;
        }
        println!("{name}\t{}", report.verdict);
        for f in &report.findings {
            println!("    {:<18} {:<8} {}", f.name, f.verdict, f.summary);
            if f.verdict != Verdict::Valid {
                f.details
                    .iter()
                    .take(8)
                    .for_each(|d| println!("        {d}"));
            }
        }
    }
    ExitCode::from(match (bad, worst) {
        (true, _) => EXIT_BAD_INPUT,
        (_, Verdict::Invalid) => EXIT_INVALID,
        (_, Verdict::Unknown) => EXIT_LIMIT,
        _ => 0,
    })
}
