//! The trainable f32 SmolLM2 against independent references: candle's Llama on the same
//! weights expanded to f32 (its own code: fused kernels, rotation of interleaved pairs on the
//! GGUF's permuted layout), the parameter count in closed form from the model card's shape, and
//! automatic differentiation against central finite differences.

use candle_core::{D, DType, Device, IndexOp, Tensor, Var};
use std::sync::{Arc, OnceLock};
use wb_data::SplitMix64;
use wb_llm::trainable::{Adapter, Projection, TrainableLlama};
use wb_llm::{LocalModel, Message, WeightFormat};

fn say(line: &str) {
    eprintln!("{line}");
}

fn model() -> &'static TrainableLlama {
    static MODEL: OnceLock<TrainableLlama> = OnceLock::new();
    MODEL.get_or_init(|| TrainableLlama::smollm2(&mut say).unwrap())
}

/// Token ids of two short sequences (any ids below the vocabulary's size will do).
fn sequences() -> Vec<Vec<u32>> {
    vec![
        vec![1, 9690, 198, 2683, 314, 253, 5356, 30, 2],
        vec![1, 4093, 198, 504],
    ]
}

fn largest_difference(a: &[f32], b: &[f32]) -> (f32, f32) {
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    (worst, scale)
}

fn uniform(shape: (usize, usize), scale: f64, seed: u64) -> Tensor {
    let mut rng = SplitMix64::new(seed);
    let v: Vec<f32> = (0..shape.0 * shape.1)
        .map(|_| ((2.0 * rng.next_f64() - 1.0) * scale) as f32)
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

#[test]
fn the_f32_forward_computes_what_candles_llama_computes() {
    let mut reference = LocalModel::smollm2(WeightFormat::F32, &mut say).unwrap();
    let prompt = reference
        .chat_prompt(&[Message::user(
            "Explain in a few sentences why the sky is blue.",
        )])
        .unwrap();
    let theirs = reference.next_logits(&prompt).unwrap();
    let ours = model()
        .next_logits(std::slice::from_ref(&prompt))
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let (worst, scale) = largest_difference(&ours, &theirs);
    assert!(
        worst < 1e-3 * scale,
        "logits differ by {worst} (largest {scale})"
    );
    let argmax = |v: &[f32]| (0..v.len()).max_by(|&i, &j| v[i].total_cmp(&v[j]));
    assert_eq!(argmax(&ours), argmax(&theirs));
    eprintln!(
        "{} prompt tokens: largest logit difference {worst:.1e} of {scale:.1}",
        prompt.len()
    );
}

#[test]
fn rows_padded_in_a_batch_equal_each_row_alone() {
    let m = model();
    let batch = m.next_logits(&sequences()).unwrap();
    assert_eq!(batch.dims(), [2, m.config.vocab]);
    for (i, s) in sequences().into_iter().enumerate() {
        let alone = m.next_logits(&[s]).unwrap().squeeze(0).unwrap();
        let (worst, scale) = largest_difference(
            &batch.i(i).unwrap().to_vec1::<f32>().unwrap(),
            &alone.to_vec1::<f32>().unwrap(),
        );
        assert!(worst < 1e-4 * scale, "row {i}: {worst} of {scale}");
    }
}

/// An adapter adding `x·A` to a projection, `A` trainable.
#[derive(Debug)]
struct Probe {
    a: Var,
}

impl Adapter for Probe {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(self.a.as_tensor())
    }
}

#[test]
fn an_adapter_adds_to_its_projection_and_its_gradient_is_the_derivative() {
    let mut m = model().clone();
    let (out, inputs) = m.config.shape(Projection::V);
    let a = Var::zeros((inputs, out), DType::F32, &Device::Cpu).unwrap();
    let replaced = m
        .linear_mut(3, Projection::V)
        .unwrap()
        .set_adapter(Some(Arc::new(Probe { a: a.clone() })));
    assert!(replaced.is_none());
    // A zero adapter adds exact zeros.
    let s = sequences();
    let base = model().next_logits(&s).unwrap().to_vec2::<f32>().unwrap();
    assert_eq!(m.next_logits(&s).unwrap().to_vec2::<f32>().unwrap(), base);

    // The log-probability of one token after the first sequence, as a function of A.
    let target = 28u32;
    let log_p = |m: &TrainableLlama| -> Tensor {
        let logits = m.next_logits(&s[..1]).unwrap();
        candle_nn::ops::log_softmax(&logits, D::Minus1)
            .unwrap()
            .i((0, target as usize))
            .unwrap()
    };
    let a0 = uniform((inputs, out), 0.02, 7);
    a.set(&a0).unwrap();
    let value = log_p(&m);
    let grads = value.backward().unwrap();
    let g = grads
        .get(a.as_tensor())
        .expect("a gradient for the adapter");
    for p in Projection::ALL {
        let w = m.linear(3, p).unwrap().weight();
        assert!(
            grads.get(w).is_none(),
            "{p:?}: a frozen weight got a gradient"
        );
    }
    // Along a random direction: the gradient's dot product = the central difference.
    let direction = uniform((inputs, out), 1.0, 11);
    let analytic = (g * &direction)
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let eps = 1e-2;
    let at = |step: f64| {
        a.set(&(&a0 + (&direction * step).unwrap()).unwrap())
            .unwrap();
        log_p(&m).to_scalar::<f32>().unwrap()
    };
    let numeric = (at(eps) - at(-eps)) / (2.0 * eps as f32);
    assert!(
        (analytic - numeric).abs() < 0.02 * analytic.abs() + 1e-3,
        "gradient · direction = {analytic}, central difference = {numeric}"
    );
    eprintln!("directional derivative {analytic:.5}, central difference {numeric:.5}");
}

#[test]
fn the_parameter_count_is_the_model_cards_and_unfreezing_trains_them_all() {
    let mut m = model().clone();
    let c = m.config;
    // SmolLM2-135M's shape, from its model card.
    assert_eq!(
        (c.vocab, c.dim, c.layers, c.heads, c.kv_heads, c.ffn),
        (49_152, 576, 30, 9, 3, 1_536)
    );
    // Tied embedding; per block q, k, v, o, three feed-forward matrices and two norms; the
    // final norm.
    let (v, d, kv, f) = (49_152, 576, 3 * 64, 1_536);
    let block = d * d + 2 * d * kv + d * d + 3 * d * f + 2 * d;
    assert_eq!(m.parameters(), v * d + 30 * block + d);
    assert_eq!(
        m.parameters(),
        134_515_008,
        "the closed form's value, written out"
    );

    let vars = m.unfreeze().unwrap();
    assert_eq!(vars.len(), 1 + 30 * 9 + 1);
    assert!(
        vars.windows(2).all(|w| w[0].0 < w[1].0),
        "sorted, no name twice"
    );
    let total: usize = vars.iter().map(|(_, v)| v.elem_count()).sum();
    assert_eq!(total, 134_515_008);
    let logits = m.next_logits(&sequences()[1..]).unwrap();
    let grads = logits.i((0, 28)).unwrap().backward().unwrap();
    let named = |n: &str| &vars.iter().find(|(name, _)| name == n).unwrap().1;
    for n in [
        "model.embed_tokens.weight",
        "model.layers.0.self_attn.q_proj.weight",
        "model.layers.29.mlp.down_proj.weight",
        "model.norm.weight",
    ] {
        assert!(
            grads.get(named(n).as_tensor()).is_some(),
            "{n}: no gradient"
        );
    }
    m.freeze();
    let grads = m
        .next_logits(&sequences()[1..])
        .unwrap()
        .i((0, 28))
        .unwrap()
        .backward()
        .unwrap();
    let w = m.linear(0, Projection::Q).unwrap().weight();
    assert!(grads.get(w).is_none(), "a frozen weight got a gradient");
}

#[test]
fn bad_input_is_refused_with_the_argument_named() {
    let mut m = model().clone();
    let err = |r: wb_llm::Result<Tensor>| r.unwrap_err().to_string();
    let e = err(m.next_logits(&[]));
    assert!(e.contains("`batch`") && e.contains("got none"), "{e}");
    let e = err(m.next_logits(&[vec![1], vec![]]));
    assert!(
        e.contains("`batch`") && e.contains("sequence 1 is empty"),
        "{e}"
    );
    let e = err(m.next_logits(&[vec![1, 49_152]]));
    assert!(e.contains("`tokens`") && e.contains("49152"), "{e}");
    let floats = Tensor::zeros((1, 3), DType::F32, &Device::Cpu).unwrap();
    let e = err(m.hidden(&floats));
    assert!(e.contains("`tokens`") && e.contains("u32"), "{e}");
    let none = Tensor::zeros((0, 3), DType::U32, &Device::Cpu).unwrap();
    let e = err(m.hidden(&none));
    assert!(e.contains("`tokens`") && e.contains("got none"), "{e}");
    let e = m.linear(30, Projection::Q).unwrap_err().to_string();
    assert!(e.contains("`layer`") && e.contains("30 layers"), "{e}");
    let wrong = Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap();
    let e = m
        .linear_mut(0, Projection::K)
        .unwrap()
        .set_weight(wrong)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`weight`") && e.contains("[192, 576]"), "{e}");
}
