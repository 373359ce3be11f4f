//! scratch
fn main() {
    let inc = blastradius::incidents::find("github-2018").unwrap();
    let sc = inc.scenario().unwrap_or_else(|e| panic!("{e}"));
    let sys = sc.system.as_ref().unwrap();
    let design = std::env::args().nth(1);
    let (name, config) = sys.config(design.as_deref()).unwrap();
    let t = std::time::Instant::now();
    let out = blastradius::systems::replicated_db::run(
        &sc.topology,
        &sc.net,
        &sc.limits,
        &config,
        &sc.faults,
        blastradius::Seed(2018),
        sc.duration,
    )
    .unwrap();
    eprintln!(
        "{name}: {:?} events={} wall={:?}",
        out.stop,
        out.events,
        t.elapsed()
    );
    for e in &out.timeline {
        if e.what.starts_with("first") || !e.what.contains("replicates") {
            println!("{:>10.3} {}", e.time.as_secs_f64(), e.what);
        }
    }
    for f in &out.checks.findings {
        println!("{}: {:?} {}", f.name, f.verdict, f.summary);
    }
    for (k, v) in &out.metrics {
        println!("{k} = {v}");
    }
    println!("{:?}", out.diverged_per_cluster);
}
