//! What one parsed statement does: the rules it breaks on its own, and the facts the
//! section-level rules (transaction, repeated ALTER) need.

use sqlparser::ast::{
    AlterTableAlgorithm, AlterTableOperation, ColumnOption, DataType, FromTable,
    GeneratedExpressionMode, MySQLColumnPosition, ObjectType, SetExpr, Statement as Ast,
    TableConstraint, TableFactor, TableObject,
};

use super::rule::Rule;
use super::schema::{ColumnType, Schema, TypeChange, column_name, table_name};

/// A rule broken, with what the statement did to break it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The rule.
    pub rule: Rule,
    /// The specifics, e.g. `users.email VARCHAR(255) -> VARCHAR(100)`.
    pub detail: String,
}

/// The statement's kind, for the transaction rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Changes a definition; MySQL commits around it implicitly.
    Ddl,
    /// Changes rows.
    Dml,
    /// Neither (SET, SELECT, ...).
    Other,
}

/// What a statement does, as the section-level rules see it.
#[derive(Debug, Clone)]
pub struct Effect {
    /// DDL, DML or neither.
    pub kind: Kind,
    /// Tables whose definition it changes.
    pub defines: Vec<String>,
    /// Existing tables it alters in place (ALTER TABLE, CREATE/DROP INDEX).
    pub alters: Vec<String>,
    /// Tables whose rows it rewrites from data (UPDATE, INSERT ... SELECT).
    pub backfills: Vec<String>,
}

/// What the same migration's Up section created, or dropped already: dropping it in the
/// Down loses nothing that existed before the Up (a table the Up dropped is gone; a
/// second DROP only fails).
#[derive(Debug, Default)]
pub struct Created {
    /// Tables.
    pub tables: Vec<String>,
    /// `(table, column)` pairs added to (or dropped from) existing tables.
    pub columns: Vec<(String, String)>,
}

impl Created {
    /// Records what `statement` creates or drops.
    pub fn record(&mut self, statement: &Ast) {
        match statement {
            Ast::CreateTable(c) => self.tables.push(table_name(&c.name)),
            Ast::Drop {
                object_type: ObjectType::Table,
                names,
                ..
            } => self.tables.extend(names.iter().map(table_name)),
            Ast::AlterTable(a) => {
                let t = table_name(&a.name);
                for op in &a.operations {
                    match op {
                        AlterTableOperation::AddColumn { column_def, .. } => self
                            .columns
                            .push((t.clone(), column_name(&column_def.name))),
                        AlterTableOperation::DropColumn { column_names, .. } => self
                            .columns
                            .extend(column_names.iter().map(|c| (t.clone(), column_name(c)))),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// Records what an Up statement the parser refused creates, by its words: a CREATE
    /// TABLE, an ALTER TABLE's added columns.
    pub fn record_refused(&mut self, sql: &str) {
        let words = words(sql);
        self.tables.extend(created_table(&words));
        self.columns.extend(added_columns(&words));
    }
}

/// The table a CREATE TABLE's `words` name.
fn created_table(words: &[String]) -> Option<String> {
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    if w(0) != "CREATE" {
        return None;
    }
    let i = words.iter().take(4).position(|x| x == "TABLE")?;
    let mut at = i + 1;
    if w(at) == "IF" {
        at += 3;
    }
    Some(name_at(words, at).0)
}

/// The `(table, column)` pairs an ALTER TABLE's `words` add: `ADD [COLUMN] name ...` and
/// `ADD [COLUMN] (name ..., name ...)`.
fn added_columns(words: &[String]) -> Vec<(String, String)> {
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let mut out = Vec::new();
    if !(w(0) == "ALTER" && w(1) == "TABLE") {
        return out;
    }
    let (t, next) = name_at(words, 2);
    for c in clauses(words.get(next..).unwrap_or_default()) {
        let at = |i: usize| c.get(i).map(String::as_str).unwrap_or("");
        if at(0) != "ADD" {
            continue;
        }
        let mut i = if at(1) == "COLUMN" { 2 } else { 1 };
        if at(i) == "IF" {
            i += 3;
        }
        if at(i) == "(" {
            // Each item's first word, at depth 1.
            let (mut depth, mut first) = (0usize, true);
            for x in &c[i..] {
                match x.as_str() {
                    "(" => {
                        depth += 1;
                        continue;
                    }
                    ")" => depth = depth.saturating_sub(1),
                    "," if depth == 1 => {
                        first = true;
                        continue;
                    }
                    name if depth == 1 && first => {
                        out.push((t.clone(), name.to_ascii_lowercase()));
                    }
                    _ => {}
                }
                first = false;
            }
        } else if !matches!(
            at(i),
            "INDEX"
                | "KEY"
                | "UNIQUE"
                | "CONSTRAINT"
                | "PRIMARY"
                | "FOREIGN"
                | "FULLTEXT"
                | "SPATIAL"
                | "PARTITION"
                | "CHECK"
                | ""
        ) {
            out.push((t.clone(), at(i).to_ascii_lowercase()));
        }
    }
    out
}

/// Checks one statement against `schema` (the model before it runs). `created` is set in
/// a Down section: what its Up made.
pub fn statement(
    statement: &Ast,
    schema: &Schema,
    created: Option<&Created>,
) -> (Vec<Hit>, Effect) {
    let mut hits = Vec::new();
    let mut hit = |rule: Rule, detail: String| hits.push(Hit { rule, detail });
    let mut effect = Effect {
        kind: Kind::Other,
        defines: Vec::new(),
        alters: Vec::new(),
        backfills: Vec::new(),
    };
    let made_table = |t: &str| created.is_some_and(|c| c.tables.iter().any(|x| x == t));
    let made_column = |t: &str, col: &str| {
        made_table(t) || created.is_some_and(|c| c.columns.iter().any(|(a, b)| a == t && b == col))
    };
    match statement {
        Ast::CreateTable(c) => {
            effect.kind = Kind::Ddl;
            effect.defines.push(table_name(&c.name));
        }
        Ast::AlterTable(a) => {
            effect.kind = Kind::Ddl;
            let t = table_name(&a.name);
            effect.defines.push(t.clone());
            effect.alters.push(t.clone());
            let down = created.is_some();
            for op in &a.operations {
                alter(&t, op, schema, down, &made_column, &mut hit);
            }
        }
        Ast::CreateIndex(i) => {
            effect.kind = Kind::Ddl;
            let t = table_name(&i.table_name);
            effect.defines.push(t.clone());
            effect.alters.push(t);
        }
        Ast::Drop {
            object_type,
            names,
            table,
            ..
        } => {
            effect.kind = Kind::Ddl;
            match object_type {
                ObjectType::Database | ObjectType::Schema => {
                    for n in names {
                        hit(Rule::DropDatabase, n.to_string());
                    }
                }
                ObjectType::Table => {
                    for n in names {
                        let t = table_name(n);
                        if !made_table(&t) {
                            hit(Rule::DropTable, t.clone());
                            if created.is_some() {
                                hit(Rule::DownDestroysData, format!("table {t}"));
                            }
                        }
                        effect.defines.push(t);
                    }
                }
                ObjectType::Index => {
                    if let Some(t) = table {
                        let t = table_name(t);
                        effect.defines.push(t.clone());
                        effect.alters.push(t);
                    }
                }
                _ => {}
            }
        }
        Ast::Truncate(t) => {
            effect.kind = Kind::Ddl;
            for target in &t.table_names {
                let name = table_name(&target.name);
                hit(Rule::Truncate, name.clone());
                if created.is_some() && !made_table(&name) {
                    hit(Rule::DownDestroysData, format!("rows of {name}"));
                }
                effect.defines.push(name);
            }
        }
        Ast::RenameTable(renames) => {
            effect.kind = Kind::Ddl;
            for r in renames {
                let (from, to) = (table_name(&r.old_name), table_name(&r.new_name));
                hit(Rule::RenameTable, format!("{from} -> {to}"));
                effect.defines.extend([from, to]);
            }
        }
        Ast::Delete(d) => {
            effect.kind = Kind::Dml;
            let from = match &d.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
            };
            let names: Vec<String> = if d.tables.is_empty() {
                from.iter().filter_map(|t| relation(&t.relation)).collect()
            } else {
                d.tables.iter().map(table_name).collect()
            };
            if d.selection.is_none() && d.using.is_none() && d.limit.is_none() {
                hit(Rule::DeleteWithoutWhere, names.join(", "));
            }
        }
        Ast::Update(u) => {
            effect.kind = Kind::Dml;
            let names: Vec<String> = relation(&u.table.relation).into_iter().collect();
            if u.selection.is_none() && u.limit.is_none() {
                hit(Rule::UpdateWithoutWhere, names.join(", "));
            }
            effect.backfills.extend(names);
        }
        Ast::Insert(i) => {
            effect.kind = Kind::Dml;
            let from_query = i
                .source
                .as_ref()
                .is_some_and(|q| !matches!(*q.body, SetExpr::Values(_)));
            if let (TableObject::TableName(n), true) = (&i.table, from_query) {
                effect.backfills.push(table_name(n));
            }
        }
        Ast::CreateView(_)
        | Ast::CreateProcedure { .. }
        | Ast::CreateFunction(_)
        | Ast::CreateTrigger(_)
        | Ast::CreateDatabase { .. }
        | Ast::CreateSchema { .. }
        | Ast::DropFunction(_)
        | Ast::DropProcedure { .. }
        | Ast::DropTrigger(_)
        | Ast::AlterView { .. } => effect.kind = Kind::Ddl,
        _ => {}
    }
    (hits, effect)
}

/// The words of `sql`, keywords uppercased (quoted names kept as written), or nothing
/// when it does not even tokenize.
fn words(sql: &str) -> Vec<String> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = sqlparser::dialect::MySqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return Vec::new();
    };
    tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .map(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
            Token::Word(w) => w.value.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// The table named at `words[at..]` (`name` or `schema . name`), lowercased, and the
/// index after it.
fn name_at(words: &[String], at: usize) -> (String, usize) {
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    if w(at + 1) == "." {
        (w(at + 2).to_ascii_lowercase(), at + 3)
    } else {
        (w(at).to_ascii_lowercase(), at + 1)
    }
}

/// `words` split at the commas outside parentheses: an ALTER TABLE's clauses.
fn clauses(words: &[String]) -> Vec<&[String]> {
    let mut out = Vec::new();
    let (mut depth, mut from) = (0usize, 0);
    for (i, w) in words.iter().enumerate() {
        match w.as_str() {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            "," if depth == 0 => {
                out.push(&words[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(&words[from..]);
    out
}

/// Whether `word` occurs in `clause` outside parentheses.
fn top_level(clause: &[String], word: &str) -> bool {
    let mut depth = 0usize;
    clause.iter().any(|w| {
        match w.as_str() {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ => {}
        }
        depth == 0 && w == word
    })
}

/// The hazards still visible in the words of a statement the parser refused: MySQL
/// syntax `sqlparser` does not cover (`ALTER TABLE ... ENGINE=`, partitioning clauses,
/// `PERSISTENT` columns, `CREATE FULLTEXT INDEX`). An ALTER TABLE is read clause by
/// clause by its leading keywords; nothing is read into a body.
/// `created` is set in a Down section, as for [`statement`].
pub fn refused(sql: &str, created: Option<&Created>) -> Vec<Hit> {
    let made_column = |t: &str, col: &str| {
        created.is_some_and(|c| {
            c.tables.iter().any(|x| x == t) || c.columns.iter().any(|(a, b)| a == t && b == col)
        })
    };
    let words = words(sql);
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let mut out = Vec::new();
    let mut hit = |rule: Rule, detail: String| out.push(Hit { rule, detail });
    if w(0) == "ALTER" && w(1) == "TABLE" {
        let (table, next) = name_at(&words, 2);
        let rest = words.get(next..).unwrap_or_default();
        // Partition options follow the other clauses without a comma.
        for (i, x) in rest.iter().enumerate() {
            let y = rest.get(i + 1).map(String::as_str).unwrap_or("");
            match (x.as_str(), y) {
                ("PARTITION", "BY") => hit(Rule::PartitionChange, format!("{table}: PARTITION BY")),
                ("REMOVE", "PARTITIONING") => hit(
                    Rule::PartitionChange,
                    format!("{table}: REMOVE PARTITIONING"),
                ),
                _ => {}
            }
        }
        for c in clauses(rest) {
            let at = |i: usize| c.get(i).map(String::as_str).unwrap_or("");
            let copy = (0..c.len()).any(|i| {
                at(i) == "ALGORITHM"
                    && (at(i + 1) == "COPY" || (at(i + 1) == "=" && at(i + 2) == "COPY"))
            });
            if copy {
                hit(Rule::AlgorithmCopy, table.clone());
            }
            match (at(0), at(1)) {
                ("ENGINE", _) => hit(Rule::EngineChange, table.clone()),
                (
                    verb @ ("ADD" | "DROP" | "REORGANIZE" | "COALESCE" | "TRUNCATE" | "EXCHANGE"
                    | "REBUILD" | "OPTIMIZE" | "REPAIR" | "DISCARD" | "IMPORT"),
                    "PARTITION",
                ) => {
                    hit(Rule::PartitionChange, format!("{table}: {verb} PARTITION"));
                    if matches!(verb, "DROP" | "TRUNCATE") {
                        hit(Rule::DropPartition, format!("{table}: {verb} PARTITION"));
                    }
                }
                ("DROP", "PRIMARY") => {
                    hit(Rule::PrimaryKeyChange, format!("{table}: DROP PRIMARY KEY"))
                }
                (
                    "DROP",
                    "INDEX" | "KEY" | "FOREIGN" | "CONSTRAINT" | "CHECK" | "PERIOD" | "SYSTEM" | "",
                ) => {}
                ("DROP", second) => {
                    let mut i = if second == "COLUMN" { 2 } else { 1 };
                    if at(i) == "IF" {
                        i += 2;
                    }
                    let column = at(i).to_ascii_lowercase();
                    if !made_column(&table, &column) {
                        let detail = format!("{table}.{column}");
                        hit(Rule::DropColumn, detail.clone());
                        hit(Rule::DropColumnInUse, detail);
                        if created.is_some() {
                            hit(Rule::DownDestroysData, format!("column {table}.{column}"));
                        }
                    }
                }
                ("ADD", "FULLTEXT" | "SPATIAL") => hit(Rule::FulltextOrSpatial, table.clone()),
                (
                    "ADD",
                    "INDEX" | "KEY" | "UNIQUE" | "CONSTRAINT" | "PRIMARY" | "FOREIGN" | "CHECK"
                    | "PERIOD" | "SYSTEM",
                ) => {}
                ("ADD", _) => {
                    if top_level(c, "STORED") || top_level(c, "PERSISTENT") {
                        hit(Rule::AddStoredGenerated, table.clone());
                    }
                    if top_level(c, "AUTO_INCREMENT") {
                        hit(Rule::AddAutoIncrement, table.clone());
                    }
                    if top_level(c, "FIRST") || top_level(c, "AFTER") {
                        hit(Rule::ColumnPosition, table.clone());
                    }
                }
                ("MODIFY" | "CHANGE", _) if top_level(c, "FIRST") || top_level(c, "AFTER") => {
                    hit(Rule::ReorderColumn, table.clone());
                }
                _ => {}
            }
        }
    } else if w(0) == "CREATE" && matches!(w(1), "FULLTEXT" | "SPATIAL") && w(2) == "INDEX" {
        let on = words
            .iter()
            .position(|x| x == "ON")
            .map_or(String::new(), |i| name_at(&words, i + 1).0);
        hit(Rule::FulltextOrSpatial, on);
    }
    out
}

/// Data an Up statement removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loss {
    /// A table and its rows.
    Table(String),
    /// A column and its values.
    Column(String, String),
    /// Rows of a table (TRUNCATE, DELETE).
    Rows(String),
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Loss::Table(t) => write!(f, "table {t}"),
            Loss::Column(t, c) => write!(f, "column {t}.{c}"),
            Loss::Rows(t) => write!(f, "rows of {t}"),
        }
    }
}

/// The data `statement` removes that existed before its section (`made` is what the
/// section created before it: dropping that again loses nothing older).
pub fn losses(statement: &Ast, made: &Created) -> Vec<Loss> {
    let made_table = |t: &str| made.tables.iter().any(|x| x == t);
    let mut out = Vec::new();
    match statement {
        Ast::Drop {
            object_type: ObjectType::Table,
            names,
            ..
        } => out.extend(
            names
                .iter()
                .map(table_name)
                .filter(|t| !made_table(t))
                .map(Loss::Table),
        ),
        Ast::AlterTable(a) => {
            let t = table_name(&a.name);
            if made_table(&t) {
                return out;
            }
            for op in &a.operations {
                if let AlterTableOperation::DropColumn { column_names, .. } = op {
                    for c in column_names.iter().map(column_name) {
                        if !made.columns.iter().any(|(x, y)| *x == t && *y == c) {
                            out.push(Loss::Column(t.clone(), c));
                        }
                    }
                }
            }
        }
        Ast::Truncate(tr) => out.extend(
            tr.table_names
                .iter()
                .map(|x| table_name(&x.name))
                .filter(|t| !made_table(t))
                .map(Loss::Rows),
        ),
        Ast::Delete(d) => {
            let from = match &d.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
            };
            let names: Vec<String> = if d.tables.is_empty() {
                from.iter().filter_map(|t| relation(&t.relation)).collect()
            } else {
                d.tables.iter().map(table_name).collect()
            };
            out.extend(names.into_iter().filter(|t| !made_table(t)).map(Loss::Rows));
        }
        _ => {}
    }
    out
}

/// What a Down section puts back: the tables it creates, the columns it adds and the
/// tables it inserts into.
#[derive(Debug, Default)]
pub struct Restores {
    tables: Vec<String>,
    columns: Vec<(String, String)>,
    inserts: Vec<String>,
}

impl Restores {
    /// Records a parsed Down statement.
    pub fn record(&mut self, statement: &Ast) {
        match statement {
            Ast::CreateTable(c) => self.tables.push(table_name(&c.name)),
            Ast::AlterTable(a) => {
                let t = table_name(&a.name);
                for op in &a.operations {
                    match op {
                        AlterTableOperation::AddColumn { column_def, .. } => self
                            .columns
                            .push((t.clone(), column_name(&column_def.name))),
                        AlterTableOperation::RenameColumn {
                            new_column_name, ..
                        } => self.columns.push((t.clone(), column_name(new_column_name))),
                        AlterTableOperation::ChangeColumn { new_name, .. } => {
                            self.columns.push((t.clone(), column_name(new_name)))
                        }
                        _ => {}
                    }
                }
            }
            Ast::RenameTable(renames) => self
                .tables
                .extend(renames.iter().map(|r| table_name(&r.new_name))),
            Ast::Insert(i) => {
                if let TableObject::TableName(n) = &i.table {
                    self.inserts.push(table_name(n));
                }
            }
            _ => {}
        }
    }

    /// Records a Down statement the parser refused, by its leading words: a CREATE TABLE,
    /// an ALTER TABLE's added columns, an INSERT or REPLACE.
    pub fn record_refused(&mut self, sql: &str) {
        let words = words(sql);
        let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
        self.tables.extend(created_table(&words));
        self.columns.extend(added_columns(&words));
        if matches!(w(0), "INSERT" | "REPLACE") {
            let at = if w(1) == "INTO" { 2 } else { 1 };
            self.inserts.push(name_at(&words, at).0);
        }
    }

    /// Whether the Down puts `loss` back (its structure; rows only by an INSERT).
    pub fn restores(&self, loss: &Loss) -> bool {
        match loss {
            Loss::Table(t) => self.tables.contains(t),
            Loss::Column(t, c) => {
                self.tables.contains(t) || self.columns.iter().any(|(x, y)| x == t && y == c)
            }
            Loss::Rows(t) => self.inserts.contains(t),
        }
    }
}

fn relation(t: &TableFactor) -> Option<String> {
    match t {
        TableFactor::Table { name, .. } => Some(table_name(name)),
        _ => None,
    }
}

fn has(options: &[ColumnOption], f: impl Fn(&ColumnOption) -> bool) -> bool {
    options.iter().any(f)
}

fn is_primary(o: &ColumnOption) -> bool {
    matches!(o, ColumnOption::PrimaryKey(_))
}

/// The rules one ALTER TABLE operation on `t` breaks.
fn alter(
    t: &str,
    op: &AlterTableOperation,
    schema: &Schema,
    down: bool,
    made_column: &dyn Fn(&str, &str) -> bool,
    hit: &mut dyn FnMut(Rule, String),
) {
    match op {
        AlterTableOperation::AddColumn {
            column_def: d,
            column_position,
            ..
        } => {
            let options: Vec<ColumnOption> = d.options.iter().map(|o| o.option.clone()).collect();
            let column = format!("{t}.{}", column_name(&d.name));
            if let Some(p) = column_position {
                hit(Rule::ColumnPosition, format!("{column} {}", position(p)));
            }
            if has(&options, is_stored) {
                hit(Rule::AddStoredGenerated, column.clone());
            }
            if has(&options, is_auto_increment) {
                hit(Rule::AddAutoIncrement, column.clone());
            }
            let not_null = has(&options, |o| matches!(o, ColumnOption::NotNull));
            let filled = has(&options, |o| {
                matches!(o, ColumnOption::Default(_) | ColumnOption::Generated { .. })
                    || is_auto_increment(o)
            });
            if not_null && !filled {
                hit(
                    Rule::AddNotNullWithoutDefault,
                    format!("{t}.{}", column_name(&d.name)),
                );
            }
            if has(&options, is_primary) {
                hit(
                    Rule::PrimaryKeyChange,
                    format!("{t}.{}", column_name(&d.name)),
                );
            }
        }
        AlterTableOperation::DropColumn { column_names, .. } => {
            for c in column_names {
                let c = column_name(c);
                if !made_column(t, &c) {
                    hit(Rule::DropColumn, format!("{t}.{c}"));
                    hit(Rule::DropColumnInUse, format!("{t}.{c}"));
                    if down {
                        hit(Rule::DownDestroysData, format!("column {t}.{c}"));
                    }
                }
            }
        }
        AlterTableOperation::ModifyColumn {
            col_name,
            data_type,
            options,
            column_position,
        } => {
            let c = column_name(col_name);
            if let Some(p) = column_position {
                hit(Rule::ReorderColumn, format!("{t}.{c} {}", position(p)));
            }
            retype(t, &c, data_type, options, schema, hit)
        }
        AlterTableOperation::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            column_position,
        } => {
            let (old, new) = (column_name(old_name), column_name(new_name));
            if let Some(p) = column_position {
                hit(Rule::ReorderColumn, format!("{t}.{old} {}", position(p)));
            }
            if old != new {
                hit(Rule::RenameColumn, format!("{t}.{old} -> {new} (CHANGE)"));
            }
            retype(t, &old, data_type, options, schema, hit);
        }
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => hit(
            Rule::RenameColumn,
            format!(
                "{t}.{} -> {}",
                column_name(old_column_name),
                column_name(new_column_name)
            ),
        ),
        AlterTableOperation::RenameTable { table_name: to } => {
            let to = match to {
                sqlparser::ast::RenameTableNameKind::As(n)
                | sqlparser::ast::RenameTableNameKind::To(n) => table_name(n),
            };
            hit(Rule::RenameTable, format!("{t} -> {to}"));
        }
        AlterTableOperation::AddConstraint { constraint, .. } => match constraint {
            TableConstraint::PrimaryKey(_) => {
                hit(Rule::PrimaryKeyChange, format!("{t}: ADD PRIMARY KEY"))
            }
            TableConstraint::ForeignKey(fk) => hit(
                Rule::AddForeignKey,
                format!("{t} -> {}", table_name(&fk.foreign_table)),
            ),
            TableConstraint::FulltextOrSpatial(_) => hit(Rule::FulltextOrSpatial, t.to_owned()),
            _ => {}
        },
        AlterTableOperation::DropPrimaryKey { .. } => {
            hit(Rule::PrimaryKeyChange, format!("{t}: DROP PRIMARY KEY"))
        }
        AlterTableOperation::Algorithm {
            algorithm: AlterTableAlgorithm::Copy,
            ..
        } => hit(Rule::AlgorithmCopy, t.to_owned()),
        _ => {}
    }
}

fn position(p: &MySQLColumnPosition) -> String {
    match p {
        MySQLColumnPosition::First => "FIRST".to_owned(),
        MySQLColumnPosition::After(c) => format!("AFTER {}", column_name(c)),
    }
}

fn is_stored(o: &ColumnOption) -> bool {
    matches!(
        o,
        ColumnOption::Generated {
            generation_expr_mode: Some(GeneratedExpressionMode::Stored),
            ..
        }
    )
}

fn is_auto_increment(o: &ColumnOption) -> bool {
    match o {
        ColumnOption::DialectSpecific(tokens) => tokens
            .iter()
            .any(|t| t.to_string().eq_ignore_ascii_case("AUTO_INCREMENT")),
        _ => false,
    }
}

/// A MODIFY or CHANGE of `t.column` to `data_type`: narrowing, a copy, or neither.
fn retype(
    t: &str,
    column: &str,
    data_type: &DataType,
    options: &[ColumnOption],
    schema: &Schema,
    hit: &mut dyn FnMut(Rule, String),
) {
    if has(options, is_primary) {
        hit(Rule::PrimaryKeyChange, format!("{t}.{column}"));
    }
    let new = ColumnType::of(data_type, options, schema.bytes_per_char(t));
    let Some(old) = schema.column(t, column) else {
        hit(
            Rule::TypeChange,
            format!(
                "{t}.{column} -> {new}; its type before is unknown (not created by an earlier migration of the set)"
            ),
        );
        return;
    };
    let detail = format!("{t}.{column} {old} -> {new}");
    // An ENUM or SET edit has its own rule: its copy is the member list's, not a new type.
    let members = matches!(
        (old, &new),
        (ColumnType::Enum(_), ColumnType::Enum(_)) | (ColumnType::Set(_), ColumnType::Set(_))
    );
    let copy = if members {
        Rule::EnumSetChange
    } else {
        Rule::TypeChange
    };
    match old.change_to(&new) {
        TypeChange::Same | TypeChange::InPlaceGrowth | TypeChange::InPlaceAppend => {}
        TypeChange::Narrowing => {
            hit(Rule::Narrowing, detail.clone());
            hit(copy, detail);
        }
        TypeChange::MembersRewritten | TypeChange::Widening | TypeChange::Other => {
            hit(copy, detail)
        }
    }
}
