//! The HTML reports in a real browser: headless Chromium loads each page
//! from a file, with its console on stderr. A page passes when the browser
//! logged no console message (a blocked load, a broken page), the DOM it
//! built holds the lanes, fault bands, violation marks and plots that run
//! should have, and its screenshot (kept under `target/browser/`) is not
//! blank. Pages forbid every load with a Content-Security-Policy, so any
//! attempt at a network request is refused and logged, which fails the
//! test; a control page with a remote image shows the check can fail.
//!
//! Needs Debian's `chromium` (CI installs it), or the browser binary
//! `BLASTRADIUS_CHROMIUM` names. Without one each test says so on stderr
//! and passes, unless `BLASTRADIUS_REQUIRE_BROWSER` is set, as CI sets it.

use scraper::{Html, Selector};
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    // BLASTRADIUS_CHROMIUM names another browser binary (or, naming none
    // that exists, shows what a machine without one prints).
    let found = match std::env::var_os("BLASTRADIUS_CHROMIUM") {
        Some(p) => Some(PathBuf::from(p)).filter(|p| p.exists()),
        None => ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists()),
    };
    if found.is_none() {
        assert!(
            std::env::var_os("BLASTRADIUS_REQUIRE_BROWSER").is_none(),
            "BLASTRADIUS_REQUIRE_BROWSER is set but chromium is not installed (apt-get install chromium)"
        );
        // Straight to the process's stderr: libtest captures eprintln!
        // of passing tests, and a skip nobody sees reads as a pass.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "browser tests skipped: chromium not found (apt-get install chromium)"
        );
    }
    found
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    std::fs::create_dir_all(&dir).expect("target/browser");
    dir
}

/// Runs headless Chromium on `page`; returns (DOM, console lines).
fn browse(chrome: &Path, page: &Path, args: &[&str]) -> (String, Vec<String>) {
    let profile = out_dir().join(format!(
        "profile-{}-{}",
        page.file_stem().unwrap().to_string_lossy(),
        std::process::id()
    ));
    let out = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("CONSOLE"))
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

/// Loads `page`, checks the console is silent and the screenshot is not
/// blank, and returns the DOM as the browser built it.
fn load(chrome: &Path, page: &Path, height: u32) -> Html {
    let (dom, console) = browse(chrome, page, &["--dump-dom"]);
    assert!(
        console.is_empty(),
        "{}: console: {console:#?}",
        page.display()
    );
    assert!(dom.contains("</html>"), "{}: no DOM", page.display());
    let shot = out_dir().join(format!(
        "{}.png",
        page.file_stem().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_file(&shot);
    let (_, console) = browse(
        chrome,
        page,
        &[
            &format!("--screenshot={}", shot.display()),
            &format!("--window-size=1280,{height}"),
        ],
    );
    assert!(console.is_empty(), "{console:#?}");
    assert_not_blank(&shot);
    let doc = Html::parse_document(&dom);
    for (sel, attr) in [("[src]", "src"), ("link[href]", "href")] {
        for e in doc.select(&Selector::parse(sel).unwrap()) {
            let v = e.value().attr(attr).unwrap_or("");
            assert!(!v.contains("//"), "{}: external {attr} {v}", page.display());
        }
    }
    doc
}

fn assert_not_blank(png: &Path) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png).expect("a screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let px = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let total = pixels.len() / px;
    let inked = pixels
        .chunks(px)
        .filter(|p| p.iter().take(3).any(|&c| c < 200))
        .count();
    let mut colours: Vec<[u8; 3]> = pixels
        .chunks(px)
        .step_by(97)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        inked * 50 > total && colours.len() > 8,
        "{}: blank? {inked} of {total} pixels inked, {} colours",
        png.display(),
        colours.len()
    );
}

fn count(doc: &Html, selector: &str) -> usize {
    doc.select(&Selector::parse(selector).unwrap()).count()
}

fn write_report(args: &[&str], name: &str) -> PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_blastradius"))
        .args(args)
        .args(["--format", "html"])
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 2), "{args:?}");
    let path = out_dir().join(format!("{name}.html"));
    std::fs::write(&path, &out.stdout).unwrap();
    let size = out.stdout.len();
    assert!(size < 5 << 20, "{name}: {size} bytes: needs sampling");
    path
}

/// (node, from, to) of every primary span of `shard`.
fn primaries(doc: &Html, shard: &str) -> Vec<(String, f64, f64)> {
    let lanes = Selector::parse(&format!("g.lane[data-shard=\"{shard}\"]")).unwrap();
    let spans = Selector::parse("rect.span.primary").unwrap();
    let mut out = Vec::new();
    for lane in doc.select(&lanes) {
        let node = lane.value().attr("data-node").unwrap().to_string();
        for s in lane.select(&spans) {
            let f = |a| s.value().attr(a).unwrap().parse::<f64>().unwrap();
            out.push((node.clone(), f("data-from"), f("data-to")));
        }
    }
    out
}

#[test]
fn a_remote_load_is_caught() {
    let Some(chrome) = chromium() else { return };
    let page = out_dir().join("control-remote.html");
    std::fs::write(
        &page,
        "<!doctype html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\"></head><body><img src=\"http://192.0.2.1/x.png\"></body></html>",
    )
    .unwrap();
    let (_, console) = browse(&chrome, &page, &["--dump-dom"]);
    assert!(
        console.iter().any(|l| l.contains("192.0.2.1")),
        "the blocked load must reach the console: {console:?}"
    );
}

#[test]
fn github_2018_shows_two_primaries_during_the_cut() {
    let Some(chrome) = chromium() else { return };
    let page = write_report(&["replay", "github-2018"], "github-2018");
    let doc = load(&chrome, &page, 2400);
    assert!(count(&doc, "g.lane") >= 10);
    assert_eq!(count(&doc, "g.fault-row"), 1);
    assert!(count(&doc, "svg.timeline rect.band.fault") >= 1);
    // The cut's band covers the lanes of the nodes at its ends (east_dc),
    // not the West's.
    assert_eq!(
        count(&doc, "rect.band.fault[data-hit=\"lane\"]"),
        count(&doc, "g.lane[data-site=\"east_dc\"]")
    );
    // East's primary never stops; West's is promoted during the cut: two
    // primary lanes of mysql1 overlap, from different nodes.
    let p = primaries(&doc, "mysql1");
    let cut = (600.0, 643.0);
    let overlapping: Vec<_> = p
        .iter()
        .filter(|(_, a, b)| *a < cut.1 && *b > cut.0 + 10.0)
        .collect();
    let nodes: std::collections::BTreeSet<&str> =
        overlapping.iter().map(|(n, ..)| n.as_str()).collect();
    assert!(nodes.len() >= 2, "{p:?}");
    // Split brain marked; lost writes outlined and linked to their check.
    assert!(count(&doc, "rect.band.split") >= 1);
    let marked = count(&doc, "a[href=\"#check-lost-writes\"] rect.op.violation");
    assert!(marked >= 10, "{marked}");
    assert_eq!(count(&doc, "tr#check-lost-writes.invalid"), 1);
    assert!(count(&doc, "svg.plot") >= 1);
    assert!(count(&doc, "li.effect") == 1);
}

#[test]
fn fastly_2021_shows_the_impaired_pops_and_the_error_series() {
    let Some(chrome) = chromium() else { return };
    let page = write_report(&["replay", "fastly-2021"], "fastly-2021");
    let doc = load(&chrome, &page, 2000);
    // Every PoP has a lane, the healthy ones too: the picture's share of
    // red lanes is the headline's 51 of 60 (85 %), not all of them.
    let lanes = Selector::parse("g.lane").unwrap();
    let impaired_span = Selector::parse("rect.span.impaired").unwrap();
    let healthy_span = Selector::parse("rect.span.healthy").unwrap();
    let all: Vec<_> = doc.select(&lanes).collect();
    assert_eq!(all.len(), 60);
    let red = all
        .iter()
        .filter(|l| l.select(&impaired_span).next().is_some())
        .count();
    assert_eq!(red, 51);
    // The rest are healthy from end to end; every lane shows green somewhere.
    assert!(all.iter().all(|l| l.select(&healthy_span).next().is_some()));
    let notes: String = doc
        .select(&Selector::parse("p.note").unwrap())
        .map(|n| n.text().collect::<String>())
        .collect();
    assert!(
        notes.contains("Units: 51 of 60 impaired") && notes.contains("other 9 healthy"),
        "{notes}"
    );
    assert!(count(&doc, "svg.plot[data-series=\"error_fraction\"] polyline") == 1);
    assert_eq!(count(&doc, "g.fault-row"), 0, "no scheduled faults");
}

/// The simulated stretches (from, to), in seconds, the failing checks of
/// a replay report, from its JSON.
fn failing_stretches(args: &[&str]) -> Vec<(String, f64, f64)> {
    let out = Command::new(env!("CARGO_BIN_EXE_blastradius"))
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "invalid")
        .filter_map(|c| {
            let d = c.get("during_ns")?.as_array()?;
            let s = |i: usize| d[i].as_u64().unwrap() as f64 / 1e9;
            Some((c["name"].as_str().unwrap().to_string(), s(0), s(1)))
        })
        .collect()
}

#[test]
fn elastic_2019_01_shows_the_whole_metastable_tail() {
    let Some(chrome) = chromium() else { return };
    let args = ["replay", "elastic-2019-01"];
    let page = write_report(&args, "elastic-2019-01");
    let doc = load(&chrome, &page, 1400);
    let svg = doc
        .select(&Selector::parse("svg#timeline").unwrap())
        .next()
        .unwrap();
    let at = |a: &str| svg.value().attr(a).unwrap().parse::<f64>().unwrap();
    let (from, to) = (at("data-from"), at("data-to"));
    // The checks the page is about report when their trouble lasted; the
    // drawn window holds all of it. The metastable tail outlasts the
    // fault (T0 = 600 s, 20 min) by hours: the old window, T-10 min to
    // T+50 min, ended inside it.
    let stretches = failing_stretches(&args);
    let tail = stretches
        .iter()
        .find(|s| s.0 == "metastable")
        .expect("tree-cache is metastable");
    assert!(tail.2 > 600.0 + 3.0 * 3600.0, "{stretches:?}");
    for (name, a, b) in &stretches {
        assert!(
            from <= *a && to >= *b,
            "{name}: {a}..{b} outside {from}..{to}"
        );
    }
    // Some of the proxies' windows are drawn as lanes or series past 3 h.
    assert!(count(&doc, "svg.plot") >= 1);
}

#[test]
fn raft_design_draws_every_voter() {
    let Some(chrome) = chromium() else { return };
    let page = write_report(
        &["replay", "github-2018", "--design", "raft"],
        "github-2018-raft",
    );
    let doc = load(&chrome, &page, 1600);
    // Three clusters of three voters (East DC, West DC, East cloud): the
    // West voters that never lead still have their lanes.
    for shard in ["mysql1", "mysql2", "mysql3"] {
        let sel = format!("g.lane[data-shard=\"{shard}\"]");
        assert_eq!(count(&doc, &sel), 3, "{shard}");
        let west = format!("g.lane[data-shard=\"{shard}\"][data-site=\"west_dc\"]");
        assert_eq!(count(&doc, &west), 1, "{shard}");
    }
    // A voter's lane starts as a follower (replica) at T-600 s.
    let first = Selector::parse("g.lane[data-node=\"mysql1-1-west_dc\"] rect.span").unwrap();
    let span = doc.select(&first).next().expect("a span");
    assert_eq!(span.value().attr("data-from"), Some("0.000"));
}

#[test]
fn operations_can_be_pointed_at_and_witnesses_are_whole() {
    let Some(chrome) = chromium() else { return };
    let page = write_report(&["replay", "github-2018"], "github-2018-ops");
    let doc = load(&chrome, &page, 2400);
    let ops = Selector::parse("rect.op").unwrap();
    let title = Selector::parse("title").unwrap();
    let mut n = 0;
    for op in doc.select(&ops) {
        n += 1;
        let w: f64 = op.value().attr("width").unwrap().parse().unwrap();
        assert!(w >= 3.0, "{:?}: {w} px", op.value().attr("id"));
        assert!(op.select(&title).next().is_some());
    }
    assert!(n > 100, "{n}");
    // Witnesses are indented JSON, whole, folded away; a page never tells
    // its reader to type a flag it cannot type into.
    let pre = Selector::parse("details.witness pre").unwrap();
    let witnesses: Vec<String> = doc.select(&pre).map(|p| p.text().collect()).collect();
    assert!(!witnesses.is_empty());
    for w in &witnesses {
        serde_json::from_str::<serde_json::Value>(w).expect("a whole JSON witness");
    }
    let table: String = doc
        .select(&Selector::parse("table").unwrap())
        .map(|t| t.text().collect::<String>())
        .collect();
    assert!(!table.contains("(--format json)"), "{table}");
}

#[test]
fn clever_cloud_2021_shows_every_fault_and_bands_behind_the_series() {
    let Some(chrome) = chromium() else { return };
    let page = write_report(&["replay", "clever-cloud-2021"], "clever-cloud-2021");
    let doc = load(&chrome, &page, 2000);
    assert_eq!(count(&doc, "g.fault-row"), 16);
    // The operators' withdrawal of par_a's DNS record is a lane.
    assert!(
        count(
            &doc,
            "g.lane[data-node=\"par_a record\"] rect.span.impaired"
        ) >= 1
    );
    assert!(count(&doc, "svg.plot") >= 4);
    assert!(count(&doc, "svg.plot rect.band.fault") >= 16);
    assert_eq!(count(&doc, "li.effect"), 16);
}

#[test]
fn an_invalid_history_shows_its_window_and_the_blocked_operation() {
    let Some(chrome) = chromium() else { return };
    let history = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/histories/kv/invalid/acknowledged-append-lost.jsonl");
    let page = write_report(
        &["check", &history.display().to_string()],
        "invalid-history",
    );
    let doc = load(&chrome, &page, 900);
    assert_eq!(count(&doc, "svg#window rect.op.blocked"), 1);
    assert!(count(&doc, "svg#window rect.op.linearized") >= 1);
    assert_eq!(count(&doc, "svg#window g.process"), 3);
}

#[test]
fn radius_page_ranks_bars_and_draws_the_pairs_heat_map() {
    let Some(chrome) = chromium() else { return };
    let page = write_report(
        &[
            "radius",
            "github-2018",
            "--designs",
            "as-2018,no-cross-region",
            "--units",
            "link,site",
            "--pairs",
            "--seeds",
            "1",
            "--for",
            "2m",
            "--quiet",
        ],
        "radius-github-2018",
    );
    let doc = load(&chrome, &page, 2400);
    // A section per design, the worst case of each side by side.
    assert_eq!(count(&doc, "section.design"), 2);
    assert_eq!(count(&doc, "table.worst tr"), 3);
    // Ranked bars: the first bar of the lost-writes chart of as-2018 is the
    // East-hub cut, and no bar below it is longer.
    let bars = Selector::parse(
        "#design-as-2018 svg.bars[data-figure=\"lost_acked_writes_total\"] rect.bar",
    )
    .unwrap();
    let values: Vec<(String, f64)> = doc
        .select(&bars)
        .map(|b| {
            let v = b.value();
            (
                v.attr("data-case").unwrap().to_string(),
                v.attr("data-value").unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert!(!values.is_empty(), "{values:?}");
    assert!(values[0].0.contains("link:east_dc-east_hub"), "{values:?}");
    assert!(values[0].1 > 0.0);
    assert!(values.windows(2).all(|w| w[0].1 >= w[1].1), "{values:?}");
    // Cases that changed nothing are counted, not drawn: the bars and the
    // count add up to every case of the design.
    assert!(values.iter().all(|(_, v)| *v != 0.0), "{values:?}");
    let unchanged: usize = doc
        .select(&Selector::parse("#design-as-2018 p.unchanged").unwrap())
        .next()
        .map_or(0, |p| {
            p.value().attr("data-count").unwrap().parse().unwrap()
        });
    assert_eq!(values.len() + unchanged, 7 + (21 - 6));
    // The heat map holds every pair run (both triangles) and the singles.
    let cells = count(&doc, "#design-as-2018 svg.heatmap rect.cell");
    let pairs = 21 - 6;
    assert_eq!(cells, 2 * (7 + pairs));
    // Every row carries its replay command; the hidden cut is marked.
    assert!(count(&doc, "#design-as-2018 table.ranking tr[id] code") >= 7 + pairs);
    assert!(count(&doc, "#design-as-2018 table.ranking tr.hidden") >= 1);
}

#[test]
fn the_catalogue_and_a_structure_page_list_what_their_json_lists() {
    let Some(chrome) = chromium() else { return };
    let json = |args: &[&str]| -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_blastradius"))
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // The catalogue: a row per incident, a replay command per design.
    let page = write_report(&["list"], "catalogue");
    let doc = load(&chrome, &page, 1400);
    let all = json(&["list"]);
    let all = all.as_array().unwrap();
    let incidents = all.iter().filter(|i| i["kind"] == "incident").count();
    assert_eq!(count(&doc, "table.catalogue tr[id]"), incidents);
    assert_eq!(count(&doc, "table.examples tr[id]"), all.len() - incidents);
    let designs: usize = all
        .iter()
        .map(|i| i["designs"].as_array().unwrap().len())
        .sum();
    assert_eq!(count(&doc, "li.design"), designs);
    assert_eq!(count(&doc, "li.design.as-it-was"), incidents);
    // A structure page: the same single points of failure and cuts as the
    // JSON, for a topology that has them (and none for GitHub's).
    let page = write_report(
        &["analyze", "clever-cloud-2021"],
        "analyze-clever-cloud-2021",
    );
    let doc = load(&chrome, &page, 420);
    let a = json(&["analyze", "clever-cloud-2021"]);
    let spofs = a["single_points_of_failure"].as_array().unwrap().len();
    assert!(spofs >= 1);
    assert_eq!(count(&doc, "ul.spof li"), spofs);
    let cuts: usize = a["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["cuts"]["cuts"].as_array().unwrap().len())
        .sum();
    assert_eq!(count(&doc, "table.cuts tr.cut"), cuts);
    let page = write_report(&["analyze", "github-2018"], "analyze-github-2018");
    let doc = load(&chrome, &page, 300);
    assert_eq!(count(&doc, "ul.spof li"), 0);
    assert_eq!(count(&doc, "p.spof.none"), 1);
}
