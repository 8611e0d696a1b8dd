//! The schema as the earlier migrations of the set leave it: tables and their columns'
//! types, enough to tell a MODIFY that narrows a column from one that widens it.
//!
//! Only what the set itself creates is known. A table made before the set's first
//! migration (or by an unparsed statement) is unknown, and a change to it is reported
//! without a verdict on its direction rather than guessed.

use std::collections::HashMap;

use sqlparser::ast::{
    AlterTableOperation, CharacterLength, ColumnDef, ColumnOption, CreateTable,
    CreateTableLikeKind, CreateTableOptions, DataType, EnumMember, Expr, ObjectName, SqlOption,
    Statement as Ast,
};

/// The known tables, by lowercased name (the schema qualifier dropped: a set migrates
/// one schema).
#[derive(Debug, Default, Clone)]
pub struct Schema {
    tables: HashMap<String, Table>,
}

#[derive(Debug, Default, Clone)]
struct Table {
    /// Bytes a character takes in the table's default character set.
    bytes_per_char: u8,
    columns: HashMap<String, ColumnType>,
}

/// A column's type, reduced to what decides narrowing and rebuilds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// CHAR or VARCHAR of `length` characters.
    Text {
        /// VARCHAR rather than CHAR.
        varying: bool,
        /// In characters.
        length: u64,
        /// Bytes per character of its character set (utf8mb4 when not said).
        bytes_per_char: u8,
    },
    /// An integer of `bytes` bytes.
    Int {
        /// 1 TINYINT, 2 SMALLINT, 3 MEDIUMINT, 4 INT, 8 BIGINT.
        bytes: u8,
        /// UNSIGNED.
        unsigned: bool,
    },
    /// ENUM, by its members in order.
    Enum(Vec<String>),
    /// SET, by its members in order.
    Set(Vec<String>),
    /// Anything else, by its normalised text.
    Other(String),
}

/// How a column's type changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeChange {
    /// Same type.
    Same,
    /// VARCHAR growth that keeps its length prefix size: done in place.
    InPlaceGrowth,
    /// Every old value still fits, but the table is copied.
    Widening,
    /// Some old values may not fit (for ENUM and SET: a member is gone).
    Narrowing,
    /// ENUM or SET members appended at the end, within the same storage size: in place.
    InPlaceAppend,
    /// ENUM or SET members reordered or inserted, or appended across a storage size:
    /// the table is copied, though every old value still has its member.
    MembersRewritten,
    /// A different kind of type, or one the model cannot compare.
    Other,
}

/// A VARCHAR stores its length in 1 byte up to 255 bytes, else in 2; growing across
/// that line changes the row format, which MySQL and MariaDB can only do by copying.
const ONE_BYTE_PREFIX_MAX: u64 = 255;

/// Bytes an ENUM of `members` takes: 1 up to 255 members, 2 beyond.
fn enum_bytes(members: usize) -> u8 {
    if members <= 255 { 1 } else { 2 }
}

/// Bytes a SET of `members` takes: 1, 2, 3, 4 or 8 for up to 8, 16, 24, 32 or 64.
fn set_bytes(members: usize) -> u8 {
    match members {
        0..=8 => 1,
        9..=16 => 2,
        17..=24 => 3,
        25..=32 => 4,
        _ => 8,
    }
}

/// How a member list changes, given the storage size function of its type.
fn members_change(old: &[String], new: &[String], bytes: fn(usize) -> u8) -> TypeChange {
    if old.iter().any(|m| !new.contains(m)) {
        TypeChange::Narrowing
    } else if new.starts_with(old) && bytes(old.len()) == bytes(new.len()) {
        TypeChange::InPlaceAppend
    } else {
        TypeChange::MembersRewritten
    }
}

impl ColumnType {
    /// The type `data_type` declares, in a table whose default is `bytes_per_char`.
    pub fn of(data_type: &DataType, options: &[ColumnOption], bytes_per_char: u8) -> ColumnType {
        let bytes_per_char = options
            .iter()
            .find_map(|o| match o {
                ColumnOption::CharacterSet(name) => Some(charset_bytes(&name.to_string())),
                _ => None,
            })
            .unwrap_or(bytes_per_char);
        let text = |varying: bool, length: &Option<CharacterLength>| ColumnType::Text {
            varying,
            length: match length {
                Some(CharacterLength::IntegerLength { length, .. }) => *length,
                // MySQL's CHAR without a length is CHAR(1).
                _ => 1,
            },
            bytes_per_char,
        };
        let int = |bytes: u8, unsigned: bool| ColumnType::Int { bytes, unsigned };
        use DataType as D;
        match data_type {
            D::Varchar(l) | D::CharacterVarying(l) | D::CharVarying(l) | D::Nvarchar(l) => {
                text(true, l)
            }
            D::Char(l) | D::Character(l) => text(false, l),
            D::TinyInt(_) | D::Bool | D::Boolean => int(1, false),
            D::TinyIntUnsigned(_) => int(1, true),
            D::SmallInt(_) => int(2, false),
            D::SmallIntUnsigned(_) => int(2, true),
            D::MediumInt(_) => int(3, false),
            D::MediumIntUnsigned(_) => int(3, true),
            D::Int(_) | D::Integer(_) => int(4, false),
            D::IntUnsigned(_) | D::IntegerUnsigned(_) => int(4, true),
            D::BigInt(_) => int(8, false),
            D::BigIntUnsigned(_) => int(8, true),
            D::Enum(members, _) => ColumnType::Enum(
                members
                    .iter()
                    .map(|m| match m {
                        EnumMember::Name(n) | EnumMember::NamedValue(n, _) => n.clone(),
                    })
                    .collect(),
            ),
            D::Set(members) => ColumnType::Set(members.clone()),
            other => ColumnType::Other(other.to_string().to_ascii_lowercase()),
        }
    }

    /// How going from `self` to `new` changes the column.
    pub fn change_to(&self, new: &ColumnType) -> TypeChange {
        use ColumnType as C;
        if self == new {
            return TypeChange::Same;
        }
        match (self, new) {
            (
                C::Text {
                    varying: v1,
                    length: l1,
                    bytes_per_char: b1,
                },
                C::Text {
                    varying: v2,
                    length: l2,
                    bytes_per_char: b2,
                },
            ) if b1 == b2 => {
                let prefix = |l: &u64| l * u64::from(*b1) > ONE_BYTE_PREFIX_MAX;
                if l2 < l1 {
                    TypeChange::Narrowing
                } else if *v1 && *v2 && prefix(l1) == prefix(l2) {
                    TypeChange::InPlaceGrowth
                } else {
                    TypeChange::Widening
                }
            }
            (
                C::Int {
                    bytes: b1,
                    unsigned: u1,
                },
                C::Int {
                    bytes: b2,
                    unsigned: u2,
                },
            ) => {
                // A signed column made unsigned loses its negatives, and an unsigned one
                // made signed of the same size its upper half.
                if b2 < b1 || (b2 == b1 && u1 != u2) || (!u1 && *u2) {
                    TypeChange::Narrowing
                } else {
                    TypeChange::Widening
                }
            }
            (C::Enum(old), C::Enum(new)) => members_change(old, new, enum_bytes),
            (C::Set(old), C::Set(new)) => members_change(old, new, set_bytes),
            _ => TypeChange::Other,
        }
    }

    /// Whether this is an ENUM or a SET.
    pub fn has_members(&self) -> bool {
        matches!(self, ColumnType::Enum(_) | ColumnType::Set(_))
    }
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColumnType::Text {
                varying, length, ..
            } => write!(f, "{}({length})", if *varying { "VARCHAR" } else { "CHAR" }),
            ColumnType::Int { bytes, unsigned } => {
                let name = match bytes {
                    1 => "TINYINT",
                    2 => "SMALLINT",
                    3 => "MEDIUMINT",
                    4 => "INT",
                    _ => "BIGINT",
                };
                write!(f, "{name}{}", if *unsigned { " UNSIGNED" } else { "" })
            }
            ColumnType::Enum(m) => write_members(f, "ENUM", m),
            ColumnType::Set(m) => write_members(f, "SET", m),
            ColumnType::Other(s) => f.write_str(&s.to_ascii_uppercase()),
        }
    }
}

/// `ENUM('a','b')`; a long list shows its first members and its count.
fn write_members(f: &mut std::fmt::Formatter<'_>, name: &str, m: &[String]) -> std::fmt::Result {
    const SHOWN: usize = 6;
    let quoted: Vec<String> = m.iter().take(SHOWN).map(|s| format!("'{s}'")).collect();
    write!(f, "{name}({}", quoted.join(","))?;
    if m.len() > SHOWN {
        write!(f, ",... {} members", m.len())?;
    }
    f.write_str(")")
}

/// The most bytes a character takes in `charset`; utf8mb4's 4 when unknown, which
/// reports more prefix crossings rather than fewer.
fn charset_bytes(charset: &str) -> u8 {
    match charset.to_ascii_lowercase().trim_matches(['\'', '"', '`']) {
        "latin1" | "ascii" | "binary" | "latin2" | "cp1250" | "cp1251" | "cp1252" => 1,
        "ucs2" => 2,
        "utf8" | "utf8mb3" => 3,
        _ => 4,
    }
}

/// The lowercased table name of `name`, without its schema.
pub fn table_name(name: &ObjectName) -> String {
    name.0
        .last()
        .map(|p| p.to_string())
        .unwrap_or_default()
        .trim_matches('`')
        .to_ascii_lowercase()
}

/// A lowercased column name.
pub fn column_name(ident: &sqlparser::ast::Ident) -> String {
    ident.value.to_ascii_lowercase()
}

fn options(def: &ColumnDef) -> Vec<ColumnOption> {
    def.options.iter().map(|o| o.option.clone()).collect()
}

fn table_charset(options: &CreateTableOptions) -> Option<u8> {
    let list = match options {
        CreateTableOptions::None => return None,
        CreateTableOptions::With(l)
        | CreateTableOptions::Options(l)
        | CreateTableOptions::Plain(l)
        | CreateTableOptions::TableProperties(l) => l,
    };
    list.iter().find_map(|o| match o {
        SqlOption::KeyValue { key, value } => {
            let key = key.to_string().to_ascii_uppercase();
            (key.ends_with("CHARSET") || key.ends_with("CHARACTER SET"))
                .then(|| charset_bytes(&expr_text(value)))
        }
        _ => None,
    })
}

fn expr_text(e: &Expr) -> String {
    match e {
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

impl Schema {
    /// The type of `table.column`, if the model knows it.
    pub fn column(&self, table: &str, column: &str) -> Option<&ColumnType> {
        self.tables.get(table)?.columns.get(column)
    }

    /// Whether the model knows `table`.
    pub fn has_table(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    /// The default bytes per character of `table` (utf8mb4's 4 when unknown).
    pub fn bytes_per_char(&self, table: &str) -> u8 {
        self.tables.get(table).map_or(4, |t| t.bytes_per_char)
    }

    /// Replays `statement` onto the model.
    pub fn apply(&mut self, statement: &Ast) {
        match statement {
            Ast::CreateTable(c) => self.create(c),
            Ast::AlterTable(a) => {
                let name = table_name(&a.name);
                for op in &a.operations {
                    self.alter(&name, op);
                }
            }
            Ast::Drop { names, .. } => {
                for n in names {
                    self.tables.remove(&table_name(n));
                }
            }
            Ast::RenameTable(renames) => {
                for r in renames {
                    if let Some(t) = self.tables.remove(&table_name(&r.old_name)) {
                        self.tables.insert(table_name(&r.new_name), t);
                    }
                }
            }
            _ => {}
        }
    }

    fn create(&mut self, c: &CreateTable) {
        let name = table_name(&c.name);
        if let Some(like) = &c.like {
            let source = match like {
                CreateTableLikeKind::Parenthesized(l) | CreateTableLikeKind::Plain(l) => &l.name,
            };
            if let Some(t) = self.tables.get(&table_name(source)).cloned() {
                self.tables.insert(name, t);
            }
            return;
        }
        let bytes_per_char = table_charset(&c.table_options).unwrap_or(4);
        let columns = c
            .columns
            .iter()
            .map(|d| {
                let t = ColumnType::of(&d.data_type, &options(d), bytes_per_char);
                (column_name(&d.name), t)
            })
            .collect();
        self.tables.insert(
            name,
            Table {
                bytes_per_char,
                columns,
            },
        );
    }

    fn alter(&mut self, table: &str, op: &AlterTableOperation) {
        let Some(t) = self.tables.get_mut(table) else {
            return;
        };
        let bpc = t.bytes_per_char;
        match op {
            AlterTableOperation::AddColumn { column_def: d, .. } => {
                let ty = ColumnType::of(&d.data_type, &options(d), bpc);
                t.columns.insert(column_name(&d.name), ty);
            }
            AlterTableOperation::DropColumn { column_names, .. } => {
                for c in column_names {
                    t.columns.remove(&column_name(c));
                }
            }
            AlterTableOperation::ModifyColumn {
                col_name,
                data_type,
                options,
                ..
            } => {
                let ty = ColumnType::of(data_type, options, bpc);
                t.columns.insert(column_name(col_name), ty);
            }
            AlterTableOperation::ChangeColumn {
                old_name,
                new_name,
                data_type,
                options,
                ..
            } => {
                t.columns.remove(&column_name(old_name));
                let ty = ColumnType::of(data_type, options, bpc);
                t.columns.insert(column_name(new_name), ty);
            }
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                if let Some(ty) = t.columns.remove(&column_name(old_column_name)) {
                    t.columns.insert(column_name(new_column_name), ty);
                }
            }
            AlterTableOperation::RenameTable { table_name: to } => {
                let to = match to {
                    sqlparser::ast::RenameTableNameKind::As(n)
                    | sqlparser::ast::RenameTableNameKind::To(n) => table_name(n),
                };
                if let Some(t) = self.tables.remove(table) {
                    self.tables.insert(to, t);
                }
            }
            _ => {}
        }
    }
}
