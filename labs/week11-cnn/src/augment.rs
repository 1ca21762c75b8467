//! Data augmentation for small grey images: new training examples that keep their label.
//!
//! A digit moved by two pixels, turned by ten degrees or sprinkled with noise is still the same
//! digit; training on such variants teaches the network that these changes do not matter, which
//! helps most when there are few real examples. Images are row-major `width × height` slices of
//! values in [0, 1], background 0.

use wb_core::MlError;
use wb_data::SplitMix64;

use crate::Result;

fn check(img: &[f32], width: usize, height: usize) -> Result<()> {
    if width == 0 || height == 0 || img.len() != width * height {
        return Err(MlError::ShapeMismatch {
            arg: "img".to_string(),
            expected: format!("{width} × {height} = {} pixels", width * height),
            got: format!("{} pixels", img.len()),
        }
        .into());
    }
    Ok(())
}

/// Moves the image `dx` pixels right and `dy` pixels down; what enters is background (0), what
/// leaves is lost: `out[r][c] = img[r − dy][c − dx]`.
pub fn shift(img: &[f32], width: usize, height: usize, dx: i32, dy: i32) -> Result<Vec<f32>> {
    check(img, width, height)?;
    let mut out = vec![0f32; img.len()];
    // BEGIN SOLUTION shift
    for r in 0..height as i32 {
        for c in 0..width as i32 {
            let (sr, sc) = (r - dy, c - dx);
            if sr >= 0 && sr < height as i32 && sc >= 0 && sc < width as i32 {
                out[(r * width as i32 + c) as usize] = img[(sr * width as i32 + sc) as usize];
            }
        }
    }
    // END SOLUTION
    Ok(out)
}

// ANCHOR: rotate
/// Turns the image by `degrees` (counter-clockwise as seen on screen) about its centre,
/// sampling the source by bilinear interpolation; outside the source is background.
///
/// For each output pixel, rotate its offset from the centre by −θ to find where it came from.
/// With `y` pointing down the screen, a counter-clockwise turn of the picture maps an output
/// offset `(x, y)` back to `(x cos θ − y sin θ, x sin θ + y cos θ)`.
pub fn rotate(img: &[f32], width: usize, height: usize, degrees: f64) -> Result<Vec<f32>> {
    check(img, width, height)?;
    if !degrees.is_finite() {
        return Err(MlError::InvalidArgument {
            arg: "degrees".to_string(),
            detail: format!("expected a finite angle, got {degrees}"),
        }
        .into());
    }
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cx, cy) = ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0);
    let at = |r: i64, c: i64| -> f64 {
        if r < 0 || c < 0 || r >= height as i64 || c >= width as i64 {
            0.0
        } else {
            f64::from(img[r as usize * width + c as usize])
        }
    };
    let mut out = vec![0f32; img.len()];
    // BEGIN SOLUTION rotate
    for r in 0..height {
        for c in 0..width {
            let (x, y) = (c as f64 - cx, r as f64 - cy);
            let sx = x * cos - y * sin + cx;
            let sy = x * sin + y * cos + cy;
            let (c0, r0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - c0, sy - r0);
            let (c0, r0) = (c0 as i64, r0 as i64);
            let v = at(r0, c0) * (1.0 - fx) * (1.0 - fy)
                + at(r0, c0 + 1) * fx * (1.0 - fy)
                + at(r0 + 1, c0) * (1.0 - fx) * fy
                + at(r0 + 1, c0 + 1) * fx * fy;
            out[r * width + c] = v as f32;
        }
    }
    // END SOLUTION
    Ok(out)
}
// ANCHOR_END: rotate

/// Adds Gaussian noise of standard deviation `std` to every pixel and clips to [0, 1].
pub fn add_noise(img: &[f32], std: f64, rng: &mut SplitMix64) -> Result<Vec<f32>> {
    if !std.is_finite() || std < 0.0 {
        return Err(MlError::InvalidArgument {
            arg: "std".to_string(),
            detail: format!("expected a finite value >= 0, got {std}"),
        }
        .into());
    }
    Ok(img
        .iter()
        .map(|&p| {
            // Box–Muller.
            let (u1, u2) = (1.0 - rng.next_f64(), rng.next_f64());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            (f64::from(p) + std * z).clamp(0.0, 1.0) as f32
        })
        .collect())
}

/// How strongly [`augment`] perturbs an image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augmentation {
    /// Shifts drawn uniformly from −max_shift..=max_shift pixels on each axis.
    pub max_shift: i32,
    /// Rotations drawn uniformly from ±max_degrees.
    pub max_degrees: f64,
    /// Standard deviation of the added noise.
    pub noise_std: f64,
}

impl Default for Augmentation {
    fn default() -> Self {
        Self {
            max_shift: 2,
            max_degrees: 10.0,
            noise_std: 0.1,
        }
    }
}

/// One random variant of `img`: a rotation, then a shift, then noise, drawn from `rng`.
pub fn augment(
    img: &[f32],
    width: usize,
    height: usize,
    a: &Augmentation,
    rng: &mut SplitMix64,
) -> Result<Vec<f32>> {
    let span = (2 * a.max_shift + 1) as u64;
    let degrees = (rng.next_f64() * 2.0 - 1.0) * a.max_degrees;
    let dx = (rng.next_u64() % span) as i32 - a.max_shift;
    let dy = (rng.next_u64() % span) as i32 - a.max_shift;
    let turned = rotate(img, width, height, degrees)?;
    let moved = shift(&turned, width, height, dx, dy)?;
    add_noise(&moved, a.noise_std, rng)
}
