//! Lines over a common x axis, for example loss curves.

use super::*;

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
    /// 100 % is drawn at the top of a scale that makes sense, not in a band around it). On a log
    /// axis both must be > 0.
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

    /// The dots, then the lines, on either kind of y axis.
    fn draw_data<DB, X, Y>(&self, chart: &mut frame::Chart<'_, DB, X, Y>) -> Result<(), String>
    where
        DB: DrawingBackend,
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        draw_dots(chart, &self.points, |p| self.keep(p))?;
        draw_lines(
            chart,
            &self.series,
            |p| self.keep(p),
            self.points.len(),
            self.markers,
        )
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
        // The y axis: as set, else the data with a margin (proportional on a log axis).
        let (lo, hi) = match self.y_range {
            Some(range) => range,
            None if self.log_y => (y0 * 0.8, y1 * 1.25),
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
        let entries: Vec<&str> = self
            .series
            .iter()
            .chain(&self.points)
            .map(|s| s.name.as_str())
            .collect();
        let frame = self.frame.placed(&data, (x0, x1), (lo, hi), &entries);
        if self.log_y {
            frame.draw(root, x0..x1, (lo..hi).log_scale(), |c| self.draw_data(c))
        } else {
            frame.draw(root, x0..x1, lo..hi, |c| self.draw_data(c))
        }
    }
}
