//! LoRA (Hu et al., 2021) from scratch: a frozen weight `W` (`out × in`) plus a trainable
//! low-rank update `ΔW = (α / r)·B·A`, with `A` (`r × in`) drawn at random and `B` (`out × r`)
//! zero, so that training starts from the base model exactly. Only `A` and `B` train:
//! `r·(in + out)` numbers per projection instead of `in·out`.
//!
//! The adapters are saved alone, in safetensors under PEFT's names, with PEFT's
//! `adapter_config.json` beside them: the files a Python user would load with
//! `PeftModel.from_pretrained`.

use crate::{Result, TuneError, invalid};
use candle_core::{DType, Device, Tensor, Var};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use wb_data::SplitMix64;
use wb_llm::trainable::{Adapter, Projection, TrainableLlama};

/// Where the adapters go and how large they are.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    /// The rank `r` of the update.
    pub rank: usize,
    /// The update is scaled by `alpha / rank`: changing the rank keeps the scale of the update
    /// comparable, so the learning rate need not change with it.
    pub alpha: f64,
    /// The projections of every block that get an adapter.
    pub targets: Vec<Projection>,
}

impl LoraConfig {
    /// Checks the configuration: a rank of at least 1, a positive finite alpha, at least one
    /// target, none twice.
    pub fn check(&self) -> Result<()> {
        if self.rank == 0 {
            return Err(invalid("rank", "expected at least 1, got 0"));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(invalid(
                "alpha",
                format!("expected a positive number, got {}", self.alpha),
            ));
        }
        if self.targets.is_empty() {
            return Err(invalid(
                "targets",
                "expected at least one projection, got none",
            ));
        }
        for (i, t) in self.targets.iter().enumerate() {
            if self.targets[..i].contains(t) {
                return Err(invalid("targets", format!("{} is listed twice", t.name())));
            }
        }
        Ok(())
    }

    /// `alpha / rank`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }
}

/// One adapter: `A` (`r × in`), `B` (`out × r`) and the scale `α / r`.
#[derive(Debug)]
pub struct LoraLayer {
    pub a: Var,
    pub b: Var,
    pub scale: f64,
}

impl LoraLayer {
    // ANCHOR: init
    /// A new adapter for a projection `input → output` of rank `rank`: `A` uniform in
    /// `±1/√input` (PEFT's default, Kaiming-uniform with `a = √5`), drawn from `rng`; `B` zero.
    pub fn new(
        input: usize,
        output: usize,
        rank: usize,
        scale: f64,
        rng: &mut SplitMix64,
    ) -> Result<Self> {
        if input == 0 || output == 0 || rank == 0 {
            return Err(invalid(
                "shape",
                format!("expected input, output and rank ≥ 1, got {input}, {output}, {rank}"),
            ));
        }
        // BEGIN SOLUTION init
        let bound = 1.0 / (input as f64).sqrt();
        let a: Vec<f32> = (0..rank * input)
            .map(|_| ((2.0 * rng.next_f64() - 1.0) * bound) as f32)
            .collect();
        let a = Var::from_tensor(&Tensor::from_vec(a, (rank, input), &Device::Cpu)?)?;
        let b = Var::zeros((output, rank), DType::F32, &Device::Cpu)?;
        Ok(Self { a, b, scale })
        // END SOLUTION
    }
    // ANCHOR_END: init

    // ANCHOR: delta
    /// The update the adapter adds to the weight: `ΔW = scale·B·A` (`out × in`).
    pub fn delta(&self) -> Result<Tensor> {
        // BEGIN SOLUTION delta
        Ok((self.b.as_tensor().matmul(self.a.as_tensor())? * self.scale)?)
        // END SOLUTION
    }
    // ANCHOR_END: delta
}

impl Adapter for LoraLayer {
    // ANCHOR: forward
    /// `scale·x·Aᵀ·Bᵀ` for `x` of `n × in`: the same as `x·ΔWᵀ`, without ever forming the
    /// `out × in` matrix (two thin products, `n·r·(in + out)` multiplications).
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        // BEGIN SOLUTION forward
        x.matmul(&self.a.as_tensor().t()?)?
            .matmul(&self.b.as_tensor().t()?)?
            * self.scale
        // END SOLUTION
    }
    // ANCHOR_END: forward
}

/// The adapters attached to a model, by block and projection.
#[derive(Debug)]
pub struct Lora {
    pub config: LoraConfig,
    /// `(layer, projection, adapter)`, by layer then in the order of `config.targets`.
    pub layers: Vec<(usize, Projection, Arc<LoraLayer>)>,
    merged: bool,
}

/// PEFT's `adapter_config.json` (the fields PEFT needs to load a LoRA adapter).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct AdapterConfig {
    pub peft_type: String,
    pub task_type: String,
    pub base_model_name_or_path: String,
    pub r: usize,
    pub lora_alpha: f64,
    pub lora_dropout: f64,
    pub target_modules: Vec<String>,
    pub bias: String,
    pub fan_in_fan_out: bool,
}

/// The checkpoint SmolLM2's adapters belong to (PEFT records it).
pub const BASE_MODEL: &str = "HuggingFaceTB/SmolLM2-135M-Instruct";

impl Lora {
    /// New adapters (`B = 0`) on `config.targets` of every block of `model`, `A` drawn from a
    /// generator seeded with `seed`; the model now runs with them.
    pub fn attach(model: &mut TrainableLlama, config: LoraConfig, seed: u64) -> Result<Self> {
        config.check()?;
        let mut rng = SplitMix64::new(seed);
        let mut layers = Vec::new();
        for layer in 0..model.config.layers {
            for &p in &config.targets {
                let (output, input) = model.config.shape(p);
                let adapter = Arc::new(LoraLayer::new(
                    input,
                    output,
                    config.rank,
                    config.scale(),
                    &mut rng,
                )?);
                layers.push((layer, p, adapter));
            }
        }
        Self::plugged(model, config, layers)
    }

    /// Unmerged adapters, put on their projections of `model`.
    fn plugged(
        model: &mut TrainableLlama,
        config: LoraConfig,
        layers: Vec<(usize, Projection, Arc<LoraLayer>)>,
    ) -> Result<Self> {
        let lora = Self {
            config,
            layers,
            merged: false,
        };
        lora.plug(model)?;
        Ok(lora)
    }

    /// Puts the adapters on their projections (replacing any others there).
    fn plug(&self, model: &mut TrainableLlama) -> Result<()> {
        for (layer, p, adapter) in &self.layers {
            let adapter: Arc<dyn Adapter> = adapter.clone();
            model.linear_mut(*layer, *p)?.set_adapter(Some(adapter));
        }
        Ok(())
    }

    /// The adapters' PEFT name prefix: `base_model.model.model.layers.{i}.self_attn.q_proj`.
    fn peft_name(layer: usize, p: Projection) -> String {
        format!("base_model.model.model.layers.{layer}.{}", p.name())
    }

    /// The trainable variables under PEFT's names (`….lora_A.weight`, `….lora_B.weight`),
    /// sorted: what `wb_train`'s optimiser takes.
    pub fn vars(&self) -> Vec<(String, Var)> {
        let mut vars = Vec::new();
        for (layer, p, adapter) in &self.layers {
            let name = Self::peft_name(*layer, *p);
            vars.push((format!("{name}.lora_A.weight"), adapter.a.clone()));
            vars.push((format!("{name}.lora_B.weight"), adapter.b.clone()));
        }
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars
    }

    /// The number of trainable numbers: the elements of every `A` and `B`.
    pub fn trainable_parameters(&self) -> usize {
        self.layers
            .iter()
            .map(|(_, _, a)| a.a.elem_count() + a.b.elem_count())
            .sum()
    }

    pub fn is_merged(&self) -> bool {
        self.merged
    }

    // ANCHOR: merge
    /// Folds every adapter into its weight (`W ← W + ΔW`) and takes the adapter off: the model
    /// then runs at the base model's cost, with the adapted model's outputs.
    pub fn merge(&mut self, model: &mut TrainableLlama) -> Result<()> {
        if self.merged {
            return Err(invalid("lora", "the adapters are merged already"));
        }
        // BEGIN SOLUTION merge
        for (layer, p, adapter) in &self.layers {
            let linear = model.linear_mut(*layer, *p)?;
            let merged = (linear.weight() + adapter.delta()?)?;
            linear.set_weight(merged)?;
            linear.set_adapter(None);
        }
        // END SOLUTION
        self.merged = true;
        Ok(())
    }
    // ANCHOR_END: merge

    // ANCHOR: unmerge
    /// Undoes [`Lora::merge`]: `W ← W − ΔW` and the adapter back on its projection, so that
    /// training can go on (or another adapter take its place).
    pub fn unmerge(&mut self, model: &mut TrainableLlama) -> Result<()> {
        if !self.merged {
            return Err(invalid("lora", "the adapters are not merged"));
        }
        // BEGIN SOLUTION unmerge
        for (layer, p, adapter) in &self.layers {
            let linear = model.linear_mut(*layer, *p)?;
            let base = (linear.weight() - adapter.delta()?)?;
            linear.set_weight(base)?;
        }
        self.plug(model)?;
        // END SOLUTION
        self.merged = false;
        Ok(())
    }
    // ANCHOR_END: unmerge

    /// Takes the adapters off the model (unmerged ones only: a merged adapter is part of the
    /// weights).
    pub fn detach(self, model: &mut TrainableLlama) -> Result<()> {
        if self.merged {
            return Err(invalid(
                "lora",
                "merged adapters are part of the weights: unmerge first",
            ));
        }
        for (layer, p, _) in &self.layers {
            model.linear_mut(*layer, *p)?.set_adapter(None);
        }
        Ok(())
    }

    /// Saves the adapters alone into the folder `dir`: `adapter_model.safetensors` (every `A`
    /// and `B` under its PEFT name) and `adapter_config.json`. Returns the weights file's size
    /// in bytes.
    pub fn save(&self, dir: &Path) -> Result<u64> {
        std::fs::create_dir_all(dir).map_err(|e| TuneError::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let tensors: HashMap<String, Tensor> = self
            .vars()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().clone()))
            .collect();
        let weights = dir.join("adapter_model.safetensors");
        candle_core::safetensors::save(&tensors, &weights)
            .map_err(|e| invalid("dir", format!("{}: {e}", weights.display())))?;
        let config = AdapterConfig {
            peft_type: "LORA".into(),
            task_type: "CAUSAL_LM".into(),
            base_model_name_or_path: BASE_MODEL.into(),
            r: self.config.rank,
            lora_alpha: self.config.alpha,
            lora_dropout: 0.0,
            target_modules: self
                .config
                .targets
                .iter()
                .map(|p| short_name(*p).to_string())
                .collect(),
            bias: "none".into(),
            fan_in_fan_out: false,
        };
        let json = serde_json::to_string_pretty(&config)?;
        let config_path = dir.join("adapter_config.json");
        std::fs::write(&config_path, json + "\n").map_err(|e| TuneError::Io {
            path: config_path,
            source: e,
        })?;
        let size = std::fs::metadata(&weights)
            .map_err(|e| TuneError::Io {
                path: weights.clone(),
                source: e,
            })?
            .len();
        Ok(size)
    }

    /// Loads adapters saved by [`Lora::save`] (or by PEFT, for a Llama model) onto `model`.
    /// Every tensor the configuration implies must be there with its shape, and nothing else.
    pub fn load(model: &mut TrainableLlama, dir: &Path) -> Result<Self> {
        let config_path = dir.join("adapter_config.json");
        let text = std::fs::read_to_string(&config_path).map_err(|e| TuneError::Io {
            path: config_path.clone(),
            source: e,
        })?;
        let saved: AdapterConfig = serde_json::from_str(&text).map_err(|e| {
            invalid(
                "adapter_config.json",
                format!("{}: {e}", config_path.display()),
            )
        })?;
        if saved.peft_type != "LORA" {
            return Err(invalid(
                "adapter_config.json",
                format!("expected peft_type LORA, got {}", saved.peft_type),
            ));
        }
        let targets = saved
            .target_modules
            .iter()
            .map(|m| {
                Projection::ALL
                    .into_iter()
                    .find(|p| short_name(*p) == m)
                    .ok_or_else(|| invalid("target_modules", format!("unknown module {m:?}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let config = LoraConfig {
            rank: saved.r,
            alpha: saved.lora_alpha,
            targets,
        };
        config.check()?;
        let weights = dir.join("adapter_model.safetensors");
        let mut tensors = candle_core::safetensors::load(&weights, &Device::Cpu).map_err(|e| {
            invalid(
                "adapter_model.safetensors",
                format!("{}: {e}", weights.display()),
            )
        })?;
        let mut layers = Vec::new();
        for layer in 0..model.config.layers {
            for &p in &config.targets {
                let (output, input) = model.config.shape(p);
                let name = Self::peft_name(layer, p);
                let mut take = |part: &str, shape: (usize, usize)| -> Result<Var> {
                    let key = format!("{name}.{part}.weight");
                    let t = tensors.remove(&key).ok_or_else(|| {
                        invalid("adapter_model.safetensors", format!("{key} is missing"))
                    })?;
                    if t.dims() != [shape.0, shape.1] || t.dtype() != DType::F32 {
                        return Err(invalid(
                            "adapter_model.safetensors",
                            format!(
                                "{key}: expected f32 {shape:?}, got {:?} {:?}",
                                t.dtype(),
                                t.dims()
                            ),
                        ));
                    }
                    Ok(Var::from_tensor(&t)?)
                };
                let a = take("lora_A", (config.rank, input))?;
                let b = take("lora_B", (output, config.rank))?;
                let scale = config.scale();
                layers.push((layer, p, Arc::new(LoraLayer { a, b, scale })));
            }
        }
        if let Some(extra) = tensors.keys().min() {
            return Err(invalid(
                "adapter_model.safetensors",
                format!(
                    "{extra} belongs to no adapter of {:?} on {} layers",
                    saved.target_modules, model.config.layers
                ),
            ));
        }
        Self::plugged(model, config, layers)
    }
}

/// The module's name in PEFT's `target_modules`: `q_proj`, …, `down_proj`.
pub fn short_name(p: Projection) -> &'static str {
    p.name().rsplit('.').next().unwrap_or(p.name())
}

/// The number of trainable numbers LoRA of rank `rank` on `targets` adds to `model`, in closed
/// form: `rank·(in + out)` per adapted projection, for every block.
pub fn lora_parameters(model: &TrainableLlama, rank: usize, targets: &[Projection]) -> usize {
    let per_block: usize = targets
        .iter()
        .map(|&p| {
            let (out, inp) = model.config.shape(p);
            rank * (inp + out)
        })
        .sum();
    model.config.layers * per_block
}
