//! `import`: Compose or Kubernetes manifests as an `[architecture]`
//! scenario on stdout; what it assumed and ignored on stderr.

use super::EXIT_BAD_INPUT;
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Source {
    /// A Docker Compose file (Swarm `deploy` sections read).
    Compose {
        /// The file.
        file: PathBuf,
    },
    /// Kubernetes manifests (Deployments, StatefulSets, Services,
    /// Ingresses; several documents per file).
    Kubernetes {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn import(source: Source) -> Result<ExitCode> {
    let (read, shown) = match &source {
        Source::Compose { file } => (
            blastradius::import::compose(file),
            file.display().to_string(),
        ),
        Source::Kubernetes { files } => (
            blastradius::import::kubernetes(files),
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ),
    };
    let imported = match read {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let (toml, assumed) = blastradius::import::to_toml(&imported, &shown);
    print!("{toml}");
    eprintln!(
        "imported {} service(s); assumed (tagged [A] in the file):",
        imported.services.len()
    );
    for a in &assumed {
        eprintln!("  {a}");
    }
    if !imported.ignored.is_empty() {
        eprintln!("not used:");
        for i in &imported.ignored {
            eprintln!("  {i}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
