//! Grader checks for week 13: attention, masks, multi-head attention, layer norm, positions,
//! the pre-LN block, and the saved GPT.
//!
//! References: `fixtures/week13.json`, computed with numpy by `fixtures/make_fixtures.py` for
//! fixed random weights (an independent implementation of the same formulas), and hand-worked
//! properties of the masks.

use candle_core::{DType, Device, Tensor};
use grader::{
    Called, Failure, Tol, check, close_array, ensure, expect_err, fixture, num, nums, tensor_values,
};
use ndarray::{ArrayD, IxDyn};
use serde_json::Value;
use week13_transformer::attention::{
    MhaWeights, attention, causal_mask, multi_head_attention, padding_mask,
};
use week13_transformer::block::{BlockWeights, block, layer_norm, sinusoidal};

/// The tensor stored at `pointer` as {"shape": [...], "data": [...]}.
fn tensor(v: &Value, pointer: &str) -> Result<Tensor, Failure> {
    let shape: Vec<usize> = nums(v, &format!("{pointer}/shape"))
        .iter()
        .map(|&s| s as usize)
        .collect();
    let data: Vec<f32> = nums(v, &format!("{pointer}/data"))
        .iter()
        .map(|&x| x as f32)
        .collect();
    Tensor::from_vec(data, shape, &Device::Cpu).called("a fixture tensor")
}

fn expected(v: &Value, pointer: &str) -> Result<ArrayD<f64>, Failure> {
    let shape: Vec<usize> = nums(v, &format!("{pointer}/shape"))
        .iter()
        .map(|&s| s as usize)
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), nums(v, &format!("{pointer}/data")).to_vec())
        .map_err(|e| Failure::new("fixture shape", e.to_string()))
}

fn mha_weights(f: &Value) -> Result<MhaWeights, Failure> {
    Ok(MhaWeights {
        wq: tensor(f, "/mha/wq")?,
        bq: tensor(f, "/mha/bq")?,
        wk: tensor(f, "/mha/wk")?,
        bk: tensor(f, "/mha/bk")?,
        wv: tensor(f, "/mha/wv")?,
        bv: tensor(f, "/mha/bv")?,
        wo: tensor(f, "/mha/wo")?,
        bo: tensor(f, "/mha/bo")?,
    })
}

const TOL: f64 = 1e-5;

check! {
    fn attention_with_causal_and_padding_masks_matches_numpy(exercise = "attention") {
        let f = fixture("week13");
        let (q, k, v) = (
            tensor(&f, "/attention/q")?,
            tensor(&f, "/attention/k")?,
            tensor(&f, "/attention/v")?,
        );
        let t = num(&f, "/sizes/seq") as usize;
        let lengths: Vec<usize> = nums(&f, "/attention/lengths")
            .iter()
            .map(|&n| n as usize)
            .collect();
        let causal = causal_mask(t).called("causal_mask")?;
        let (out, w) =
            attention(&q, &k, &v, Some(&causal)).called("attention with the causal mask")?;
        close_array(
            "output with the causal mask (vs numpy)",
            expected(&f, "/attention/causal_out")?.view(),
            tensor_values(&out)?.view(),
            Tol::abs(TOL),
        )?;
        close_array(
            "weights with the causal mask (vs numpy)",
            expected(&f, "/attention/causal_weights")?.view(),
            tensor_values(&w)?.view(),
            Tol::abs(TOL),
        )?;
        let pad = padding_mask(&lengths, t).called("padding_mask")?;
        let (out, w) =
            attention(&q, &k, &v, Some(&pad)).called("attention with the padding mask")?;
        close_array(
            "output with the padding mask (vs numpy)",
            expected(&f, "/attention/padding_out")?.view(),
            tensor_values(&out)?.view(),
            Tol::abs(TOL),
        )?;
        close_array(
            "weights with the padding mask (vs numpy)",
            expected(&f, "/attention/padding_weights")?.view(),
            tensor_values(&w)?.view(),
            Tol::abs(TOL),
        )?;
        let both = causal.broadcast_mul(&pad).called("combining the masks")?;
        let (out, _) = attention(&q, &k, &v, Some(&both)).called("attention with both masks")?;
        close_array(
            "output with both masks (vs numpy)",
            expected(&f, "/attention/both_out")?.view(),
            tensor_values(&out)?.view(),
            Tol::abs(TOL),
        )?;
        // No attention to the future, none to padding: exactly zero, not merely small.
        let wc = tensor_values(&attention(&q, &k, &v, Some(&causal)).called("attention")?.1)?;
        for ((bi, hi, i, j), &x) in wc
            .indexed_iter()
            .map(|(ix, x)| ((ix[0], ix[1], ix[2], ix[3]), x))
        {
            ensure(
                j <= i || x == 0.0,
                "no weight on a future key",
                format!("batch {bi}, head {hi}: query {i} gives key {j} weight {x:e}"),
            )?;
        }
        let wp = tensor_values(&w)?;
        for ((bi, _, _, j), &x) in wp
            .indexed_iter()
            .map(|(ix, x)| ((ix[0], ix[1], ix[2], ix[3]), x))
        {
            ensure(
                j < lengths[bi] || x == 0.0,
                "no weight on padding",
                format!(
                    "sequence {bi} (length {}) gives key {j} weight {x:e}",
                    lengths[bi]
                ),
            )?;
        }
        Ok(())
    }
}

check! {
    fn a_mask_of_the_wrong_shape_is_refused(exercise = "attention") {
        let f = fixture("week13");
        let (q, k, v) = (
            tensor(&f, "/attention/q")?,
            tensor(&f, "/attention/k")?,
            tensor(&f, "/attention/v")?,
        );
        let (out, _) = attention(&q, &k, &v, None).called("attention without a mask")?;
        ensure(
            out.dims() == q.dims(),
            "the output has the queries' shape",
            format!("got {:?}", out.dims()),
        )?;
        let e = expect_err(
            "a [6, 6] mask for 5 positions",
            attention(&q, &k, &v, Some(&causal_mask(6).called("causal_mask")?)),
        )?;
        ensure(
            e.contains("mask") && e.contains("[2, 2, 5, 5]"),
            "the error names the mask and the weights' shape",
            e,
        )?;
        let e = expect_err(
            "values with another head size",
            attention(&q, &k, &q.narrow(3, 0, 2).called("narrow")?, None),
        )?;
        ensure(e.contains('v'), "the error names v", e)?;
        expect_err("a padding length of 0", padding_mask(&[5, 0], 5))?;
        expect_err("a padding length above the sequence", padding_mask(&[6], 5)).map(|_| ())
    }
}

check! {
    fn multi_head_attention_matches_numpy(exercise = "mha") {
        let f = fixture("week13");
        let x = tensor(&f, "/x")?;
        let heads = num(&f, "/sizes/heads") as usize;
        let mask = causal_mask(num(&f, "/sizes/seq") as usize).called("causal_mask")?;
        let (out, w) = multi_head_attention(&x, &mha_weights(&f)?, heads, Some(&mask))
            .called("multi_head_attention")?;
        close_array(
            "multi-head attention output [2, 5, 8] (vs numpy)",
            expected(&f, "/mha/out")?.view(),
            tensor_values(&out)?.view(),
            Tol::abs(TOL),
        )?;
        close_array(
            "its weights [2, 2, 5, 5] (vs numpy)",
            expected(&f, "/mha/weights")?.view(),
            tensor_values(&w)?.view(),
            Tol::abs(TOL),
        )?;
        expect_err(
            "3 heads for d_model 8",
            multi_head_attention(&x, &mha_weights(&f)?, 3, None),
        )
        .map(|_| ())
    }
}

check! {
    fn layer_norm_and_sinusoidal_positions_match_numpy(exercise = "layer_norm") {
        let f = fixture("week13");
        let out = layer_norm(
            &tensor(&f, "/x")?,
            &tensor(&f, "/layer_norm/gamma")?,
            &tensor(&f, "/layer_norm/beta")?,
            1e-5,
        )
        .called("layer_norm")?;
        close_array(
            "layer norm of x (vs numpy)",
            expected(&f, "/layer_norm/out")?.view(),
            tensor_values(&out)?.view(),
            Tol::abs(TOL),
        )?;
        let pe = sinusoidal(6, 8).called("sinusoidal")?;
        close_array(
            "sinusoidal positions [6, 8] (vs numpy)",
            expected(&f, "/sinusoidal_6x8")?.view(),
            tensor_values(&pe)?.view(),
            Tol::abs(1e-6),
        )?;
        expect_err("an odd dimension", sinusoidal(4, 7)).map(|_| ())
    }
}

check! {
    fn the_pre_ln_block_matches_numpy(exercise = "block") {
        let f = fixture("week13");
        let w = BlockWeights {
            ln1_g: tensor(&f, "/block/ln1_g")?,
            ln1_b: tensor(&f, "/block/ln1_b")?,
            attn: mha_weights(&f)?,
            ln2_g: tensor(&f, "/block/ln2_g")?,
            ln2_b: tensor(&f, "/block/ln2_b")?,
            w1: tensor(&f, "/block/w1")?,
            b1: tensor(&f, "/block/b1")?,
            w2: tensor(&f, "/block/w2")?,
            b2: tensor(&f, "/block/b2")?,
        };
        let mask = causal_mask(num(&f, "/sizes/seq") as usize).called("causal_mask")?;
        let (out, _) = block(&tensor(&f, "/x")?, &w, 2, Some(&mask)).called("block")?;
        close_array(
            "pre-LN block output [2, 5, 8] (vs numpy)",
            expected(&f, "/block/out")?.view(),
            tensor_values(&out)?.view(),
            Tol::abs(TOL),
        )
    }
}

check! {
    fn the_saved_gpt_reloads_to_identical_logits_and_refuses_bad_input(exercise = "block", timeout_s = 300) {
        use week13_transformer::train::{Corpus, RunConfig, train_gpt};
        let corpus = Corpus::moby_dick().called("Corpus::moby_dick")?;
        let cfg = RunConfig {
            steps: 30,
            seq_len: 32,
            ..RunConfig::default()
        };
        let (gpt, varmap, m) = train_gpt(&corpus, &cfg, false).called("train_gpt")?;
        ensure(
            m.valid_loss < (corpus.vocab.len() as f64).ln(),
            "the loss after 30 steps",
            format!(
                "expected below ln 83 = 4.419 (a uniform guess), got {:.3}",
                m.valid_loss
            ),
        )?;
        // Your block on the trained GPT's weights equals the library's block.
        let x = Tensor::randn(0f32, 1.0, (2, 7, 64), &Device::Cpu).called("x")?;
        let (ours, _) = block(
            &x,
            &week13_transformer::block::gpt_block_weights(&varmap, 1)
                .called("gpt_block_weights")?,
            4,
            Some(&causal_mask(7).called("mask")?),
        )
        .called("block")?;
        let (theirs, _) = gpt.blocks[1].forward(&x).called("the library's block")?;
        close_array(
            "your block vs wb_models' block on the trained weights",
            tensor_values(&theirs)?.view(),
            tensor_values(&ours)?.view(),
            Tol::abs(1e-4),
        )?;
        let dir = std::env::temp_dir().join(format!("grader-week13-{}", std::process::id()));
        gpt.save(&varmap, &dir)
            .map_err(|e| Failure::new("Gpt::save", e.to_string()))?;
        let (back, _) =
            wb_models::Gpt::load(&dir).map_err(|e| Failure::new("Gpt::load", e.to_string()))?;
        let ids = corpus
            .vocab
            .encode("Call me Ishmael. Some years ago")
            .called("encode")?;
        let tokens = Tensor::new(ids.as_slice(), &Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .called("tokens")?;
        let a = gpt
            .forward(&tokens)
            .map_err(|e| Failure::new("forward", e.to_string()))?;
        let b = back
            .forward(&tokens)
            .map_err(|e| Failure::new("forward after reload", e.to_string()))?;
        close_array(
            "logits after save and reload",
            tensor_values(&a)?.view(),
            tensor_values(&b)?.view(),
            Tol::abs(0.0),
        )?;
        let long = Tensor::zeros((1, 33), DType::U32, &Device::Cpu).called("tokens")?;
        let e = gpt
            .forward(&long)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        ensure(
            e.contains("33") && e.contains("32"),
            "a sequence longer than the context is refused",
            format!("got: {e:?}"),
        )?;
        // A weights file of another model is refused, and no model comes back.
        let other = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&other, DType::F32, &Device::Cpu);
        let small = wb_models::GptConfig {
            d_model: 32,
            ..gpt.config.clone()
        };
        let m2 =
            wb_models::Gpt::new(small, vb).map_err(|e| Failure::new("Gpt::new", e.to_string()))?;
        m2.save(&other, &dir.join("other"))
            .map_err(|e| Failure::new("save", e.to_string()))?;
        std::fs::copy(
            dir.join("other").join("model.safetensors"),
            dir.join("model.safetensors"),
        )
        .map_err(|e| Failure::new("copy", e.to_string()))?;
        let e = match wb_models::Gpt::load(&dir) {
            Ok(_) => {
                return Err(Failure::new(
                    "loading another model's weights",
                    "was accepted",
                ));
            }
            Err(e) => e.to_string(),
        };
        ensure(
            e.contains("model.safetensors"),
            "the error names the weights file",
            e,
        )?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
