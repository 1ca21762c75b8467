//! `serve`: the API for real, on a ledger file.

use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;
use std::sync::Arc;
use week24_llm_app::bucket::Rate;
use week24_llm_app::counter::PromptCounter;
use week24_llm_app::keys::Scope;
use week24_llm_app::ledger::Ledger;
use week24_llm_app::pricing;
use week24_llm_app::wb_llm::{LocalModel, WeightFormat};

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve SmolLM2 behind the API (see GET /openapi.json). The first start prints an admin
    /// key, once; a start after a crash (or a Ctrl-C mid-request) releases the reservations
    /// left open.
    Serve {
        #[arg(
            long,
            default_value = "output/week24-llm-app/serve.sqlite",
            env = "LEDGER"
        )]
        ledger: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8024", env = "ADDR")]
        addr: String,
        /// Requests that may wait for the model
        #[arg(long, default_value_t = 16, value_parser = wb_lab::at_least_one)]
        queue: usize,
    },
}

pub fn run(command: Command) -> Result<()> {
    let Command::Serve {
        ledger,
        addr,
        queue,
    } = command;
    let store = Arc::new(Ledger::open(&ledger)?);
    let released = store.recover()?;
    if released > 0 {
        println!("released {released} reservations left by a crash");
    }
    if !store.has_admin_key()? {
        if store.account("admin").is_err() {
            store.add_user("admin", 0)?;
        }
        let key = store.add_key(
            "admin",
            &[Scope::Admin, Scope::Chat],
            Rate::per_minute(600.0, 50.0)?,
        )?;
        println!(
            "admin key (shown once, stored only as its hash): {}",
            key.key
        );
    }
    let model = LocalModel::smollm2(WeightFormat::Quantized, &mut |m| eprintln!("{m}"))?;
    let counter = PromptCounter::of(&model);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let stack = week24_llm_app::stack::start(
            &addr,
            store,
            counter,
            Box::new(model),
            queue,
            pricing::SMOLLM2,
        )
        .await
        .with_context(|| format!("starting the API on {addr}"))?;
        println!("listening on {}", stack.api_base);
        wait_for_signal().await;
        println!("stopping");
        anyhow::Ok(())
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
