//! Discovers the incident catalogue: every `incidents/*.toml` becomes an
//! entry compiled into the library (name from the file's stem, text by
//! `include_str!`), in name order, so adding an incident is adding its
//! file. The list is written to `$OUT_DIR/catalogue.rs`, which
//! `src/incidents/mod.rs` includes.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=incidents");
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&root).join("incidents");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("the incidents/ folder is readable")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
        .collect();
    names.sort();
    let mut out =
        String::from("/// Every built-in incident, in name order (found by `build.rs`).\n");
    out.push_str("pub const CATALOGUE: &[Incident] = &[\n");
    for name in &names {
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "incidents/{name}.toml: a name is letters, digits and dashes"
        );
        let file = dir.join(format!("{name}.toml"));
        let _ = writeln!(
            out,
            "    Incident {{ name: {name:?}, text: include_str!({:?}) }},",
            file.display().to_string()
        );
    }
    out.push_str("];\n");
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("catalogue.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
