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

/// A reader that closed the pipe (`blastradius show x | head`) ends the
/// output: exit as a program killed by SIGPIPE would (128 + 13), without
/// the panic text `println!` would print.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.starts_with("failed printing to std") && text.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
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
