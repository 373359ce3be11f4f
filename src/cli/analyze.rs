//! `analyze`: single points of failure and smallest cuts.

use super::{EXIT_BAD_INPUT, PlainFormat, load_named};
use anyhow::Result;
use blastradius::report::analysis_text;
use blastradius::run::Analysis;
use std::path::Path;
use std::process::ExitCode;

pub fn analyze(
    file: &Path,
    max_cut: usize,
    design: Option<&str>,
    format: PlainFormat,
) -> Result<ExitCode> {
    let scenario = match load_named(&file.to_string_lossy()) {
        Ok((s, _)) => s,
        Err(code) => return Ok(code),
    };
    if !(1..=4).contains(&max_cut) {
        eprintln!("error: --max-cut: {max_cut} is not between 1 and 4");
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    let report = match design {
        None => Analysis::new(&scenario, max_cut),
        Some(d) => match Analysis::for_design(&scenario, d, max_cut) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: --design: {e}");
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            }
        },
    };
    match format {
        PlainFormat::Text => print!("{}", analysis_text(&report)),
        PlainFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        PlainFormat::Html => print!("{}", blastradius::report::html::analysis(&report)),
    }
    Ok(ExitCode::SUCCESS)
}
