//! The lab's plots.

use crate::report::CopyRun;
use anyhow::Result;
use candle_core::{DType, IndexOp, Tensor};
use wb_lab::Lab;
use wb_plot::{Heatmap, ImageGrid, LegendPosition, LinePlot, Panels, Series};
use week13_transformer::block::sinusoidal;

/// `last`: the last block's attention weights [1, heads, 64, 64] on `probe64`; `copies`: the
/// copy-task runs.
pub fn save(lab: &mut Lab, last: &Tensor, probe64: &str, copies: &[CopyRun]) -> Result<()> {
    let n = 48;
    // The characters on both axes (a space as ␣), so a stripe can be read as "attends to the
    // space before a word".
    let chars: Vec<String> = probe64
        .chars()
        .take(n)
        .map(|c| {
            if c == ' ' {
                "␣".into()
            } else {
                c.to_string()
            }
        })
        .collect();
    let mut grid = Panels::new(
        "Last block's attention on the first 48 characters (row: query, column: key)",
        2,
    )
    .panel_size(640, 600);
    for head in 0..4 {
        let w = last
            .i((0, head))?
            .narrow(0, 0, n)?
            .narrow(1, 0, n)?
            .to_dtype(DType::F64)?
            .to_vec2::<f64>()?;
        grid = grid.heatmap(
            Heatmap::new(
                &format!("head {head}"),
                "key",
                "query",
                chars.clone(),
                chars.clone(),
                w,
            )
            .annotate(false)
            .bar_label("weight"),
        );
    }
    lab.saved(grid.save(lab.plots_dir(), "attention")?);
    let pe_v: Vec<f64> = sinusoidal(64, 64)?
        .flatten_all()?
        .to_vec1::<f32>()?
        .iter()
        .map(|&p| f64::from(p))
        .collect();
    lab.saved(
        ImageGrid::new(
            "Sinusoidal positions: 64 positions (rows) × 64 dimensions (columns)",
            1,
        )
        .diverging(true)
        .image("PE[pos, i]", 64, 64, pe_v)
        .save(lab.plots_dir(), "sinusoidal")?,
    );
    lab.saved(
        LinePlot::new(
            "Copy task: a one-block transformer after 150 training steps",
            "delay (time steps)",
            "test accuracy (%)",
        )
        .series(Series::new(
            "transformer, 1 block",
            copies
                .iter()
                .map(|c| (c.delay as f64, 100.0 * c.accuracy))
                .collect(),
        ))
        .series(Series::new(
            "chance (4 symbols)",
            vec![(40.0, 25.0), (100.0, 25.0)],
        ))
        .markers(true)
        .y_range(0.0, 105.0)
        .legend(LegendPosition::LowerRight)
        .save(lab.plots_dir(), "copy_task")?,
    );

    Ok(())
}
