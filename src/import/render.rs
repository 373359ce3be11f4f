//! An imported architecture as a scenario file: what the manifests gave,
//! as given; every other figure a stated default tagged `[A]` beside it,
//! and listed for the person who ran the import.

use super::compose::zones_of;
use super::{Imported, ImportedService};
use std::fmt::Write;

/// Defaults for what manifests never say. Each is an assumption, tagged
/// `[A]` where it is written.
mod default {
    pub const DURATION: &str = "30m";
    pub const SITE: &str = "site-1";
    pub const LINK_LATENCY: &str = "1ms";
    pub const LOCAL_LATENCY: &str = "200us";
    pub const REPLICAS: u32 = 1;
    pub const WORKERS: u32 = 8;
    pub const STORE_WORKERS: u32 = 16;
    pub const QUEUE_MAX: u32 = 100;
    pub const SERVICE_TIME: &str = "5ms";
    pub const STORE_SERVICE_TIME: &str = "2ms";
    pub const WRITE_FRACTION: f64 = 0.2;
    pub const CALL_TIMEOUT: &str = "1s";
    pub const USER_RATE: f64 = 50.0;
    pub const USER_TIMEOUT: &str = "5s";
    pub const USER_RETRIES: u32 = 1;
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| quoted(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The scenario file, and what it assumed (one line each).
pub fn to_toml(imp: &Imported, source: &str) -> (String, Vec<String>) {
    let mut assumed = Vec::new();
    let mut t = String::new();
    let zones = {
        let z = zones_of(&imp.services);
        if z.is_empty() {
            assumed.push(format!(
                "one site, {:?}: the manifests name no zone",
                default::SITE
            ));
            vec![default::SITE.to_string()]
        } else {
            z
        }
    };
    let _ = writeln!(
        t,
        "# Imported from {source} by `blastradius import`. Figures tagged [A]\n\
# are assumptions the manifests do not give: measure yours and replace\n\
# them (docs/architecture.md lists every key).\n"
    );
    let _ = writeln!(
        t,
        "[scenario]\nname = {}\ndescription = {}\nseed = 1\nduration = {}             # [A]\n",
        quoted(&imp.name),
        quoted(&format!("imported from {source}")),
        quoted(default::DURATION)
    );
    for z in &zones {
        let _ = writeln!(
            t,
            "[[site]]\nname = {}\nkind = \"region\"\nlocal_latency = {{ dist = \"constant\", value = {} }}   # [A]\n",
            quoted(z),
            quoted(default::LOCAL_LATENCY)
        );
    }
    for (i, a) in zones.iter().enumerate() {
        for b in &zones[i + 1..] {
            let _ = writeln!(
                t,
                "[[link]]\nname = {}\na = {}\nb = {}\nlatency = {{ dist = \"constant\", value = {} }}   # [A] between zones\n",
                quoted(&format!("{a}-{b}")),
                quoted(a),
                quoted(b),
                quoted(default::LINK_LATENCY)
            );
        }
    }
    if zones.len() > 1 {
        assumed.push(format!(
            "zones {} apart, each pair linked directly",
            default::LINK_LATENCY
        ));
    }
    let _ = writeln!(t, "[architecture]\nresolution = \"10s\"\n");
    for s in &imp.services {
        service(&mut t, s, &zones, &mut assumed);
    }
    cohorts(&mut t, imp, &zones, &mut assumed);
    (t, assumed)
}

fn service(t: &mut String, s: &ImportedService, zones: &[String], assumed: &mut Vec<String>) {
    let _ = writeln!(
        t,
        "# {} ({}){}",
        s.origin,
        s.image,
        match &s.store {
            Some(k) => format!(": a store ({k})"),
            None => String::new(),
        }
    );
    let _ = writeln!(t, "[[architecture.service]]\nname = {}", quoted(&s.name));
    match s.replicas {
        Some(r) => {
            let _ = writeln!(t, "replicas = {}", r.max(1));
        }
        None => {
            let _ = writeln!(
                t,
                "replicas = {}                     # [A]",
                default::REPLICAS
            );
            assumed.push(format!(
                "{}: {} replica (none given)",
                s.name,
                default::REPLICAS
            ));
        }
    }
    let sites = if s.zones.is_empty() {
        zones.to_vec()
    } else {
        s.zones.clone()
    };
    let tag = if s.zones.is_empty() && zones.len() > 1 {
        assumed.push(format!(
            "{}: spread over every zone (no placement given)",
            s.name
        ));
        "   # [A]"
    } else {
        ""
    };
    let _ = writeln!(t, "sites = {}{tag}", list(&sites));
    let (workers, time) = match s.store {
        Some(_) => (default::STORE_WORKERS, default::STORE_SERVICE_TIME),
        None => (default::WORKERS, default::SERVICE_TIME),
    };
    let _ = writeln!(
        t,
        "workers = {workers}                      # [A]\nqueue_max = {}                  # [A]\nservice_time = {{ dist = \"exponential\", mean = {} }}   # [A]",
        default::QUEUE_MAX,
        quoted(time)
    );
    store(t, s, &sites, assumed);
    for c in &s.calls {
        let _ = writeln!(
            t,
            "\n[[architecture.service.call]]\nto = {}\ntimeout = {}                   # [A]\nretries = 0                         # [A]",
            quoted(c),
            quoted(default::CALL_TIMEOUT)
        );
    }
    let _ = writeln!(t);
    assumed.push(format!(
        "{}: {workers} workers, a queue of {}, exponential service of mean {time}{}",
        s.name,
        default::QUEUE_MAX,
        if s.calls.is_empty() {
            String::new()
        } else {
            format!(
                "; calls {} required, timeout {}, no retries",
                s.calls.join(", "),
                default::CALL_TIMEOUT
            )
        }
    ));
}

/// A store that replicates gets a `store` table: one replica is `single`;
/// several replicate as the kind does by default, with a failover
/// detector in the first zone; a fifth of its calls are writes. All
/// assumed.
fn store(t: &mut String, s: &ImportedService, sites: &[String], assumed: &mut Vec<String>) {
    let Some(kind) = &s.store else { return };
    let Some(mode) = super::store_replication(kind) else {
        return;
    };
    let replicas = s.replicas.unwrap_or(default::REPLICAS).max(1);
    let writes = default::WRITE_FRACTION;
    if replicas == 1 {
        let _ = writeln!(
            t,
            "store = {{ replication = \"single\", writes = {writes} }}   # [A]"
        );
        assumed.push(format!(
            "{}: one {kind} node, {writes} of its calls writes",
            s.name
        ));
        return;
    }
    let site = &sites[0];
    let _ = writeln!(
        t,
        "store = {{ replication = {}, writes = {writes}, failover = {{ site = {} }} }}   # [A]",
        quoted(mode),
        quoted(site)
    );
    assumed.push(format!(
        "{}: {kind} replicated {mode}, a failover detector in {site} (probe 1s, detect 10s, promote 5s, no fencing), {writes} of its calls writes",
        s.name
    ));
}

fn cohorts(t: &mut String, imp: &Imported, zones: &[String], assumed: &mut Vec<String>) {
    let mut entries: Vec<&ImportedService> = imp.services.iter().filter(|s| s.entry).collect();
    if entries.is_empty() {
        // Nobody publishes a port: users reach the services nothing calls.
        entries = imp
            .services
            .iter()
            .filter(|s| !imp.services.iter().any(|o| o.calls.contains(&s.name)))
            .collect();
        assumed.push(format!(
            "entry points {} (no published port or external Service: the services nothing calls)",
            entries
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for s in entries {
        let _ = writeln!(
            t,
            "[[architecture.cohort]]\nname = {}\nsite = {}                   # [A]\nservice = {}\nrate = {:.1}                         # [A] requests/s\ntimeout = {}                       # [A]\nretries = {}                         # [A]\n",
            quoted(&format!("users-{}", s.name)),
            quoted(&zones[0]),
            quoted(&s.name),
            default::USER_RATE,
            quoted(default::USER_TIMEOUT),
            default::USER_RETRIES
        );
        assumed.push(format!(
            "users of {}: {} requests/s at {}, timeout {}, {} retry",
            s.name,
            default::USER_RATE,
            zones[0],
            default::USER_TIMEOUT,
            default::USER_RETRIES
        ));
    }
}
