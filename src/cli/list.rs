//! `list` and `show`: the catalogue.

use super::EXIT_BAD_INPUT;
use std::process::ExitCode;

pub fn list(format: super::PlainFormat) -> ExitCode {
    if format == super::PlainFormat::Json {
        let all: Vec<serde_json::Value> = blastradius::incidents::CATALOGUE
            .iter()
            .map(|i| {
                let designs: Vec<String> = i
                    .scenario()
                    .map(|s| {
                        s.system
                            .design_names()
                            .iter()
                            .map(|d| d.to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                serde_json::json!({ "name": i.name, "summary": i.summary(), "designs": designs })
            })
            .collect();
        println!("{}", serde_json::Value::Array(all));
        return ExitCode::SUCCESS;
    }
    for i in blastradius::incidents::CATALOGUE {
        println!("{:<18} {}", i.name, i.summary());
        if let Ok(s) = i.scenario() {
            println!(
                "{:<18}   designs: {}",
                "",
                s.system.design_names().join(", ")
            );
        }
    }
    ExitCode::SUCCESS
}

/// `show --reference [TABLE]`.
pub fn reference(only: Option<&str>, format: super::ReferenceFormat) -> ExitCode {
    use blastradius::scenario::reference;
    let registry = blastradius::systems::Registry::builtin();
    let tables = match reference::tables(&registry, only) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    match format {
        super::ReferenceFormat::Text => print!("{}", reference::text(&tables)),
        super::ReferenceFormat::Markdown if only.is_none() => {
            print!("{}", reference::document(&registry))
        }
        super::ReferenceFormat::Markdown => print!("{}", reference::markdown(&tables)),
        super::ReferenceFormat::Json => {
            let all: serde_json::Map<String, serde_json::Value> = tables
                .into_iter()
                .map(|t| (t.table, t.schema.to_value()))
                .collect();
            println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
        }
    }
    ExitCode::SUCCESS
}

pub fn show(name: &str, knobs: bool) -> ExitCode {
    if !knobs {
        return match blastradius::incidents::find(name) {
            Some(i) => {
                print!("{}", i.text);
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("error: no built-in incident {name:?} (see `blastradius list`)");
                ExitCode::from(EXIT_BAD_INPUT)
            }
        };
    }
    let (scenario, _) = match super::load_named(name) {
        Ok(x) => x,
        Err(code) => return code,
    };
    match blastradius::scenario::knobs::knobs(scenario.source_text()) {
        Ok(all) => {
            let width = all.iter().map(|k| k.path.len()).max().unwrap_or(0);
            for k in &all {
                let tag = k
                    .tag
                    .map(|t| format!("[{t}]"))
                    .unwrap_or_else(|| "   ".into());
                println!("{tag} {:<width$} = {}", k.path, k.value);
            }
            println!(
                "\n{} knob(s); set one with `blastradius sweep {name} --set PATH=V1,V2` or edit `blastradius show {name}`",
                all.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {name}: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
