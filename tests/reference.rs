//! The key reference: generated from the configuration types, complete
//! (every built-in system has one, every key a meaning), in sync with
//! `docs/reference.md`, and reachable from the CLI.

use blastradius::scenario::reference::{self, Key};
use blastradius::systems::Registry;
use std::process::Command;

fn blastradius(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_blastradius"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Keys without a meaning, as `table: path`.
fn undocumented(table: &str, keys: &[Key]) -> Vec<String> {
    keys.iter()
        .filter(|k| k.meaning.trim().is_empty())
        .map(|k| format!("{table}: {}", k.path))
        .collect()
}

#[test]
fn every_built_in_system_and_the_scenario_file_have_a_reference() {
    let registry = Registry::builtin();
    let tables = reference::tables(&registry, None).unwrap();
    let documented: Vec<&str> = tables.iter().map(|t| t.table.as_str()).collect();
    for name in registry.tables() {
        assert!(documented.contains(&name), "{name} has no reference");
    }
    assert_eq!(documented[0], "scenario");
    for t in &tables {
        assert!(
            reference::keys(&t.schema).len() >= 5,
            "{}: too few keys",
            t.table
        );
    }
}

#[test]
fn every_key_has_a_meaning() {
    let mut missing = Vec::new();
    for t in reference::tables(&Registry::builtin(), None).unwrap() {
        missing.extend(undocumented(&t.table, &reference::keys(&t.schema)));
    }
    assert!(
        missing.is_empty(),
        "keys without a doc comment (add one to the field):\n{}",
        missing.join("\n")
    );
}

/// The check above can fail: a type with an undocumented field is caught,
/// and its required and defaulted keys read as such.
#[test]
fn an_undocumented_field_is_caught() {
    #[allow(dead_code)]
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct Knobs {
        /// Documented.
        rate: f64,
        undocumented: u32,
        /// With a default.
        #[serde(default)]
        burst: Option<u32>,
    }
    let keys = reference::keys(&schemars::schema_for!(Knobs));
    let paths: Vec<&str> = keys.iter().map(|k| k.path.as_str()).collect();
    assert_eq!(paths, ["burst", "rate", "undocumented"]);
    assert_eq!(undocumented("knobs", &keys), ["knobs: undocumented"]);
    assert!(keys[1].required && !keys[0].required);
}

#[test]
fn the_reference_reads_the_types_as_the_parser_does() {
    let tables = reference::tables(&Registry::builtin(), Some("replicated_db")).unwrap();
    let keys = reference::keys(&tables[0].schema);
    let get = |p: &str| {
        keys.iter()
            .find(|k| k.path == p)
            .unwrap_or_else(|| panic!("{p}"))
    };
    assert!(get("cluster[].primary").required);
    assert_eq!(
        get("discovery.propagation_delay").default.as_deref(),
        Some("\"500ms\"")
    );
    assert_eq!(get("discovery.propagation_delay").kind, "duration");
    assert_eq!(
        get("replication.mode").kind,
        "one of \"async\", \"semi_sync\""
    );
    let scenario = reference::tables(&Registry::builtin(), Some("scenario")).unwrap();
    let keys = reference::keys(&scenario[0].schema);
    assert!(
        keys.iter()
            .any(|k| k.path == "fault[](kind = \"crash\").target")
    );
    assert!(
        keys.iter()
            .any(|k| k.path == "link[].latency(dist = \"uniform\").min")
    );
}

/// `docs/reference.md` is the generated reference; with
/// `BLASTRADIUS_BLESS=1` this test rewrites it.
#[test]
fn docs_reference_md_is_in_sync() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference.md");
    let generated = reference::document(&Registry::builtin());
    if std::env::var_os("BLASTRADIUS_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/reference.md is out of date: run `BLASTRADIUS_BLESS=1 cargo test --test reference`"
    );
}

#[test]
fn show_reference_prints_a_table_or_names_the_ones_there_are() {
    let (code, out, _) = blastradius(&["show", "--reference", "replicated_db"]);
    assert_eq!(code, 0);
    assert!(out.contains("discovery.sites"), "{out}");
    assert!(!out.contains("[cdn]"), "only the table asked for");
    let (code, out, _) = blastradius(&["show", "--reference", "--format", "json", "cdn"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["cdn"]["properties"].is_object(), "{out}");
    let (code, _, err) = blastradius(&["show", "--reference", "replicated"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("replicated_db") && err.contains("scenario"),
        "{err}"
    );
    let (code, _, err) = blastradius(&["show"]);
    assert_eq!(code, 3, "a name is needed without --reference: {err}");
    assert!(err.contains("<SCENARIO>"), "{err}");
}
