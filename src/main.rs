//! The `blastradius` command line: a thin layer over the library. One file
//! per command under `cli/`.
//!
//! Exit codes: 0 the run completed (or the analysis answered, or every
//! history checked is valid), 1 a check failed (`--check-determinism`
//! mismatch, an invalid history), 2 the run stopped at a limit (its results
//! are partial) or a verdict is unknown, 3 bad input (file, line, field or
//! argument named).

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let code = if e.use_stderr() {
                cli::EXIT_BAD_INPUT
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    cli::dispatch(args).unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(cli::EXIT_BAD_INPUT)
    })
}
