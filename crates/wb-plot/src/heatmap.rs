//! A matrix of counts drawn as shaded cells, for example a confusion matrix.

use super::*;

/// A matrix of counts drawn as shaded cells with their values written in them, for example a
/// confusion matrix (rows: true class, columns: predicted class).
#[derive(Debug, Clone)]
pub struct Heatmap {
    frame: Frame,
    row_names: Vec<String>,
    col_names: Vec<String>,
    /// values[r][c]
    values: Vec<Vec<f64>>,
    annotate: bool,
    bar_label: String,
}

/// The shade of a cell holding `share` of the largest value (0–1): the first palette colour
/// over white, from faint to deep. The same mapping draws the colour bar.
fn shade(share: f64) -> RGBColor {
    let a = 0.04 + 0.92 * share.clamp(0.0, 1.0);
    let c = PALETTE[0];
    let mix = |v: u8| (255.0 + (f64::from(v) - 255.0) * a).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

impl Heatmap {
    /// `values[r][c]` is drawn in row r (from the top) and column c; a NaN is a cell that does
    /// not apply (grey, marked "–").
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
            annotate: true,
            bar_label: String::new(),
        }
    }

    /// Writes each cell's value in it (the default; turn off for large matrices).
    pub fn annotate(mut self, on: bool) -> Self {
        self.annotate = on;
        self
    }

    /// The colour bar's caption (what a shade measures).
    pub fn bar_label(mut self, label: &str) -> Self {
        self.bar_label = label.into();
        self
    }

    pub(crate) fn small(mut self) -> Self {
        self.frame.small = true;
        self
    }

    /// The colour bar: the shades from 0 to `top` with their values.
    fn draw_bar<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        top: f64,
    ) -> Result<(), String> {
        let s = self.frame.scale();
        // Align the bar with the cells: below the title, above the x labels.
        let mut bar = ChartBuilder::on(area)
            .margin_top(s.margin + s.title + s.title / 2)
            .margin_bottom(s.margin)
            .margin_right(4)
            .x_label_area_size(s.x_area)
            .y_label_area_size(0)
            .right_y_label_area_size(s.y_area * 2 / 3)
            .build_cartesian_2d(0.0..1.0, 0.0..top)
            .map_err(|e| e.to_string())?;
        let labels = axis_labels(0.0, top, false);
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(5)
            .y_label_formatter(&labels)
            .label_style((FONT_NAME, s.label))
            .x_desc(self.bar_label.as_str())
            .axis_desc_style((FONT_NAME, s.label))
            .draw()
            .map_err(|e| e.to_string())?;
        let steps = 60;
        bar.draw_series((0..steps).map(|k| {
            let (a, b) = (k as f64 / steps as f64, (k + 1) as f64 / steps as f64);
            Rectangle::new(
                [(0.0, a * top), (1.0, b * top)],
                shade((a + b) / 2.0).filled(),
            )
        }))
        .map_err(|e| e.to_string())?;
        bar.draw_series(std::iter::once(Rectangle::new(
            [(0.0, 0.0), (1.0, top)],
            BLACK.mix(0.4).stroke_width(1),
        )))
        .map_err(|e| e.to_string())?;
        Ok(())
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
        let s = self.frame.scale();
        let (width, _) = root.dim_in_pixel();
        let bar_width = (s.y_area + 20).min(width / 4);
        let (cells, bar_area) = root.split_horizontally(width - bar_width);
        self.draw_bar(&bar_area, top)?;
        let (cols, rows) = (self.col_names.clone(), self.row_names.clone());
        let longest = rows.iter().map(|r| r.chars().count()).max().unwrap_or(1) as u32;
        let mut chart = ChartBuilder::on(&cells)
            .caption(
                self.frame.title.as_str(),
                (FONT_NAME, s.title).into_font().style(FontStyle::Bold),
            )
            .margin(s.margin)
            .x_label_area_size(s.x_area)
            .y_label_area_size((longest * s.label * 2 / 3 + s.desc + 24).min(width / 4))
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
            .label_style((FONT_NAME, s.label))
            .axis_desc_style((FONT_NAME, s.desc))
            .draw()
            .map_err(|e| e.to_string())?;
        for (r, row) in self.values.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let y = (nr - 1 - r) as f64;
                // NaN: a cell that does not apply, drawn light grey and marked with a dash.
                let fill = if v.is_nan() {
                    RGBColor(236, 236, 236)
                } else {
                    shade(v / top)
                };
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(c as f64, y), (c as f64 + 1.0, y + 1.0)],
                        fill.filled(),
                    )))
                    .map_err(|e| e.to_string())?;
                if !self.annotate {
                    continue;
                }
                let ink = if v / top > 0.55 { WHITE } else { BLACK };
                let label = if v.is_nan() {
                    "–".to_string()
                } else if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                };
                chart
                    .draw_series(std::iter::once(Text::new(
                        label,
                        (c as f64 + 0.5, y + 0.5),
                        (FONT_NAME, s.desc + 5).into_font().color(&ink).pos(
                            plotters::style::text_anchor::Pos::new(
                                plotters::style::text_anchor::HPos::Center,
                                plotters::style::text_anchor::VPos::Center,
                            ),
                        ),
                    )))
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}
