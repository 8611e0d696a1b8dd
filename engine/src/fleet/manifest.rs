//! The target manifest: which databases a fleet run migrates. Pure over bytes, and
//! written for hostile input: every size is capped before anything is allocated for
//! it, nothing panics, and every problem found is reported at once, each naming its line.
//!
//! # Format
//!
//! One target per line, in one of two formats, told apart by the first line that is
//! neither blank nor a comment: `{` starts JSON Lines, anything else is a CSV header.
//!
//! - **JSON Lines**: one object per line, `{"name":"t1","database":"tenant_1"}`. Values
//!   are strings; `null` is the same as leaving the field out.
//! - **CSV**: a header row naming the columns, from `name,secret,database,group` in any
//!   order (`name` required), then one row per target. Fields may be double-quoted (`""`
//!   is a quote inside); a quoted field cannot span lines. An empty field is the same as
//!   leaving it out.
//!
//! In both, blank lines and lines whose first non-blank character is `#` are skipped,
//! a UTF-8 byte order mark is skipped, and `\r\n` ends a line as `\n` does. Line numbers
//! count every physical line from 1.
//!
//! # Fields
//!
//! - `name` (required): the target's name in results, logs and (on AWS) S3 keys and
//!   Step Functions items. 1 to 64 characters from `A-Z a-z 0-9 _ . -`, not `.` or `..`:
//!   safe unescaped in an S3 key, a file name, a log line and a CodePipeline summary,
//!   and short enough to fit a Step Functions name with a prefix of ours (80 at most).
//!   Unique, ignoring ASCII case, so that no two results collide where case is folded.
//! - `database`: a schema on the run's default connection (schema per tenant). 1 to 64
//!   characters from `A-Z a-z 0-9 _ $ -`: MySQL's unquoted identifier characters plus
//!   `-` (we always quote), ASCII only so that no two names look alike in a log.
//!   `mysql`, `sys`, `information_schema` and `performance_schema` are refused.
//! - `secret`: a Secrets Manager ARN holding the connection (host, port, user,
//!   password, database), for the AWS path. It must start with the allowed prefix
//!   ([`SecretPrefix`], the `FLEET_SECRET_PREFIX` setting); with no prefix set every
//!   secret is refused, so that a manifest can never point the migrator at an arbitrary
//!   host.
//! - `group` (optional): only `canary` has a meaning; any other value is refused, since
//!   a misspelt `canary` would otherwise run with the rest.
//!
//! Exactly one of `secret` and `database`. No two targets may name the same database or
//! the same secret: the second would only wait for the first's lock.
//!
//! # Limits
//!
//! [`MAX_BYTES`] for the whole manifest, [`MAX_LINE`] per line, [`MAX_TARGETS`] targets
//! (a Step Functions Distributed Map's practical scale), [`MAX_ERRORS`] errors listed
//! (the rest counted).

use std::collections::HashMap;
use std::fmt;

/// The most targets a manifest may hold.
pub const MAX_TARGETS: usize = 10_000;
/// The largest manifest accepted, in bytes: 10,000 targets of about 400 bytes each.
pub const MAX_BYTES: usize = 4 << 20;
/// The longest line accepted, in bytes (a secret ARN is at most 2,048 characters).
pub const MAX_LINE: usize = 4096;
/// The most errors listed; the rest are counted.
pub const MAX_ERRORS: usize = 100;
/// The most targets in the `canary` group: they run one after another, and on AWS they
/// travel in the execution's input (256 KiB) and its history (25,000 events).
pub const MAX_CANARIES: usize = 100;
/// The longest name, database or group, in characters.
pub const MAX_NAME: usize = 64;
/// The longest secret ARN, in characters (IAM's limit on an ARN).
pub const MAX_ARN: usize = 2048;

/// The fields a target may have, in the CSV header's usual order.
pub const FIELDS: [&str; 4] = ["name", "secret", "database", "group"];

/// Schemas a target may never name: the server's own.
const SYSTEM_SCHEMAS: [&str; 4] = ["mysql", "sys", "information_schema", "performance_schema"];

/// The manifest's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    JsonLines,
    /// A header row, then one row per target.
    Csv,
}

/// Where a target is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A Secrets Manager ARN holding the connection (AWS only).
    Secret(String),
    /// A schema on the run's default connection.
    Database(String),
}

/// One target of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its name, unique in the manifest.
    pub name: String,
    /// Where it is.
    pub place: Place,
    /// Its `group` is `canary`.
    pub canary: bool,
    /// Its line in the manifest.
    pub line: usize,
}

/// A parsed manifest: every target, in the manifest's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The format it was written in.
    pub format: Format,
    /// The targets, in order.
    pub targets: Vec<Target>,
}

/// The allowed prefix of `secret` ARNs: the whole `arn:PARTITION:secretsmanager:REGION:
/// ACCOUNT:secret:` part, then optionally the start of the secrets' names (a path such
/// as `tenants/`). The stack's IAM policy grants the same prefix followed by `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretPrefix(String);

/// Why a secret prefix is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "FLEET_SECRET_PREFIX {0:?} is not a Secrets Manager ARN prefix: it must start with \
     arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret: (a 12-digit account), then at \
     most the start of a secret's name"
)]
pub struct PrefixError(String);

impl SecretPrefix {
    /// Parses a prefix; the account and region must be spelt out, so that no prefix
    /// reaches every account's secrets.
    pub fn parse(s: &str) -> Result<SecretPrefix, PrefixError> {
        let bad = || PrefixError(shown(s));
        let (head, name) = split_arn(s).ok_or_else(bad)?;
        check_arn_head(head).map_err(|_| bad())?;
        if !name.chars().all(secret_name_char) || s.len() > MAX_ARN {
            return Err(bad());
        }
        Ok(SecretPrefix(s.to_owned()))
    }

    /// The prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which `secret` targets a run accepts.
#[derive(Debug, Clone, Copy)]
pub enum Secrets<'a> {
    /// None: no prefix is set (the safe default).
    Unset,
    /// Those under this prefix.
    Prefix(&'a SecretPrefix),
    /// None: the local `fleet` command runs `database` targets only.
    Local,
}

/// What is wrong with a line (or, at line 0, with the manifest as a whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Over [`MAX_BYTES`].
    #[error("the manifest is {0} bytes; at most {MAX_BYTES} are read")]
    TooLarge(usize),
    /// No target at all.
    #[error("the manifest names no target")]
    Empty,
    /// The target after the [`MAX_TARGETS`]th.
    #[error("more than {MAX_TARGETS} targets; split the manifest")]
    TooManyTargets,
    /// The canary after the [`MAX_CANARIES`]th.
    #[error(
        "more than {MAX_CANARIES} targets in the canary group: canaries run one at a time, and travel in the run's input"
    )]
    TooManyCanaries,
    /// A line over [`MAX_LINE`] bytes.
    #[error("the line is over {MAX_LINE} bytes")]
    LineTooLong,
    /// Bytes that are not UTF-8.
    #[error("the line is not UTF-8")]
    NotUtf8,
    /// Not JSON, or not one object.
    #[error("not a JSON object: {0}")]
    Json(String),
    /// A field no target has.
    #[error("unknown field {0:?} (fields: name, secret, database, group)")]
    UnknownField(String),
    /// A field given twice.
    #[error("field {0:?} is given twice")]
    DuplicateField(String),
    /// A value that is not a string.
    #[error("{0} must be a string")]
    NotAString(&'static str),
    /// No name.
    #[error("no name")]
    NoName,
    /// A name outside the allowed characters or length.
    #[error("name {0:?} is not 1 to 64 characters from A-Z a-z 0-9 _ . - (and not . or ..)")]
    BadName(String),
    /// A name already used (ignoring ASCII case).
    #[error("name {name:?} is already used on line {first}")]
    DuplicateName {
        /// The name.
        name: String,
        /// Where it was first used.
        first: usize,
    },
    /// Neither a secret nor a database.
    #[error("give either secret or database")]
    NoPlace,
    /// Both a secret and a database.
    #[error("give either secret or database, not both")]
    BothPlaces,
    /// A database name outside the allowed characters or length.
    #[error("database {0:?} is not 1 to 64 characters from A-Z a-z 0-9 _ $ -")]
    BadDatabase(String),
    /// The server's own schema.
    #[error("database {0:?} is the server's own schema")]
    SystemSchema(String),
    /// A database already named by another target.
    #[error("database {name:?} is already the target of line {first}")]
    DuplicateDatabase {
        /// The database.
        name: String,
        /// Where it was first named.
        first: usize,
    },
    /// Not a Secrets Manager ARN.
    #[error(
        "secret {0:?} is not a Secrets Manager ARN \
         (arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME)"
    )]
    BadSecret(String),
    /// A secret while no prefix is allowed.
    #[error(
        "secret {0:?} is refused: no secret prefix is allowed (set FLEET_SECRET_PREFIX, \
         the stack's fleet secret prefix)"
    )]
    SecretsNotAllowed(String),
    /// A secret outside the allowed prefix.
    #[error("secret {secret:?} is outside the allowed prefix {prefix:?}")]
    SecretOutsidePrefix {
        /// The secret.
        secret: String,
        /// The prefix.
        prefix: String,
    },
    /// A secret in a local run.
    #[error(
        "secret targets are for the AWS path (the fleet state machine); a local run \
         migrates `database` targets on --database only"
    )]
    SecretLocal,
    /// A secret already named by another target.
    #[error("secret {secret:?} is already the target of line {first}")]
    DuplicateSecret {
        /// The secret.
        secret: String,
        /// Where it was first named.
        first: usize,
    },
    /// A group other than `canary`.
    #[error("group {0:?} has no meaning; the only group is canary")]
    BadGroup(String),
    /// A CSV header column that is not a field.
    #[error("unknown column {0:?} (columns: name, secret, database, group)")]
    UnknownColumn(String),
    /// A CSV header column given twice.
    #[error("column {0:?} is given twice")]
    DuplicateColumn(String),
    /// A CSV header without `name`.
    #[error("the header has no name column")]
    NoNameColumn,
    /// A CSV row with another number of fields than the header.
    #[error("{got} field(s), but the header has {expected}")]
    FieldCount {
        /// The header's columns.
        expected: usize,
        /// This row's fields.
        got: usize,
    },
    /// A CSV field with a stray or unclosed quote.
    #[error("a quote is not closed, or stands inside an unquoted field")]
    BadQuote,
}

/// One problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The line, from 1; 0 for the manifest as a whole.
    pub line: usize,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}", self.problem),
            n => write!(f, "line {n}: {}", self.problem),
        }
    }
}

/// Why a manifest is refused: every problem found (up to [`MAX_ERRORS`]), and how many
/// more there were.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ManifestError {
    /// The problems, in line order.
    pub errors: Vec<LineError>,
    /// Problems found beyond [`MAX_ERRORS`].
    pub more: usize,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len() + self.more;
        write!(f, "the manifest is refused ({n} error(s)): ")?;
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        if self.more > 0 {
            write!(f, "; and {} more", self.more)?;
        }
        Ok(())
    }
}

/// The errors found so far, capped.
#[derive(Default)]
struct Errors {
    list: Vec<LineError>,
    more: usize,
}

impl Errors {
    fn push(&mut self, line: usize, problem: Problem) {
        if self.list.len() < MAX_ERRORS {
            self.list.push(LineError { line, problem });
        } else {
            self.more += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.list.is_empty() && self.more == 0
    }
}

/// One line's fields before they are checked: `None` where absent (or null, or empty).
#[derive(Default)]
struct Fields {
    name: Option<String>,
    secret: Option<String>,
    database: Option<String>,
    group: Option<String>,
    /// Fields given with a value that is not a string (already reported).
    bad: Vec<&'static str>,
}

impl Fields {
    fn slot(&mut self, field: &str) -> Option<&mut Option<String>> {
        match field {
            "name" => Some(&mut self.name),
            "secret" => Some(&mut self.secret),
            "database" => Some(&mut self.database),
            "group" => Some(&mut self.group),
            _ => None,
        }
    }
}

/// Parses `bytes` as a manifest, accepting `secret` targets as `secrets` says. Either
/// every target, or every problem found.
pub fn parse(bytes: &[u8], secrets: Secrets<'_>) -> Result<Manifest, ManifestError> {
    let mut errors = Errors::default();
    if bytes.len() > MAX_BYTES {
        errors.push(0, Problem::TooLarge(bytes.len()));
        return Err(ManifestError {
            errors: errors.list,
            more: 0,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut seen = Seen::default();
    let mut targets = Vec::new();
    let mut format = None;
    let mut header: Option<Vec<&'static str>> = None;
    let mut canaries = 0usize;
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.len() > MAX_LINE {
            errors.push(n, Problem::LineTooLong);
            continue;
        }
        let Ok(line) = std::str::from_utf8(raw) else {
            errors.push(n, Problem::NotUtf8);
            continue;
        };
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let format = *format.get_or_insert(if trimmed.starts_with('{') {
            Format::JsonLines
        } else {
            Format::Csv
        });
        let fields = match format {
            Format::JsonLines => json_fields(line),
            Format::Csv => match &header {
                None => {
                    match csv_header(line) {
                        Ok(h) => header = Some(h),
                        Err(problems) => {
                            for p in problems {
                                errors.push(n, p);
                            }
                            // Without a header no row can be read.
                            return Err(ManifestError {
                                errors: errors.list,
                                more: errors.more,
                            });
                        }
                    }
                    continue;
                }
                Some(h) => csv_row(h, line),
            },
        };
        if targets.len() == MAX_TARGETS {
            errors.push(n, Problem::TooManyTargets);
            break;
        }
        let (fields, mut problems) = match fields {
            Ok(f) => f,
            Err(problems) => {
                for p in problems {
                    errors.push(n, p);
                }
                continue;
            }
        };
        match target(n, fields, secrets, &mut seen) {
            Ok(t) if t.canary && canaries == MAX_CANARIES => {
                problems.push(Problem::TooManyCanaries);
            }
            Ok(t) if problems.is_empty() => {
                canaries += usize::from(t.canary);
                targets.push(t);
            }
            Ok(_) => {}
            Err(more) => problems.extend(more),
        }
        for p in problems {
            errors.push(n, p);
        }
    }
    if targets.is_empty() && errors.is_empty() {
        errors.push(0, Problem::Empty);
    }
    if !errors.is_empty() {
        return Err(ManifestError {
            errors: errors.list,
            more: errors.more,
        });
    }
    Ok(Manifest {
        format: format.unwrap_or(Format::JsonLines),
        targets,
    })
}

/// What earlier lines used: names (folded), databases, secrets, with their lines.
#[derive(Default)]
struct Seen {
    names: HashMap<String, usize>,
    databases: HashMap<String, usize>,
    secrets: HashMap<String, usize>,
}

/// One line's object as its entries in order, duplicates kept.
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Entries, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                // The line is at most MAX_LINE bytes, so this stays small.
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<serde_json::Value>()?;
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// A JSON line's fields, and the problems of its fields (the target's own checks still
/// run on the rest); only a line that is not a JSON object has no fields.
fn json_fields(line: &str) -> Result<(Fields, Vec<Problem>), Vec<Problem>> {
    let Entries(entries) =
        serde_json::from_str(line).map_err(|e| vec![Problem::Json(e.to_string())])?;
    let mut fields = Fields::default();
    let mut given: Vec<&str> = Vec::new();
    let mut problems = Vec::new();
    for (key, value) in &entries {
        let Some(&field) = FIELDS.iter().find(|f| **f == key) else {
            problems.push(Problem::UnknownField(shown(key)));
            continue;
        };
        if given.contains(&field) {
            problems.push(Problem::DuplicateField(field.to_owned()));
            continue;
        }
        given.push(field);
        let value = match value {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.clone()),
            _ => {
                problems.push(Problem::NotAString(field));
                fields.bad.push(field);
                continue;
            }
        };
        if let Some(slot) = fields.slot(field) {
            *slot = value;
        }
    }
    Ok((fields, problems))
}

/// Splits a CSV line into its fields: unquoted, or double-quoted with `""` for a quote.
fn csv_split(line: &str) -> Result<Vec<String>, Problem> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err(Problem::BadQuote),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err(Problem::BadQuote),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err(Problem::BadQuote),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

/// The CSV header: the fields its columns are, in order.
fn csv_header(line: &str) -> Result<Vec<&'static str>, Vec<Problem>> {
    let names = csv_split(line).map_err(|p| vec![p])?;
    let mut columns = Vec::new();
    let mut problems = Vec::new();
    for name in &names {
        match FIELDS.iter().find(|f| **f == name) {
            Some(f) if columns.contains(f) => problems.push(Problem::DuplicateColumn(name.clone())),
            Some(f) => columns.push(*f),
            None => problems.push(Problem::UnknownColumn(shown(name))),
        }
    }
    if !columns.contains(&"name") {
        problems.push(Problem::NoNameColumn);
    }
    if problems.is_empty() {
        Ok(columns)
    } else {
        Err(problems)
    }
}

/// A CSV row's fields under `header`.
fn csv_row(header: &[&'static str], line: &str) -> Result<(Fields, Vec<Problem>), Vec<Problem>> {
    let values = csv_split(line).map_err(|p| vec![p])?;
    if values.len() != header.len() {
        return Err(vec![Problem::FieldCount {
            expected: header.len(),
            got: values.len(),
        }]);
    }
    let mut fields = Fields::default();
    for (column, value) in header.iter().zip(values) {
        if let Some(slot) = fields.slot(column) {
            *slot = Some(value).filter(|v| !v.is_empty());
        }
    }
    Ok((fields, Vec::new()))
}

/// A line's target, checked against the rules and what earlier lines used.
fn target(
    line: usize,
    f: Fields,
    secrets: Secrets<'_>,
    seen: &mut Seen,
) -> Result<Target, Vec<Problem>> {
    let mut problems = Vec::new();
    match f.name.as_deref() {
        None if f.bad.contains(&"name") => {}
        None => problems.push(Problem::NoName),
        Some(n) if !valid_name(n) => problems.push(Problem::BadName(shown(n))),
        Some(n) => {
            if let Some(&first) = seen.names.get(&n.to_ascii_lowercase()) {
                problems.push(Problem::DuplicateName {
                    name: n.to_owned(),
                    first,
                });
            }
        }
    }
    let place_bad = f.bad.contains(&"secret") || f.bad.contains(&"database");
    let canary = match f.group.as_deref() {
        None => false,
        Some("canary") => true,
        Some(g) => {
            problems.push(Problem::BadGroup(shown(g)));
            false
        }
    };
    let place = match (f.secret, f.database) {
        (None, None) => {
            if !place_bad {
                problems.push(Problem::NoPlace);
            }
            None
        }
        (Some(_), Some(_)) => {
            problems.push(Problem::BothPlaces);
            None
        }
        (None, Some(d)) => {
            if !valid_database(&d) {
                problems.push(Problem::BadDatabase(shown(&d)));
            } else if SYSTEM_SCHEMAS.iter().any(|s| s.eq_ignore_ascii_case(&d)) {
                problems.push(Problem::SystemSchema(d.clone()));
            } else if let Some(&first) = seen.databases.get(&d) {
                problems.push(Problem::DuplicateDatabase {
                    name: d.clone(),
                    first,
                });
            }
            Some(Place::Database(d))
        }
        (Some(s), None) => {
            match secret_problem(&s, secrets) {
                Some(p) => problems.push(p),
                None => {
                    if let Some(&first) = seen.secrets.get(&s) {
                        problems.push(Problem::DuplicateSecret {
                            secret: s.clone(),
                            first,
                        });
                    }
                }
            }
            Some(Place::Secret(s))
        }
    };
    // Remember what this line used even when it is refused, so that a later line
    // repeating it is named too.
    if let Some(n) = f.name.as_deref().filter(|n| valid_name(n)) {
        seen.names.entry(n.to_ascii_lowercase()).or_insert(line);
    }
    match &place {
        Some(Place::Database(d)) if valid_database(d) => {
            seen.databases.entry(d.clone()).or_insert(line);
        }
        Some(Place::Secret(s)) if valid_secret(s) => {
            seen.secrets.entry(s.clone()).or_insert(line);
        }
        _ => {}
    }
    match (problems.is_empty(), f.name, place) {
        (true, Some(name), Some(place)) => Ok(Target {
            name,
            place,
            canary,
            line,
        }),
        _ => Err(problems),
    }
}

/// What is wrong with `secret` under `secrets`, if anything.
fn secret_problem(secret: &str, secrets: Secrets<'_>) -> Option<Problem> {
    match secrets {
        Secrets::Local => Some(Problem::SecretLocal),
        _ if !valid_secret(secret) => Some(Problem::BadSecret(shown(secret))),
        Secrets::Unset => Some(Problem::SecretsNotAllowed(secret.to_owned())),
        Secrets::Prefix(p) if !secret.starts_with(p.as_str()) => {
            Some(Problem::SecretOutsidePrefix {
                secret: secret.to_owned(),
                prefix: p.as_str().to_owned(),
            })
        }
        Secrets::Prefix(_) => None,
    }
}

/// A target name: 1 to 64 of `A-Z a-z 0-9 _ . -`, not `.` or `..`.
pub fn valid_name(s: &str) -> bool {
    (1..=MAX_NAME).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && s != "."
        && s != ".."
}

/// A database name: 1 to 64 of `A-Z a-z 0-9 _ $ -`.
pub fn valid_database(s: &str) -> bool {
    (1..=MAX_NAME).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'-'))
}

/// The characters of a secret's name (Secrets Manager's: letters, digits, `/_+=.@-`).
fn secret_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)
}

/// `arn:…:secret:` and the name after it.
fn split_arn(s: &str) -> Option<(&str, &str)> {
    let at = s.find(":secret:")? + ":secret:".len();
    Some((&s[..at], &s[at..]))
}

/// Checks `arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:`.
fn check_arn_head(head: &str) -> Result<(), ()> {
    let parts: Vec<&str> = head.split(':').collect();
    let ok = match parts.as_slice() {
        [
            "arn",
            partition,
            "secretsmanager",
            region,
            account,
            "secret",
            "",
        ] => {
            partition.starts_with("aws")
                && partition.len() <= 32
                && partition
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-')
                && (1..=32).contains(&region.len())
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(()) }
}

/// A Secrets Manager ARN: `arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME`.
pub fn valid_secret(s: &str) -> bool {
    s.len() <= MAX_ARN
        && split_arn(s).is_some_and(|(head, name)| {
            check_arn_head(head).is_ok()
                && (1..=512).contains(&name.len())
                && name.chars().all(secret_name_char)
        })
}

/// Untrusted text for a message: at most 80 characters, quoted by the caller with
/// `{:?}`, which escapes control characters.
fn shown(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenants/";

    fn ok(text: &str) -> Manifest {
        parse(text.as_bytes(), Secrets::Unset).unwrap_or_else(|e| panic!("{e}"))
    }

    fn errors(text: &str, secrets: Secrets<'_>) -> Vec<(usize, Problem)> {
        parse(text.as_bytes(), secrets)
            .expect_err("refused")
            .errors
            .into_iter()
            .map(|e| (e.line, e.problem))
            .collect()
    }

    #[test]
    fn json_lines_with_comments_blank_lines_nulls_and_crlf() {
        let m = ok(
            "\u{feff}# tenants\n\n{\"name\":\"a\",\"database\":\"t_a\",\"group\":\"canary\"}\r\n  \n{\"name\":\"b\",\"database\":\"t-b$\",\"secret\":null}\n",
        );
        assert_eq!(m.format, Format::JsonLines);
        assert_eq!(
            m.targets,
            [
                Target {
                    name: "a".into(),
                    place: Place::Database("t_a".into()),
                    canary: true,
                    line: 3
                },
                Target {
                    name: "b".into(),
                    place: Place::Database("t-b$".into()),
                    canary: false,
                    line: 5
                }
            ]
        );
    }

    #[test]
    fn csv_with_header_in_any_order_quotes_and_empty_cells() {
        let m = ok("database,name,group\n\"t_1\",one,canary\nt_2,\"two\",\n# done\n");
        assert_eq!(m.format, Format::Csv);
        assert_eq!(m.targets.len(), 2);
        assert!(m.targets[0].canary && !m.targets[1].canary);
        assert_eq!(m.targets[1].place, Place::Database("t_2".into()));
        assert_eq!(m.targets[1].line, 3);
        assert_eq!(csv_split("\"a\"\"b\",c").unwrap(), ["a\"b", "c"]);
        assert_eq!(csv_split("").unwrap(), [""]);
        assert_eq!(csv_split("a,").unwrap(), ["a", ""]);
    }

    #[test]
    fn every_problem_is_named_with_its_line_and_all_are_reported() {
        let text = [
            r#"{"name":"a","database":"t1"}"#,                   // 1 fine
            r#"{"name":"A","database":"t2"}"#,                   // 2 duplicate name (case)
            r#"{"name":"c","database":"t1"}"#,                   // 3 duplicate database
            r#"{"name":"a","database":"t4","nmae":"x"}"#,        // 4 unknown field, duplicate name
            r#"{"name":"e","name":"e2","database":"t5"}"#,       // 5 duplicate field
            r#"{"name":"f"}"#,                                   // 6 no place
            r#"{"name":"g","database":"t7","secret":"arn:x"}"#,  // 7 both
            r#"{"name":"h i","database":"t8"}"#,                 // 8 bad name
            r#"{"name":"j","database":"t.9"}"#,                  // 9 bad database
            r#"{"name":"k","database":"MySQL"}"#,                // 10 system schema
            r#"{"name":"l","database":"t11","group":"canery"}"#, // 11 bad group
            r#"{"name":5,"database":"t12"}"#,                    // 12 not a string
            r#"{"database":"t13"}"#,                             // 13 no name
            r#"{"name":"n","database":"t14""#,                   // 14 not JSON
            r#"["name","o"]"#,                                   // 15 not an object
            r#"{"name":"p","secret":"not-an-arn"}"#,             // 16 bad secret
            r#"{"name":"q","secret":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenants/q"}"#, // 17 no prefix set
            r#"{"name":"..","database":"t18"}"#, // 18 bad name
        ]
        .join("\n");
        let mut got = errors(&text, Secrets::Unset);
        // Line 4 has two problems; each is reported.
        assert!(matches!(
            got.remove(3),
            (4, Problem::DuplicateName { first: 1, .. })
        ));
        let lines: Vec<usize> = got.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, (2..=18).collect::<Vec<_>>(), "{got:#?}");
        assert!(matches!(got[0].1, Problem::DuplicateName { first: 1, .. }));
        assert!(matches!(
            got[1].1,
            Problem::DuplicateDatabase { first: 1, .. }
        ));
        assert_eq!(got[2].1, Problem::UnknownField("nmae".into()));
        assert_eq!(got[3].1, Problem::DuplicateField("name".into()));
        assert_eq!(got[4].1, Problem::NoPlace);
        assert_eq!(got[5].1, Problem::BothPlaces);
        assert!(matches!(got[6].1, Problem::BadName(_)));
        assert!(matches!(got[7].1, Problem::BadDatabase(_)));
        assert!(matches!(got[8].1, Problem::SystemSchema(_)));
        assert!(matches!(got[9].1, Problem::BadGroup(_)));
        assert_eq!(got[10].1, Problem::NotAString("name"));
        assert_eq!(got[11].1, Problem::NoName);
        assert!(matches!(got[12].1, Problem::Json(_)));
        assert!(matches!(got[13].1, Problem::Json(_)));
        assert!(matches!(got[14].1, Problem::BadSecret(_)));
        assert!(matches!(got[15].1, Problem::SecretsNotAllowed(_)));
        assert!(matches!(got[16].1, Problem::BadName(_)));
        let e = parse(text.as_bytes(), Secrets::Unset)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 4: unknown field \"nmae\""), "{e}");
        assert!(
            e.starts_with("the manifest is refused (18 error(s)): line 2: "),
            "{e}"
        );
    }

    #[test]
    fn secrets_only_under_the_prefix_and_never_locally() {
        let prefix = SecretPrefix::parse(PREFIX).unwrap();
        let inside = format!("{PREFIX}acme-AbCdEf");
        let outside = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:other/x";
        let text = format!(
            "{{\"name\":\"in\",\"secret\":\"{inside}\"}}\n{{\"name\":\"out\",\"secret\":\"{outside}\"}}\n{{\"name\":\"again\",\"secret\":\"{inside}\"}}\n"
        );
        let got = errors(&text, Secrets::Prefix(&prefix));
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(matches!(got[0], (2, Problem::SecretOutsidePrefix { .. })));
        assert!(matches!(
            got[1],
            (3, Problem::DuplicateSecret { first: 1, .. })
        ));
        let m = parse(
            format!("{{\"name\":\"in\",\"secret\":\"{inside}\"}}").as_bytes(),
            Secrets::Prefix(&prefix),
        )
        .unwrap();
        assert_eq!(m.targets[0].place, Place::Secret(inside.clone()));
        let got = errors(
            &format!("{{\"name\":\"in\",\"secret\":\"{inside}\"}}"),
            Secrets::Local,
        );
        assert_eq!(got, [(1, Problem::SecretLocal)]);
        // A prefix must name the account and region; wildcards are not characters.
        for bad in [
            "arn:aws:secretsmanager:",
            "arn:aws:secretsmanager:eu-west-1::secret:",
            "arn:aws:secretsmanager:*:123456789012:secret:",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:*",
            "arn:aws:s3:eu-west-1:123456789012:secret:",
            "",
        ] {
            assert!(SecretPrefix::parse(bad).is_err(), "{bad}");
        }
        assert!(
            SecretPrefix::parse("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:")
                .is_ok()
        );
    }

    #[test]
    fn csv_header_and_row_problems() {
        let got = errors("name,db,name\n", Secrets::Unset);
        assert_eq!(
            got,
            [
                (1, Problem::UnknownColumn("db".into())),
                (1, Problem::DuplicateColumn("name".into()))
            ]
        );
        assert_eq!(
            errors("database\nt1\n", Secrets::Unset),
            [(1, Problem::NoNameColumn)]
        );
        let got = errors(
            "name,database\na,t1,x\n\"b,t2\nc\"x,t3\nd,t4\n",
            Secrets::Unset,
        );
        assert_eq!(
            got,
            [
                (
                    2,
                    Problem::FieldCount {
                        expected: 2,
                        got: 3
                    }
                ),
                (3, Problem::BadQuote),
                (4, Problem::BadQuote),
            ]
        );
    }

    #[test]
    fn caps_bound_the_work() {
        assert_eq!(errors("", Secrets::Unset), [(0, Problem::Empty)]);
        assert_eq!(errors("# only\n\n", Secrets::Unset), [(0, Problem::Empty)]);
        assert_eq!(
            errors("name,database\n", Secrets::Unset),
            [(0, Problem::Empty)]
        );
        let big = vec![b' '; MAX_BYTES + 1];
        assert_eq!(
            errors(std::str::from_utf8(&big).unwrap(), Secrets::Unset),
            [(0, Problem::TooLarge(MAX_BYTES + 1))]
        );
        let long = format!(
            "{{\"name\":\"a\",\"database\":\"{}\"}}",
            "x".repeat(MAX_LINE)
        );
        assert_eq!(errors(&long, Secrets::Unset), [(1, Problem::LineTooLong)]);
        assert_eq!(
            parse(b"{\"name\":\"a\",\"database\":\"\xff\"}", Secrets::Unset)
                .unwrap_err()
                .errors[0]
                .problem,
            Problem::NotUtf8
        );
        let mut text = String::from("name,database\n");
        for i in 0..=MAX_TARGETS {
            text.push_str(&format!("t{i},d{i}\n"));
        }
        let mut canaries = String::new();
        for i in 0..=MAX_CANARIES {
            canaries.push_str(&format!(
                "{{\"name\":\"c{i}\",\"database\":\"d{i}\",\"group\":\"canary\"}}\n"
            ));
        }
        assert_eq!(
            errors(&canaries, Secrets::Unset),
            [(MAX_CANARIES + 1, Problem::TooManyCanaries)]
        );
        assert_eq!(
            errors(&text, Secrets::Unset),
            [(MAX_TARGETS + 2, Problem::TooManyTargets)]
        );
        text.truncate(text.rfind("t10000").unwrap());
        assert_eq!(ok(&text).targets.len(), MAX_TARGETS);
        // Errors past the cap are counted, not listed.
        let text = "{}\n".repeat(MAX_ERRORS * 2);
        let e = parse(text.as_bytes(), Secrets::Unset).unwrap_err();
        assert_eq!(e.errors.len(), MAX_ERRORS);
        assert_eq!(e.more, MAX_ERRORS * 3);
        assert!(
            e.to_string()
                .ends_with(&format!("and {} more", MAX_ERRORS * 3))
        );
    }

    #[test]
    fn names_databases_and_secrets() {
        assert!(valid_name("tenant-1.eu_west"));
        assert!(valid_name(&"a".repeat(64)) && !valid_name(&"a".repeat(65)));
        for bad in ["", ".", "..", "a b", "a/b", "é", "a\n"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(valid_database("tenant$1-x"));
        for bad in ["", "a.b", "a`b", "a b", "ü", &"d".repeat(65)] {
            assert!(!valid_database(bad), "{bad:?}");
        }
        assert!(valid_secret(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db/prod-AbC123"
        ));
        for bad in [
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
            "arn:aws:secretsmanager:us-east-1:12345678901:secret:x",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:a b",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:x*",
            "arn:aws:secretsmanager:us-east-1:123456789012:parameter:x",
        ] {
            assert!(!valid_secret(bad), "{bad}");
        }
    }

    #[test]
    fn messages_escape_and_cut_untrusted_text() {
        let text = format!("{{\"name\":\"a\",\"{}\u{202e}\":\"x\"}}", "k".repeat(200));
        let e = parse(text.as_bytes(), Secrets::Unset)
            .unwrap_err()
            .to_string();
        assert!(e.contains('…') && e.len() < 400, "{e}");
        let e = parse(
            "{\"name\":\"a\u{202e}\",\"database\":\"d\"}".as_bytes(),
            Secrets::Unset,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("\\u{202e}"), "{e}");
        let e = parse(b"{\"name\":\"a\\nb\",\"database\":\"d\"}", Secrets::Unset)
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\n') && e.contains("a\\nb"), "{e}");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic fuzz: mutated valid manifests and random bytes.
        let seeds: [&[u8]; 3] = [
            b"{\"name\":\"a\",\"database\":\"d\"}\n{\"name\":\"b\",\"database\":\"e\",\"group\":\"canary\"}\n",
            b"name,database,group\n\"a\",d,canary\nb,\"e\"\"\",\n",
            b"\xef\xbb\xbf# x\r\n{\"name\":[1,{\"a\":null}],\"secret\":\"arn:aws:secretsmanager:a:123456789012:secret:x\"}",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let prefix = SecretPrefix::parse(PREFIX).unwrap();
        for round in 0..3000 {
            let mut bytes = seeds[round % seeds.len()].to_vec();
            for _ in 0..(next() % 8) {
                let at = (next() as usize) % (bytes.len() + 1);
                match next() % 3 {
                    0 if at < bytes.len() => bytes[at] = next() as u8,
                    1 => bytes.insert(at, b"{}\",\n\r#:[]\\"[(next() % 11) as usize]),
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            for secrets in [Secrets::Unset, Secrets::Local, Secrets::Prefix(&prefix)] {
                if let Err(e) = parse(&bytes, secrets) {
                    assert!(!e.errors.is_empty());
                    let _ = e.to_string();
                }
            }
        }
    }
}
