//! Grader checks for week 23: the adapter's forward pass and update worked by hand, fresh
//! adapters (B = 0) leave SmolLM2's logits unchanged to the bit, the trainable count is the
//! closed form, merging equals the unmerged model and unmerging gives the base weights back,
//! adapters saved alone (PEFT's names) load onto a fresh base, the answer loss is the
//! cross-entropy (by hand and against candle-nn's), a few LoRA steps lower the loss, and bad
//! input is refused.

use candle_core::{D, DType, Device, Tensor, Var};
use grader::{Called, Failure, Tol, check, close, close_array, ensure, expect_err, tensor_values};
use std::sync::OnceLock;
use wb_data::SplitMix64;
use week23_finetuning::data::{Example, Prompter};
use week23_finetuning::email::Label;
use week23_finetuning::lora::{Lora, LoraConfig, LoraLayer, lora_parameters};
use week23_finetuning::tune::answer_loss;
use week23_finetuning::wb_llm::ChatTokenizer;
use week23_finetuning::wb_llm::trainable::{Adapter, Projection, TrainableLlama};

/// SmolLM2 in f32 and its prompter, loaded once for all checks (cloning shares the weights).
fn base() -> Result<(TrainableLlama, Prompter), Failure> {
    static BASE: OnceLock<Result<(TrainableLlama, Prompter), String>> = OnceLock::new();
    BASE.get_or_init(|| {
        let load = || -> Result<(TrainableLlama, Prompter), String> {
            let dir = wb_data::models::ensure_model(&wb_data::models::SMOLLM2, &mut |_| {})
                .map_err(|e| e.to_string())?;
            let path = dir.join(wb_data::models::SMOLLM2.files[0].name);
            let mut file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
            let ct = candle_core::quantized::gguf_file::Content::read(&mut file)
                .map_err(|e| e.to_string())?;
            let tok = ChatTokenizer::from_gguf(&ct).map_err(|e| e.to_string())?;
            let model = TrainableLlama::from_gguf(&ct, &mut file).map_err(|e| e.to_string())?;
            Ok((model, Prompter::new(tok).map_err(|e| e.to_string())?))
        };
        load()
    })
    .clone()
    .map_err(|e| Failure::new("loading SmolLM2 in f32", e))
}

fn t(rows: &[&[f32]]) -> Tensor {
    let n = rows.len();
    let m = rows[0].len();
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_vec(flat, (n, m), &Device::Cpu).expect("tensor")
}

/// The adapter of the hand-worked case: A = [[1, 0, −1]], B = [[2], [0.5]], scale 3.
fn hand_adapter() -> LoraLayer {
    LoraLayer {
        a: Var::from_tensor(&t(&[&[1.0, 0.0, -1.0]])).expect("A"),
        b: Var::from_tensor(&t(&[&[2.0], &[0.5]])).expect("B"),
        scale: 3.0,
    }
}

/// Prompts of real subjects, for the checks that run the model.
fn prompts(p: &Prompter) -> Result<Vec<Example>, Failure> {
    let subjects = [
        ("Re: [SAdev] bug 1012 fixed in CVS", Label::Ham),
        ("Lowest mortgage rates in 30 years!!!", Label::Spam),
        ("Meeting moved to Thursday", Label::Ham),
        ("You have been selected for a FREE vacation", Label::Spam),
        ("Re: perl module for mail parsing", Label::Ham),
        ("Make $5000 a week from home", Label::Spam),
        ("[ILUG] kernel compile question", Label::Ham),
        ("Cheap meds online, no prescription", Label::Spam),
    ];
    subjects
        .iter()
        .map(|(s, label)| {
            Ok(Example {
                subject: s.to_string(),
                label: *label,
                tokens: p.prompt(s).called("Prompter::prompt")?,
            })
        })
        .collect()
}

fn rows(xs: &[Example]) -> Vec<Vec<u32>> {
    xs.iter().map(|x| x.tokens.clone()).collect()
}

fn max_abs(a: &Tensor, b: &Tensor) -> Result<f64, Failure> {
    let d = (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.flatten_all())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar::<f32>())
        .called("comparing tensors")?;
    Ok(d as f64)
}

fn qv(rank: usize) -> LoraConfig {
    LoraConfig {
        rank,
        alpha: 2.0 * rank as f64,
        targets: vec![Projection::Q, Projection::V],
    }
}

/// Gives every `B` of `lora` seeded values of size `size`, as training would.
fn randomise_b(lora: &Lora, size: f32, seed: u64) -> Result<(), Failure> {
    let mut rng = SplitMix64::new(seed);
    for (_, _, a) in &lora.layers {
        let shape = a.b.dims().to_vec();
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| size * (2.0 * rng.next_f64() as f32 - 1.0))
            .collect();
        a.b.set(&Tensor::from_vec(v, shape, &Device::Cpu).called("B")?)
            .called("setting B")?;
    }
    Ok(())
}

check! {
    /// The adapter's output for x = [1, 2, 3], worked by hand: x·Aᵀ = 1 − 3 = −2, times Bᵀ
    /// = [−4, −1], times 3 = [−12, −3]; and on random inputs it equals x·ΔWᵀ with ΔW formed
    /// by the check itself.
    fn the_adapter_adds_scale_x_a_b(exercise = "forward") {
        let got = hand_adapter().forward(&t(&[&[1.0, 2.0, 3.0]])).called("LoraLayer::forward")?;
        close_array("the adapter's output for [1, 2, 3]", ndarray::array![[-12.0, -3.0]].into_dyn().view(), tensor_values(&got)?.view(), Tol::abs(1e-6))?;
        let mut rng = SplitMix64::new(5);
        let mut rand = |r: usize, c: usize| -> Result<Tensor, Failure> {
            let v: Vec<f32> = (0..r * c).map(|_| 2.0 * rng.next_f64() as f32 - 1.0).collect();
            Tensor::from_vec(v, (r, c), &Device::Cpu).called("tensor")
        };
        let (a, b, x) = (rand(4, 10)?, rand(7, 4)?, rand(5, 10)?);
        let layer = LoraLayer { a: Var::from_tensor(&a).called("A")?, b: Var::from_tensor(&b).called("B")?, scale: 0.5 };
        let delta = (b.matmul(&a).called("B·A")? * 0.5).called("scale")?;
        let want = x.matmul(&delta.t().called("t")?).called("x·ΔWᵀ")?;
        let got = layer.forward(&x).called("LoraLayer::forward")?;
        ensure(got.dims() == [5, 7], "the output's shape for x of 5 × 10 and an update of 7 × 10", format!("{:?}", got.dims()))?;
        close_array("x·Aᵀ·Bᵀ·scale against x·ΔWᵀ", tensor_values(&want)?.view(), tensor_values(&got)?.view(), Tol::abs(1e-5))
    }
}

check! {
    /// ΔW = scale·B·A, worked by hand: 3·[[2], [0.5]]·[[1, 0, −1]] = [[6, 0, −6], [1.5, 0, −1.5]].
    fn the_update_is_scale_b_a(exercise = "delta") {
        let got = hand_adapter().delta().called("LoraLayer::delta")?;
        close_array("ΔW", ndarray::array![[6.0, 0.0, -6.0], [1.5, 0.0, -1.5]].into_dyn().view(), tensor_values(&got)?.view(), Tol::abs(1e-6))
    }
}

check! {
    /// A fresh adapter: B is zero; A is r × in, uniform in ±1/√in (mean 0 and variance
    /// bound²/3 within 4.5 standard errors over 4,608 values, nothing outside), drawn from the
    /// generator (two seeds give two A).
    fn a_fresh_adapter_is_random_a_and_zero_b(exercise = "init") {
        let (input, output, rank) = (576, 192, 8);
        let mut rng = SplitMix64::new(1);
        let l = LoraLayer::new(input, output, rank, 2.0, &mut rng).called("LoraLayer::new")?;
        ensure(l.a.dims() == [rank, input], "A's shape (r × in)", format!("{:?}", l.a.dims()))?;
        ensure(l.b.dims() == [output, rank], "B's shape (out × r)", format!("{:?}", l.b.dims()))?;
        let b: Vec<f32> = l.b.flatten_all().and_then(|b| b.to_vec1()).called("B")?;
        ensure(b.iter().all(|v| *v == 0.0), "B starts at zero", "some values are not 0")?;
        let a: Vec<f64> = l.a.flatten_all().and_then(|a| a.to_vec1::<f32>()).called("A")?.into_iter().map(f64::from).collect();
        let bound = 1.0 / (input as f64).sqrt();
        let outside = a.iter().filter(|v| v.abs() > bound).count();
        ensure(outside == 0, "A within ±1/√in", format!("{outside} values outside ±{bound:.4}"))?;
        let n = a.len() as f64;
        let mean = a.iter().sum::<f64>() / n;
        let var = a.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let sd = bound / 3f64.sqrt();
        close("A's mean", 0.0, mean, Tol::abs(4.5 * sd / n.sqrt()))?;
        // The variance of a uniform's sample variance: (b²/3)²·4/5 / n.
        close("A's variance", bound * bound / 3.0, var, Tol::abs(4.5 * (bound * bound / 3.0) * (0.8 / n).sqrt()))?;
        ensure((l.scale - 2.0).abs() < 1e-12, "the scale kept", format!("{}", l.scale))?;
        let other = LoraLayer::new(input, output, rank, 2.0, &mut SplitMix64::new(2)).called("LoraLayer::new")?;
        let d = max_abs(l.a.as_tensor(), other.a.as_tensor())?;
        ensure(d > 0.0, "A drawn from the generator", "two seeds gave the same A")
    }
}

check! {
    /// Fresh adapters on SmolLM2's q and v projections leave its logits unchanged to the bit
    /// (B = 0 adds exact zeros), and the trainable count is the closed form written out:
    /// r·(in + out) per projection, 30 blocks — 8·(1,152 + 768)·30 = 460,800 for q and v,
    /// 4·(1,152 + 768 + 768 + 1,152 + 2,112 + 2,112 + 2,112)·30 = 1,221,120 for all seven.
    fn fresh_adapters_leave_the_model_unchanged(exercise = "init", timeout_s = 300) {
        let (model, p) = base()?;
        let xs = prompts(&p)?;
        let before = model.next_logits(&rows(&xs)).called("next_logits")?;
        let mut m = model.clone();
        let lora = Lora::attach(&mut m, qv(8), 7).called("Lora::attach")?;
        let after = m.next_logits(&rows(&xs)).called("next_logits with adapters")?;
        let d = max_abs(&before, &after)?;
        ensure(d == 0.0, "logits with fresh adapters (B = 0) vs the base", format!("differ by up to {d:e}"))?;
        ensure(lora.trainable_parameters() == 460_800, "trainable numbers, rank 8 on q and v", format!("{}", lora.trainable_parameters()))?;
        ensure(lora_parameters(&model, 8, &[Projection::Q, Projection::V]) == 460_800, "lora_parameters, rank 8 on q and v", "not 460,800")?;
        let vars = lora.vars();
        let counted: usize = vars.iter().map(|(_, v)| v.elem_count()).sum();
        ensure(vars.len() == 120 && counted == 460_800, "the trainable variables (A and B of 60 projections)", format!("{} variables, {counted} numbers", vars.len()))?;
        let all = Lora::attach(&mut model.clone(), LoraConfig { rank: 4, alpha: 8.0, targets: Projection::ALL.to_vec() }, 7).called("Lora::attach")?;
        ensure(all.trainable_parameters() == 1_221_120, "trainable numbers, rank 4 on all seven projections", format!("{}", all.trainable_parameters()))
    }
}

check! {
    /// With trained-looking adapters (every B random), the merged model (W + ΔW, adapters
    /// off) gives the unmerged model's logits within 1e-3 (of logits around 20), merging adds
    /// exactly scale·B·A to each weight (formed by the check) and unmerging restores the base
    /// weights within 1e-6. Merging twice, or unmerging what is not merged, is refused.
    fn merged_equals_unmerged(exercise = "merge", timeout_s = 300) {
        let (model, p) = base()?;
        let xs = prompts(&p)?;
        let mut m = model.clone();
        let mut lora = Lora::attach(&mut m, qv(8), 3).called("Lora::attach")?;
        randomise_b(&lora, 0.05, 9)?;
        let unmerged = m.next_logits(&rows(&xs)).called("next_logits, unmerged")?;
        let d_base = max_abs(&unmerged, &model.next_logits(&rows(&xs)).called("next_logits")?)?;
        ensure(d_base > 1e-2, "the adapters change the model", format!("logits moved by {d_base:e} only"))?;
        lora.merge(&mut m).called("Lora::merge")?;
        ensure(lora.is_merged(), "merged", "is_merged() is false after merge")?;
        for (layer, proj, a) in &lora.layers {
            let w = m.linear(*layer, *proj).called("linear")?;
            ensure(w.adapter().is_none(), "adapters taken off by merging", format!("layer {layer} {} still has one", proj.name()))?;
            let delta = (a.b.as_tensor().matmul(a.a.as_tensor()).called("B·A")? * a.scale).called("scale")?;
            let want = (model.linear(*layer, *proj).called("linear")?.weight() + delta).called("W + ΔW")?;
            let d = max_abs(w.weight(), &want)?;
            ensure(d < 1e-6, "merged weight = W + scale·B·A", format!("layer {layer} {}: off by {d:e}", proj.name()))?;
        }
        let merged = m.next_logits(&rows(&xs)).called("next_logits, merged")?;
        let d = max_abs(&merged, &unmerged)?;
        ensure(d < 1e-3, "merged vs unmerged logits", format!("differ by up to {d:e}"))?;
        expect_err("merging twice", lora.merge(&mut m))?;
        lora.unmerge(&mut m).called("Lora::unmerge")?;
        for (layer, proj, _) in &lora.layers {
            let w = m.linear(*layer, *proj).called("linear")?;
            ensure(w.adapter().is_some(), "adapters back on after unmerging", format!("layer {layer} {} has none", proj.name()))?;
            let d = max_abs(w.weight(), model.linear(*layer, *proj).called("linear")?.weight())?;
            ensure(d < 1e-6, "unmerged weight = the base's", format!("layer {layer} {}: off by {d:e}", proj.name()))?;
        }
        let again = m.next_logits(&rows(&xs)).called("next_logits, unmerged again")?;
        let d = max_abs(&again, &unmerged)?;
        ensure(d < 1e-4, "logits after merge + unmerge", format!("differ from before by {d:e}"))?;
        expect_err("unmerging what is not merged", lora.unmerge(&mut m))?;
        Ok(())
    }
}

check! {
    /// Adapters saved alone hold A and B of every adapted projection under PEFT's names
    /// (`base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`, r × in; lora_B,
    /// out × r) with PEFT's adapter_config.json, and loaded onto a fresh base they give the
    /// trained model's logits exactly.
    fn adapters_saved_alone_load_onto_a_fresh_base(exercise = "forward", timeout_s = 300) {
        let (model, p) = base()?;
        let xs = prompts(&p)?;
        let mut m = model.clone();
        let lora = Lora::attach(&mut m, qv(4), 11).called("Lora::attach")?;
        randomise_b(&lora, 0.05, 12)?;
        let want = m.next_logits(&rows(&xs)).called("next_logits")?;
        let dir = std::env::temp_dir().join(format!("week23-adapter-{}", std::process::id()));
        lora.save(&dir).called("Lora::save")?;
        let tensors = candle_core::safetensors::load(dir.join("adapter_model.safetensors"), &Device::Cpu).called("reading the safetensors file")?;
        ensure(tensors.len() == 120, "tensors in the file (A and B of 60 projections)", format!("{}", tensors.len()))?;
        let a = &tensors["base_model.model.model.layers.7.self_attn.v_proj.lora_A.weight"];
        let b = &tensors["base_model.model.model.layers.7.self_attn.v_proj.lora_B.weight"];
        ensure(a.dims() == [4, 576] && b.dims() == [192, 4], "layer 7's v_proj A (4 × 576) and B (192 × 4)", format!("{:?} and {:?}", a.dims(), b.dims()))?;
        let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("adapter_config.json")).called("adapter_config.json")?).called("adapter_config.json")?;
        ensure(config["peft_type"] == "LORA" && config["r"] == 4 && config["lora_alpha"] == 8.0 && config["target_modules"] == serde_json::json!(["q_proj", "v_proj"]), "PEFT's adapter_config.json", config.to_string())?;
        let mut fresh = model.clone();
        Lora::load(&mut fresh, &dir).called("Lora::load")?;
        let got = fresh.next_logits(&rows(&xs)).called("next_logits, loaded")?;
        let d = max_abs(&got, &want)?;
        ensure(d == 0.0, "logits with the loaded adapters vs the saved ones", format!("differ by up to {d:e}"))?;
        // A file whose tensor has the wrong shape, or lacks one, is refused by name.
        let mut broken = tensors.clone();
        broken.insert("base_model.model.model.layers.7.self_attn.v_proj.lora_B.weight".into(), Tensor::zeros((192, 5), DType::F32, &Device::Cpu).called("zeros")?);
        candle_core::safetensors::save(&broken, dir.join("adapter_model.safetensors")).called("saving")?;
        let e = expect_err("loading a B of the wrong shape", Lora::load(&mut model.clone(), &dir))?;
        ensure(e.contains("layers.7.self_attn.v_proj.lora_B"), "the error names the tensor", e)?;
        broken.remove("base_model.model.model.layers.7.self_attn.v_proj.lora_B.weight");
        candle_core::safetensors::save(&broken, dir.join("adapter_model.safetensors")).called("saving")?;
        let e = expect_err("loading a file that lacks a tensor", Lora::load(&mut model.clone(), &dir))?;
        ensure(e.contains("missing"), "the error says what is missing", e)?;
        std::fs::write(dir.join("adapter_model.safetensors"), b"not a safetensors file").called("writing")?;
        let e = expect_err("loading a file that is not safetensors", Lora::load(&mut model.clone(), &dir))?;
        ensure(e.contains("adapter_model.safetensors"), "the error names the file", e)?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}

check! {
    /// The answer loss is −log softmax(logits)[answer], averaged: ln 4 for four equal logits,
    /// −ln(e/(e + 1)) for logits [0, 1] and answer 1 (worked by hand), candle-nn's
    /// cross-entropy on random logits, and its gradient is (softmax − one-hot)/n.
    fn the_answer_loss_is_the_cross_entropy(exercise = "answer_loss") {
        let l = answer_loss(&t(&[&[0.0, 0.0, 0.0, 0.0], &[0.0, 1.0, 0.0, 0.0]]), &[2, 1]).called("answer_loss")?;
        let want = (4f64.ln() + (-(1f64.exp() / (1f64.exp() + 3.0)).ln())) / 2.0;
        close("the loss of two hand-worked rows", want, l.to_scalar::<f32>().called("scalar")? as f64, Tol::abs(1e-6))?;
        let mut rng = SplitMix64::new(3);
        let v: Vec<f32> = (0..6 * 50).map(|_| 6.0 * rng.next_f64() as f32 - 3.0).collect();
        let logits = Var::from_tensor(&Tensor::from_vec(v, (6, 50), &Device::Cpu).called("logits")?).called("var")?;
        let answers = [3u32, 0, 49, 7, 7, 20];
        let got = answer_loss(logits.as_tensor(), &answers).called("answer_loss")?;
        let reference = candle_nn::loss::cross_entropy(logits.as_tensor(), &Tensor::new(&answers, &Device::Cpu).called("answers")?).called("candle_nn cross_entropy")?;
        close("against candle-nn's cross-entropy", reference.to_scalar::<f32>().called("scalar")? as f64, got.to_scalar::<f32>().called("scalar")? as f64, Tol::rel(1e-5))?;
        let grads = got.backward().called("backward")?;
        let g = grads.get(&logits).ok_or_else(|| Failure::new("the loss's gradient", "no gradient reaches the logits"))?;
        let softmax = candle_nn::ops::softmax(logits.as_tensor(), D::Minus1).called("softmax")?;
        let mut onehot = vec![0f32; 6 * 50];
        for (i, a) in answers.iter().enumerate() {
            onehot[i * 50 + *a as usize] = 1.0;
        }
        let onehot = Tensor::from_vec(onehot, (6, 50), &Device::Cpu).called("one-hot")?;
        let want = ((softmax - onehot).called("−")? / 6.0).called("/ n")?;
        close_array("the gradient (softmax − one-hot)/n", tensor_values(&want)?.view(), tensor_values(g)?.view(), Tol::abs(1e-6))
    }
}

check! {
    /// Six AdamW steps of LoRA (rank 8 on q and v, lr 2e-3) on eight subjects lower their
    /// answer loss by at least half, while the base weights stay as they were.
    fn training_lowers_the_loss(exercise = "answer_loss", timeout_s = 600) {
        let (model, p) = base()?;
        let xs = prompts(&p)?;
        let answers: Vec<u32> = xs.iter().map(|x| p.answer(x.label)).collect();
        let mut m = model.clone();
        let lora = Lora::attach(&mut m, qv(8), 1).called("Lora::attach")?;
        let vars = lora.vars();
        let mut opt = wb_train::adamw(&vars, 2e-3).called("adamw")?;
        let loss = |m: &TrainableLlama| -> Result<Tensor, Failure> {
            answer_loss(&m.next_logits(&rows(&xs)).called("next_logits")?, &answers).called("answer_loss")
        };
        let before = loss(&m)?.to_scalar::<f32>().called("scalar")? as f64;
        for _ in 0..6 {
            let l = loss(&m)?;
            candle_nn::Optimizer::backward_step(&mut opt, &l).called("an AdamW step")?;
        }
        let after = loss(&m)?.to_scalar::<f32>().called("scalar")? as f64;
        ensure(after < 0.5 * before, "the answer loss after 6 steps, against before", format!("{before:.3} → {after:.3}"))?;
        let q = m.linear(0, Projection::Q).called("linear")?.weight();
        let d = max_abs(q, model.linear(0, Projection::Q).called("linear")?.weight())?;
        ensure(d == 0.0, "the frozen base weight", format!("moved by {d:e}"))?;
        Ok(())
    }
}

check! {
    /// Bad configurations and inputs are refused with the argument named, never a panic.
    fn bad_input_is_refused(exercise = "merge", timeout_s = 300) {
        let bad = [
            (LoraConfig { rank: 0, ..qv(8) }, "`rank`"),
            (LoraConfig { alpha: 0.0, ..qv(8) }, "`alpha`"),
            (LoraConfig { alpha: f64::NAN, ..qv(8) }, "`alpha`"),
            (LoraConfig { targets: vec![], ..qv(8) }, "`targets`"),
            (LoraConfig { targets: vec![Projection::Q, Projection::Q], ..qv(8) }, "`targets`"),
        ];
        for (config, arg) in bad {
            let e = expect_err(&format!("{config:?}.check()"), config.check())?;
            ensure(e.contains(arg), &format!("the error of {config:?}"), format!("{e} (should name {arg})"))?;
        }
        let e = expect_err("LoraLayer::new with rank 0", LoraLayer::new(4, 4, 0, 1.0, &mut SplitMix64::new(1)))?;
        ensure(e.contains("rank"), "the error names the rank", e)?;
        let e = expect_err("answer_loss with 2 rows and 3 answers", answer_loss(&t(&[&[0.0, 1.0], &[1.0, 0.0]]), &[0, 1, 1]))?;
        ensure(e.contains("`answers`"), "the error names the answers", e)?;
        let e = expect_err("answer_loss with an answer outside the vocabulary", answer_loss(&t(&[&[0.0, 1.0]]), &[2]))?;
        ensure(e.contains("`answers`"), "the error names the answers", e)?;
        let (model, _) = base()?;
        let e = expect_err("Lora::load from a folder with no adapter", Lora::load(&mut model.clone(), std::path::Path::new("/nonexistent/adapter")))?;
        ensure(e.contains("adapter_config.json"), "the error names the file", e)?;
        // Merging what is merged, unmerging what is not, detaching merged adapters: refused.
        let mut m = model.clone();
        let mut lora = Lora::attach(&mut m, qv(2), 1).called("Lora::attach")?;
        expect_err("unmerging adapters that are not merged", lora.unmerge(&mut m))?;
        lora.merge(&mut m).called("Lora::merge")?;
        expect_err("merging twice", lora.merge(&mut m))?;
        let e = expect_err("detaching merged adapters", lora.detach(&mut m))?;
        ensure(e.contains("unmerge"), "the error says to unmerge first", e)
    }
}
