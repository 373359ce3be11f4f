//! The history format: corpora with known verdicts, malformed input naming
//! its line, round trips, Jepsen EDN import.

use blastradius::check::Verdict;
use blastradius::check::linear::{self, Model, Options};
use blastradius::history::{edn, jsonl};
use std::path::Path;

fn read(path: &Path) -> blastradius::history::History {
    if path.extension().is_some_and(|e| e == "edn") {
        edn::read_file(path).unwrap()
    } else {
        jsonl::read_file(path).unwrap()
    }
}

#[test]
fn every_corpus_history_has_the_verdict_of_its_directory() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/histories");
    let mut seen = 0;
    for (dir, model) in [
        ("register", Model::Register),
        ("cas-register", Model::CasRegister),
        ("kv", Model::Kv),
    ] {
        for (sub, expected) in [("valid", Verdict::Valid), ("invalid", Verdict::Invalid)] {
            let mut files: Vec<_> = std::fs::read_dir(root.join(dir).join(sub))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            assert!(!files.is_empty(), "{dir}/{sub} is empty");
            for f in files {
                let h = read(&f);
                let options = Options {
                    model,
                    ..Options::default()
                };
                let r = linear::check(&h, &options).unwrap();
                assert_eq!(r.verdict, expected, "{}", f.display());
                // The kv model judges every history the same way.
                let kv = linear::check(&h, &Options::default()).unwrap();
                assert_eq!(kv.verdict, expected, "{} as kv", f.display());
                seen += 1;
            }
        }
    }
    assert!(seen >= 18, "{seen}");
}

#[test]
fn writing_and_reading_back_gives_the_same_history() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/histories/kv/valid");
    for f in [
        "concurrent-appends.jsonl",
        "keys-are-independent.jsonl",
        "jepsen-style.edn",
    ] {
        let h = read(&root.join(f));
        let text = jsonl::to_string(&h);
        let again = jsonl::parse_str(&text, "again").unwrap();
        assert_eq!(jsonl::to_string(&again), text);
        assert_eq!(again.ops().len(), h.ops().len());
    }
}

/// Each malformed input is an error naming its line and field.
#[test]
fn malformed_histories_name_the_line_and_field() {
    let ok = r#"{"process":0,"type":"invoke","f":"write","value":1}"#;
    let cases: &[(&str, usize, &str)] = &[
        ("{\"process\":0,\"type\":\"invoke\"", 2, "json"),
        (
            r#"{"process":0,"type":"begin","f":"write","value":1}"#,
            2,
            "type",
        ),
        (
            r#"{"process":0,"type":"invoke","f":"delete","value":1}"#,
            2,
            "f",
        ),
        (
            r#"{"process":1,"type":"ok","f":"write","value":1}"#,
            2,
            "type",
        ),
        (
            r#"{"process":0,"type":"invoke","f":"read","value":null}"#,
            2,
            "process",
        ),
        (
            r#"{"process":"x","type":"invoke","f":"read","value":null}"#,
            2,
            "process",
        ),
        (r#"{"type":"invoke","f":"read","value":null}"#, 2, "process"),
        (r#"{"process":0,"type":"ok","f":"read","value":1}"#, 2, "f"),
        (
            r#"{"process":0,"type":"ok","f":"write","key":"k","value":1}"#,
            2,
            "key",
        ),
        (
            r#"{"process":0,"type":"ok","f":"write","value":2}"#,
            2,
            "value",
        ),
        (
            r#"{"process":2,"type":"invoke","f":"cas","value":3}"#,
            2,
            "value",
        ),
        (
            r#"{"process":2,"type":"invoke","f":"append","value":3}"#,
            2,
            "value",
        ),
        (
            r#"{"process":2,"type":"invoke","f":"read","value":null,"time":-5}"#,
            2,
            "time",
        ),
        (
            r#"{"process":2,"type":"invoke","f":"read","key":[1],"value":null}"#,
            2,
            "key",
        ),
        ("\u{ff}", 2, "json"),
    ];
    for (bad, line, field) in cases {
        let text = format!("{ok}\n{bad}\n");
        let err = jsonl::parse_str(&text, "h.jsonl").expect_err(bad);
        assert_eq!(err.line(), Some(*line), "{bad}: {err}");
        assert_eq!(err.field(), Some(*field), "{bad}: {err}");
        assert!(
            err.to_string()
                .starts_with(&format!("h.jsonl:{line}: {field}: ")),
            "{err}"
        );
    }
    // After an info a process issues nothing more; time never decreases.
    let retired = "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n\n{\"process\":0,\"type\":\"info\",\"f\":\"write\",\"value\":1}\n{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n";
    let err = jsonl::parse_str(retired, "h").unwrap_err();
    assert_eq!(
        (err.line(), err.field()),
        (Some(4), Some("process")),
        "{err}"
    );
    assert!(err.to_string().contains("line 3"), "{err}");
    let backwards = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null,\"time\":10}\n{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":null,\"time\":9}\n";
    let err = jsonl::parse_str(backwards, "h").unwrap_err();
    assert_eq!((err.line(), err.field()), (Some(2), Some("time")));
}

#[test]
fn a_model_without_the_operation_is_bad_input_not_a_verdict() {
    let text = "{\"process\":0,\"type\":\"invoke\",\"f\":\"cas\",\"value\":[1,2]}\n";
    let h = jsonl::parse_str(text, "h").unwrap();
    let options = Options {
        model: Model::Register,
        ..Options::default()
    };
    let err = linear::check(&h, &options).unwrap_err();
    assert_eq!(err.line, 1);
    assert!(err.to_string().contains("cas-register"), "{err}");
}

#[test]
fn edn_import_skips_the_nemesis_and_names_lines() {
    let text = "[{:process 0, :type :invoke, :f :read, :value nil}\n {:process :nemesis, :type :info, :f :start}\n {:process 0, :type :ok, :f :read, :value 3}]";
    let h = edn::parse_str(text, "h.edn").unwrap();
    assert_eq!(h.ops().len(), 1);
    assert_eq!(h.ops()[0].complete_line, 3);
    assert_eq!(h.values().text(h.ops()[0].value.first()), "3");
    let bad =
        "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :bogus, :f :read}\n";
    let err = edn::parse_str(bad, "h.edn").unwrap_err();
    assert_eq!((err.line(), err.field()), (Some(2), Some("type")), "{err}");
    let unterminated = "{:process 0, :type :invoke\n";
    let err = edn::parse_str(unterminated, "h.edn").unwrap_err();
    assert_eq!(err.line(), Some(1));
}

#[test]
fn a_search_out_of_budget_is_unknown_with_its_reason() {
    let h = blastradius::history::synth::generate(
        &blastradius::history::synth::Params {
            ops: 200,
            clients: 10,
            ..Default::default()
        },
        blastradius::Seed(5),
    );
    let options = Options {
        budget: linear::Budget {
            max_states: 10,
            max_bytes: 1 << 20,
        },
        ..Options::default()
    };
    let r = linear::check(&h, &options).unwrap();
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(r.reason.unwrap().contains("budget"));
    assert_eq!(
        linear::check(&h, &Options::default()).unwrap().verdict,
        Verdict::Valid
    );
}

/// Knossos's reading of EDN: registers start at 0, `:fail` did not happen,
/// an `:ok` read of `nil` is unknown. Each history below has one verdict
/// under each reading, and they differ.
#[test]
fn knossos_semantics_reads_its_corpus_as_knossos_does() {
    let check = |text: &str, semantics| {
        let h = edn::parse_str_with(text, "k.edn", semantics).unwrap();
        let options = Options {
            model: Model::CasRegister,
            ..Options::default()
        };
        linear::check(&h, &options).unwrap().verdict
    };
    // A read of 0 before any write: the initial value.
    let initial = "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value 0}\n";
    assert_eq!(check(initial, edn::Semantics::Observed), Verdict::Invalid);
    assert_eq!(check(initial, edn::Semantics::Knossos), Verdict::Valid);
    // An ok read of nil after a write: unknown to Knossos, null to us.
    let unknown = "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value nil}\n";
    assert_eq!(check(unknown, edn::Semantics::Observed), Verdict::Invalid);
    assert_eq!(check(unknown, edn::Semantics::Knossos), Verdict::Valid);
    // A failed cas of 0 -> 1 at the start: under Knossos it did not
    // happen (and 0 is still there); under ours it saw the register was
    // not 0, which it was not (null).
    let failed = "{:process 0, :type :invoke, :f :cas, :value [0 1]}\n{:process 0, :type :fail, :f :cas, :value [0 1]}\n{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value 0}\n";
    assert_eq!(check(failed, edn::Semantics::Observed), Verdict::Invalid);
    assert_eq!(check(failed, edn::Semantics::Knossos), Verdict::Valid);
    // Knossos still finds what is wrong: a read of 1 before anything wrote 1.
    let wrong = "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value 1}\n{:process 1, :type :invoke, :f :write, :value 1}\n{:process 1, :type :ok, :f :write, :value 1}\n";
    assert_eq!(check(wrong, edn::Semantics::Knossos), Verdict::Invalid);
    // The synthetic process and its line-0 write are not an error source.
    let h = edn::parse_str_with(initial, "k.edn", edn::Semantics::Knossos).unwrap();
    assert_eq!(h.ops().len(), 2);
    assert_eq!(h.ops()[0].process, 1);
}

/// The many-clients corpus (50 clients, 3 % indeterminate, unique values;
/// `gen_history --shape many-clients`) and the hot-key corpus (writes and
/// appends on the same keys): every file decided from the
/// read-mapping without storing a configuration; searched instead, the
/// one-key files are beyond a million configurations (the read-mapping
/// is what decides them).
#[test]
fn many_clients_on_few_keys_are_decided_from_the_read_mapping() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/histories/kv");
    for (file, expected) in [
        ("valid/many-clients-1-key.jsonl", Verdict::Valid),
        ("invalid/many-clients-1-key-stale.jsonl", Verdict::Invalid),
        ("valid/many-clients-3-keys.jsonl", Verdict::Valid),
        ("invalid/many-clients-3-keys-stale.jsonl", Verdict::Invalid),
        ("valid/many-clients-appends.jsonl", Verdict::Valid),
        ("invalid/many-clients-appends-stale.jsonl", Verdict::Invalid),
        // Hot keys appended to and then overwritten: two stages.
        ("valid/hot-appends-1.jsonl", Verdict::Valid),
        ("valid/hot-appends-2.jsonl", Verdict::Valid),
        ("valid/hot-appends-3.jsonl", Verdict::Valid),
        ("invalid/hot-appends-stale-1.jsonl", Verdict::Invalid),
        ("invalid/hot-appends-stale-2.jsonl", Verdict::Invalid),
        (
            "invalid/hot-appends-never-written-1.jsonl",
            Verdict::Invalid,
        ),
        (
            "invalid/hot-appends-never-written-2.jsonl",
            Verdict::Invalid,
        ),
    ] {
        let h = read(&root.join(file));
        let r = linear::check(&h, &Options::default()).unwrap();
        assert_eq!(
            (r.verdict, r.read_mapped, r.states),
            (expected, r.keys, 0),
            "{file}"
        );
        if file.contains("1-key") {
            let searched = Options {
                read_mapping: false,
                budget: linear::Budget {
                    max_states: 1_000_000,
                    ..linear::Budget::default()
                },
                ..Options::default()
            };
            let s = linear::check(&h, &searched).unwrap();
            assert_eq!(s.verdict, Verdict::Unknown, "{file} searched");
            assert_eq!(s.limit, Some(linear::Limit::States));
        }
    }
}
