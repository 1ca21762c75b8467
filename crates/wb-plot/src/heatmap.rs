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
