//! The reference of every scenario key, generated from the types that read
//! them (JSON Schema, by `schemars`), so it cannot drift from what the
//! parser accepts: the scenario file's own tables and each registered
//! system's table, with type, default, whether it is required, and its
//! meaning (the field's doc comment).
//!
//! `show --reference` prints it, `docs/reference.md` is it (a test keeps
//! the file in sync), and a test fails when a field has no doc comment.

use super::file::ScenarioFile;
use crate::systems::Registry;
use serde_json::{Map, Value};
use std::fmt::Write;

/// One documented table: the scenario file, or a system's.
#[derive(Clone, Debug)]
pub struct TableReference {
    /// The table name (`scenario file` for the file's own tables).
    pub table: String,
    /// One line about it.
    pub about: String,
    /// Its JSON Schema.
    pub schema: schemars::Schema,
}

/// The name under which the scenario file's own tables are listed.
pub const SCENARIO_FILE: &str = "scenario";

/// The schema of the scenario file's own tables.
pub fn scenario_file() -> schemars::Schema {
    schemars::schema_for!(ScenarioFile)
}

/// The documented tables of `registry`, the scenario file's first; with
/// `only`, that one (by table name; `scenario` for the file's own).
/// `Err` lists the names there are.
pub fn tables(registry: &Registry, only: Option<&str>) -> Result<Vec<TableReference>, String> {
    let mut all = vec![TableReference {
        table: SCENARIO_FILE.into(),
        about: "the scenario file's own tables: [scenario], [[site]], [[link]], [[fault]], ..."
            .into(),
        schema: scenario_file(),
    }];
    for name in registry.tables() {
        let Some(system) = registry.get(name) else {
            continue;
        };
        if let Some(schema) = system.reference() {
            all.push(TableReference {
                table: name.into(),
                about: system.about().into(),
                schema,
            });
        }
    }
    match only {
        None => Ok(all),
        Some(name) => {
            let names: Vec<String> = all.iter().map(|t| t.table.clone()).collect();
            all.retain(|t| t.table == name);
            if all.is_empty() {
                Err(format!(
                    "no documented table {name:?}; there are: {}",
                    names.join(", ")
                ))
            } else {
                Ok(all)
            }
        }
    }
}

/// One key of a table, flattened for reading.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// Its path (`cluster[].primary`, `discovery.kind`).
    pub path: String,
    /// Its type, in words (`duration`, `integer`, `one of "a", "b"`).
    pub kind: String,
    /// Its default, as TOML would spell it; `None` when required or none.
    pub default: Option<String>,
    /// True if a table that holds it must set it.
    pub required: bool,
    /// Its doc comment, on one line.
    pub meaning: String,
}

/// Every key of `schema`, depth first, alphabetical within each table.
pub fn keys(schema: &schemars::Schema) -> Vec<Key> {
    let root = schema.as_value();
    let defs = root
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut walker = Walker {
        defs: &defs,
        out: &mut out,
        depth: 0,
    };
    walker.object("", root, true);
    out
}

/// How deep nested tables are followed (a recursive type stops there).
const MAX_DEPTH: usize = 8;

struct Walker<'a> {
    defs: &'a Map<String, Value>,
    out: &'a mut Vec<Key>,
    depth: usize,
}

impl Walker<'_> {
    /// The schema `s` points to, with `$ref`s followed.
    fn resolve<'s>(&'s self, s: &'s Value) -> &'s Value {
        let mut s = s;
        for _ in 0..MAX_DEPTH {
            match s.get("$ref").and_then(Value::as_str) {
                Some(r) => match r.strip_prefix("#/$defs/").and_then(|n| self.defs.get(n)) {
                    Some(d) => s = d,
                    None => return s,
                },
                None => return s,
            }
        }
        s
    }

    /// The properties of an object schema (and of each `allOf`/`oneOf`
    /// branch a flattened or tagged enum adds), under `prefix`.
    fn object(&mut self, prefix: &str, s: &Value, parent_required: bool) {
        if self.depth > MAX_DEPTH {
            return;
        }
        self.depth += 1;
        let s = self.resolve(s).clone();
        let required: Vec<&str> = s
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for (name, p) in props {
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                self.property(
                    &path,
                    p,
                    parent_required && required.contains(&name.as_str()),
                );
            }
        }
        for branch_key in ["allOf", "oneOf", "anyOf"] {
            if let Some(branches) = s.get(branch_key).and_then(Value::as_array) {
                let tag = (branch_key == "oneOf")
                    .then(|| self.tag(branches))
                    .flatten();
                if let Some(tag) = &tag {
                    self.tag_row(prefix, tag, branches, parent_required);
                }
                for b in branches {
                    let mut b = self.resolve(b).clone();
                    if b.get("properties").is_none() {
                        continue;
                    }
                    // A variant's keys apply only when it is chosen: they
                    // are listed under its tag's value.
                    let Some(tag) = &tag else {
                        self.object(prefix, &b, branch_key == "allOf" && parent_required);
                        continue;
                    };
                    let value = b["properties"][tag.as_str()]
                        .get("const")
                        .map(toml_text)
                        .unwrap_or_default();
                    if let Some(props) = b.get_mut("properties").and_then(Value::as_object_mut) {
                        props.remove(tag.as_str());
                    }
                    let variant = format!("{prefix}({tag} = {value})");
                    self.object(&variant, &b, true);
                }
            }
        }
        self.depth -= 1;
    }

    /// The property every branch of a tagged enum fixes to a constant
    /// (`kind`, `service`), if there is one.
    fn tag(&self, branches: &[Value]) -> Option<String> {
        let first = self.resolve(branches.first()?);
        let props = first.get("properties")?.as_object()?;
        props
            .iter()
            .filter(|(_, v)| v.get("const").is_some())
            .map(|(k, _)| k.clone())
            .find(|k| {
                branches.iter().all(|b| {
                    self.resolve(b)
                        .get("properties")
                        .and_then(|p| p.get(k.as_str()))
                        .and_then(|v| v.get("const"))
                        .is_some()
                })
            })
    }

    /// The row of a tag: its values, each with its variant's meaning.
    fn tag_row(&mut self, prefix: &str, tag: &str, branches: &[Value], required: bool) {
        let mut values = Vec::new();
        let mut meanings = Vec::new();
        for b in branches {
            let b = self.resolve(b);
            let Some(v) = b["properties"][tag].get("const") else {
                continue;
            };
            let v = toml_text(v);
            if let Some(d) = b.get("description").and_then(Value::as_str) {
                meanings.push(format!("{v}: {}", one_line(d)));
            }
            values.push(v);
        }
        let path = if prefix.is_empty() {
            tag.to_string()
        } else {
            format!("{prefix}.{tag}")
        };
        self.out.push(Key {
            path,
            kind: format!("one of {}", values.join(", ")),
            default: None,
            required,
            meaning: meanings.join("; "),
        });
    }

    fn property(&mut self, path: &str, p: &Value, required: bool) {
        let meaning = one_line(
            p.get("description")
                .or_else(|| self.resolve(p).get("description"))
                .and_then(Value::as_str)
                .unwrap_or(""),
        );
        let target = self.nested(p);
        // A table's default is its keys' defaults, listed below it.
        let default = p
            .get("default")
            .filter(|d| !d.is_null() && target.is_none())
            .map(toml_text);
        self.out.push(Key {
            path: path.into(),
            kind: self.kind(p),
            default,
            required,
            meaning,
        });
        if let Some((suffix, t)) = target {
            self.object(&format!("{path}{suffix}"), &t, true);
        }
    }

    /// The table nested under a key, if it holds one: a table (`""`), an
    /// array of tables (`"[]"`) or a map of tables (`".<name>"`).
    fn nested(&self, p: &Value) -> Option<(&'static str, Value)> {
        let p = self.unwrap_option(p);
        let r = self.resolve(&p);
        let is_table = |v: &Value| {
            let v = self.resolve(v);
            v.get("properties").is_some()
                || v.get("oneOf").and_then(Value::as_array).is_some_and(|b| {
                    b.iter()
                        .any(|b| self.resolve(b).get("properties").is_some())
                })
        };
        if is_table(r) {
            return Some(("", r.clone()));
        }
        if let Some(items) = r.get("items").filter(|i| is_table(i)) {
            return Some(("[]", items.clone()));
        }
        if let Some(values) = r.get("additionalProperties").filter(|i| is_table(i)) {
            return Some((".<name>", values.clone()));
        }
        None
    }

    /// `T` for an `Option<T>` (`anyOf: [T, null]`), else the schema.
    fn unwrap_option(&self, p: &Value) -> Value {
        if let Some(any) = p.get("anyOf").and_then(Value::as_array) {
            let non_null: Vec<&Value> = any
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            if non_null.len() == 1 {
                return non_null[0].clone();
            }
        }
        p.clone()
    }

    /// The type in words.
    fn kind(&self, p: &Value) -> String {
        let p = self.unwrap_option(p);
        let named = p
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"));
        let r = self.resolve(&p);
        if let Some(values) = r.get("enum").and_then(Value::as_array) {
            return one_of(values.iter());
        }
        if let Some(branches) = r.get("oneOf").and_then(Value::as_array) {
            let consts: Vec<&Value> = branches.iter().filter_map(|b| b.get("const")).collect();
            if consts.len() == branches.len() {
                return one_of(consts.into_iter());
            }
            // A tagged enum: its tag's values.
            let tags: Vec<String> = branches
                .iter()
                .filter_map(|b| {
                    let b = self.resolve(b);
                    let props = b.get("properties")?.as_object()?;
                    props.values().find_map(|v| v.get("const").map(toml_text))
                })
                .collect();
            if !tags.is_empty() {
                return format!("table, by kind: {}", tags.join(", "));
            }
            return "one of several tables".into();
        }
        match named {
            Some("Duration") => return "duration".into(),
            Some("Instant") => return "instant (time since the run started)".into(),
            Some("SignedDuration") => return "signed duration".into(),
            _ => {}
        }
        let ty = |v: &Value| match v.get("type") {
            Some(Value::String(t)) => t.clone(),
            // `["integer", "null"]`: an optional value.
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect::<Vec<_>>()
                .join(" or "),
            _ => String::new(),
        };
        match ty(r).as_str() {
            "array" if self.nested(&p).is_some() => "array of tables".into(),
            "array" => match r.get("items") {
                Some(items) => format!("array of {}", self.kind(items)),
                None => "array".into(),
            },
            "object" if r.get("properties").is_some() => "table".into(),
            "object" => match r.get("additionalProperties") {
                Some(v) if v.is_object() => format!("table of name = {}", self.kind(v)),
                _ => "table".into(),
            },
            "" => "any".into(),
            t => t.into(),
        }
    }
}

fn one_of<'v>(values: impl Iterator<Item = &'v Value>) -> String {
    let v: Vec<String> = values.map(toml_text).collect();
    format!("one of {}", v.join(", "))
}

/// A JSON value as TOML would spell it, on one line.
fn toml_text(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(toml_text).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "{{ {} }}",
            o.iter()
                .map(|(k, v)| format!("{k} = {}", toml_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `docs/reference.md`: a heading, how to read the tables, then
/// [`markdown`] of every documented table of `registry`.
pub fn document(registry: &Registry) -> String {
    let tables = tables(registry, None).unwrap_or_default();
    let names: Vec<String> = tables.iter().map(|t| format!("`{}`", t.table)).collect();
    format!(
        "# Scenario key reference\n\n\
         Every key a scenario file may set, generated from the types that read \
         them (`blastradius show --reference --format markdown` prints this \
         file; `blastradius show --reference TABLE` one table, as text; \
         `--format json` the JSON Schema). Tables: {}.\n\n\
         A path names a key inside its table: `cluster[].primary` is `primary` \
         in each `[[replicated_db.cluster]]`; `latency(dist = \"uniform\").min` \
         applies when `dist` is `\"uniform\"`. **required** keys must be set \
         whenever the table holding them is present; the others take the \
         default shown (— : absent means none). Durations are strings with a \
         unit: `\"43s\"`, `\"250ms\"`, `\"1m 30s\"`.\n\n{}",
        names.join(", "),
        markdown(&tables)
    )
}

/// The reference as Markdown: per table, a row per key.
pub fn markdown(tables: &[TableReference]) -> String {
    let mut s = String::new();
    for t in tables {
        let header = if t.table == SCENARIO_FILE {
            "The scenario file".to_string()
        } else {
            format!("`[{}]`", t.table)
        };
        let _ = writeln!(s, "## {header}\n");
        if !t.about.is_empty() {
            let _ = writeln!(s, "{}\n", one_line(&t.about));
        }
        let _ = writeln!(s, "| key | type | default | meaning |");
        let _ = writeln!(s, "|---|---|---|---|");
        for k in keys(&t.schema) {
            let default = match (&k.default, k.required) {
                (_, true) => "**required**".to_string(),
                (Some(d), _) => format!("`{}`", d.replace('|', "\\|")),
                (None, false) => "—".to_string(),
            };
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} |",
                k.path,
                k.kind.replace('|', "\\|"),
                default,
                k.meaning.replace('|', "\\|")
            );
        }
        s.push('\n');
    }
    s
}

/// The reference as plain text for a terminal: per table, a line per key.
pub fn text(tables: &[TableReference]) -> String {
    let mut s = String::new();
    for t in tables {
        let _ = writeln!(s, "[{}]  {}", t.table, one_line(&t.about));
        for k in keys(&t.schema) {
            let default = match (&k.default, k.required) {
                (_, true) => "required".to_string(),
                (Some(d), _) => format!("default {d}"),
                (None, false) => "optional".to_string(),
            };
            let _ = writeln!(s, "  {}  ({}; {})", k.path, k.kind, default);
            if !k.meaning.is_empty() {
                let _ = writeln!(s, "      {}", k.meaning);
            }
        }
        s.push('\n');
    }
    s
}
