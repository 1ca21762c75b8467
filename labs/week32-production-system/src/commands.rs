//! The service for real: `serve` (what the container runs), `key` (an API key made on the
//! service's store, printed once), `audit` (the log verified) and `advisories` (the dependency
//! audit of a `Cargo.lock`).

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use week24_llm_app::keys::Scope;
use week32_production_system::audit::{self, AuditLog};
use week32_production_system::service::{self, Service};
use week32_production_system::{advisories, deploy, registry, retention, secrets, telemetry};

/// The environment variable (or, with `_FILE`, the file) that holds the audit key.
pub const AUDIT_KEY: &str = "WB32_AUDIT_KEY";

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serves the API on ADDR with its state in STATE (the audit key from WB32_AUDIT_KEY or
    /// the file WB32_AUDIT_KEY_FILE names)
    Serve {
        #[arg(long, default_value = "127.0.0.1:8032")]
        addr: String,
        #[arg(long, default_value = "output/week32-production-system/service")]
        state: PathBuf,
    },
    /// Makes an API key for USER with SCOPES (chat, admin) on the store in STATE; prints it once
    Key {
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "chat")]
        scopes: String,
        #[arg(long, default_value = "output/week32-production-system/service")]
        state: PathBuf,
    },
    /// Verifies the audit log in STATE; exit status 1 if it does not verify
    Audit {
        #[arg(long, default_value = "output/week32-production-system/service")]
        state: PathBuf,
    },
    /// Writes the Kubernetes manifests (deploy::objects) as YAML to OUT
    Manifests {
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/production-system.yaml"))]
        out: PathBuf,
    },
    /// The advisories of the vendored snapshot that apply to LOCK; exit status 1 on a
    /// vulnerability
    Advisories {
        #[arg(long, default_value = "Cargo.lock")]
        lock: PathBuf,
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/advisory-db"))]
        db: PathBuf,
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/advisory-ignore.toml"))]
        ignore: PathBuf,
    },
}

/// The service's files in `state`.
pub struct State {
    pub registry: PathBuf,
    pub audit: PathBuf,
    pub store: PathBuf,
}

pub fn state(dir: &Path) -> State {
    State {
        registry: dir.join("registry"),
        audit: dir.join("audit.jsonl"),
        store: dir.join("requests.sqlite"),
    }
}

/// The service over the state in `dir`, with `key` as the audit key.
pub fn open_service(dir: &Path, key: secrets::Secret) -> Result<Service> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let s = state(dir);
    let (tracker, _) = registry::setup(&s.registry)?;
    let (log, opened) = AuditLog::open(&s.audit, key)?;
    if opened.torn_bytes > 0 {
        eprintln!(
            "the audit log's last line was torn ({} bytes, never acknowledged): cut off",
            opened.torn_bytes
        );
    }
    let store = retention::open(&s.store)?;
    Ok(Service::new(tracker, log, store)?)
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve { addr, state } => {
            let key = secrets::from_env_or_file(AUDIT_KEY)?;
            let telemetry = telemetry::install();
            telemetry.write_logs_to(Some(Box::new(std::io::stdout())));
            // The logs go to stdout (the container runtime collects them); the last 1,000
            // spans stay in memory.
            telemetry.keep(1_000);
            let service = open_service(&state, key)?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let base = service::start(&service, &addr).await?;
                eprintln!("serving on {base} (model version {})", service.version());
                tokio::signal::ctrl_c().await?;
                anyhow::Ok(())
            })
        }
        Command::Key {
            user,
            scopes,
            state,
        } => {
            let key = secrets::from_env_or_file(AUDIT_KEY)?;
            let scopes = Scope::parse_list(&scopes)?;
            let service = open_service(&state, key)?;
            let made = service.create_key(&user, &scopes)?;
            println!("{}", made.key);
            Ok(())
        }
        Command::Audit { state } => {
            let key = secrets::from_env_or_file(AUDIT_KEY)?;
            let path = self::state(&state).audit;
            let verdict = audit::verify_file(&path, &key)?;
            for p in &verdict.problems {
                println!("{p}");
            }
            if !verdict.intact() {
                bail!("{} does not verify", path.display());
            }
            println!("{}: {} records, intact", path.display(), verdict.records);
            Ok(())
        }
        Command::Manifests { out } => {
            let yaml = week29_containers_k8s::kustomize::to_yaml(&deploy::objects()?)?;
            std::fs::write(&out, yaml).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Command::Advisories { lock, db, ignore } => {
            let verdict = audit_lock(&lock, &db, &ignore)?;
            print!("{verdict}");
            if !verdict.failing.is_empty() {
                bail!(
                    "{} known vulnerability(ies) not accepted in {}",
                    verdict.failing.len(),
                    ignore.display()
                );
            }
            println!("no vulnerability outside the ignore list");
            Ok(())
        }
    }
}

/// The dependency audit of the lock file `lock` against the snapshot `db` and the ignore file.
pub fn audit_lock(lock: &Path, db: &Path, ignore: &Path) -> Result<advisories::Verdict> {
    let text =
        std::fs::read_to_string(lock).with_context(|| format!("reading {}", lock.display()))?;
    let ignores =
        std::fs::read_to_string(ignore).with_context(|| format!("reading {}", ignore.display()))?;
    let found = advisories::audit(&advisories::load_db(db)?, &advisories::parse_lock(&text)?)?;
    Ok(advisories::judge(
        found,
        &advisories::parse_ignores(&ignores)?,
    ))
}
