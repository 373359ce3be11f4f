//! The front door: a library user's crate (`tests/library_user/`) with
//! nothing in its Cargo.toml but blastradius, default features off, and
//! one `use blastradius::prelude::*;` builds and runs its own system.

use std::process::Command;

#[test]
fn a_library_user_needs_the_prelude_and_nothing_else() {
    let root = env!("CARGO_MANIFEST_DIR");
    let manifest = format!("{root}/tests/library_user/Cargo.toml");
    let target = format!("{root}/target/library_user");
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--offline", "--manifest-path", &manifest])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Ten seconds of one tick a second.
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ticks=10");
    // Without the CLI feature, none of its dependencies were built.
    let deps = std::fs::read_dir(format!("{target}/debug/deps")).expect("deps");
    let names: Vec<String> = deps
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for cli_only in ["libclap", "libindicatif", "libanyhow", "libcsv-"] {
        assert!(
            !names.iter().any(|n| n.starts_with(cli_only)),
            "{cli_only} was built for a library user"
        );
    }
}
