//! What a client sends, turned into the 784 pixels the network reads — or refused with the
//! reason and the right HTTP status: a PNG (raw bytes or a multipart upload) or JSON pixels.

use axum::http::StatusCode;
use serde_json::Value;
use wb_models::digit_cnn::{PIXELS, SIDE};

/// The largest request body the service reads (a 28 × 28 PNG is under 1 KiB; JSON pixels a
/// few KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Why an input is not an image the model can read. Each names the problem and has its status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageError {
    #[error(
        "the body is empty: send a 28 × 28 grayscale PNG, or JSON {{\"pixels\": [784 numbers in 0–1]}}"
    )]
    Empty,
    #[error("not a PNG image: the body does not start with the PNG signature")]
    NotPng,
    #[error("a damaged PNG: {0}")]
    Damaged(String),
    #[error("expected a 28 × 28 image, got {width} × {height}")]
    WrongSize { width: u32, height: u32 },
    #[error("expected 1 channel (8-bit grayscale), got {channels} ({color})")]
    WrongChannels { channels: usize, color: String },
    #[error("expected 8 bits per pixel, got {0}")]
    WrongDepth(u8),
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    BadJson(String),
}

impl ImageError {
    /// The HTTP status that answers this problem.
    pub fn status(&self) -> StatusCode {
        match self {
            ImageError::Empty | ImageError::Damaged(_) => StatusCode::BAD_REQUEST,
            ImageError::NotPng => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ImageError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ImageError::WrongSize { .. }
            | ImageError::WrongChannels { .. }
            | ImageError::WrongDepth(_)
            | ImageError::BadJson(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

// ANCHOR: decode_png
/// The pixels of a 28 × 28, 8-bit grayscale PNG, row by row, scaled to [0, 1] (0 black, 1
/// white: MNIST's digits are white on black).
pub fn decode_png(bytes: &[u8]) -> Result<Vec<f32>, ImageError> {
    // BEGIN SOLUTION decode_png
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ImageError::TooLarge);
    }
    if !bytes.starts_with(&SIGNATURE) {
        return Err(ImageError::NotPng);
    }
    let mut decoder = png::Decoder::new(bytes);
    // No expansion of palettes or bit depths: what the file holds is what is checked. The limit
    // refuses a tiny file that claims an enormous image before any memory is taken for it.
    decoder.set_transformations(png::Transformations::IDENTITY);
    decoder.set_limits(png::Limits { bytes: 1 << 20 });
    let mut reader = decoder
        .read_info()
        .map_err(|e| ImageError::Damaged(e.to_string()))?;
    let info = reader.info();
    if (info.width, info.height) != (SIDE as u32, SIDE as u32) {
        return Err(ImageError::WrongSize {
            width: info.width,
            height: info.height,
        });
    }
    if info.color_type != png::ColorType::Grayscale {
        return Err(ImageError::WrongChannels {
            channels: info.color_type.samples(),
            color: format!("{:?}", info.color_type),
        });
    }
    if info.bit_depth != png::BitDepth::Eight {
        return Err(ImageError::WrongDepth(info.bit_depth as u8));
    }
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| ImageError::Damaged(e.to_string()))?;
    Ok(buf[..frame.buffer_size()]
        .iter()
        .map(|&v| f32::from(v) / 255.0)
        .collect())
    // END SOLUTION
}
// ANCHOR_END: decode_png

// ANCHOR: json_pixels
/// The pixels of a JSON body `{"pixels": [...]}`: 784 numbers in [0, 1], flat or as 28 rows of
/// 28.
pub fn json_pixels(body: &Value) -> Result<Vec<f32>, ImageError> {
    let bad = |m: String| ImageError::BadJson(m);
    // BEGIN SOLUTION json_pixels
    let Some(pixels) = body.get("pixels") else {
        return Err(bad("expected an object with a `pixels` array".into()));
    };
    let Some(rows) = pixels.as_array() else {
        return Err(bad("`pixels` must be an array".into()));
    };
    // 28 rows of 28 values, or 784 values.
    let flat: Vec<&Value> = if rows.len() == SIDE && rows.iter().all(Value::is_array) {
        let mut flat = Vec::with_capacity(PIXELS);
        for (i, row) in rows.iter().enumerate() {
            let row = row.as_array().map_or(&[][..], Vec::as_slice);
            if row.len() != SIDE {
                return Err(bad(format!(
                    "`pixels[{i}]` has {} values, expected 28",
                    row.len()
                )));
            }
            flat.extend(row);
        }
        flat
    } else {
        rows.iter().collect()
    };
    if flat.len() != PIXELS {
        return Err(bad(format!(
            "`pixels` has {} values, expected 784 (28 × 28), flat or as 28 rows of 28",
            flat.len()
        )));
    }
    flat.iter()
        .enumerate()
        .map(|(i, v)| match v.as_f64() {
            Some(x) if (0.0..=1.0).contains(&x) => Ok(x as f32),
            Some(x) => Err(bad(format!(
                "pixel {i} (row {}, column {}) is {x}, expected a value in [0, 1]",
                i / SIDE,
                i % SIDE
            ))),
            None => Err(bad(format!("pixel {i} is {v}, not a number"))),
        })
        .collect()
    // END SOLUTION
}
// ANCHOR_END: json_pixels

/// A 28 × 28 8-bit grayscale PNG of `pixels` (784 values in [0, 1], rounded to 1/255): what a
/// client sends.
pub fn encode_png(pixels: &[f32]) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(
        pixels.len() == PIXELS,
        "pixels: expected 784 values, got {}",
        pixels.len()
    );
    encode_raw(
        &quantise(pixels),
        SIDE as u32,
        SIDE as u32,
        png::ColorType::Grayscale,
        png::BitDepth::Eight,
    )
}

/// Pixels in [0, 1] as bytes 0–255.
pub fn quantise(pixels: &[f32]) -> Vec<u8> {
    pixels
        .iter()
        .map(|&p| (p.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

/// A PNG of any size, colour type and depth, from raw sample bytes (for tests of bad images).
pub fn encode_raw(
    data: &[u8],
    width: u32,
    height: u32,
    color: png::ColorType,
    depth: png::BitDepth,
) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(depth);
    encoder.write_header()?.write_image_data(data)?;
    Ok(out)
}
