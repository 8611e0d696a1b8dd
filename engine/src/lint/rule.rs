//! The rules: each a stable id, a category, a severity, one line of explanation and an
//! anchor in `docs/lint.md`. Ids are part of the interface (suppression comments and
//! CI filters name them), so a rule is never renamed, only added or retired.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered: `Notice < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never fails a run unless asked.
    Notice,
    /// Likely to hurt in production: a lock, a copy, a half-applied migration.
    Warning,
    /// Loses data, or cannot be undone.
    Error,
}

impl Severity {
    /// The name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of hazard a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Data is lost.
    Destructive,
    /// The application version now running breaks.
    Incompatible,
    /// The table is copied or rebuilt, or writes block.
    Locking,
    /// The migration cannot be atomic on MySQL.
    Transaction,
    /// The migration cannot be undone.
    Reversibility,
    /// The linter could not read it; nothing was checked.
    Unparsed,
}

impl Category {
    /// The name, as in JSON and in rule ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Destructive => "destructive",
            Category::Incompatible => "incompatible",
            Category::Locking => "locking",
            Category::Transaction => "transaction",
            Category::Reversibility => "reversibility",
            Category::Unparsed => "unparsed",
        }
    }
}

macro_rules! rules {
    ($($variant:ident => $id:literal, $category:ident, $severity:ident, $summary:literal;)*) => {
        /// A lint rule.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Rule {
            $(#[doc = $summary] $variant,)*
        }

        impl Rule {
            /// Every rule, in the order `docs/lint.md` lists them.
            pub const ALL: &[Rule] = &[$(Rule::$variant,)*];

            /// The stable id, `category/name`.
            pub fn id(self) -> &'static str {
                match self { $(Rule::$variant => $id,)* }
            }

            /// The category.
            pub fn category(self) -> Category {
                match self { $(Rule::$variant => Category::$category,)* }
            }

            /// The severity.
            pub fn severity(self) -> Severity {
                match self { $(Rule::$variant => Severity::$severity,)* }
            }

            /// One line of explanation.
            pub fn summary(self) -> &'static str {
                match self { $(Rule::$variant => $summary,)* }
            }
        }
    };
}

rules! {
    DropDatabase => "destructive/drop-database", Destructive, Error,
        "drops a whole database and every table in it";
    DropTable => "destructive/drop-table", Destructive, Error,
        "drops a table and its rows";
    DropColumn => "destructive/drop-column", Destructive, Error,
        "drops a column and its values";
    Truncate => "destructive/truncate", Destructive, Error,
        "deletes every row of a table";
    DeleteWithoutWhere => "destructive/delete-without-where", Destructive, Error,
        "DELETE without WHERE deletes every row";
    UpdateWithoutWhere => "destructive/update-without-where", Destructive, Error,
        "UPDATE without WHERE rewrites every row";
    Narrowing => "destructive/narrowing", Destructive, Error,
        "narrows a column's type: values that no longer fit are cut or refused";
    DropPartition => "destructive/drop-partition", Destructive, Error,
        "DROP or TRUNCATE PARTITION deletes the partition's rows";
    RenameTable => "incompatible/rename-table", Incompatible, Warning,
        "renames a table the running application still uses by its old name";
    RenameColumn => "incompatible/rename-column", Incompatible, Warning,
        "renames a column the running application still uses by its old name";
    DropColumnInUse => "incompatible/drop-column", Incompatible, Warning,
        "drops a column the running application may still read or write";
    AddNotNullWithoutDefault => "incompatible/add-not-null-without-default", Incompatible, Warning,
        "adds a NOT NULL column without DEFAULT: existing rows get zero values and the running application's inserts fail";
    TypeChange => "locking/type-change", Locking, Warning,
        "changes a column's type: the table is copied, blocking writes";
    PrimaryKeyChange => "locking/primary-key-change", Locking, Warning,
        "changes the primary key: the table is rebuilt";
    EngineChange => "locking/engine-change", Locking, Warning,
        "changes the storage engine: the table is copied, blocking writes";
    FulltextOrSpatial => "locking/fulltext-or-spatial", Locking, Warning,
        "adds a FULLTEXT or SPATIAL index: the table is rebuilt or writes block";
    AlgorithmCopy => "locking/algorithm-copy", Locking, Warning,
        "asks for ALGORITHM=COPY: the table is copied, blocking writes";
    AddForeignKey => "locking/add-foreign-key", Locking, Warning,
        "adds a foreign key: checking it copies the table or locks the parent";
    EnumSetChange => "locking/enum-set-change", Locking, Warning,
        "edits an ENUM or SET other than by appending members within its storage size: the table is copied";
    AddStoredGenerated => "locking/add-stored-generated", Locking, Warning,
        "adds a STORED generated column: the table is rebuilt, blocking writes";
    AddAutoIncrement => "locking/add-auto-increment", Locking, Warning,
        "adds an AUTO_INCREMENT column: the table is rebuilt, blocking writes";
    ColumnPosition => "locking/column-position", Locking, Notice,
        "adds a column FIRST or AFTER another: the table is rebuilt on servers older than the INSTANT rules (MySQL before 8.0.29, MariaDB before 10.4)";
    ReorderColumn => "locking/reorder-column", Locking, Warning,
        "moves an existing column (FIRST/AFTER in MODIFY or CHANGE): MySQL rebuilds the table (MariaDB 10.4 and later do it instantly)";
    PartitionChange => "locking/partition-change", Locking, Warning,
        "changes the table's partitioning: rows are copied or reorganized, blocking writes";
    RepeatedAlter => "locking/repeated-alter", Locking, Warning,
        "alters a table already altered in this migration: each ALTER may rebuild it again; combine them";
    MixedDdlDml => "transaction/mixed-ddl-dml", Transaction, Warning,
        "mixes DDL and DML: MySQL commits DDL implicitly, so a failure leaves the migration half applied";
    MultipleDdl => "transaction/multiple-ddl", Transaction, Warning,
        "a second DDL statement: each commits on its own, so a failure leaves the migration half applied";
    BackfillWithDdl => "transaction/backfill-with-ddl", Transaction, Warning,
        "backfills a table that a DDL statement of the same migration changes: split them";
    NoDown => "reversibility/no-down", Reversibility, Warning,
        "has no Down statements: the migration cannot be reverted";
    DownDestroysData => "reversibility/down-destroys-data", Reversibility, Warning,
        "the Down destroys data that existed before the Up ran: reverting loses it";
    NoWayBack => "reversibility/no-way-back", Reversibility, Warning,
        "drops data that the Down does not recreate: reverting cannot bring it back";
    Unparsed => "unparsed/statement", Unparsed, Warning,
        "the SQL parser could not read this statement; nothing in it was checked";
    UnparsedProgram => "unparsed/stored-program", Unparsed, Notice,
        "the SQL parser could not read this stored program; nothing in it was checked";
    IgnoreWithoutReason => "unparsed/lint-ignore-without-reason", Unparsed, Warning,
        "a lint:ignore comment without a reason suppresses nothing";
    IgnoreUnknownRule => "unparsed/lint-ignore-unknown-rule", Unparsed, Warning,
        "a lint:ignore comment names a rule that does not exist";
    IgnoreUnused => "unparsed/lint-ignore-unused", Unparsed, Notice,
        "a lint:ignore comment names a rule that found nothing at its statement";
}

impl Rule {
    /// The rule an id names.
    pub fn parse(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
    }

    /// Where the rule is documented, relative to the repository's root.
    pub fn doc(self) -> String {
        format!("docs/lint.md#{}", self.id().replace('/', "-"))
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
