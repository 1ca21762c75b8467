//! The workbook's plot style: every plot is written twice, as PNG (to open in an image viewer)
//! and SVG (for the book), with DejaVu Sans embedded so that no system font is needed.
//!
//! ```no_run
//! use wb_plot::{LinePlot, Series};
//! let plot = LinePlot::new("Training loss", "epoch", "MSE")
//!     .series(Series::new("batch GD", vec![(0.0, 10.0), (1.0, 5.0), (2.0, 4.0)]))
//!     .log_y(true);
//! let files = plot.save(std::path::Path::new("output"), "loss").unwrap();
//! ```

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;
use thiserror::Error;

static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
static FONT_BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");
const FONT_NAME: &str = "sans-serif";
const SIZE: (u32, u32) = (900, 600);

/// Colours of successive series (colour-blind friendly, Okabe–Ito: its eight less yellow, which
/// vanishes on white). Series after the seventh repeat them dashed.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// Where a plot's legend goes (plotters' `SeriesLabelPosition`).
pub use plotters::chart::SeriesLabelPosition as LegendPosition;

#[derive(Debug, Error)]
pub enum PlotError {
    #[error("cannot create the plot folder {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot draw {path}: {detail}")]
    Draw { path: PathBuf, detail: String },
}

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font shipped with the repo; a failure here is a bug.
        let _ = plotters::style::register_font(FONT_NAME, FontStyle::Normal, FONT);
        let _ = plotters::style::register_font(FONT_NAME, FontStyle::Bold, FONT_BOLD);
    });
}

/// One named line or point cloud.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend's label; a plot whose series all have empty names draws no legend.
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed, so that a line lying on another stays visible.
    pub dashed: bool,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            dashed: false,
        }
    }

    /// This series drawn dashed (a line that lies on another for part of its range).
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

mod frame;
mod heatmap;
mod histogram;
mod image_grid;
mod line;
mod panels;
mod regions;
mod scatter;

use frame::{Frame, Render, bounds, draw_dots, draw_lines, save_both};
pub use frame::{axis_labels, best_corner, tick_label};
pub use heatmap::Heatmap;
pub use histogram::{Bar, Histogram};
pub use image_grid::ImageGrid;
pub use line::{Field, LinePlot};
pub use panels::{Panel, Panels};
pub use regions::DecisionRegions;
pub use scatter::ScatterPlot;

/// `save(dir, stem)` of every chart kind, written once: the PNG and the SVG, their paths back.
macro_rules! save_as_png_and_svg {
    ($($kind:ty),*) => {
        $(
            impl $kind {
                /// Writes `dir/stem.png` and `dir/stem.svg` and returns their paths.
                pub fn save(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, PlotError> {
                    save_both(dir, stem, self)
                }
            }
        )*
    };
}
save_as_png_and_svg!(
    LinePlot,
    Histogram,
    Heatmap,
    ImageGrid,
    DecisionRegions,
    ScatterPlot,
    Panels
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legend_goes_to_the_freest_corner() {
        let label = ["a series"];
        // A line rising from the lower left to the upper right leaves the other two corners.
        let rising: Vec<(f64, f64)> = (0..=20).map(|i| (i as f64, i as f64)).collect();
        let corner = best_corner(&[(&rising, true)], (0.0, 20.0), (0.0, 20.0), false, &label);
        assert!(
            matches!(
                corner,
                LegendPosition::UpperLeft | LegendPosition::LowerRight
            ),
            "{corner:?}"
        );
        // A loss curve falling from the upper left to a floor: the upper right is free.
        let falling: Vec<(f64, f64)> = (0..=50)
            .map(|i| (i as f64, 1.0 / (1.0 + i as f64)))
            .collect();
        let corner = best_corner(&[(&falling, true)], (0.0, 50.0), (0.0, 1.0), false, &label);
        assert!(matches!(corner, LegendPosition::UpperRight), "{corner:?}");
        // Dots crowding the upper right push the legend elsewhere; unjoined dots are not a line.
        let crowd: Vec<(f64, f64)> = (0..40).map(|i| (0.9 + 0.002 * i as f64, 0.95)).collect();
        let corner = best_corner(&[(&crowd, false)], (0.0, 1.0), (0.0, 1.0), false, &label);
        assert!(matches!(corner, LegendPosition::UpperLeft), "{corner:?}");
    }

    #[test]
    fn tick_labels_are_short_and_one_format_per_axis() {
        assert_eq!(tick_label(&1000.0), "1000");
        assert_eq!(tick_label(&0.25), "0.25");
        assert_eq!(tick_label(&0.0), "0");
        assert_eq!(tick_label(&2.5e-4), "2.5×10⁻⁴");
        assert_eq!(tick_label(&1e-5), "10⁻⁵");
        assert_eq!(tick_label(&-3e6), "−3×10⁶");
        assert_eq!(tick_label(&-2.5), "−2.5");
        assert_eq!(tick_label(&9.99e-5), "10⁻⁴");
        // A linear axis from 0 to 0.005: every tick a decimal, 0.0009 never 9×10⁻⁴.
        let f = axis_labels(0.0, 0.005, false);
        assert_eq!([f(&0.0009), f(&0.001), f(&0.0)], ["0.0009", "0.001", "0"]);
        // Float noise on a zero tick prints 0, not -0 or 1.4×10⁻¹⁷.
        assert_eq!(axis_labels(-1.0, 1.0, false)(&-1.4e-17), "0");
        // A log axis reaching 10⁻⁵: every tick a power of ten; one within 0.001–10⁶: decimals.
        let g = axis_labels(1e-5, 1.0, true);
        assert_eq!([g(&1e-5), g(&0.01), g(&1.0)], ["10⁻⁵", "10⁻²", "10⁰"]);
        let h = axis_labels(0.01, 100.0, true);
        assert_eq!([h(&0.01), h(&0.5), h(&100.0)], ["0.01", "0.5", "100"]);
        // A large axis: powers of ten throughout.
        assert_eq!(axis_labels(0.0, 2e6, false)(&5e5), "5×10⁵");
    }

    #[test]
    fn histogram_bars_count_and_normalise() {
        let h = Histogram::new("h", "x", "n")
            .sample("a", vec![0.0, 0.5, 1.0, 1.0, f64::NAN])
            .bins(2);
        let bars = h.bars().unwrap();
        assert_eq!(bars[0].1, vec![(0.0, 0.5, 1.0), (0.5, 1.0, 3.0)]);
        let d = h.clone().density(true).bars().unwrap();
        let area: f64 = d[0].1.iter().map(|(a, b, v)| (b - a) * v).sum();
        assert!((area - 1.0).abs() < 1e-12, "{area}");
        assert!(
            Histogram::new("e", "x", "n")
                .sample("a", vec![])
                .bars()
                .is_err()
        );
        let r = Histogram::new("r", "x", "n")
            .sample("a", vec![0.0, 0.5, 5.0])
            .bins(2)
            .range(0.0, 1.0);
        assert_eq!(
            r.bars().unwrap()[0].1,
            vec![(0.0, 0.5, 1.0), (0.5, 1.0, 1.0)]
        );
    }

    #[test]
    fn plots_are_written_as_png_and_svg() {
        let dir = std::env::temp_dir().join(format!("wb-plot-test-{}", std::process::id()));
        let files = LinePlot::new("t", "x", "y")
            .series(Series::new("a", vec![(0.0, 1.0), (1.0, 0.1)]))
            .log_y(true)
            .save(&dir, "line")
            .unwrap();
        let png = std::fs::read(&files[0]).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let svg = std::fs::read_to_string(&files[1]).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("\nt\n</text>"),
            "{}",
            &svg[..200]
        );
        // Every panel reaches the SVG, not only the first.
        let panel = |title: &str| {
            LinePlot::new(title, "x", "y").series(Series::new("a", vec![(0.0, 1.0), (1.0, 2.0)]))
        };
        let files = Panels::new("two", 2)
            .line(panel("left panel"))
            .line(panel("right panel"))
            .save(&dir, "panels")
            .unwrap();
        let svg = std::fs::read_to_string(&files[1]).unwrap();
        assert!(
            svg.contains("left panel") && svg.contains("right panel"),
            "a panel is missing from the SVG"
        );
        let err = ScatterPlot::new("empty", "x", "y")
            .series(Series::new("a", vec![(f64::NAN, 1.0)]))
            .save(&dir, "empty")
            .unwrap_err();
        assert!(
            err.to_string().contains("no finite points in `empty`"),
            "{err}"
        );
    }
}
