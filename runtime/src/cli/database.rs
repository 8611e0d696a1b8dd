//! The database side of a local run: where it connects (the flags over the environment
//! over `dbconfig.yml`) and running a command there. The one part of the command line
//! that needs the `mysql` feature; a build without it parses every command the same and
//! refuses, when asked, the ones that need a database.

use engine::command::{CommandError, Executed, Input, Progress, Request};
use engine::fleet::TargetResult;

use super::args::DbArgs;

pub use imp::{Target, config_dir, interrupted, load, note_signals_between_runs};

/// The configuration file `config` names, else `./dbconfig.yml` when it exists.
fn config_path(config: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
    config
        .map(std::path::Path::to_path_buf)
        .or_else(|| Some(std::path::PathBuf::from("dbconfig.yml")).filter(|p| p.is_file()))
}

#[cfg(feature = "mysql")]
mod imp {
    use engine::command::CommandName;
    use engine::db::spec::{ConnSpec, DbSettings};
    use engine::db::{Database, Tls};

    use super::*;

    /// Where a local run connects, as its flags, environment and configuration say.
    pub struct Target(DbSettings);

    /// The migrations directory of the configuration file `config` names (else
    /// `./dbconfig.yml` when it exists) in environment `env`, as sql-migrate's `new`
    /// reads it; `None` without a file.
    pub fn config_dir(
        config: Option<&std::path::Path>,
        env: Option<&str>,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<String>, CommandError> {
        let Some(path) = super::config_path(config) else {
            return match env {
                Some(e) => Err(CommandError::Configuration(format!(
                    "--env {e} names an environment of dbconfig.yml, but there is no \
                     ./dbconfig.yml (pass --config FILE)"
                ))),
                None => Ok(None),
            };
        };
        let env = env.unwrap_or(engine::settings::table::CONFIG_ENV.default.text());
        engine::db::dbconfig::load(&path, env, var)
            .map(|c| Some(c.dir))
            .map_err(|e| CommandError::Configuration(e.to_string()))
    }

    /// The connection spec `args` describe.
    pub fn spec(args: &DbArgs) -> ConnSpec {
        ConnSpec {
            url: args.database.clone().filter(|u| !u.is_empty()),
            config_file: args.config.clone(),
            look_for_config: true,
            config_env: args.env.clone(),
            tls: args.tls.then_some(Tls::Verify),
            ca: args.tls_ca.clone(),
            connect_timeout: args.connect_timeout,
            read_timeout: args.read_timeout,
            table: args.table.clone(),
            schema: args.schema.clone(),
            lock_timeout: args.lock.lock_timeout,
            lock_wait_timeout: args.lock.lock_wait_timeout,
            lock_wait_retries: args.lock.lock_wait_retries,
            review_copy_rate: args.review.review_copy_rate,
            review_long_transaction: args.review.review_long_transaction,
        }
    }

    /// Makes SIGINT and SIGTERM between two targets' runs stop the fleet from starting
    /// more, rather than end the process.
    pub fn note_signals_between_runs() {
        crate::signals::note_between_runs();
    }

    /// Whether SIGINT or SIGTERM was received.
    pub fn interrupted() -> bool {
        crate::signals::received().is_some()
    }

    /// Loads the target `args` name, reading the environment through `env`.
    pub fn load(
        args: &DbArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Target, CommandError> {
        spec(args)
            .load(env)
            .map(Target)
            .map_err(|e| CommandError::Configuration(e.to_string()))
    }

    impl Target {
        /// The configuration file's `ignoreunknown` (which `resolve` never takes, and
        /// `lint --pending` has no use for: it never plans a run).
        pub fn ignore_unknown(&self, command: CommandName) -> bool {
            self.0.ignore_unknown && !matches!(command, CommandName::Resolve | CommandName::Lint)
        }

        /// The configuration file's migrations folder, when one was read.
        pub fn migrations_dir(&self) -> Option<String> {
            self.0.migrations_dir.clone()
        }

        /// The database a writing command changes, and where that setting came from.
        pub fn target(&self) -> engine::command::Target {
            self.0.target()
        }

        /// Settings given but overridden by a higher layer, one line each.
        pub fn ignored(&self) -> Vec<String> {
            self.0.ignored.iter().map(ToString::to_string).collect()
        }

        /// This target with its database swapped for `schema`: a fleet's `database`
        /// target on the default connection. Unqualified names in migrations mean the
        /// connection's database, so both it and the bookkeeping's schema become `schema`.
        pub fn on_schema(&self, schema: &str) -> Target {
            let mut s = self.0.clone();
            s.conn.database = Some(schema.to_owned());
            s.settings.schema = None;
            Target(s)
        }

        /// Runs `request` on `input` against this target as the fleet target `name`:
        /// the one per-target function, into its result.
        pub fn run_target(&self, name: &str, request: &Request, input: &Input<'_>) -> TargetResult {
            engine::fleet::run_target(
                name,
                request,
                input,
                || self.connect(),
                self.0.settings.lock_timeout,
                &engine::command::Frontend::Cli,
            )
        }

        /// Runs `request` on `input` against this target; `progress` sees a wait for the
        /// run lock and each migration done, as they happen.
        pub fn execute(
            &self,
            request: &Request,
            input: &Input<'_>,
            progress: impl FnMut(Progress<'_>),
        ) -> Result<Executed, CommandError> {
            engine::command::execute(
                request,
                input,
                || self.connect(),
                self.0.settings.lock_timeout,
                progress,
            )
        }

        /// Connects; from here a signal stops the run rather than the process.
        fn connect(&self) -> Result<Database, engine::store::StoreError> {
            let db = Database::connect(&self.0.conn, &self.0.settings)?;
            crate::signals::arm(db.interrupt_handle());
            Ok(db)
        }
    }

    #[cfg(test)]
    mod tests {
        use std::time::Duration;

        use super::super::super::args::RunArgs;
        use super::*;

        #[test]
        fn lock_wait_flags_reach_the_spec() {
            use clap::Parser;
            #[derive(Parser)]
            struct Cmd {
                #[command(flatten)]
                run: RunArgs,
            }
            let parse = |args: &[&str]| {
                let cmd = Cmd::try_parse_from(args).unwrap();
                cmd.run.invocation(CommandName::Up).db.unwrap()
            };
            let set = parse(&["x", "--lock-wait-timeout", "1", "--lock-wait-retries", "2"]);
            let s = spec(&set);
            assert_eq!(
                (s.lock_wait_timeout, s.lock_wait_retries),
                (Some(Duration::from_secs(1)), Some(2))
            );
            assert!(set.local_only().contains(&"--lock-wait-retries"));
            // Unset, the environment or the defaults (10 s, 3) decide.
            let s = spec(&parse(&["x"]));
            assert_eq!((s.lock_wait_timeout, s.lock_wait_retries), (None, None));
        }
    }
}

#[cfg(not(feature = "mysql"))]
mod imp {
    use engine::command::CommandName;

    use super::*;

    /// No target can be loaded in a build without a database driver.
    pub enum Target {}

    /// Refuses a configuration file: this build cannot read one (it reads the
    /// datasource too), and ignoring its `dir` would put the file elsewhere.
    pub fn config_dir(
        config: Option<&std::path::Path>,
        env: Option<&str>,
        _var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<String>, CommandError> {
        match super::config_path(config) {
            None if env.is_none() => Ok(None),
            _ => Err(CommandError::Configuration(
                "this build cannot read dbconfig.yml (build with the `mysql` feature); pass --source DIR".into(),
            )),
        }
    }

    /// Nothing to do: this build runs no database command.
    pub fn note_signals_between_runs() {}

    /// Never: this build handles no signal.
    pub fn interrupted() -> bool {
        false
    }

    /// Refuses: this build has no database driver.
    pub fn load(
        _args: &DbArgs,
        _env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Target, CommandError> {
        Err(CommandError::Configuration(
            "this build has no database support (build with the `mysql` feature)".into(),
        ))
    }

    impl Target {
        /// Never called: no target exists.
        pub fn ignore_unknown(&self, _command: CommandName) -> bool {
            match *self {}
        }

        /// Never called: no target exists.
        pub fn migrations_dir(&self) -> Option<String> {
            match *self {}
        }

        /// Never called: no target exists.
        pub fn target(&self) -> engine::command::Target {
            match *self {}
        }

        /// Never called: no target exists.
        pub fn ignored(&self) -> Vec<String> {
            match *self {}
        }

        /// Never called: no target exists.
        pub fn on_schema(&self, _schema: &str) -> Target {
            match *self {}
        }

        /// Never called: no target exists.
        pub fn run_target(
            &self,
            _name: &str,
            _request: &Request,
            _input: &Input<'_>,
        ) -> TargetResult {
            match *self {}
        }

        /// Never called: no target exists.
        pub fn execute(
            &self,
            _request: &Request,
            _input: &Input<'_>,
            _progress: impl FnMut(Progress<'_>),
        ) -> Result<Executed, CommandError> {
            match *self {}
        }
    }
}
