//! A Docker Compose file: one service per `services` entry; replicas and
//! zones from the Swarm `deploy` section (`replicas`, placement
//! constraints on a zone label, a spread preference); calls from
//! `depends_on` and from environment values naming another service.

use super::{ImportError, Imported, ImportedService, keys, mentioned, scalar, store_kind};
use std::path::Path;
use yaml_rust2::Yaml;

/// Top-level keys of the Compose specification.
const TOP: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "configs", "secrets", "include",
];

/// Service keys of the Compose specification (read or not).
const SERVICE: &[&str] = &[
    "image",
    "build",
    "deploy",
    "depends_on",
    "environment",
    "ports",
    "expose",
    "volumes",
    "command",
    "entrypoint",
    "networks",
    "restart",
    "healthcheck",
    "labels",
    "env_file",
    "container_name",
    "hostname",
    "working_dir",
    "user",
    "logging",
    "ulimits",
    "cap_add",
    "cap_drop",
    "profiles",
    "secrets",
    "configs",
    "extra_hosts",
    "dns",
    "stop_grace_period",
    "tmpfs",
    "init",
    "platform",
    "privileged",
    "read_only",
    "shm_size",
    "sysctls",
    "links",
    "network_mode",
    "pull_policy",
    "scale",
    "stdin_open",
    "tty",
    "mem_limit",
    "cpus",
];

/// Reads a Compose document.
pub fn read(file: &Path, docs: &[Yaml]) -> Result<Imported, ImportError> {
    let empty = |message: &str| ImportError::Empty {
        file: file.to_path_buf(),
        message: message.to_string(),
    };
    let doc = docs.first().ok_or_else(|| empty("no YAML document"))?;
    let services = doc["services"]
        .as_hash()
        .ok_or_else(|| empty("no `services` mapping: is this a Compose file?"))?;
    let shown = file.display();
    let mut out = Imported {
        name: doc["name"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| stem(file)),
        ..Imported::default()
    };
    for k in keys(doc) {
        if !TOP.contains(&k.as_str()) && !k.starts_with("x-") {
            out.ignored
                .push(format!("{shown}: top-level key `{k}` is not Compose's"));
        }
    }
    let names: Vec<String> = services.keys().filter_map(scalar).collect();
    let mut spread_all = Vec::new();
    for (key, def) in services {
        let Some(name) = scalar(key) else { continue };
        for k in keys(def) {
            if !SERVICE.contains(&k.as_str()) && !k.starts_with("x-") {
                out.ignored.push(format!(
                    "{shown}: services.{name}.{k}: not a Compose service key"
                ));
            }
        }
        let image = def["image"]
            .as_str()
            .map(str::to_string)
            .or_else(|| scalar(&def["build"]).map(|b| format!("build:{b}")))
            .unwrap_or_else(|| "build".into());
        let deploy = &def["deploy"];
        let replicas = deploy["replicas"]
            .as_i64()
            .or_else(|| def["scale"].as_i64())
            .and_then(|r| u32::try_from(r).ok());
        let mut zones = Vec::new();
        for c in deploy["placement"]["constraints"]
            .as_vec()
            .into_iter()
            .flatten()
        {
            if let Some(z) = c.as_str().and_then(zone_constraint) {
                zones.push(z);
            }
        }
        let spreads = deploy["placement"]["preferences"]
            .as_vec()
            .into_iter()
            .flatten()
            .any(|p| p["spread"].as_str().is_some_and(|s| s.contains("zone")));
        if spreads {
            spread_all.push(out.services.len());
        }
        let mut calls: Vec<String> = match &def["depends_on"] {
            Yaml::Array(a) => a.iter().filter_map(scalar).collect(),
            h @ Yaml::Hash(_) => keys(h),
            _ => Vec::new(),
        };
        for v in env_values(&def["environment"]) {
            for n in mentioned(&v, &names) {
                if *n != name && !calls.contains(n) {
                    calls.push(n.clone());
                }
            }
        }
        calls.retain(|c| {
            let known = names.contains(c);
            if !known {
                out.ignored.push(format!(
                    "{shown}: services.{name}.depends_on: no service `{c}`"
                ));
            }
            known
        });
        let entry = def["ports"].as_vec().is_some_and(|p| !p.is_empty());
        out.services.push(ImportedService {
            store: store_kind(&image).map(str::to_string),
            name: name.clone(),
            replicas,
            zones,
            image,
            calls,
            entry,
            origin: format!("{shown}: services.{name}"),
        });
    }
    let all: Vec<String> = zones_of(&out.services);
    for i in spread_all {
        if out.services[i].zones.is_empty() {
            out.services[i].zones = all.clone();
        }
    }
    Ok(out)
}

/// `node.labels.zone == a`, `node.labels.topology.kubernetes.io/zone==b`:
/// the zone.
fn zone_constraint(c: &str) -> Option<String> {
    let (label, value) = c.split_once("==")?;
    let label = label.trim();
    (label.starts_with("node.labels.") && label.contains("zone")).then(|| value.trim().to_string())
}

/// Every zone named, in first-seen order.
pub fn zones_of(services: &[ImportedService]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for z in services.iter().flat_map(|s| &s.zones) {
        if !all.contains(z) {
            all.push(z.clone());
        }
    }
    all
}

/// `environment` as a list of `K=V` or a mapping: the values.
fn env_values(env: &Yaml) -> Vec<String> {
    match env {
        Yaml::Array(a) => a
            .iter()
            .filter_map(scalar)
            .filter_map(|kv| kv.split_once('=').map(|(_, v)| v.to_string()))
            .collect(),
        Yaml::Hash(h) => h.values().filter_map(scalar).collect(),
        _ => Vec::new(),
    }
}

/// The file's name without extension: the scenario's default name.
pub fn stem(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "imported".into())
}
