//! Images for the upload tests: noise (which does not compress, so a file
//! is as large as its pixels) and a decompression bomb.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, RgbImage};

/// A `width` × `height` image of noise in `format`.
pub fn noise(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let mut seed = 0x2545_f491u32;
    let image = RgbImage::from_fn(width, height, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        image::Rgb([seed as u8, (seed >> 8) as u8, (seed >> 16) as u8])
    });
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(image).write_to(&mut Cursor::new(&mut bytes), format).expect("encode");
    bytes
}

/// A valid PNG header claiming `width` × `height`: under 100 bytes.
pub fn bomb(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", &[0x78, 0x9c, 0x03, 0, 0, 0, 0, 1][..]), (b"IEND", &[])] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        let mut crc = 0xffff_ffffu32;
        for &b in &chunk {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&(!crc).to_be_bytes());
    }
    png
}
