//! Small images in a grid, for example filters, feature maps or digits.

use super::*;

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
}

/// Pixels of the grid's title band, of each image's caption, and of the margins.
const TITLE_BAND: u32 = 50;
const CAPTION: u32 = 26;
const MARGIN: u32 = 10;

impl ImageGrid {
    /// The side of a tile: the width shared by the columns, at most 220 pixels.
    fn tile(&self) -> u32 {
        let cols = self.cols.min(self.images.len().max(1)) as u32;
        ((SIZE.0 - 2 * MARGIN) / cols).min(220)
    }

    /// Height over width of the tallest image.
    fn aspect(&self) -> f64 {
        self.images
            .iter()
            .map(|(_, w, h, _)| *h as f64 / (*w).max(1) as f64)
            .fold(1.0_f64, f64::max)
            .min(4.0)
    }
}

impl Render for ImageGrid {
    fn name(&self) -> &str {
        &self.title
    }

    /// As tall as the tiles need: a caption right above each image, no empty band.
    fn size(&self) -> (u32, u32) {
        let rows = self.images.len().div_ceil(self.cols).max(1) as u32;
        let row = (f64::from(self.tile()) * self.aspect()).round() as u32 + CAPTION;
        (SIZE.0, TITLE_BAND + rows * row + MARGIN)
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
        let area = frame::under_title(root, &self.title, TITLE_BAND)?;
        let rows = self.images.len().div_ceil(self.cols);
        let cols = self.cols.min(self.images.len());
        let used = self.tile() * cols as u32;
        let side = (area.dim_in_pixel().0.saturating_sub(used)) / 2;
        let panels = area
            .margin(0, MARGIN, side, side)
            .split_evenly((rows, cols));
        for (panel, (name, w, h, px)) in panels.iter().zip(&self.images) {
            let (caption, inner) = panel.split_vertically(CAPTION);
            caption
                .draw(&Text::new(
                    name.as_str(),
                    (caption.dim_in_pixel().0 as i32 / 2, CAPTION as i32 - 4),
                    (FONT_NAME, 14).into_font().color(&BLACK).pos(
                        plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Center,
                            plotters::style::text_anchor::VPos::Bottom,
                        ),
                    ),
                ))
                .map_err(|e| e.to_string())?;
            let (pw, ph) = inner.dim_in_pixel();
            let cell = ((pw as f64 - 4.0) / *w as f64)
                .min((ph as f64 - 4.0) / *h as f64)
                .max(1.0);
            let x0 = (pw as f64 - cell * *w as f64) / 2.0;
            let y0 = 1.0;
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
        Ok(())
    }
}
