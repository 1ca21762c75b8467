//! Histograms of one or more samples over common bins.

use super::*;

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
            // Two translucent samples make a third colour where they overlap: name it.
            if bars.len() == 2 {
                let over = |a: RGBColor, base: RGBColor| {
                    let m =
                        |x: u8, y: u8| (f64::from(y) + (f64::from(x) - f64::from(y)) * 0.45) as u8;
                    RGBColor(m(a.0, base.0), m(a.1, base.1), m(a.2, base.2))
                };
                let both = over(PALETTE[1], over(PALETTE[0], WHITE));
                chart
                    .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
                    .map_err(|e| e.to_string())?
                    .label("both (overlap)")
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], both.filled())
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
