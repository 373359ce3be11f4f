//! `import`: Compose and Kubernetes manifests become `[architecture]`
//! scenarios that load and run; what the manifests give is carried over as
//! given (replicas, zones, the call graph from `depends_on` and
//! environment values, stores by image, entry points), what they do not
//! give is a default tagged [A] and listed; unknown kinds and keys are
//! reported, malformed YAML names its line and column.

use blastradius::prelude::*;
use std::path::{Path, PathBuf};
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

/// The services of a scenario text: name -> (replicas, sites, calls).
fn services(text: &str) -> Vec<(String, i64, Vec<String>, Vec<String>)> {
    let t: toml::Table = toml::from_str(text).unwrap();
    t["architecture"]["service"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let strings = |v: &toml::Value| -> Vec<String> {
                v.as_array()
                    .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default()
            };
            let calls = s
                .get("call")
                .and_then(|c| c.as_array())
                .map(|a| {
                    a.iter()
                        .map(|c| c["to"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            (
                s["name"].as_str().unwrap().to_string(),
                s["replicas"].as_integer().unwrap(),
                strings(&s["sites"]),
                calls,
            )
        })
        .collect()
}

fn runs_valid(text: &str) -> Outcome {
    let s =
        Scenario::parse(Path::new("imported.toml"), text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let o = run(&s, None, Seed(1), &RunOptions::default()).unwrap();
    assert_eq!(o.checks.verdict, Verdict::Valid, "{:#?}", o.checks.findings);
    assert_eq!(o.metrics["failed_requests"], 0.0);
    o
}

#[test]
fn compose_becomes_a_scenario_with_the_call_graph_replicas_and_zones() {
    let (code, text, err) =
        blastradius(&["import", "compose", "tests/data/import/shop-compose.yaml"]);
    assert_eq!(code, 0, "{err}");
    let s = services(&text);
    let get = |n: &str| {
        s.iter()
            .find(|x| x.0 == n)
            .unwrap_or_else(|| panic!("{n}: {s:?}"))
    };
    let zones = ["zone-a", "zone-b", "zone-c"].map(String::from).to_vec();
    // deploy.replicas and a spread preference over the zones named.
    assert_eq!(get("web").1, 3);
    assert_eq!(get("web").2, zones);
    assert_eq!(get("web").3, ["api"]); // depends_on
    // Environment values: a URL's host, host:port, a bare name.
    assert_eq!(get("api").3, ["db", "cart", "redis"]);
    assert_eq!(get("cart").3, ["redis"]);
    // A placement constraint pins a service to its zone.
    assert_eq!(get("db").2, ["zone-b"]);
    assert_eq!(get("cart").2, ["zone-a"]);
    // No replicas given: one, tagged and listed.
    assert_eq!(get("redis").1, 1);
    assert!(err.contains("redis: 1 replica (none given)"), "{err}");
    // Stores by image; entry points by published ports.
    assert!(
        text.contains("services.db (postgres:16): a store (PostgreSQL)"),
        "{text}"
    );
    assert!(
        text.contains("services.redis (redis:7): a store (Redis)"),
        "{text}"
    );
    assert!(text.contains("service = \"web\""));
    assert_eq!(text.matches("[[architecture.cohort]]").count(), 1);
    // Every default is tagged where it is written.
    for key in [
        "workers = ",
        "queue_max = ",
        "service_time = ",
        "timeout = ",
        "rate = ",
    ] {
        for line in text.lines().filter(|l| l.starts_with(key)) {
            assert!(line.contains("# [A]"), "{line}");
        }
    }
    // A key Compose does not have is reported, not fatal.
    assert!(
        err.contains("services.redis.frobnicate: not a Compose service key"),
        "{err}"
    );
    // One PostgreSQL node: a single-node store.
    assert_eq!(
        text.matches("store = { replication = \"single\"").count(),
        2,
        "{text}"
    );
    let o = runs_valid(&text);
    // Every user request crosses web, api, db, cart and redis.
    assert!(o.metrics["throughput_db"] > 40.0 && o.metrics["throughput_redis"] > 80.0);
}

#[test]
fn kubernetes_manifests_become_a_scenario_through_services_and_affinities() {
    let (code, text, err) =
        blastradius(&["import", "kubernetes", "tests/data/import/shop-k8s.yaml"]);
    assert_eq!(code, 0, "{err}");
    let s = services(&text);
    let get = |n: &str| {
        s.iter()
            .find(|x| x.0 == n)
            .unwrap_or_else(|| panic!("{n}: {s:?}"))
    };
    let zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
        .map(String::from)
        .to_vec();
    // A URL naming the Service checkout-svc is a call to the checkout
    // Deployment it selects.
    assert_eq!(get("frontend").3, ["checkout"]);
    assert_eq!(get("checkout").3, ["orders-db", "payments"]);
    // spec.replicas; a topology spread constraint on the zone key; a
    // required node affinity; a zone nodeSelector.
    assert_eq!(
        (get("frontend").1, get("checkout").1, get("orders-db").1),
        (3, 4, 3)
    );
    assert_eq!(get("frontend").2, zones);
    assert_eq!(get("checkout").2, zones);
    assert_eq!(get("orders-db").2, ["eu-west-1a"]);
    assert!(text.contains("StatefulSet orders-db (postgres:16): a store (PostgreSQL)"));
    // The LoadBalancer Service makes frontend the entry point.
    assert!(text.contains("service = \"frontend\""));
    assert!(
        err.contains("HorizontalPodAutoscaler checkout: not modelled"),
        "{err}"
    );
    // A three-replica PostgreSQL replicates asynchronously with a failover
    // detector, all assumed; its writes are judged.
    assert!(
        text.contains("store = { replication = \"async\", writes = 0.2, failover = { site = \"eu-west-1a\" } }   # [A]"),
        "{text}"
    );
    assert!(
        err.contains("orders-db: PostgreSQL replicated async"),
        "{err}"
    );
    let o = runs_valid(&text);
    assert!(o.metrics["writes_acked"] > 0.0);
    assert_eq!(
        o.checks.get("lost-writes").map(|f| f.verdict),
        Some(Verdict::Valid)
    );
}

#[test]
fn malformed_yaml_names_file_line_and_column_and_no_services_is_an_error() {
    let dir = std::env::temp_dir().join(format!("blastradius-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad: PathBuf = dir.join("bad.yaml");
    std::fs::write(&bad, "services:\n  web:\n    image: [unclosed\n").unwrap();
    let (code, _, err) = blastradius(&["import", "compose", &bad.display().to_string()]);
    assert_eq!(code, 3);
    assert!(err.contains(&format!("{}:4:1:", bad.display())), "{err}");
    let empty = dir.join("empty.yaml");
    std::fs::write(&empty, "version: '3'\n").unwrap();
    let (code, _, err) = blastradius(&["import", "compose", &empty.display().to_string()]);
    assert_eq!(code, 3);
    assert!(err.contains("no `services` mapping"), "{err}");
    let (code, _, err) = blastradius(&["import", "kubernetes", &empty.display().to_string()]);
    assert_eq!(code, 3);
    assert!(err.contains("no Deployment or StatefulSet"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
