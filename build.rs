//! Discovers the incident catalogue: every `incidents/*.toml` becomes an
//! entry compiled into the library (name from the file's stem, text by
//! `include_str!`), in name order, so adding an incident is adding its
//! file; every `scenarios/*.toml` becomes an example the same way. The
//! lists are written to `$OUT_DIR/catalogue.rs`, which
//! `src/incidents/mod.rs` includes.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=incidents");
    println!("cargo:rerun-if-changed=scenarios");
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let incidents = entries(&Path::new(&root).join("incidents"));
    let examples = entries(&Path::new(&root).join("scenarios"));
    for (name, _) in &examples {
        assert!(
            !incidents.iter().any(|(n, _)| n == name),
            "scenarios/{name}.toml: an example may not share an incident's name"
        );
    }
    let mut out =
        String::from("/// Every built-in incident, in name order (found by `build.rs`).\n");
    list(&mut out, "CATALOGUE", &incidents);
    out.push_str(
        "/// Every shipped example scenario (`scenarios/`), in name order (found by `build.rs`).\n",
    );
    list(&mut out, "EXAMPLES", &examples);
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("catalogue.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// The `*.toml` files of `dir`, as (stem, path), in name order.
fn entries(dir: &Path) -> Vec<(String, String)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{} is readable: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{}/{name}.toml: a name is letters, digits and dashes",
                dir.display()
            );
            let file = dir.join(format!("{name}.toml")).display().to_string();
            (name, file)
        })
        .collect()
}

fn list(out: &mut String, constant: &str, entries: &[(String, String)]) {
    let _ = writeln!(out, "pub const {constant}: &[Incident] = &[");
    for (name, file) in entries {
        let _ = writeln!(
            out,
            "    Incident {{ name: {name:?}, text: include_str!({file:?}) }},"
        );
    }
    out.push_str("];\n");
}
