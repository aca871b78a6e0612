//! What an uploaded file is, decided from its bytes alone (magic numbers via `infer`,
//! never the name or the client's content type), whether we keep it, and its thumbnail.
//!
//! Kept: raster images (PNG, JPEG, GIF, WebP — decoded once, with limits, to prove they
//! are what they claim and to draw a thumbnail), PDF, office documents (OOXML,
//! OpenDocument), ZIP, MP4/QuickTime video, and plain UTF-8 text. Refused: HTML, SVG,
//! XML, scripts, executables and anything not recognised — a browser could run them.
//! PDFs, documents and text are served only as downloads.

use image::{ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// Widest or tallest image accepted (pixels).
pub const MAX_IMAGE_SIDE: u32 = 12_000;
/// Most memory one image decode may take (bytes): a decompression bomb stops here.
pub const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// Longer side of a thumbnail (pixels).
pub const THUMBNAIL_SIDE: u32 = 320;
/// Longest file name kept (characters).
pub const MAX_NAME: usize = 200;

/// Why an upload is refused (the message is for people).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the file is empty")]
    Empty,
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the file name {0}")]
    BadName(&'static str),
    #[error(
        "{0} files are not accepted: they can run scripts in a browser (upload a PDF or an image instead)"
    )]
    Scriptable(&'static str),
    #[error(
        "the file's content is of no accepted type (images, PDF, office documents, ZIP, video, plain text)"
    )]
    Unrecognised,
    #[error(
        "the image is {width}×{height} pixels: too large (at most {MAX_IMAGE_SIDE} on a side and 256 MiB decoded)"
    )]
    ImageTooLarge { width: u32, height: u32 },
    #[error("the image could not be read: {0}")]
    BadImage(String),
}

/// What an accepted file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// The content type it is served with.
    pub content_type: &'static str,
    /// Shown in a browser (`inline`) rather than only downloaded: raster images only.
    pub inline: bool,
    /// A raster image (a thumbnail can be drawn).
    pub image: bool,
}

/// Checks a file name and keeps its last path component, without control characters.
/// A name with directory parts (`../x`, `a/b`, `C:\x`) is refused, not repaired: it says
/// something is wrong with the client.
///
/// # Errors
/// Empty, too long, a path, or only dots.
pub fn file_name(raw: &str) -> Result<String, Refusal> {
    if raw.contains('/') || raw.contains('\\') || raw.contains('\0') {
        return Err(Refusal::BadName(
            "must not contain a path (no '/', '\\' or NUL)",
        ));
    }
    let name: String = raw.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim();
    if name.is_empty() {
        return Err(Refusal::BadName("is empty"));
    }
    if name.chars().all(|c| c == '.') {
        return Err(Refusal::BadName("must not be '.' or '..'"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(Refusal::BadName("is longer than 200 characters"));
    }
    Ok(name.to_string())
}

/// Decides what `bytes` are and whether they are kept.
///
/// # Errors
/// See [`Refusal`].
pub fn inspect(bytes: &[u8], limit: u64) -> Result<Inspected, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    if bytes.len() as u64 > limit {
        return Err(Refusal::TooLarge { limit });
    }
    let kept = |content_type, inline, image| {
        Ok(Inspected {
            content_type,
            inline,
            image,
        })
    };
    if let Some(kind) = infer::get(bytes) {
        return match kind.mime_type() {
            "image/png" => kept("image/png", true, true),
            "image/jpeg" => kept("image/jpeg", true, true),
            "image/gif" => kept("image/gif", true, true),
            "image/webp" => kept("image/webp", true, true),
            "application/pdf" => kept("application/pdf", false, false),
            "application/zip" => kept("application/zip", false, false),
            "video/mp4" => kept("video/mp4", false, false),
            "video/quicktime" => kept("video/quicktime", false, false),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => kept(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                false,
                false,
            ),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => kept(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                false,
                false,
            ),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation" => kept(
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                false,
                false,
            ),
            "application/vnd.oasis.opendocument.text" => {
                kept("application/vnd.oasis.opendocument.text", false, false)
            }
            "application/vnd.oasis.opendocument.spreadsheet" => kept(
                "application/vnd.oasis.opendocument.spreadsheet",
                false,
                false,
            ),
            "text/html" => Err(Refusal::Scriptable("HTML")),
            "text/xml" => Err(Refusal::Scriptable("XML and SVG")),
            "text/x-shellscript" => Err(Refusal::Scriptable("script")),
            _ => Err(Refusal::Unrecognised),
        };
    }
    // No magic number: plain text is kept when it is UTF-8 and no markup.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(Refusal::Unrecognised);
    };
    if text.contains('\0') {
        return Err(Refusal::Unrecognised);
    }
    let lower = text.to_ascii_lowercase();
    for (needle, what) in [
        ("<svg", "SVG"),
        ("<?xml", "XML and SVG"),
        ("<!doctype", "HTML"),
        ("<html", "HTML"),
        ("<script", "HTML"),
        ("<iframe", "HTML"),
        ("<body", "HTML"),
        ("<head", "HTML"),
        ("<meta", "HTML"),
        ("<object", "HTML"),
        ("<embed", "HTML"),
    ] {
        if lower.contains(needle) {
            return Err(Refusal::Scriptable(what));
        }
    }
    if lower.trim_start_matches('\u{feff}').starts_with("#!") {
        return Err(Refusal::Scriptable("script"));
    }
    kept("text/plain; charset=utf-8", false, false)
}

/// Decodes an accepted image (within [`MAX_IMAGE_SIDE`] and [`MAX_DECODE_BYTES`]) and
/// draws its JPEG thumbnail. CPU-heavy: run it on a blocking thread.
///
/// # Errors
/// Too large, damaged, or not of the format its magic number claims.
pub fn thumbnail(bytes: &[u8], content_type: &str) -> Result<Vec<u8>, Refusal> {
    let format = match content_type {
        "image/png" => ImageFormat::Png,
        "image/jpeg" => ImageFormat::Jpeg,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::WebP,
        _ => return Err(Refusal::Unrecognised),
    };
    let bad = |e: image::ImageError| Refusal::BadImage(e.to_string());
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    // The header first: a bomb is refused before anything is allocated for its pixels.
    let mut probe = ImageReader::new(Cursor::new(bytes));
    probe.set_format(format);
    let (width, height) = probe.into_dimensions().map_err(bad)?;
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(Refusal::ImageTooLarge { width, height });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(format);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => Refusal::ImageTooLarge { width, height },
        other => bad(other),
    })?;
    let small = image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE).into_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&small)
        .map_err(bad)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(width, height, image::Rgb([200, 30, 30]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn names_with_paths_are_refused() {
        for bad in [
            "../../etc/passwd",
            "a/b.png",
            "..\\win.ini",
            "C:\\x.png",
            "..",
            " ",
            "x\0.png",
        ] {
            assert!(file_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(file_name("Photo 1.JPG").unwrap(), "Photo 1.JPG");
        assert_eq!(file_name("tab\there.txt").unwrap(), "tabhere.txt");
    }

    #[test]
    fn type_comes_from_the_content() {
        let p = png(4, 3);
        assert_eq!(inspect(&p, 1 << 20).unwrap().content_type, "image/png");
        assert_eq!(
            inspect(b"%PDF-1.7\n...", 1 << 20).unwrap().content_type,
            "application/pdf"
        );
        assert_eq!(
            inspect(b"VIN;km\nWVW123;42000\n", 1 << 20)
                .unwrap()
                .content_type,
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            inspect(b"<!DOCTYPE html><script>alert(1)</script>", 1 << 20),
            Err(Refusal::Scriptable("HTML"))
        );
        assert!(matches!(
            inspect(
                b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>x</script></svg>",
                1 << 20
            ),
            Err(Refusal::Scriptable(_))
        ));
        assert_eq!(
            inspect(b"MZ\x90\x00\x03\x00\x00\x00", 1 << 20),
            Err(Refusal::Unrecognised)
        );
        assert_eq!(
            inspect(&[0xff, 0xfe, 0x00, 0x01], 1 << 20),
            Err(Refusal::Unrecognised)
        );
        assert_eq!(inspect(&p, 10), Err(Refusal::TooLarge { limit: 10 }));
        assert_eq!(inspect(b"", 10), Err(Refusal::Empty));
    }

    #[test]
    fn thumbnails_are_small_jpegs() {
        let thumb = thumbnail(&png(1000, 500), "image/png").unwrap();
        let img = image::load_from_memory_with_format(&thumb, ImageFormat::Jpeg).unwrap();
        assert_eq!((img.width(), img.height()), (320, 160));
    }

    #[test]
    fn a_png_that_is_not_whole_is_refused() {
        let p = png(40, 40);
        let cut = &p[..p.len() / 2];
        assert!(matches!(
            thumbnail(cut, "image/png"),
            Err(Refusal::BadImage(_))
        ));
    }
}
