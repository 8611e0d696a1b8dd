//! Writes the benchmark artifacts into `target/bench-artifacts/` (if missing) and
//! prints their paths. `--small` writes only the smoke-run artifact.

fn main() -> std::io::Result<()> {
    let small = std::env::args().any(|a| a == "--small");
    let specs: &[&lambda_migrate_benches::Spec] = if small {
        &[&lambda_migrate_benches::SMALL]
    } else {
        &[&lambda_migrate_benches::LARGE]
    };
    for spec in specs {
        println!("{}", lambda_migrate_benches::ensure(spec)?.display());
    }
    Ok(())
}
