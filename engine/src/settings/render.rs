//! What is generated from the table: the README's settings section and the CDK stack's
//! defaults (`deploy/lib/defaults.ts`). Tests compare both with the files, and print the
//! fresh text when they drift.

use std::fmt::Write;

use super::table::{Default, SETTINGS, Setting, Unit};
use super::value::{Bare, show_duration, show_size};

/// The README's markers around the generated table.
pub const README_BEGIN: &str = "<!-- settings:begin: generated from engine/src/settings/table.rs by `LM_WRITE_GENERATED=1 cargo test -p lambda-migrate-engine --lib settings::render` -->";
/// The end marker.
pub const README_END: &str = "<!-- settings:end -->";

fn code(s: Option<&str>) -> String {
    s.map_or_else(String::new, |s| format!("`{s}`"))
}

fn default_text(s: &Setting) -> String {
    match s.default {
        Default::Size(n) => format!("`{}`", show_size(n)),
        Default::Duration(d) => format!("`{}`", show_duration(d)),
        Default::Count(n) => format!("`{n}`"),
        Default::Bool(b) => format!("`{b}`"),
        Default::Text(t) => format!("`{t}`"),
        Default::Said(t) => t.to_owned(),
        Default::None => "unset".to_owned(),
    }
}

fn unit_text(s: &Setting) -> String {
    let bare = |b: Bare| match b {
        Bare::Bytes => "bytes",
        Bare::MiB => "MiB",
        Bare::Secs => "seconds",
        Bare::Millis => "ms",
        Bare::None => "",
    };
    match s.unit {
        Unit::Size | Unit::Duration => {
            let mut parts = Vec::new();
            if s.flag.is_some() {
                parts.push(format!("flag {}", bare(s.flag_bare)));
            }
            if s.env.is_some() {
                parts.push(format!("env {}", bare(s.env_bare)));
            }
            format!("{} (bare number: {})", s.unit.name(), parts.join(", "))
        }
        Unit::Enum(words) => words.join(" \\| "),
        u => u.name().to_owned(),
    }
}

fn readers(s: &Setting) -> String {
    let r = s.readers;
    [
        (r.cli, "CLI"),
        (r.migrator, "migrator"),
        (r.trigger, "trigger"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| *n)
    .collect::<Vec<_>>()
    .join(", ")
}

/// The README's settings section, markers included.
pub fn readme_section() -> String {
    let mut out = String::new();
    out.push_str(README_BEGIN);
    out.push_str("\n\n| flag | environment | dbconfig.yml | stack option | unit | default | read by | what |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for s in SETTINGS {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            code(s.flag),
            code(s.env),
            code(s.dbconfig),
            code(s.stack),
            unit_text(s),
            default_text(s),
            readers(s),
            s.doc.replace('|', "\\|"),
        );
    }
    out.push('\n');
    out.push_str(README_END);
    out
}

/// The README's generated section as it stands in `readme`, markers included.
pub fn readme_current(readme: &str) -> Option<&str> {
    let start = readme.find(README_BEGIN)?;
    let end = readme[start..].find(README_END)? + start + README_END.len();
    Some(&readme[start..end])
}

/// `deploy/lib/defaults.ts`: the stack's defaults for the options that are settings, in
/// the stack's units (seconds for `...Secs`).
pub fn stack_defaults() -> String {
    let mut out = String::from(
        "// Generated from engine/src/settings/table.rs: do not edit. Rewrite it with\n\
         // `LM_WRITE_GENERATED=1 cargo test -p lambda-migrate-engine --lib settings::render`;\n\
         // the engine's tests fail when it drifts.\n\n\
         /** The binaries' defaults for the stack options that are settings. */\n\
         export const DEFAULTS = {\n",
    );
    for s in SETTINGS {
        let Some(name) = s.stack else { continue };
        let value = match (s.stack_default, s.default) {
            (Some(n), _) => n.to_string(),
            (None, Default::Duration(d)) if name.ends_with("Secs") => d.as_secs().to_string(),
            (None, Default::Count(n)) => n.to_string(),
            (None, Default::Bool(b)) => b.to_string(),
            (None, Default::Text(t)) => format!("'{t}'"),
            _ => continue,
        };
        let _ = writeln!(out, "  /** {} */\n  {name}: {value},", s.doc);
    }
    out.push_str("} as const;\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(path: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(path)
    }

    /// With `LM_WRITE_GENERATED` set, the drift tests write the generated text instead of
    /// failing (after a change to the table).
    fn rewrite() -> bool {
        std::env::var_os("LM_WRITE_GENERATED").is_some()
    }

    #[test]
    fn the_readme_table_is_the_generated_one() {
        let path = repo("README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let fresh = readme_section();
        let current = readme_current(&readme).expect("README.md has the settings markers");
        if rewrite() {
            std::fs::write(&path, readme.replacen(current, &fresh, 1)).unwrap();
            return;
        }
        assert!(
            readme_current(&readme) == Some(fresh.as_str()),
            "README.md's settings table differs from engine/src/settings/table.rs; \
             put this between its markers:\n\n{fresh}\n"
        );
    }

    #[test]
    fn the_stack_defaults_are_the_generated_ones() {
        let path = repo("deploy/lib/defaults.ts");
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        let fresh = stack_defaults();
        if rewrite() {
            std::fs::write(&path, &fresh).unwrap();
            return;
        }
        assert!(
            current == fresh,
            "deploy/lib/defaults.ts differs from engine/src/settings/table.rs; write this:\n\n{fresh}"
        );
    }

    #[test]
    fn every_row_is_in_the_readme_table() {
        let t = readme_section();
        for s in SETTINGS {
            let name = s.env.or(s.flag).unwrap();
            assert!(t.contains(&format!("`{name}`")), "{name}");
        }
    }
}
