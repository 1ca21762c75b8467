//! A classifier's decision regions on a grid, with the data on top.

use super::*;

/// The decision regions of a classifier over two features: a grid of cells tinted by the class
/// predicted there, with the labelled points on top.
#[derive(Debug, Clone)]
pub struct DecisionRegions {
    frame: Frame,
    /// (x range, y range, cells along x, cells along y)
    grid: ((f64, f64), (f64, f64), usize, usize),
    /// The class of each cell, row-major: cell (i, j) at `i * ny + j`, i along x.
    cells: Vec<usize>,
    classes: Vec<String>,
    points: Vec<(f64, f64, usize)>,
}

impl DecisionRegions {
    /// `cells[i * ny + j]` is the class predicted at the centre of cell (i, j) of an `nx × ny`
    /// grid over `x_range × y_range`.
    pub fn new(
        title: &str,
        x_label: &str,
        y_label: &str,
        x_range: (f64, f64),
        y_range: (f64, f64),
        (nx, ny): (usize, usize),
        cells: Vec<usize>,
    ) -> Self {
        Self {
            frame: Frame::new(title, x_label, y_label),
            grid: (x_range, y_range, nx, ny),
            cells,
            classes: Vec::new(),
            points: Vec::new(),
        }
    }

    /// The centres of an `nx × ny` grid over the ranges, row-major as `new` expects.
    pub fn cell_centres(
        x_range: (f64, f64),
        y_range: (f64, f64),
        (nx, ny): (usize, usize),
    ) -> Vec<(f64, f64)> {
        let (dx, dy) = (
            (x_range.1 - x_range.0) / nx as f64,
            (y_range.1 - y_range.0) / ny as f64,
        );
        (0..nx * ny)
            .map(|k| {
                (
                    x_range.0 + ((k / ny) as f64 + 0.5) * dx,
                    y_range.0 + ((k % ny) as f64 + 0.5) * dy,
                )
            })
            .collect()
    }

    /// The class names, in class-index order.
    pub fn classes(mut self, names: Vec<String>) -> Self {
        self.classes = names;
        self
    }

    /// A labelled point.
    pub fn point(mut self, x: f64, y: f64, class: usize) -> Self {
        self.points.push((x, y, class));
        self
    }
}

impl Render for DecisionRegions {
    fn name(&self) -> &str {
        &self.frame.title
    }

    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let ((x0, x1), (y0, y1), nx, ny) = self.grid;
        if nx == 0 || ny == 0 || self.cells.len() != nx * ny || !(x0 < x1 && y0 < y1) {
            return Err(format!(
                "`{}`: {} cells for a {nx} × {ny} grid",
                self.frame.title,
                self.cells.len()
            ));
        }
        let (dx, dy) = ((x1 - x0) / nx as f64, (y1 - y0) / ny as f64);
        self.frame.draw(root, x0..x1, y0..y1, |chart| {
            chart
                .draw_series(self.cells.iter().enumerate().map(|(k, &c)| {
                    let (i, j) = ((k / ny) as f64, (k % ny) as f64);
                    let color = PALETTE[c % PALETTE.len()].mix(0.18);
                    Rectangle::new(
                        [
                            (x0 + i * dx, y0 + j * dy),
                            (x0 + (i + 1.0) * dx, y0 + (j + 1.0) * dy),
                        ],
                        color.filled(),
                    )
                }))
                .map_err(|e| e.to_string())?;
            for (c, name) in self.classes.iter().enumerate() {
                let color = PALETTE[c % PALETTE.len()];
                chart
                    .draw_series(self.points.iter().filter(|p| p.2 == c).map(|&(x, y, _)| {
                        EmptyElement::at((x, y))
                            + Circle::new((0, 0), 4, color.filled())
                            + Circle::new((0, 0), 4, BLACK.stroke_width(1))
                    }))
                    .map_err(|e| e.to_string())?
                    .label(name.clone())
                    .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
            }
            Ok(())
        })
    }
}
