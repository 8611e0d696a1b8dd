//! What one parsed statement does: the rules it breaks on its own, and the facts the
//! section-level rules (transaction, repeated ALTER) need.

use sqlparser::ast::{
    AlterTableAlgorithm, AlterTableOperation, ColumnOption, DataType, FromTable, ObjectType,
    SetExpr, Statement as Ast, TableConstraint, TableFactor, TableObject,
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

/// What the same migration's Up section created: dropping it again in Down is the
/// expected inverse, not a loss.
#[derive(Debug, Default)]
pub struct Created {
    /// Tables.
    pub tables: Vec<String>,
    /// `(table, column)` pairs added to existing tables.
    pub columns: Vec<(String, String)>,
}

impl Created {
    /// Records what `statement` creates.
    pub fn record(&mut self, statement: &Ast) {
        match statement {
            Ast::CreateTable(c) => self.tables.push(table_name(&c.name)),
            Ast::AlterTable(a) => {
                let t = table_name(&a.name);
                for op in &a.operations {
                    if let AlterTableOperation::AddColumn { column_def, .. } = op {
                        self.columns
                            .push((t.clone(), column_name(&column_def.name)));
                    }
                }
            }
            _ => {}
        }
    }
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
            for op in &a.operations {
                alter(&t, op, schema, &made_column, &mut hit);
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

/// The hazards still visible in the words of a statement the parser refused: MySQL
/// syntax `sqlparser` does not cover (`ALTER TABLE ... ENGINE=`, `CREATE FULLTEXT
/// INDEX`). Only the leading keywords are matched, so nothing is read into a body.
pub fn refused(sql: &str) -> Vec<Hit> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = sqlparser::dialect::MySqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return Vec::new();
    };
    let words: Vec<String> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .map(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
            Token::Word(w) => w.value.clone(),
            other => other.to_string(),
        })
        .collect();
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let mut out = Vec::new();
    if w(0) == "ALTER" && w(1) == "TABLE" {
        let table = w(2).to_ascii_lowercase();
        if words.iter().skip(3).any(|x| x == "ENGINE") {
            out.push(Hit {
                rule: Rule::EngineChange,
                detail: table.clone(),
            });
        }
        let copy = (3..words.len()).any(|i| {
            w(i) == "ALGORITHM" && (w(i + 1) == "COPY" || (w(i + 1) == "=" && w(i + 2) == "COPY"))
        });
        if copy {
            out.push(Hit {
                rule: Rule::AlgorithmCopy,
                detail: table,
            });
        }
    } else if w(0) == "CREATE" && matches!(w(1), "FULLTEXT" | "SPATIAL") && w(2) == "INDEX" {
        let on = words
            .iter()
            .position(|x| x == "ON")
            .map_or("", |i| w(i + 1));
        out.push(Hit {
            rule: Rule::FulltextOrSpatial,
            detail: on.to_ascii_lowercase(),
        });
    }
    out
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
    made_column: &dyn Fn(&str, &str) -> bool,
    hit: &mut dyn FnMut(Rule, String),
) {
    match op {
        AlterTableOperation::AddColumn { column_def: d, .. } => {
            let options: Vec<ColumnOption> = d.options.iter().map(|o| o.option.clone()).collect();
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
                }
            }
        }
        AlterTableOperation::ModifyColumn {
            col_name,
            data_type,
            options,
            ..
        } => retype(t, &column_name(col_name), data_type, options, schema, hit),
        AlterTableOperation::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            ..
        } => {
            let (old, new) = (column_name(old_name), column_name(new_name));
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
    match old.change_to(&new) {
        TypeChange::Same | TypeChange::InPlaceGrowth => {}
        TypeChange::Narrowing => {
            hit(Rule::Narrowing, detail.clone());
            hit(Rule::TypeChange, detail);
        }
        TypeChange::Widening | TypeChange::Other => hit(Rule::TypeChange, detail),
    }
}
