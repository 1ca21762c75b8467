//! Lines over a common x axis, for example loss curves.

use super::*;

/// Lines over a common x axis, for example loss curves.
#[derive(Debug, Clone)]
pub struct LinePlot {
    frame: Frame,
    series: Vec<Series>,
    points: Vec<Series>,
    log_y: bool,
    log_x: bool,
    markers: bool,
    endpoints: bool,
    y_range: Option<(f64, f64)>,
    x_range: Option<(f64, f64)>,
    paired: bool,
    field: Option<Field>,
}

/// A function of (x, y) sampled on a grid and drawn under the lines as filled contour bands:
/// the darker the band, the lower the value. The plot's axes span the grid.
#[derive(Debug, Clone)]
pub struct Field {
    x: (f64, f64),
    y: (f64, f64),
    cells: (usize, usize),
    /// values[j * nx + i]: the value at the centre of cell (i, j), j counted from the bottom.
    values: Vec<f64>,
    levels: Vec<f64>,
}

impl Field {
    /// `f` at the centres of `cells.0 × cells.1` cells over `x` × `y`, banded at `levels`
    /// (increasing; a value below the first is the darkest band).
    pub fn sample(
        x: (f64, f64),
        y: (f64, f64),
        cells: (usize, usize),
        levels: Vec<f64>,
        f: impl Fn(f64, f64) -> f64,
    ) -> Self {
        let (nx, ny) = (cells.0.max(1), cells.1.max(1));
        let (dx, dy) = ((x.1 - x.0) / nx as f64, (y.1 - y.0) / ny as f64);
        let values = (0..ny)
            .flat_map(|j| (0..nx).map(move |i| (i, j)))
            .map(|(i, j)| f(x.0 + (i as f64 + 0.5) * dx, y.0 + (j as f64 + 0.5) * dy))
            .collect();
        Self {
            x,
            y,
            cells: (nx, ny),
            values,
            levels,
        }
    }

    /// The band of `v`: how many levels lie at or below it.
    fn band(&self, v: f64) -> usize {
        self.levels.iter().filter(|&&l| l <= v).count()
    }

    fn draw<DB, X, Y>(&self, chart: &mut frame::Chart<'_, DB, X, Y>) -> Result<(), String>
    where
        DB: DrawingBackend,
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        let (nx, ny) = self.cells;
        let (dx, dy) = (
            (self.x.1 - self.x.0) / nx as f64,
            (self.y.1 - self.y.0) / ny as f64,
        );
        let n = self.levels.len().max(1) as f64;
        let shade = |k: usize| {
            // From a slate blue (lowest band) to near white (highest).
            let t = k as f64 / n;
            let mix = |a: f64, b: f64| (a + (b - a) * t) as u8;
            RGBColor(mix(160.0, 252.0), mix(186.0, 252.0), mix(214.0, 252.0))
        };
        chart
            .draw_series(self.values.iter().enumerate().map(|(k, &v)| {
                let (i, j) = ((k % nx) as f64, (k / nx) as f64);
                let (xa, ya) = (self.x.0 + i * dx, self.y.0 + j * dy);
                Rectangle::new([(xa, ya), (xa + dx, ya + dy)], shade(self.band(v)).filled())
            }))
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl LinePlot {
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            frame: Frame::new(title, x_label, y_label),
            series: Vec::new(),
            points: Vec::new(),
            log_y: false,
            log_x: false,
            markers: false,
            endpoints: false,
            y_range: None,
            x_range: None,
            paired: false,
            field: None,
        }
    }

    /// Filled contour bands of a function under the lines (an optimiser's paths over its loss
    /// surface); the axes span the field.
    pub fn field(mut self, field: Field) -> Self {
        self.field = Some(field);
        self
    }

    /// A hollow circle where each line starts and a filled square where it ends.
    pub fn endpoints(mut self, on: bool) -> Self {
        self.endpoints = on;
        self
    }

    /// Drawn as a panel of [`crate::Panels`]: smaller title and labels.
    pub(crate) fn small(mut self) -> Self {
        self.frame.small = true;
        self
    }

    /// A fixed y axis from `lo` to `hi` (for example 0–100 % for an accuracy, so that a flat
    /// 100 % is drawn at the top of a scale that makes sense, not in a band around it). On a log
    /// axis both must be > 0.
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo.min(hi), lo.max(hi)));
        self
    }

    /// A fixed x axis from `lo` to `hi` (room around dots that would sit on the frame).
    pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo.min(hi), lo.max(hi)));
        self
    }

    /// The i-th line drawn in the colour of the i-th dot series (theory as a line, the
    /// measurement of the same thing as dots), instead of colours of its own.
    pub fn paired(mut self, on: bool) -> Self {
        self.paired = on;
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

    /// A logarithmic x axis (values ≤ 0 are left out), for quantities spanning decades such as
    /// latencies. Set the legend's corner: the automatic one is worked out on a linear x.
    pub fn log_x(mut self, on: bool) -> Self {
        self.log_x = on;
        self.frame.x_log = on;
        self
    }

    /// A logarithmic y axis (values ≤ 0 are left out).
    pub fn log_y(mut self, on: bool) -> Self {
        self.log_y = on;
        self.frame.y_log = on;
        self
    }

    /// The dots, then the lines, on either kind of y axis.
    fn draw_data<DB, X, Y>(&self, chart: &mut frame::Chart<'_, DB, X, Y>) -> Result<(), String>
    where
        DB: DrawingBackend,
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        if let Some(field) = &self.field {
            field.draw(chart)?;
        }
        draw_dots(chart, &self.points, |p| self.keep(p))?;
        let offset = if self.paired { 0 } else { self.points.len() };
        draw_lines(chart, &self.series, |p| self.keep(p), offset, self.markers)?;
        if self.endpoints {
            frame::draw_endpoints(chart, &self.series, |p| self.keep(p), offset)?;
        }
        Ok(())
    }

    fn keep(&self, (x, y): &(f64, f64)) -> bool {
        x.is_finite() && y.is_finite() && (!self.log_y || *y > 0.0) && (!self.log_x || *x > 0.0)
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
        // A field fixes the axes: the lines are seen on the surface they move over.
        let ((x0, x1), (y0, y1)) = match &self.field {
            Some(f) => (f.x, f.y),
            None if self.log_x => (log_bounds(x0, x1), (y0, y1)),
            None => ((x0, x1), (y0, y1)),
        };
        let (x0, x1) = self.x_range.unwrap_or((x0, x1));
        // The y axis: as set, else the data with a margin (proportional on a log axis).
        let (lo, hi) = match self.y_range {
            Some(range) => range,
            None if self.field.is_some() => (y0, y1),
            None if self.log_y => log_bounds(y0, y1),
            None => {
                let pad = (y1 - y0).abs().max(1e-12) * 0.05;
                (y0 - pad, y1 + pad)
            }
        };
        let data: Vec<(&[(f64, f64)], bool)> = self
            .series
            .iter()
            .map(|s| (s.points.as_slice(), true))
            .chain(self.points.iter().map(|s| (s.points.as_slice(), false)))
            .collect();
        let mut entries: Vec<&str> = self
            .series
            .iter()
            .chain(&self.points)
            .map(|s| s.name.as_str())
            .collect();
        if self.endpoints {
            entries.extend(["start", "end"]);
        }
        let frame = self.frame.placed(&data, (x0, x1), (lo, hi), &entries);
        match (self.log_x, self.log_y) {
            (false, false) => frame.draw(root, x0..x1, lo..hi, |c| self.draw_data(c)),
            (false, true) => frame.draw(root, x0..x1, (lo..hi).log_scale(), |c| self.draw_data(c)),
            (true, false) => frame.draw(root, (x0..x1).log_scale(), lo..hi, |c| self.draw_data(c)),
            (true, true) => frame.draw(root, (x0..x1).log_scale(), (lo..hi).log_scale(), |c| {
                self.draw_data(c)
            }),
        }
    }
}

/// A log axis's range: the data with a margin of 25 %, widened on each side to the nearest
/// 1, 2 or 5 × 10ᵏ — a power of ten one step further, since plotters labels no tick on the
/// axis's very ends. The ends are round numbers, and a decade the data nearly reach is inside
/// the axis with its label (data from 12 to 3,000 get 5 to 5,000: 10, 100 and 1,000 labelled).
pub(crate) fn log_bounds(y0: f64, y1: f64) -> (f64, f64) {
    let steps = [1.0, 2.0, 5.0, 10.0];
    let decade = |v: f64| 10f64.powf(v.log10().floor());
    let power = |v: f64| (v.log10() - v.log10().round()).abs() < 1e-9;
    let lo = y0 * 0.8;
    let hi = y1 * 1.25;
    let mut down = steps
        .iter()
        .rev()
        .map(|m| m * decade(lo))
        .find(|&b| b <= lo * (1.0 + 1e-12))
        .unwrap_or(lo);
    if power(down) {
        down *= 0.5;
    }
    let mut up = steps
        .iter()
        .map(|m| m * decade(hi))
        .find(|&b| b >= hi * (1.0 - 1e-12))
        .unwrap_or(hi);
    if power(up) {
        up *= 2.0;
    }
    (down, up)
}

#[cfg(test)]
mod tests {
    use super::log_bounds;

    #[test]
    fn log_axes_end_on_round_numbers() {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
        let (lo, hi) = log_bounds(12.7, 3011.0);
        assert!(close(lo, 5.0) && close(hi, 5000.0), "{lo} {hi}");
        let (lo, hi) = log_bounds(0.031, 0.9);
        assert!(close(lo, 0.02) && close(hi, 2.0), "{lo} {hi}");
        let (lo, hi) = log_bounds(125.0, 700.0);
        assert!(close(lo, 50.0) && close(hi, 2000.0), "{lo} {hi}");
    }
}
