//! Small multiples: several plots side by side under one title, each with its own axes.

use super::*;

/// One panel of [`Panels`].
#[derive(Debug, Clone)]
pub enum Panel {
    Line(LinePlot),
    Heatmap(Heatmap),
}

/// Small multiples: plots in a grid of `cols` columns under one title, for lines that would
/// hide one another on shared axes (six optimisers' paths, activation functions that coincide
/// over half their range) or one heatmap per attention head.
#[derive(Debug, Clone)]
pub struct Panels {
    title: String,
    cols: usize,
    panel_size: (u32, u32),
    panels: Vec<Panel>,
}

impl Panels {
    /// An empty grid of `cols` columns (at least 1); panels of 450 × 330 pixels.
    pub fn new(title: &str, cols: usize) -> Self {
        Self {
            title: title.into(),
            cols: cols.max(1),
            panel_size: (450, 330),
            panels: Vec::new(),
        }
    }

    /// The size of each panel in pixels.
    pub fn panel_size(mut self, width: u32, height: u32) -> Self {
        self.panel_size = (width.max(100), height.max(100));
        self
    }

    /// Adds a line plot as the next panel (left to right, then down).
    pub fn line(mut self, plot: LinePlot) -> Self {
        self.panels.push(Panel::Line(plot.small()));
        self
    }

    /// Adds a heatmap as the next panel.
    pub fn heatmap(mut self, map: Heatmap) -> Self {
        self.panels.push(Panel::Heatmap(map.small()));
        self
    }

    fn rows(&self) -> usize {
        self.panels.len().div_ceil(self.cols).max(1)
    }
}

/// Pixels above the panels for the title.
const TITLE_BAND: u32 = 46;

impl Render for Panels {
    fn name(&self) -> &str {
        &self.title
    }

    fn size(&self) -> (u32, u32) {
        let cols = self.cols.min(self.panels.len().max(1)) as u32;
        (
            self.panel_size.0 * cols,
            TITLE_BAND + self.panel_size.1 * self.rows() as u32,
        )
    }

    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        if self.panels.is_empty() {
            return Err(format!("`{}`: no panels", self.title));
        }
        let body = frame::under_title(root, &self.title, TITLE_BAND)?;
        let cols = self.cols.min(self.panels.len());
        for (area, panel) in body
            .split_evenly((self.rows(), cols))
            .iter()
            .zip(&self.panels)
        {
            match panel {
                Panel::Line(p) => p.render(area)?,
                Panel::Heatmap(h) => h.render(area)?,
            }
        }
        Ok(())
    }
}
