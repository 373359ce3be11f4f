//! `list` and `show`: the catalogue.

use super::EXIT_BAD_INPUT;
use std::process::ExitCode;

pub fn list() -> ExitCode {
    for i in blastradius::incidents::CATALOGUE {
        println!("{:<18} {}", i.name, i.summary);
        if let Ok(s) = i.scenario()
            && let Some(system) = &s.system
        {
            println!("{:<18}   designs: {}", "", system.design_names().join(", "));
        }
    }
    ExitCode::SUCCESS
}

pub fn show(name: &str) -> ExitCode {
    match blastradius::incidents::find(name) {
        Some(i) => {
            print!("{}", i.text);
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("error: no built-in incident {name:?} (see `blastradius list`)");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
