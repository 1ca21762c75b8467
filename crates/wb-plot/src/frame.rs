//! What every chart kind shares: the frame (title, axes, grid, legend and where it goes), tick
//! labels, line and dot drawing, and writing PNG + SVG.

use super::*;

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

pub(crate) fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
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

pub(crate) type Chart<'a, DB, X, Y> = ChartContext<'a, DB, Cartesian2d<X, Y>>;

/// Each series as translucent dots, in palette order from the first colour.
pub(crate) fn draw_dots<DB, X, Y>(
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

pub(crate) fn draw_lines<DB, X, Y>(
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
pub(crate) struct Frame {
    pub(crate) title: String,
    pub(crate) x_label: String,
    pub(crate) y_label: String,
    /// How many ticks to aim for on the x axis (plotters' default when None).
    pub(crate) x_ticks: Option<usize>,
    /// Where the legend goes; `None`: the freest corner ([`best_corner`]), worked out by the plot
    /// from its data before drawing.
    pub(crate) legend: Option<LegendPosition>,
    /// The y axis is logarithmic: its ticks are never rounded to 0.
    pub(crate) y_log: bool,
}

impl Frame {
    pub(crate) fn new(title: &str, x_label: &str, y_label: &str) -> Self {
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
    pub(crate) fn placed(
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

    pub(crate) fn draw<DB, XR, YR>(
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
pub(crate) trait Render {
    fn name(&self) -> &str;
    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Renders `plot` on a PNG and an SVG backend, writing `dir/stem.{png,svg}`.
pub(crate) fn save_both(
    dir: &Path,
    stem: &str,
    plot: &impl Render,
) -> Result<Vec<PathBuf>, PlotError> {
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
