//! An uploaded image's size and its thumbnail (protocol.md §17), made on a
//! blocking thread with the `image` crate.
//!
//! The size is read from the image's header before anything is decoded,
//! and the decoder is given limits, so a small file that claims 100,000 ×
//! 100,000 pixels (a decompression bomb) is refused at once, without
//! allocating for it. The thumbnail is re-encoded from the pixels, so none
//! of the original's metadata (EXIF, GPS, comments) is in it; the EXIF
//! orientation is applied first, so a phone's portrait photo stands up.

use std::io::Cursor;
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

/// The longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 320;
/// The widest or tallest image accepted.
pub const MAX_SIDE: u32 = 16_384;
/// The most pixels an image accepted may have.
pub const MAX_PIXELS: u64 = 50_000_000;
/// The most bytes decoding one image may allocate: 50 megapixels of RGBA,
/// with room for the decoder's own buffers.
const MAX_ALLOC: u64 = MAX_PIXELS * 4 + 32 * 1024 * 1024;
/// JPEG quality of thumbnails: small, and good enough at 320 px.
const THUMB_QUALITY: u8 = 80;

/// What an image is.
#[derive(Debug)]
pub struct Picture {
    /// Width as shown (after the EXIF orientation).
    pub width: u32,
    /// Height as shown.
    pub height: u32,
    /// The thumbnail.
    pub thumb: Thumb,
}

/// A thumbnail, encoded.
#[derive(Debug)]
pub struct Thumb {
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// `image/png` (the image has transparency) or `image/jpeg`.
    pub media_type: &'static str,
    /// Its width.
    pub width: u32,
    /// Its height.
    pub height: u32,
}

/// Why an image is refused (HTTP 422), in words for the uploader.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// Over the size limits.
    #[error("the image is {0} × {1} pixels; at most {MAX_SIDE} on a side and {MAX_PIXELS} pixels are accepted")]
    TooLarge(u32, u32),
    /// Over the limits by its header's claim, before its size was known.
    #[error("the image is too large to process")]
    Limits,
    /// Not a readable image of its type.
    #[error("the image could not be read: {0}")]
    Unreadable(String),
}

fn unreadable(e: ImageError) -> Unusable {
    match e {
        ImageError::Limits(_) => Unusable::Limits,
        other => Unusable::Unreadable(other.to_string()),
    }
}

/// Reads the image at `path` (of `media_type`, as sniffed) and makes its
/// thumbnail. Blocking: call it from `spawn_blocking`.
pub fn picture(path: &Path, media_type: &str) -> Result<Picture, Unusable> {
    let format = ImageFormat::from_mime_type(media_type)
        .ok_or_else(|| Unusable::Unreadable(format!("{media_type} is not an image type")))?;
    let mut reader = ImageReader::open(path).map_err(|e| Unusable::Unreadable(e.to_string()))?;
    reader.set_format(format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    // Reads the header only, and checks its size against the limits.
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Unusable::TooLarge(width, height));
    }
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    let small = if width > THUMB_SIDE || height > THUMB_SIDE { image.thumbnail(THUMB_SIDE, THUMB_SIDE) } else { image };
    let thumb = encode(&small).map_err(unreadable)?;
    Ok(Picture { width, height, thumb })
}

/// PNG for an image with transparency (JPEG has none), JPEG otherwise.
fn encode(image: &DynamicImage) -> Result<Thumb, ImageError> {
    let mut bytes = Vec::new();
    let media_type = if image.color().has_alpha() {
        image.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)?;
        "image/png"
    } else {
        DynamicImage::ImageRgb8(image.to_rgb8())
            .write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, THUMB_QUALITY))?;
        "image/jpeg"
    };
    Ok(Thumb { bytes, media_type, width: image.width(), height: image.height() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, alpha: bool) -> Vec<u8> {
        let image = if alpha {
            DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(width, height, image::Rgba([10, 20, 30, 128])))
        } else {
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7])))
        };
        let mut bytes = Vec::new();
        image.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).expect("encode");
        bytes
    }

    /// A valid PNG header claiming `width` × `height`, with one tiny IDAT.
    fn bomb(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in
            [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]), (b"IEND", &[])]
        {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut crc_input = kind.to_vec();
            crc_input.extend_from_slice(data);
            png.extend_from_slice(&crc_input);
            png.extend_from_slice(&crc32(&crc_input).to_be_bytes());
        }
        png
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    fn at(dir: &tempfile::TempDir, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(format!("{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, bytes).expect("write");
        path
    }

    #[test]
    fn a_large_image_gets_a_thumbnail_within_320() {
        let dir = tempfile::tempdir().expect("temp dir");
        let picture = picture(&at(&dir, &png(1000, 500, false)), "image/png").expect("an image");
        assert_eq!((picture.width, picture.height), (1000, 500));
        assert_eq!((picture.thumb.width, picture.thumb.height), (320, 160));
        assert_eq!(picture.thumb.media_type, "image/jpeg");
        let back = image::load_from_memory(&picture.thumb.bytes).expect("the thumbnail decodes");
        assert_eq!((back.width(), back.height()), (320, 160));
    }

    #[test]
    fn transparency_keeps_png_and_small_images_keep_their_size() {
        let dir = tempfile::tempdir().expect("temp dir");
        let picture = picture(&at(&dir, &png(40, 30, true)), "image/png").expect("an image");
        assert_eq!((picture.thumb.width, picture.thumb.height, picture.thumb.media_type), (40, 30, "image/png"));
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        let dir = tempfile::tempdir().expect("temp dir");
        let bytes = bomb(100_000, 100_000);
        assert!(bytes.len() < 1024, "a small file");
        // Refused by the decoder's limits on the header's claim: nothing
        // was decoded (a 10^10-pixel buffer could not have been).
        let refused = picture(&at(&dir, &bytes), "image/png").expect_err("refused");
        assert_eq!(refused, Unusable::Limits);
        let refused = picture(&at(&dir, &bomb(10_000, 10_000)), "image/png").expect_err("over 50 MP");
        assert_eq!(refused, Unusable::TooLarge(10_000, 10_000));
    }

    #[test]
    fn a_broken_image_is_unreadable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut truncated = png(64, 64, false);
        truncated.truncate(60);
        assert!(matches!(picture(&at(&dir, &truncated), "image/png"), Err(Unusable::Unreadable(_))));
    }
}
