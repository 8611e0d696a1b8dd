// Generated from engine/src/settings/table.rs: do not edit. Rewrite it with
// `LM_WRITE_GENERATED=1 cargo test -p lambda-migrate-engine --lib settings::render`;
// the engine's tests fail when it drifts.

/** The binaries' defaults for the stack options that are settings. */
export const DEFAULTS = {
  /** the migrations folder inside a zip artifact; '' or . is its root, an absolute path or '..' is refused (the CLI reads the flag, else dbconfig.yml's `dir` for a zip source) */
  migrationsDir: 'migrations',
  /** how an S3 artifact is read: whole, only the ranges holding the migrations, or chosen by size */
  fetchMode: 'auto',
  /** database TCP port */
  dbPort: 3306,
  /** sql-migrate's history table */
  migrationsTable: 'gorp_migrations',
  /** how long to wait for the migration lock */
  lockTimeoutSecs: 60,
  /** how long a statement may wait for a table's metadata lock (every session's lock_wait_timeout) */
  lockWaitTimeoutSecs: 10,
  /** times a DDL statement that timed out waiting for a metadata lock is sent again, after 1s, 2s, 4s, ... */
  lockWaitRetries: 3,
  /** log in with an RDS IAM token (needs DB_USER; forces TLS) */
  dbIamAuth: false,
  /** the secret's JSON key holding the password; set but empty: the secret is the password */
  dbSecretField: 'password',
  /** the commands this migrator runs, comma-separated (`all` for every one); SQL sent inline by `--via-lambda` from a local source needs `up-inline` (`down-inline`, `redo-inline`), not `up` */
  migratorCommands: 'verify,plan,status,up,resolve',
  /** no migration starts with less time left (unset: at most a third of the invocation's time) */
  deadlineMarginSecs: 30,
  /** a statement still running with this left is killed (unset: at most a sixth; never over the deadline margin) */
  killMarginSecs: 5,
  /** the severity from which unsuppressed lint findings fail `lint` (exit 9) and the pipeline job, before the migrator runs; `never` only reports */
  lintFailOn: 'error',
  /** the migrator's timeout (the stack's default is 300 s): the trigger's Invoke waits longer */
  migratorTimeoutSecs: 300,
  /** the artifact bucket's key prefix for fleet runs: `<prefix><job>/` holds a run's items, per-invocation records, results.jsonl and summary.json */
  fleetResultsPrefix: 'fleet/',
  /** how many of a fleet manifest's first targets run first, one at a time, when it has no `canary` group */
  fleetCanary: 1,
} as const;
