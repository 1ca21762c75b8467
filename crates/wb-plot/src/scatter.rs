//! Points of one or more series, for example predicted against actual.

use super::*;

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
