//! `new NAME`: create an empty migration named as sql-migrate names them,
//! `YYYYMMDDHHMMSS-NAME.sql` (UTC).

use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;

use super::Failure;

/// Arguments of `new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The migration's name, e.g. add-users.
    pub name: String,
    /// The migrations directory [default: the config's dir, else ./migrations].
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// sql-migrate's configuration file, whose `dir` is the directory (read when given,
    /// or when ./dbconfig.yml exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The environment in the configuration file.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
}

impl NewArgs {
    /// The directory to write to: `--source`, else the configuration's `dir` (as
    /// sql-migrate's `new` does), else `./migrations`.
    fn directory(&self) -> Result<PathBuf, Failure> {
        if let Some(s) = &self.source {
            return Ok(s.clone());
        }
        let process = crate::settings::Process::new();
        let dir = super::database::config_dir(self.config.as_deref(), self.env.as_deref(), &|k| {
            process.get(k)
        })
        .map_err(|e| Failure::bad_input(e.message(&engine::command::Frontend::Cli)))?;
        Ok(PathBuf::from(
            dir.as_deref()
                .unwrap_or(engine::settings::table::DEFAULT_LOCAL_DIR),
        ))
    }
}

const TEMPLATE: &str = "-- +migrate Up\n\n-- +migrate Down\n";

/// `YYYYMMDDHHMMSS` for seconds since the Unix epoch, in UTC.
pub fn timestamp(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Runs `new`.
pub fn run(a: &NewArgs) -> Result<(), Failure> {
    if a.name.is_empty()
        || a.name.contains(['/', '\\', '\0'])
        || a.name.chars().any(char::is_control)
    {
        return Err(Failure::bad_input(format!(
            "bad migration name {:?}",
            a.name
        )));
    }
    let dir = a.directory()?;
    if !dir.is_dir() {
        return Err(Failure::bad_input(format!(
            "{}: not a directory (create it, or pass --source DIR)",
            dir.display()
        )));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let path = dir.join(format!("{}-{}.sql", timestamp(now), a.name));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?;
    f.write_all(TEMPLATE.as_bytes())
        .map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?;
    writeln!(std::io::stdout(), "Created migration {}", path.display()).map_err(Failure::output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "19700101000000");
        assert_eq!(timestamp(951_782_400), "20000229000000");
        assert_eq!(timestamp(1_704_067_199), "20231231235959");
        assert_eq!(timestamp(4_107_542_400), "21000301000000");
    }
}
