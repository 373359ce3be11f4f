//! The regression corpus of bad inputs (`tests/data/bad/cases.toml`): each
//! case through the CLI, which must answer with the expected exit code and
//! words, within 10 s, under a memory cap, never by a panic or an abort.

// Time bounds on a test case are the point of these tests: wall clock.
#![allow(clippy::disallowed_methods)]

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    replace: Vec<[String; 2]>,
    #[serde(default)]
    append: Option<String>,
    #[serde(default)]
    generate: Option<String>,
    args: Vec<String>,
    exit: i32,
    says: Vec<String>,
    #[serde(default)]
    refuses: Vec<String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn base_text(from: &str) -> String {
    match from.strip_prefix("incident:") {
        Some(name) => blastradius::incidents::find(name)
            .unwrap_or_else(|| panic!("no incident {name}"))
            .text
            .to_string(),
        None => std::fs::read_to_string(root().join(from)).expect("readable base"),
    }
}

fn generate(kind: &str, base: Option<String>) -> (String, &'static str) {
    let (what, n) = kind.split_once(':').expect("kind:N");
    let n: usize = n.parse().expect("a count");
    match what {
        "sites" => {
            let mut text = base.expect("a base file");
            for k in 0..n {
                text.push_str(&format!("\n[[site]]\nname = \"extra-{k}\"\n"));
            }
            (text, "toml")
        }
        "heartbeat-mesh" => {
            let mut text = String::from(
                "[scenario]\nname = \"mesh\"\nduration = \"1h\"\n\n[[site]]\nname = \"dc\"\n",
            );
            let names: Vec<String> = (0..n).map(|k| format!("\"n{k}\"")).collect();
            for k in 0..n {
                let peers: Vec<&String> = names
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != k)
                    .map(|(_, p)| p)
                    .collect();
                let peers: Vec<&str> = peers.iter().map(|s| s.as_str()).collect();
                text.push_str(&format!(
                    "\n[[node]]\nname = \"n{k}\"\nsite = \"dc\"\nservice = \"heartbeat\"\npeers = [{}]\ninterval = \"1ms\"\ntimeout = \"5ms\"\n",
                    peers.join(", ")
                ));
            }
            (text, "toml")
        }
        "edn-nesting" => {
            let value = "[".repeat(n) + &"]".repeat(n);
            (
                format!("{{:process 0, :type :invoke, :f :write, :value {value}}}\n"),
                "edn",
            )
        }
        other => panic!("unknown generator {other}"),
    }
}

/// Runs the CLI under a 2 GiB address-space cap, killing it after 10 s.
fn run(args: &[String]) -> (i32, String, Duration) {
    let bin = env!("CARGO_BIN_EXE_blastradius");
    let mut quoted = vec![format!("'{bin}'")];
    quoted.extend(
        args.iter()
            .map(|a| format!("'{}'", a.replace('\'', "'\\''"))),
    );
    let script = format!("ulimit -v 2097152; exec {}", quoted.join(" "));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waits") {
            let mut err = String::new();
            use std::io::Read;
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return (status.code().unwrap_or(-1), err, start.elapsed());
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} ran past 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_bad_input_gets_its_exit_code_and_a_message_that_names_it() {
    let text = std::fs::read_to_string(root().join("tests/data/bad/cases.toml")).expect("corpus");
    let cases: Cases = toml::from_str(&text).expect("a valid manifest");
    assert!(cases.case.len() >= 30, "{} cases", cases.case.len());
    let dir = std::env::temp_dir().join(format!("blastradius-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut failures = Vec::new();
    for (k, c) in cases.case.iter().enumerate() {
        let input: Option<PathBuf> = if let Some(f) = &c.file {
            Some(root().join("tests/data/bad").join(f))
        } else if c.from.is_some() || c.generate.is_some() {
            let mut base = c.from.as_deref().map(base_text);
            for [a, b] in &c.replace {
                let t = base.as_ref().expect("replace needs a base");
                assert!(t.contains(a.as_str()), "{}: the base lacks {a:?}", c.name);
                base = Some(t.replacen(a.as_str(), b, 1));
            }
            if let Some(extra) = &c.append {
                base.as_mut().expect("append needs a base").push_str(extra);
            }
            let (text, ext) = match &c.generate {
                Some(g) => generate(g, base),
                None => (base.expect("a base"), "toml"),
            };
            let path = dir.join(format!("case-{k}.{ext}"));
            std::fs::write(&path, text).expect("writes");
            Some(path)
        } else {
            None
        };
        let args: Vec<String> = c
            .args
            .iter()
            .map(|a| match &input {
                Some(p) => a.replace("{file}", p.to_str().expect("utf-8 path")),
                None => a.clone(),
            })
            .collect();
        let (code, err, took) = run(&args);
        let mut wrong = Vec::new();
        if code != c.exit {
            wrong.push(format!("exit {code}, expected {}", c.exit));
        }
        for w in &c.says {
            if !err.contains(w.as_str()) {
                wrong.push(format!("message lacks {w:?}"));
            }
        }
        for w in &c.refuses {
            if err.contains(w.as_str()) {
                wrong.push(format!("message has {w:?}"));
            }
        }
        if err.contains("panicked") {
            wrong.push("a panic".into());
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {} ({took:?})\n    {}",
                c.name,
                wrong.join("; "),
                err.trim()
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_corpus_files_exist() {
    for f in [
        "empty.jsonl",
        "mixed-keys.jsonl",
        "bom.jsonl",
        "truncated.jsonl",
    ] {
        assert!(
            Path::new(&root().join("tests/data/bad").join(f)).exists(),
            "{f}"
        );
    }
}
