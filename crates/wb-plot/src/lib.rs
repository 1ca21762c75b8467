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

/// Colours of successive series (colour-blind friendly, Okabe–Ito).
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
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
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
        }
    }
}

/// Lines over a common x axis, for example loss curves.
#[derive(Debug, Clone)]
pub struct LinePlot {
    frame: Frame,
    series: Vec<Series>,
    points: Vec<Series>,
    log_y: bool,
    markers: bool,
    y_range: Option<(f64, f64)>,
}

impl LinePlot {
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            frame: Frame::new(title, x_label, y_label),
            series: Vec::new(),
            points: Vec::new(),
            log_y: false,
            markers: false,
            y_range: None,
        }
    }

    /// A fixed y axis from `lo` to `hi` (for example 0–100 % for an accuracy, so that a flat
    /// 100 % is drawn at the top of a scale that makes sense, not in a band around it).
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo.min(hi), lo.max(hi)));
        self
    }

    pub fn series(mut self, s: Series) -> Self {
        self.series.push(s);
        self
    }

    /// A series drawn as dots instead of a line (for example the data a curve was fitted to).
    pub fn points(mut self, s: Series) -> Self {
        self.points.push(s);
        self
    }

    /// Aim for about `n` ticks on the x axis (for example one per year).
    pub fn x_ticks(mut self, n: usize) -> Self {
        self.frame.x_ticks = Some(n.max(2));
        self
    }

    /// Where the legend goes. Unless set, the corner its box covers the fewest data in.
    pub fn legend(mut self, position: LegendPosition) -> Self {
        self.frame.legend = Some(position);
        self
    }

    /// A dot on every point of every line, for lines through a few measurements (where the
    /// line between two of them is not measured).
    pub fn markers(mut self, on: bool) -> Self {
        self.markers = on;
        self
    }

    /// A logarithmic y axis (values ≤ 0 are left out).
    pub fn log_y(mut self, on: bool) -> Self {
        self.log_y = on;
        self.frame.y_log = on;
        self
    }

    /// Writes `dir/stem.png` and `dir/stem.svg` and returns their paths.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, PlotError> {
        save_both(dir, stem, self)
    }

    fn keep(&self, (x, y): &(f64, f64)) -> bool {
        x.is_finite() && y.is_finite() && (!self.log_y || *y > 0.0)
    }
}

impl Render for LinePlot {
    fn name(&self) -> &str {
        &self.frame.title
    }

    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let points = || {
            self.series
                .iter()
                .chain(&self.points)
                .flat_map(|s| s.points.iter().copied())
                .filter(|p| self.keep(p))
        };
        let no_data = || format!("no finite points in `{}`", self.frame.title);
        let (x0, x1) = bounds(points().map(|p| p.0)).ok_or_else(no_data)?;
        let (y0, y1) = bounds(points().map(|p| p.1)).ok_or_else(no_data)?;
        let dots = self.points.len();
        if let (Some((lo, hi)), false) = (self.y_range, self.log_y) {
            let data: Vec<(&[(f64, f64)], bool)> = self
                .series
                .iter()
                .map(|s| (s.points.as_slice(), true))
                .chain(self.points.iter().map(|s| (s.points.as_slice(), false)))
                .collect();
            let entries: Vec<&str> = self
                .series
                .iter()
                .chain(&self.points)
                .map(|s| s.name.as_str())
                .collect();
            let frame = self.frame.placed(&data, (x0, x1), (lo, hi), &entries);
            return frame.draw(root, x0..x1, lo..hi, |c| {
                draw_dots(c, &self.points, |p| self.keep(p))?;
                draw_lines(c, &self.series, |p| self.keep(p), dots, self.markers)
            });
        }
        let data: Vec<(&[(f64, f64)], bool)> = self
            .series
            .iter()
            .map(|s| (s.points.as_slice(), true))
            .chain(self.points.iter().map(|s| (s.points.as_slice(), false)))
            .collect();
        let entries: Vec<&str> = self
            .series
            .iter()
            .chain(&self.points)
            .map(|s| s.name.as_str())
            .collect();
        if self.log_y {
            let frame = self
                .frame
                .placed(&data, (x0, x1), (y0 * 0.8, y1 * 1.25), &entries);
            let frame = &frame;
            frame.draw(root, x0..x1, (y0 * 0.8..y1 * 1.25).log_scale(), |c| {
                draw_dots(c, &self.points, |p| self.keep(p))?;
                draw_lines(c, &self.series, |p| self.keep(p), dots, self.markers)
            })
        } else {
            let pad = (y1 - y0).abs().max(1e-12) * 0.05;
            let frame = self
                .frame
                .placed(&data, (x0, x1), (y0 - pad, y1 + pad), &entries);
            let frame = &frame;
            frame.draw(root, x0..x1, (y0 - pad)..(y1 + pad), |c| {
                draw_dots(c, &self.points, |p| self.keep(p))?;
                draw_lines(c, &self.series, |p| self.keep(p), dots, self.markers)
            })
        }
    }
}

/// One histogram bar: (left edge, right edge, height).
pub type Bar = (f64, f64, f64);

/// Histograms of one or more samples over common bins, drawn as translucent bars, for example a
/// feature's distribution per class. With `density`, bar heights are densities (area 1), so samples
/// of different sizes compare.
#[derive(Debug, Clone)]
pub struct Histogram {
    frame: Frame,
    samples: Vec<(String, Vec<f64>)>,
    bins: usize,
    density: bool,
    range: Option<(f64, f64)>,
    curves: Vec<Series>,
}

impl Histogram {
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            frame: Frame::new(title, x_label, y_label),
            samples: Vec::new(),
            bins: 30,
            density: false,
            range: None,
            curves: Vec::new(),
        }
    }

    /// Adds a named sample (non-finite values are left out).
    pub fn sample(mut self, name: impl Into<String>, values: Vec<f64>) -> Self {
        self.samples.push((name.into(), values));
        self
    }

    /// Number of equal-width bins between the smallest and largest value (30 unless set; at least 1).
    pub fn bins(mut self, bins: usize) -> Self {
        self.bins = bins.max(1);
        self
    }

    /// Heights as densities instead of counts.
    pub fn density(mut self, on: bool) -> Self {
        self.density = on;
        self
    }

    /// Bins span [lo, hi] instead of the data's range; values outside are left out of the bars
    /// (densities still divide by every value, so a long tail's share is not inflated).
    pub fn range(mut self, lo: f64, hi: f64) -> Self {
        if lo.is_finite() && hi.is_finite() && lo < hi {
            self.range = Some((lo, hi));
        }
        self
    }

    /// A line drawn over the bars, for example the density a theory predicts.
    pub fn curve(mut self, s: Series) -> Self {
        self.curves.push(s);
        self
    }

    /// The bars of every sample: (name, [(left edge, right edge, height)]).
    pub fn bars(&self) -> Result<Vec<(String, Vec<Bar>)>, String> {
        let all = self
            .samples
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|v| v.is_finite());
        let (lo, hi) = match (self.range, bounds(all)) {
            (_, None) => return Err(format!("no finite values in `{}`", self.frame.title)),
            (Some(r), Some(_)) => r,
            (None, Some(b)) => b,
        };
        let width = (hi - lo) / self.bins as f64;
        Ok(self
            .samples
            .iter()
            .map(|(name, values)| {
                let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
                let mut counts = vec![0usize; self.bins];
                for v in finite.iter().filter(|v| (lo..=hi).contains(*v)) {
                    let k = (((v - lo) / width) as usize).min(self.bins - 1);
                    counts[k] += 1;
                }
                let scale = if self.density && !finite.is_empty() {
                    1.0 / (finite.len() as f64 * width)
                } else {
                    1.0
                };
                let bars = counts
                    .iter()
                    .enumerate()
                    .map(|(k, &c)| {
                        (
                            lo + k as f64 * width,
                            lo + (k + 1) as f64 * width,
                            c as f64 * scale,
                        )
                    })
                    .collect();
                (name.clone(), bars)
            })
            .collect())
    }

    /// Writes `dir/stem.png` and `dir/stem.svg` and returns their paths.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, PlotError> {
        save_both(dir, stem, self)
    }
}

impl Render for Histogram {
    fn name(&self) -> &str {
        &self.frame.title
    }

    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let bars = self.bars()?;
        let x0 = bars
            .iter()
            .flat_map(|(_, b)| b.first().map(|b| b.0))
            .fold(f64::INFINITY, f64::min);
        let x1 = bars
            .iter()
            .flat_map(|(_, b)| b.last().map(|b| b.1))
            .fold(f64::NEG_INFINITY, f64::max);
        let curve_top = self
            .curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.1))
            .filter(|v| v.is_finite());
        let top = bars
            .iter()
            .flat_map(|(_, b)| b.iter().map(|b| b.2))
            .chain(curve_top)
            .fold(0.0_f64, f64::max);
        let top = if top > 0.0 { top * 1.08 } else { 1.0 };
        self.frame.draw(root, x0..x1, 0.0..top, |chart| {
            for (i, (name, bars)) in bars.iter().enumerate() {
                let color = PALETTE[i % PALETTE.len()];
                chart
                    .draw_series(bars.iter().map(|&(a, b, h)| {
                        Rectangle::new([(a, 0.0), (b, h)], color.mix(0.45).filled())
                    }))
                    .map_err(|e| e.to_string())?
                    .label(name.clone())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.mix(0.45).filled())
                    });
            }
            let offset = bars.len();
            draw_lines(
                chart,
                &self.curves,
                |(x, y)| x.is_finite() && y.is_finite(),
                offset,
                false,
            )
        })
    }
}

/// A matrix of counts drawn as shaded cells with their values written in them, for example a
/// confusion matrix (rows: true class, columns: predicted class).
#[derive(Debug, Clone)]
pub struct Heatmap {
    frame: Frame,
    row_names: Vec<String>,
    col_names: Vec<String>,
    /// values[r][c]
    values: Vec<Vec<f64>>,
}

impl Heatmap {
    /// `values[r][c]` is drawn in row r (from the top) and column c.
    pub fn new(
        title: &str,
        x_label: &str,
        y_label: &str,
        row_names: Vec<String>,
        col_names: Vec<String>,
        values: Vec<Vec<f64>>,
    ) -> Self {
        Self {
            frame: Frame::new(title, x_label, y_label),
            row_names,
            col_names,
            values,
        }
    }

    /// Writes `dir/stem.png` and `dir/stem.svg` and returns their paths.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, PlotError> {
        save_both(dir, stem, self)
    }
}

impl Render for Heatmap {
    fn name(&self) -> &str {
        &self.frame.title
    }

    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (nr, nc) = (self.row_names.len(), self.col_names.len());
        if nr == 0
            || nc == 0
            || self.values.len() != nr
            || self.values.iter().any(|r| r.len() != nc)
        {
            return Err(format!(
                "`{}`: the values are not a {nr} × {nc} matrix",
                self.frame.title
            ));
        }
        let top = self
            .values
            .iter()
            .flatten()
            .fold(0.0_f64, |m, &v| m.max(v))
            .max(f64::MIN_POSITIVE);
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (cols, rows) = (self.col_names.clone(), self.row_names.clone());
        let mut chart = ChartBuilder::on(root)
            .caption(
                self.frame.title.as_str(),
                (FONT_NAME, 26).into_font().style(FontStyle::Bold),
            )
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(110)
            .build_cartesian_2d(0.0..nc as f64, 0.0..nr as f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&self.frame.x_label)
            .y_desc(&self.frame.y_label)
            .x_labels(nc * 2 + 1)
            .y_labels(nr * 2 + 1)
            .x_label_formatter(&move |v| {
                let k = v.floor() as usize;
                if (v - v.floor() - 0.5).abs() < 1e-6 && k < cols.len() {
                    cols[k].clone()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&move |v| {
                let k = v.floor() as usize;
                if (v - v.floor() - 0.5).abs() < 1e-6 && k < rows.len() {
                    rows[rows.len() - 1 - k].clone()
                } else {
                    String::new()
                }
            })
            .label_style((FONT_NAME, 15))
            .axis_desc_style((FONT_NAME, 17))
            .draw()
            .map_err(|e| e.to_string())?;
        for (r, row) in self.values.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let y = (nr - 1 - r) as f64;
                let shade = PALETTE[0].mix(0.08 + 0.85 * v / top);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(c as f64, y), (c as f64 + 1.0, y + 1.0)],
                        shade.filled(),
                    )))
                    .map_err(|e| e.to_string())?;
                let ink = if v / top > 0.55 { WHITE } else { BLACK };
                let label = if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                };
                chart
                    .draw_series(std::iter::once(Text::new(
                        label,
                        (c as f64 + 0.5, y + 0.5),
                        (FONT_NAME, 22).into_font().color(&ink).pos(
                            plotters::style::text_anchor::Pos::new(
                                plotters::style::text_anchor::HPos::Center,
                                plotters::style::text_anchor::VPos::Center,
                            ),
                        ),
                    )))
                    .map_err(|e| e.to_string())?;
            }
        }
        root.present().map_err(|e| e.to_string())
    }
}

/// Small images in a grid, each with its title: learned filters, feature maps, digits.
/// Each image is scaled on its own: greys from its minimum (white) to its maximum (black), or,
/// when `diverging`, blue for positive and orange for negative values, white at zero.
#[derive(Debug, Clone)]
pub struct ImageGrid {
    title: String,
    cols: usize,
    diverging: bool,
    /// (title, width, height, row-major pixels)
    images: Vec<(String, usize, usize, Vec<f64>)>,
}

impl ImageGrid {
    pub fn new(title: &str, cols: usize) -> Self {
        Self {
            title: title.into(),
            cols: cols.max(1),
            diverging: false,
            images: Vec::new(),
        }
    }

    /// Adds one `width × height` image given row by row.
    pub fn image(
        mut self,
        title: impl Into<String>,
        width: usize,
        height: usize,
        pixels: Vec<f64>,
    ) -> Self {
        self.images.push((title.into(), width, height, pixels));
        self
    }

    pub fn diverging(mut self, on: bool) -> Self {
        self.diverging = on;
        self
    }

    /// Writes `dir/stem.png` and `dir/stem.svg` and returns their paths.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, PlotError> {
        save_both(dir, stem, self)
    }
}

impl Render for ImageGrid {
    fn name(&self) -> &str {
        &self.title
    }

    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        if self.images.is_empty() {
            return Err(format!("`{}`: no images", self.title));
        }
        for (name, w, h, px) in &self.images {
            if *w == 0 || *h == 0 || px.len() != w * h {
                return Err(format!(
                    "`{}`: image `{name}` has {} pixels, not {w} × {h}",
                    self.title,
                    px.len()
                ));
            }
        }
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let area = root
            .titled(
                &self.title,
                (FONT_NAME, 26).into_font().style(FontStyle::Bold),
            )
            .map_err(|e| e.to_string())?;
        let rows = self.images.len().div_ceil(self.cols);
        let panels = area.margin(5, 5, 10, 10).split_evenly((rows, self.cols));
        for (panel, (name, w, h, px)) in panels.iter().zip(&self.images) {
            let inner = panel
                .titled(name, (FONT_NAME, 14))
                .map_err(|e| e.to_string())?;
            let (pw, ph) = inner.dim_in_pixel();
            let cell = ((pw as f64 - 4.0) / *w as f64)
                .min((ph as f64 - 4.0) / *h as f64)
                .max(1.0);
            let x0 = (pw as f64 - cell * *w as f64) / 2.0;
            let y0 = (ph as f64 - cell * *h as f64) / 2.0;
            let (lo, hi) = px
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            let amax = lo.abs().max(hi.abs()).max(f64::MIN_POSITIVE);
            for r in 0..*h {
                for c in 0..*w {
                    let v = px[r * w + c];
                    let colour = if self.diverging {
                        let t = (v / amax).clamp(-1.0, 1.0);
                        let base = if t >= 0.0 { PALETTE[0] } else { PALETTE[1] };
                        let a = t.abs();
                        RGBColor(
                            (255.0 + (f64::from(base.0) - 255.0) * a) as u8,
                            (255.0 + (f64::from(base.1) - 255.0) * a) as u8,
                            (255.0 + (f64::from(base.2) - 255.0) * a) as u8,
                        )
                    } else {
                        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
                        let g = (255.0 * (1.0 - t)) as u8;
                        RGBColor(g, g, g)
                    };
                    let (xa, ya) = (x0 + c as f64 * cell, y0 + r as f64 * cell);
                    inner
                        .draw(&Rectangle::new(
                            [
                                (xa as i32, ya as i32),
                                ((xa + cell).ceil() as i32, (ya + cell).ceil() as i32),
                            ],
                            colour.filled(),
                        ))
                        .map_err(|e| e.to_string())?;
                }
            }
            inner
                .draw(&Rectangle::new(
                    [
                        (x0 as i32 - 1, y0 as i32 - 1),
                        (
                            (x0 + cell * *w as f64) as i32 + 1,
                            (y0 + cell * *h as f64) as i32 + 1,
                        ),
                    ],
                    BLACK.mix(0.4).stroke_width(1),
                ))
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())
    }
}

/// The decision regions of a classifier over two features: a grid of cells tinted by the class
/// predicted there, with the labelled points on top.
#[derive(Debug, Clone)]
pub struct DecisionRegions {
    frame: Frame,
    /// (x range, y range, cells along x, cells along y)
    grid: ((f64, f64), (f64, f64), usize, usize),
    /// The class of each cell, row-major: cell (i, j) at `i * ny + j`, i along x.
    cells: Vec<usize>,
    classes: Vec<String>,
    points: Vec<(f64, f64, usize)>,
}

impl DecisionRegions {
    /// `cells[i * ny + j]` is the class predicted at the centre of cell (i, j) of an `nx × ny`
    /// grid over `x_range × y_range`.
    pub fn new(
        title: &str,
        x_label: &str,
        y_label: &str,
        x_range: (f64, f64),
        y_range: (f64, f64),
        (nx, ny): (usize, usize),
        cells: Vec<usize>,
    ) -> Self {
        Self {
            frame: Frame::new(title, x_label, y_label),
            grid: (x_range, y_range, nx, ny),
            cells,
            classes: Vec::new(),
            points: Vec::new(),
        }
    }

    /// The centres of an `nx × ny` grid over the ranges, row-major as `new` expects.
    pub fn cell_centres(
        x_range: (f64, f64),
        y_range: (f64, f64),
        (nx, ny): (usize, usize),
    ) -> Vec<(f64, f64)> {
        let (dx, dy) = (
            (x_range.1 - x_range.0) / nx as f64,
            (y_range.1 - y_range.0) / ny as f64,
        );
        (0..nx * ny)
            .map(|k| {
                (
                    x_range.0 + ((k / ny) as f64 + 0.5) * dx,
                    y_range.0 + ((k % ny) as f64 + 0.5) * dy,
                )
            })
            .collect()
    }

    /// The class names, in class-index order.
    pub fn classes(mut self, names: Vec<String>) -> Self {
        self.classes = names;
        self
    }

    /// A labelled point.
    pub fn point(mut self, x: f64, y: f64, class: usize) -> Self {
        self.points.push((x, y, class));
        self
    }

    /// Writes `dir/stem.png` and `dir/stem.svg` and returns their paths.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, PlotError> {
        save_both(dir, stem, self)
    }
}

impl Render for DecisionRegions {
    fn name(&self) -> &str {
        &self.frame.title
    }

    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let ((x0, x1), (y0, y1), nx, ny) = self.grid;
        if nx == 0 || ny == 0 || self.cells.len() != nx * ny || !(x0 < x1 && y0 < y1) {
            return Err(format!(
                "`{}`: {} cells for a {nx} × {ny} grid",
                self.frame.title,
                self.cells.len()
            ));
        }
        let (dx, dy) = ((x1 - x0) / nx as f64, (y1 - y0) / ny as f64);
        self.frame.draw(root, x0..x1, y0..y1, |chart| {
            chart
                .draw_series(self.cells.iter().enumerate().map(|(k, &c)| {
                    let (i, j) = ((k / ny) as f64, (k % ny) as f64);
                    let color = PALETTE[c % PALETTE.len()].mix(0.18);
                    Rectangle::new(
                        [
                            (x0 + i * dx, y0 + j * dy),
                            (x0 + (i + 1.0) * dx, y0 + (j + 1.0) * dy),
                        ],
                        color.filled(),
                    )
                }))
                .map_err(|e| e.to_string())?;
            for (c, name) in self.classes.iter().enumerate() {
                let color = PALETTE[c % PALETTE.len()];
                chart
                    .draw_series(self.points.iter().filter(|p| p.2 == c).map(|&(x, y, _)| {
                        EmptyElement::at((x, y))
                            + Circle::new((0, 0), 4, color.filled())
                            + Circle::new((0, 0), 4, BLACK.stroke_width(1))
                    }))
                    .map_err(|e| e.to_string())?
                    .label(name.clone())
                    .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
            }
            Ok(())
        })
    }
}

/// Points, optionally with the line y = x: "predicted against actual".
#[derive(Debug, Clone)]
pub struct ScatterPlot {
    frame: Frame,
    series: Vec<Series>,
    identity_line: bool,
}

impl ScatterPlot {
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            frame: Frame::new(title, x_label, y_label),
            series: Vec::new(),
            identity_line: false,
        }
    }

    pub fn series(mut self, s: Series) -> Self {
        self.series.push(s);
        self
    }

    /// Draws the diagonal y = x, where perfect predictions would lie.
    pub fn identity_line(mut self, on: bool) -> Self {
        self.identity_line = on;
        self
    }

    /// Writes `dir/stem.png` and `dir/stem.svg` and returns their paths.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, PlotError> {
        save_both(dir, stem, self)
    }
}

impl Render for ScatterPlot {
    fn name(&self) -> &str {
        &self.frame.title
    }

    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let finite = |(x, y): &(f64, f64)| x.is_finite() && y.is_finite();
        let points = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().copied())
                .filter(finite)
        };
        let no_data = || format!("no finite points in `{}`", self.frame.title);
        let (mut x0, mut x1) = bounds(points().map(|p| p.0)).ok_or_else(no_data)?;
        let (mut y0, mut y1) = bounds(points().map(|p| p.1)).ok_or_else(no_data)?;
        if self.identity_line {
            // Same range on both axes, so that the diagonal is at 45 degrees.
            x0 = x0.min(y0);
            y0 = x0;
            x1 = x1.max(y1);
            y1 = x1;
        }
        let pad = |a: f64, b: f64| (b - a).abs().max(1e-12) * 0.04;
        let (px, py) = (pad(x0, x1), pad(y0, y1));
        let diagonal = [(x0 - px, x0 - px), (x1 + px, x1 + px)];
        let mut data: Vec<(&[(f64, f64)], bool)> = self
            .series
            .iter()
            .map(|s| (s.points.as_slice(), false))
            .collect();
        let mut entries: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        if self.identity_line {
            data.push((&diagonal, true));
            entries.push("y = x (perfect prediction)");
        }
        let frame = self
            .frame
            .placed(&data, (x0 - px, x1 + px), (y0 - py, y1 + py), &entries);
        let frame = &frame;
        frame.draw(root, (x0 - px)..(x1 + px), (y0 - py)..(y1 + py), |chart| {
            if self.identity_line {
                chart
                    .draw_series(LineSeries::new(
                        [(x0 - px, x0 - px), (x1 + px, x1 + px)],
                        BLACK.mix(0.5).stroke_width(1),
                    ))
                    .map_err(|e| e.to_string())?
                    .label("y = x (perfect prediction)")
                    .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.5)));
            }
            draw_dots(chart, &self.series, finite)
        })
    }
}

/// Tick labels for people: `1000`, `0.25`, `2.5e-4`.
pub fn tick_label(v: &f64) -> String {
    let a = v.abs();
    if v.abs() < 1e-12 {
        "0".into()
    } else if (1e-3..1e6).contains(&a) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{v:.1e}").replace(".0e", "e")
    }
}

/// Tick labels of a logarithmic axis: as [`tick_label`], but a tiny value is written as itself
/// (1e-15), never as 0, which a log axis cannot reach.
pub fn log_tick_label(v: &f64) -> String {
    if *v != 0.0 && v.abs() < 1e-12 {
        format!("{v:.1e}").replace(".0e", "e")
    } else {
        tick_label(v)
    }
}

fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return None;
    }
    if lo == hi {
        return Some((lo - 0.5, hi + 0.5));
    }
    Some((lo, hi))
}

type Chart<'a, DB, X, Y> = ChartContext<'a, DB, Cartesian2d<X, Y>>;

/// Each series as translucent dots, in palette order from the first colour.
fn draw_dots<DB, X, Y>(
    chart: &mut Chart<'_, DB, X, Y>,
    series: &[Series],
    keep: impl Fn(&(f64, f64)) -> bool,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(
                s.points
                    .iter()
                    .filter(|p| keep(p))
                    .map(|&p| Circle::new(p, 3, color.mix(0.6).filled())),
            )
            .map_err(|e| e.to_string())?
            .label(s.name.clone())
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
    }
    Ok(())
}

fn draw_lines<DB, X, Y>(
    chart: &mut Chart<'_, DB, X, Y>,
    series: &[Series],
    keep: impl Fn(&(f64, f64)) -> bool,
    colour_offset: usize,
    markers: bool,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[(i + colour_offset) % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied().filter(|p| keep(p)),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        if markers {
            chart
                .draw_series(
                    s.points
                        .iter()
                        .filter(|p| keep(p))
                        .map(|&p| Circle::new(p, 4, color.filled())),
                )
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The corner of the plot where a legend of `entries` covers the fewest data points. `data` holds
/// each series' points, and whether they are joined by a line: a line is sampled between its
/// points too, so a line crossing a corner counts. The legend's box is
/// estimated from its labels' length and number, as a share of the plotting area (about 8 px a
/// character of a 720 px wide area, 19 px a row of a 470 px high one). On a tie the upper right,
/// then upper left, lower right, lower left.
pub fn best_corner(
    data: &[(&[(f64, f64)], bool)],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    log_y: bool,
    entries: &[&str],
) -> LegendPosition {
    let longest = entries.iter().map(|e| e.chars().count()).max().unwrap_or(0);
    let w = ((longest as f64 * 8.0 + 50.0) / 720.0).min(0.9);
    let h = ((entries.len() as f64 * 19.0 + 16.0) / 470.0).min(0.9);
    let ty = |v: f64| {
        if log_y {
            v.max(f64::MIN_POSITIVE).ln()
        } else {
            v
        }
    };
    let (ya, yb) = (ty(y0), ty(y1));
    let norm = |(x, y): (f64, f64)| {
        (
            (x - x0) / (x1 - x0).abs().max(1e-300),
            (ty(y) - ya) / (yb - ya).abs().max(1e-300),
        )
    };
    let corners = [
        (LegendPosition::UpperRight, (1.0 - w, 1.0), (1.0 - h, 1.0)),
        (LegendPosition::UpperLeft, (0.0, w), (1.0 - h, 1.0)),
        (LegendPosition::LowerRight, (1.0 - w, 1.0), (0.0, h)),
        (LegendPosition::LowerLeft, (0.0, w), (0.0, h)),
    ];
    let mut count = [0usize; 4];
    let mut visit = |p: (f64, f64)| {
        let (u, v) = norm(p);
        for (k, (_, (ua, ub), (va, vb))) in corners.iter().enumerate() {
            if u >= *ua && u <= *ub && v >= *va && v <= *vb {
                count[k] += 1;
            }
        }
    };
    for (points, joined) in data {
        let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
        for p in points.iter().filter(finite) {
            visit(*p);
        }
        if *joined {
            for pair in points.windows(2) {
                let ((ax, ay), (bx, by)) = (pair[0], pair[1]);
                for k in 1..4 {
                    let t = k as f64 / 4.0;
                    visit((ax + t * (bx - ax), ay + t * (by - ay)));
                }
            }
        }
    }
    let best = (0..4).min_by_key(|&k| count[k]).unwrap_or(0);
    corners[best].0.clone()
}

/// Title, axes, grid and legend: the parts every plot shares.
#[derive(Debug, Clone)]
struct Frame {
    title: String,
    x_label: String,
    y_label: String,
    /// How many ticks to aim for on the x axis (plotters' default when None).
    x_ticks: Option<usize>,
    /// Where the legend goes; `None`: the freest corner ([`best_corner`]), worked out by the plot
    /// from its data before drawing.
    legend: Option<LegendPosition>,
    /// The y axis is logarithmic: its ticks are never rounded to 0.
    y_log: bool,
}

impl Frame {
    fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_ticks: None,
            y_log: false,
            legend: None,
        }
    }

    /// This frame with its legend placed: as set, or in the corner where a legend of `entries`
    /// (their labels) covers the fewest of `points` in the data ranges `x` and `y`.
    fn placed(
        &self,
        data: &[(&[(f64, f64)], bool)],
        x: (f64, f64),
        y: (f64, f64),
        entries: &[&str],
    ) -> Frame {
        let mut f = self.clone();
        if f.legend.is_none() {
            f.legend = Some(best_corner(data, x, y, self.y_log, entries));
        }
        f
    }

    fn draw<DB, XR, YR>(
        &self,
        root: &DrawingArea<DB, Shift>,
        x: XR,
        y: YR,
        body: impl FnOnce(
            &mut Chart<'_, DB, XR::CoordDescType, YR::CoordDescType>,
        ) -> Result<(), String>,
    ) -> Result<(), String>
    where
        DB: DrawingBackend,
        XR: AsRangedCoord<Value = f64>,
        YR: AsRangedCoord<Value = f64>,
        XR::CoordDescType: ValueFormatter<f64>,
        YR::CoordDescType: ValueFormatter<f64>,
    {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(root)
            .caption(
                self.title.as_str(),
                (FONT_NAME, 26).into_font().style(FontStyle::Bold),
            )
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(x, y)
            .map_err(|e| e.to_string())?;
        let mut mesh = chart.configure_mesh();
        if let Some(n) = self.x_ticks {
            mesh.x_labels(n);
        }
        mesh.x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&tick_label)
            .y_label_formatter(if self.y_log {
                &log_tick_label
            } else {
                &tick_label
            })
            .label_style((FONT_NAME, 15))
            .axis_desc_style((FONT_NAME, 17))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| e.to_string())?;
        body(&mut chart)?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font((FONT_NAME, 15))
            .position(self.legend.clone().unwrap_or(LegendPosition::UpperRight))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())
    }
}

/// A plot that can draw itself on any plotters backend.
trait Render {
    fn name(&self) -> &str;
    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Renders `plot` on a PNG and an SVG backend, writing `dir/stem.{png,svg}`.
fn save_both(dir: &Path, stem: &str, plot: &impl Render) -> Result<Vec<PathBuf>, PlotError> {
    register_fonts();
    std::fs::create_dir_all(dir).map_err(|source| PlotError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    let draw_err = |path: &Path, detail: String| PlotError::Draw {
        path: path.to_path_buf(),
        detail: format!("{}: {detail}", plot.name()),
    };
    plot.render(&BitMapBackend::new(&png, SIZE).into_drawing_area())
        .map_err(|d| draw_err(&png, d))?;
    plot.render(&SVGBackend::new(&svg, SIZE).into_drawing_area())
        .map_err(|d| draw_err(&svg, d))?;
    Ok(vec![png, svg])
}

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
    fn tick_labels_are_short() {
        assert_eq!(tick_label(&1000.0), "1000");
        assert_eq!(tick_label(&0.25), "0.25");
        assert_eq!(tick_label(&0.0), "0");
        assert_eq!(tick_label(&2.5e-4), "2.5e-4");
        assert_eq!(tick_label(&1e-5), "1e-5");
        assert_eq!(log_tick_label(&1e-15), "1e-15");
        assert_eq!(log_tick_label(&0.25), "0.25");
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
