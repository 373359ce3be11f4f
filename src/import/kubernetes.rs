//! Kubernetes manifests: one service per Deployment or StatefulSet;
//! replicas from `spec.replicas`; zones from a zone `nodeSelector`, a
//! required node affinity on a zone label, or a topology spread constraint
//! on the zone key (spread over every zone the manifests name); calls from
//! container environment values naming a Service (or a workload); entry
//! points from LoadBalancer and NodePort Services and Ingress backends.

use super::compose::{stem, zones_of};
use super::{ImportError, Imported, ImportedService, mentioned, scalar, store_kind};
use std::path::{Path, PathBuf};
use yaml_rust2::Yaml;

/// Kinds read; every other kind is reported.
const WORKLOADS: &[&str] = &["Deployment", "StatefulSet"];

struct Workload {
    service: ImportedService,
    labels: Vec<(String, String)>,
    env: Vec<String>,
    spread: bool,
}

struct Svc {
    name: String,
    selector: Vec<(String, String)>,
    entry: bool,
}

fn pairs(y: &Yaml) -> Vec<(String, String)> {
    y.as_hash()
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

fn is_zone_key(k: &str) -> bool {
    k.contains("zone")
}

/// Reads the documents of `files`.
pub fn read(files: &[PathBuf], docs: &[(PathBuf, Yaml)]) -> Result<Imported, ImportError> {
    let mut out = Imported {
        name: files.first().map_or_else(|| "imported".into(), |f| stem(f)),
        ..Imported::default()
    };
    let mut workloads: Vec<Workload> = Vec::new();
    let mut services: Vec<Svc> = Vec::new();
    let mut ingress: Vec<String> = Vec::new();
    for (file, doc) in docs {
        if doc.is_null() {
            continue;
        }
        let kind = doc["kind"].as_str().unwrap_or("");
        let name = doc["metadata"]["name"].as_str().unwrap_or("").to_string();
        match kind {
            k if WORKLOADS.contains(&k) => workloads.push(workload(file, k, &name, doc)),
            "Service" => services.push(Svc {
                selector: pairs(&doc["spec"]["selector"]),
                entry: matches!(doc["spec"]["type"].as_str(), Some("LoadBalancer" | "NodePort")),
                name,
            }),
            "Ingress" => {
                for rule in doc["spec"]["rules"].as_vec().into_iter().flatten() {
                    for p in rule["http"]["paths"].as_vec().into_iter().flatten() {
                        if let Some(s) = p["backend"]["service"]["name"].as_str() {
                            ingress.push(s.to_string());
                        }
                    }
                }
            }
            "" => out.ignored.push(format!("{}: a document without `kind`", file.display())),
            other => out.ignored.push(format!(
                "{}: {other} {name}: not modelled (Deployments, StatefulSets, Services and Ingresses are)",
                file.display()
            )),
        }
    }
    if workloads.is_empty() {
        return Err(ImportError::Empty {
            file: files.first().cloned().unwrap_or_default(),
            message: "no Deployment or StatefulSet".into(),
        });
    }
    // A Service stands for the workload whose pod labels its selector matches.
    let target_of = |svc: &Svc| {
        workloads.iter().position(|w| {
            !svc.selector.is_empty() && svc.selector.iter().all(|kv| w.labels.contains(kv))
        })
    };
    let mut alias: Vec<(String, usize)> = Vec::new();
    for (i, w) in workloads.iter().enumerate() {
        alias.push((w.service.name.clone(), i));
    }
    for s in &services {
        match target_of(s) {
            Some(i) => alias.push((s.name.clone(), i)),
            None => out.ignored.push(format!(
                "Service {}: its selector matches no workload",
                s.name
            )),
        }
    }
    let names: Vec<String> = alias.iter().map(|(n, _)| n.clone()).collect();
    let mut calls: Vec<Vec<usize>> = Vec::new();
    for (i, w) in workloads.iter().enumerate() {
        let mut c = Vec::new();
        for v in &w.env {
            for n in mentioned(v, &names) {
                let j = alias.iter().find(|(a, _)| a == n).map(|(_, j)| *j);
                if let Some(j) = j
                    && j != i
                    && !c.contains(&j)
                {
                    c.push(j);
                }
            }
        }
        calls.push(c);
    }
    let entries: Vec<usize> = services
        .iter()
        .filter(|s| s.entry || ingress.contains(&s.name))
        .filter_map(target_of)
        .collect();
    for i in entries {
        workloads[i].service.entry = true;
    }
    let names: Vec<String> = workloads.iter().map(|w| w.service.name.clone()).collect();
    for (w, c) in workloads.iter_mut().zip(&calls) {
        w.service.calls = c.iter().map(|&j| names[j].clone()).collect();
    }
    let all = zones_of(
        &workloads
            .iter()
            .map(|w| w.service.clone())
            .collect::<Vec<_>>(),
    );
    for w in &mut workloads {
        if w.spread && w.service.zones.is_empty() {
            w.service.zones = all.clone();
        }
    }
    out.services = workloads.into_iter().map(|w| w.service).collect();
    Ok(out)
}

fn workload(file: &Path, kind: &str, name: &str, doc: &Yaml) -> Workload {
    let spec = &doc["spec"];
    let pod = &spec["template"]["spec"];
    let containers: Vec<&Yaml> = pod["containers"].as_vec().into_iter().flatten().collect();
    let image = containers
        .first()
        .and_then(|c| c["image"].as_str())
        .unwrap_or("")
        .to_string();
    let env = containers
        .iter()
        .flat_map(|c| c["env"].as_vec().into_iter().flatten())
        .filter_map(|e| scalar(&e["value"]))
        .collect();
    let mut zones: Vec<String> = pairs(&pod["nodeSelector"])
        .into_iter()
        .filter(|(k, _)| is_zone_key(k))
        .map(|(_, v)| v)
        .collect();
    let terms = &pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"];
    for t in terms.as_vec().into_iter().flatten() {
        for e in t["matchExpressions"].as_vec().into_iter().flatten() {
            if e["key"].as_str().is_some_and(is_zone_key) && e["operator"].as_str() == Some("In") {
                zones.extend(
                    e["values"]
                        .as_vec()
                        .into_iter()
                        .flatten()
                        .filter_map(scalar),
                );
            }
        }
    }
    let spread = pod["topologySpreadConstraints"]
        .as_vec()
        .into_iter()
        .flatten()
        .any(|c| c["topologyKey"].as_str().is_some_and(is_zone_key));
    let store = store_kind(&image)
        .map(str::to_string)
        .or_else(|| (kind == "StatefulSet").then(|| "a StatefulSet".to_string()));
    Workload {
        service: ImportedService {
            name: name.to_string(),
            replicas: spec["replicas"]
                .as_i64()
                .and_then(|r| u32::try_from(r).ok()),
            zones,
            image,
            store,
            calls: Vec::new(),
            entry: false,
            origin: format!("{}: {kind} {name}", file.display()),
        },
        labels: pairs(&spec["template"]["metadata"]["labels"]),
        env,
        spread,
    }
}
