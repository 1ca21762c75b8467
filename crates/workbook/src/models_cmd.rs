//! `workbook models`: fetches the LLM weeks' two models into the model cache, once, and checks
//! every file's SHA-256.

use anyhow::Result;
use wb_data::models::{MODELS, ModelStatus, ensure_model, model_status, models_dir};

pub fn models() -> Result<()> {
    println!("Model cache: {}", models_dir().display());
    println!("(set WORKBOOK_MODELS to use another folder)");
    for spec in MODELS {
        let dir = ensure_model(&spec, &mut |line| println!("  {line}"))?;
        match model_status(&spec, &dir, true) {
            ModelStatus::Ready => {
                let mb: u64 = spec.files.iter().map(|f| f.bytes).sum::<u64>() / 1_000_000;
                println!(
                    "  ✓ {} — {} ({mb} MB, SHA-256 checked)",
                    spec.id, spec.description
                );
            }
            ModelStatus::Missing => anyhow::bail!("{}: still missing after the fetch", spec.id),
            ModelStatus::Corrupt { file, detail } => {
                anyhow::bail!("{}: {} is damaged: {detail}", spec.id, file.display())
            }
        }
    }
    Ok(())
}
