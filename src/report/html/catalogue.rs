//! The pages of `list` and `analyze`: the catalogue, with the command that
//! replays each design, and a topology's structural answers (single points
//! of failure, smallest cuts, what each piece of equipment takes down), so
//! every command that prints a table can also hand a page to a reader.

use super::*;
use crate::incidents::Listing;
use crate::run::Analysis;

/// The catalogue: one row per incident, its designs each with the command
/// that replays it (the first design is the incident as it was); then the
/// shipped examples the same way.
pub fn catalogue(all: &[Listing]) -> String {
    let incidents: Vec<&Listing> = all.iter().filter(|i| i.kind == "incident").collect();
    let examples: Vec<&Listing> = all.iter().filter(|i| i.kind == "example").collect();
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>The incident catalogue</h1>\n<p class=\"meta\">{} incidents · {} designs · each replays with <code>blastradius replay NAME --design D</code>; <code>blastradius show NAME</code> prints the scenario file to edit</p>",
        incidents.len(),
        incidents.iter().map(|i| i.designs.len()).sum::<usize>()
    );
    rows(&mut b, "catalogue", "incident", &incidents, true);
    b.push_str("<p class=\"note\">The first design of each incident is the system as it was; the others are corrected designs.</p>\n");
    if !examples.is_empty() {
        b.push_str("<h2 id=\"examples\">Examples</h2>\n<p class=\"note\">Shipped scenarios of ordinary architectures and toy systems: no published figures, designs to compare the way architects argue.</p>\n");
        rows(&mut b, "examples", "example", &examples, false);
    }
    page("The incident catalogue — blastradius", &b)
}

/// One table of listings, a replay command per design.
fn rows(b: &mut String, class: &str, what: &str, all: &[&Listing], first_as_it_was: bool) {
    let _ = writeln!(
        b,
        "<table class=\"{class}\"><tr><th>{what}</th><th>what happens</th><th>designs</th></tr>"
    );
    for i in all {
        let designs: Vec<String> = i
            .designs
            .iter()
            .enumerate()
            .map(|(k, d)| {
                format!(
                    r#"<li class="design{}"><code>blastradius replay {} --design {}</code></li>"#,
                    if k == 0 && first_as_it_was {
                        " as-it-was"
                    } else {
                        ""
                    },
                    esc(i.name),
                    esc(d)
                )
            })
            .collect();
        let _ = writeln!(
            b,
            r#"<tr id="{}"><td><b>{}</b></td><td>{}</td><td><ul>{}</ul></td></tr>"#,
            esc(i.name),
            esc(i.name),
            esc(&i.summary),
            designs.concat()
        );
    }
    b.push_str("</table>\n");
}

/// A topology's structural analysis.
pub fn analysis(a: &Analysis) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>{} — structure</h1>\n<p class=\"meta\">{}what the topology alone says, before any run: units are links, shared-risk groups, sites, equipment and hazards</p>",
        esc(&a.scenario),
        a.design
            .as_ref()
            .map(|d| format!("design {} · ", esc(d)))
            .unwrap_or_default()
    );
    b.push_str("<h2 id=\"spof\">Single points of failure</h2>\n<p class=\"note\">Each alone disconnects two sites that hold nodes.</p>\n");
    if a.single_points_of_failure.is_empty() {
        b.push_str("<p class=\"spof none\">None: no single unit disconnects two sites that hold nodes.</p>\n");
    } else {
        b.push_str("<ul class=\"spof\">");
        for u in &a.single_points_of_failure {
            let _ = write!(b, "<li>{}</li>", esc(&u.to_string()));
        }
        b.push_str("</ul>\n");
    }
    for q in &a.questions {
        question(&mut b, q);
    }
    equipment(&mut b, a);
    page(&format!("{} structure — blastradius", a.scenario), &b)
}

/// One `[[analysis]]` question: its smallest cuts, or why there are none.
fn question(b: &mut String, q: &crate::run::analysis::QuestionAnswer) {
    let _ = writeln!(b, "<h2 class=\"question\">{}</h2>", esc(&q.name));
    let c = &q.cuts;
    let line = if c.already_separated {
        "Already separated with nothing failed.".to_string()
    } else {
        match c.size {
            Some(size) => format!(
                "Smallest cut: {size} failure unit(s); {} such cut(s).",
                c.cuts.len()
            ),
            None if c.exhaustive => "No cut of the searched size or smaller separates them.".into(),
            None => "The search budget ran out before a cut was found (unknown).".into(),
        }
    };
    let _ = writeln!(b, "<p>{}</p>", esc(&line));
    if !c.cuts.is_empty() {
        b.push_str("<table class=\"cuts\"><tr><th>#</th><th>cut (fail all of these)</th></tr>");
        for (k, cut) in c.cuts.iter().enumerate() {
            let names: Vec<String> = cut.iter().map(|u| esc(&u.to_string())).collect();
            let _ = write!(
                b,
                "<tr class=\"cut\"><td class=\"n\">{}</td><td>{}</td></tr>",
                k + 1,
                names.join(" + ")
            );
        }
        b.push_str("</table>\n");
    }
}

/// What each piece of equipment and each hazard takes down, largest first.
fn equipment(b: &mut String, a: &Analysis) {
    if a.equipment.is_empty() {
        return;
    }
    b.push_str("<h2 id=\"equipment\">Equipment and hazards</h2>\n<table class=\"equipment\"><tr><th>unit</th><th>nodes down</th><th>share of nodes</th><th>nodes</th></tr>");
    for e in &a.equipment {
        let more = e.nodes_down.saturating_sub(e.nodes.len());
        let _ = write!(
            b,
            r#"<tr class="unit"><td>{}</td><td class="n">{}</td><td class="n">{:.1} %</td><td>{}{}</td></tr>"#,
            esc(&e.unit.to_string()),
            e.nodes_down,
            100.0 * e.fraction,
            esc(&e.nodes.join(", ")),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    b.push_str("</table>\n");
}
