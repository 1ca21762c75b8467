//! What every chart kind shares: the frame (title, axes, grid, legend and where it goes), tick
//! labels, line and dot drawing, and writing PNG + SVG.

use super::*;

/// A tick label on its own: `1000`, `0.25`, `2.5×10⁻⁴`. An axis formats all its ticks alike
/// with [`axis_labels`]; this is the one-number form.
pub fn tick_label(v: &f64) -> String {
    let a = v.abs();
    if a < 1e-12 {
        "0".into()
    } else if (1e-3..1e6).contains(&a) {
        trimmed(&format!("{v:.4}"))
    } else {
        power_of_ten(*v)
    }
}

/// One format for every tick of an axis from `lo` to `hi`, so that `0.001` never stands next
/// to `9e-4`: plain decimals with as many places as the tick spacing needs when the axis lies
/// within 0.001–10⁶, powers of ten (`2.5×10⁻⁴`) for every tick otherwise. On a logarithmic axis
/// the test is on the whole range, so a range reaching 10⁻⁵ writes 0.01 as `10⁻²`.
pub fn axis_labels(lo: f64, hi: f64, log: bool) -> impl Fn(&f64) -> String {
    let (small, large) = (lo.abs().min(hi.abs()), lo.abs().max(hi.abs()));
    let powers = if log {
        small < 1e-3 * (1.0 - 1e-9) || large >= 1e6
    } else {
        large >= 1e6 || (large > 0.0 && large < 1e-3)
    };
    // About ten ticks: two significant places of the spacing.
    let step = (hi - lo).abs() / 10.0;
    let places = if step > 0.0 && step.is_finite() {
        (1.0 - step.log10().floor()).clamp(0.0, 9.0) as usize
    } else {
        2
    };
    move |v: &f64| {
        if log && powers {
            power_of_ten(*v)
        } else if powers {
            if v.abs() < 1e-300 {
                "0".into()
            } else {
                power_of_ten(*v)
            }
        } else if log {
            let places = (1.0 - v.abs().log10().floor()).clamp(0.0, 9.0) as usize;
            trimmed(&format!("{v:.places$}"))
        } else {
            trimmed(&format!("{v:.places$}"))
        }
    }
}

/// `1.500` → `1.5`, `2.000` → `2`, `-0.000` → `0`, `-2.5` → `−2.5` (a minus sign, as in
/// the powers of ten).
fn trimmed(s: &str) -> String {
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    };
    match s.strip_prefix('-') {
        Some("0") => "0".into(),
        Some(rest) => format!("−{rest}"),
        None => s.into(),
    }
}

/// `2.5×10⁻⁴`, `10⁻⁵`, `−3×10⁶`: what a reader expects on an axis, where `1e-5` is code.
fn power_of_ten(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { format!("{v}") };
    }
    let mut e = v.abs().log10().floor() as i32;
    let mut m = v / 10f64.powi(e);
    // 9.99 rounds to 10.0: carry into the exponent.
    if (m.abs() * 10.0).round() >= 100.0 {
        e += 1;
        m = v / 10f64.powi(e);
    }
    let sup: String = e
        .to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            d => ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'][d as usize - '0' as usize],
        })
        .collect();
    let mantissa = trimmed(&format!("{:.1}", m.abs()));
    let sign = if v < 0.0 { "−" } else { "" };
    if mantissa == "1" {
        format!("{sign}10{sup}")
    } else {
        format!("{sign}{mantissa}×10{sup}")
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

/// How series `i` is drawn: the palette's colours in order, then the same colours dashed, so
/// that no two of the first 2 × 7 series look alike.
pub(crate) fn series_style(i: usize) -> (RGBColor, bool) {
    (PALETTE[i % PALETTE.len()], i >= PALETTE.len())
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
        let (color, dashed) = series_style(i + colour_offset);
        let dashed = dashed || s.dashed;
        let points = s.points.iter().copied().filter(|p| keep(p));
        let drawn = if dashed {
            chart.draw_series(DashedLineSeries::new(points, 9, 5, color.stroke_width(2)))
        } else {
            chart.draw_series(LineSeries::new(points, color.stroke_width(2)))
        };
        let legend = drawn.map_err(|e| e.to_string())?.label(s.name.clone());
        if dashed {
            legend.legend(move |(x, y)| {
                plotters::element::DashedPathElement::new(
                    [(x, y), (x + 22, y)],
                    8,
                    4,
                    color.stroke_width(2),
                )
            });
        } else {
            legend.legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
            });
        }
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

/// A hollow circle where each series starts and a filled triangle where it ends, with one
/// legend entry for each kind of mark.
pub(crate) fn draw_endpoints<DB, X, Y>(
    chart: &mut Chart<'_, DB, X, Y>,
    series: &[Series],
    keep: impl Fn(&(f64, f64)) -> bool,
    colour_offset: usize,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let (color, _) = series_style(i + colour_offset);
        let mut kept = s.points.iter().copied().filter(|p| keep(p));
        if let Some(first) = kept.next() {
            starts.push((first, color));
            ends.push((kept.last().unwrap_or(first), color));
        }
    }
    let ink = RGBColor(60, 60, 60);
    chart
        .draw_series(
            starts
                .iter()
                .map(|&(p, c)| Circle::new(p, 7, c.stroke_width(3))),
        )
        .map_err(|e| e.to_string())?
        .label("start")
        .legend(move |(x, y)| Circle::new((x + 10, y), 6, ink.stroke_width(2)));
    chart
        .draw_series(
            ends.iter()
                .map(|&(p, c)| TriangleMarker::new(p, 9, c.filled())),
        )
        .map_err(|e| e.to_string())?
        .label("end")
        .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 7, ink.filled()));
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
    /// The x axis is logarithmic.
    pub(crate) x_log: bool,
    /// Drawn as one panel of several ([`crate::Panels`]): smaller title and labels.
    pub(crate) small: bool,
    /// Some series has a name: draw the legend.
    pub(crate) legend_entries: bool,
}

impl Frame {
    pub(crate) fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_ticks: None,
            y_log: false,
            x_log: false,
            legend: None,
            small: false,
            legend_entries: true,
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
        f.legend_entries = entries.iter().any(|e| !e.is_empty());
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
        let s = self.scale();
        let mut chart = ChartBuilder::on(root)
            .caption(
                self.title.as_str(),
                (FONT_NAME, s.title).into_font().style(FontStyle::Bold),
            )
            .margin(s.margin)
            .x_label_area_size(s.x_area)
            .y_label_area_size(s.y_area)
            .build_cartesian_2d(x, y)
            .map_err(|e| e.to_string())?;
        let (xr, yr) = (chart.x_range(), chart.y_range());
        let x_labels = axis_labels(xr.start, xr.end, self.x_log);
        let y_labels = axis_labels(yr.start, yr.end, self.y_log);
        let mut mesh = chart.configure_mesh();
        if let Some(n) = self.x_ticks {
            mesh.x_labels(n);
        }
        mesh.x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&x_labels)
            .y_label_formatter(&y_labels)
            .label_style((FONT_NAME, s.label))
            .axis_desc_style((FONT_NAME, s.desc))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| e.to_string())?;
        body(&mut chart)?;
        if !self.legend_entries {
            return Ok(());
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font((FONT_NAME, s.label))
            .position(self.legend.clone().unwrap_or(LegendPosition::UpperRight))
            .draw()
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// Font sizes and margins of a frame: a whole plot's, or a panel's.
pub(crate) struct Scale {
    pub(crate) title: u32,
    pub(crate) label: u32,
    pub(crate) desc: u32,
    pub(crate) margin: u32,
    pub(crate) x_area: u32,
    pub(crate) y_area: u32,
}

impl Frame {
    pub(crate) fn scale(&self) -> Scale {
        if self.small {
            Scale {
                title: 17,
                label: 12,
                desc: 13,
                margin: 10,
                x_area: 38,
                y_area: 62,
            }
        } else {
            Scale {
                title: 26,
                label: 15,
                desc: 17,
                margin: 20,
                x_area: 50,
                y_area: 80,
            }
        }
    }
}

/// Fills `root` white, writes `title` centred in a band of `band` pixels at the top, and returns
/// the area below it (the canvas of image grids and small multiples).
pub(crate) fn under_title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    band: u32,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (top, body) = root.split_vertically(band);
    let anchor = plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Top,
    );
    let style = (FONT_NAME, 26)
        .into_font()
        .style(FontStyle::Bold)
        .color(&BLACK)
        .pos(anchor);
    top.draw(&Text::new(
        title,
        (top.dim_in_pixel().0 as i32 / 2, 12),
        style,
    ))
    .map_err(|e| e.to_string())?;
    Ok(body)
}

/// A plot that can draw itself on any plotters backend.
pub(crate) trait Render {
    fn name(&self) -> &str;
    /// The canvas in pixels.
    fn size(&self) -> (u32, u32) {
        SIZE
    }
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
    let size = plot.size();
    // A plot draws; only the whole canvas is presented, once, at the end: presenting an SVG
    // finishes its document, so a panel that presented its own area would end it after the
    // first panel and drop the others.
    {
        let bitmap = BitMapBackend::new(&png, size).into_drawing_area();
        plot.render(&bitmap).map_err(|d| draw_err(&png, d))?;
        bitmap
            .present()
            .map_err(|e| draw_err(&png, e.to_string()))?;
    }
    {
        let vector = SVGBackend::new(&svg, size).into_drawing_area();
        plot.render(&vector).map_err(|d| draw_err(&svg, d))?;
        vector
            .present()
            .map_err(|e| draw_err(&svg, e.to_string()))?;
    }
    Ok(vec![png, svg])
}
