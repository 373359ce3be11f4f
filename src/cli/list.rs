//! `list` and `show`: the catalogue.

use super::EXIT_BAD_INPUT;
use std::process::ExitCode;

pub fn list(format: super::PlainFormat) -> ExitCode {
    let all = blastradius::incidents::listing();
    match format {
        super::PlainFormat::Json => println!("{}", serde_json::json!(all)),
        super::PlainFormat::Html => print!("{}", blastradius::report::html::catalogue(&all)),
        super::PlainFormat::Text => {
            for kind in ["incident", "example"] {
                if kind == "example" {
                    println!("\nExamples (scenarios/; no published figures, designs to compare):");
                }
                for i in all.iter().filter(|i| i.kind == kind) {
                    println!("{:<18} {}", i.name, i.summary);
                    println!("{:<18}   designs: {}", "", i.designs.join(", "));
                }
            }
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
        return match blastradius::incidents::find_any(name) {
            Some(i) => {
                print!("{}", i.text);
                ExitCode::SUCCESS
            }
            None if std::path::Path::new(name).is_file() => {
                eprintln!(
                    "error: `show` prints a built-in incident's scenario, and {name} is a file already: `blastradius show {name} --knobs` lists its knobs, `blastradius run {name}` runs it"
                );
                ExitCode::from(EXIT_BAD_INPUT)
            }
            None => {
                eprintln!("error: {}", super::not_found(name));
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
