//! Import: a Docker Compose file or Kubernetes manifests as an
//! `[architecture]` scenario an architect can run, edit and judge.
//!
//! Manifests say what runs, how many, where and what talks to what; they
//! do not say how fast anything is. So the import reads what they give
//! (services, replicas, zones from placement constraints, spread rules and
//! affinities, the call graph from `depends_on` and from environment values
//! that name another service, which services are stores by their image,
//! which are entry points by their published ports or their Service type)
//! and fills every other figure with a stated default, tagged `[A]` in a
//! comment beside it. What it does not understand (a kind, a key) is
//! reported in [`Imported::ignored`],
//! not fatal; YAML that does not parse is an error naming file, line and
//! column.
//!
//! YAML is read with `yaml-rust2`, a maintained pure-Rust YAML 1.2 parser
//! with multi-document streams (Kubernetes files hold several) and error
//! positions; the import walks a document tree, since manifests carry far
//! more keys than it reads.

mod compose;
mod kubernetes;
mod render;

pub use render::to_toml;

use std::fmt;
use std::path::{Path, PathBuf};
use yaml_rust2::Yaml;

/// Images recognised as stores (stateful): a name fragment and what it is.
pub const STORES: &[(&str, &str)] = &[
    ("postgres", "PostgreSQL"),
    ("mysql", "MySQL"),
    ("mariadb", "MariaDB"),
    ("mongo", "MongoDB"),
    ("redis", "Redis"),
    ("memcached", "memcached"),
    ("kafka", "Kafka"),
    ("zookeeper", "ZooKeeper"),
    ("etcd", "etcd"),
    ("cassandra", "Cassandra"),
    ("elasticsearch", "Elasticsearch"),
    ("rabbitmq", "RabbitMQ"),
];

/// How a store of this kind replicates by default when it has several
/// replicas (`None`: it does not replicate, as memcached): streaming
/// replication for the relational stores and Redis, majority writes for
/// the consensus-based and quorum-configured ones.
pub fn store_replication(kind: &str) -> Option<&'static str> {
    match kind {
        "PostgreSQL" | "MySQL" | "MariaDB" | "Redis" => Some("async"),
        "memcached" => None,
        _ => Some("quorum"),
    }
}

/// What a store image is, if it is one.
pub fn store_kind(image: &str) -> Option<&'static str> {
    let name = image.rsplit('/').next().unwrap_or(image);
    let name = name.split([':', '@']).next().unwrap_or(name);
    STORES
        .iter()
        .find(|(fragment, _)| name.contains(fragment))
        .map(|(_, kind)| *kind)
}

/// One service read from the manifests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedService {
    /// Its name.
    pub name: String,
    /// Replicas, if the manifests say.
    pub replicas: Option<u32>,
    /// Zones its replicas are spread over, if the manifests say.
    pub zones: Vec<String>,
    /// The image.
    pub image: String,
    /// A store, by its image (or a StatefulSet): what kind.
    pub store: Option<String>,
    /// Services it calls, in the order found.
    pub calls: Vec<String>,
    /// Users reach it (published ports, a LoadBalancer or NodePort
    /// Service, an Ingress backend).
    pub entry: bool,
    /// Where in the input it was declared (`compose.yaml: services.web`).
    pub origin: String,
}

/// An architecture read from manifests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// The scenario's name.
    pub name: String,
    /// The services, in declaration order.
    pub services: Vec<ImportedService>,
    /// Things read but not used, with where they are.
    pub ignored: Vec<String>,
}

/// Why an import failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("{file}: cannot read: {message}")]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        message: String,
    },
    /// The YAML does not parse.
    #[error("{file}:{line}:{column}: {message}")]
    Yaml {
        /// The file.
        file: PathBuf,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The input parses but holds nothing to import.
    #[error("{file}: {message}")]
    Empty {
        /// The file.
        file: PathBuf,
        /// What is missing.
        message: String,
    },
}

/// Reads the YAML documents of `file`.
fn documents(file: &Path) -> Result<Vec<Yaml>, ImportError> {
    let text = std::fs::read_to_string(file).map_err(|e| ImportError::Read {
        file: file.to_path_buf(),
        message: e.to_string(),
    })?;
    parse(file, &text)
}

/// Parses YAML text; errors name the file, line and column.
pub fn parse(file: &Path, text: &str) -> Result<Vec<Yaml>, ImportError> {
    yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| {
        let m = e.marker();
        let message = e.to_string();
        let message = message
            .split(" at byte ")
            .next()
            .unwrap_or(&message)
            .to_string();
        ImportError::Yaml {
            file: file.to_path_buf(),
            line: m.line(),
            column: m.col() + 1,
            message,
        }
    })
}

/// A Docker Compose file.
pub fn compose(file: &Path) -> Result<Imported, ImportError> {
    compose::read(file, &documents(file)?)
}

/// Kubernetes manifests (Deployments, StatefulSets, Services, Ingresses;
/// other kinds are reported).
pub fn kubernetes(files: &[PathBuf]) -> Result<Imported, ImportError> {
    let mut docs = Vec::new();
    for f in files {
        for d in documents(f)? {
            docs.push((f.clone(), d));
        }
    }
    kubernetes::read(files, &docs)
}

impl fmt::Display for ImportedService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)
    }
}

/// The service names `value` mentions: `host:port`, a URL's host, or the
/// whole value, when it is one of `names`.
pub fn mentioned<'a>(value: &str, names: &'a [String]) -> Vec<&'a String> {
    let mut out = Vec::new();
    let tokens = value.split([',', ' ', ';']).map(|t| {
        let t = t.split("://").nth(1).unwrap_or(t);
        let t = t.rsplit('@').next().unwrap_or(t);
        t.split([':', '/', '?']).next().unwrap_or(t)
    });
    for t in tokens {
        if let Some(n) = names.iter().find(|n| n.as_str() == t)
            && !out.contains(&n)
        {
            out.push(n);
        }
    }
    out
}

/// A YAML scalar as text (numbers and booleans included).
pub fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A mapping's keys as text.
pub fn keys(y: &Yaml) -> Vec<String> {
    y.as_hash()
        .map(|h| h.keys().filter_map(scalar).collect())
        .unwrap_or_default()
}
