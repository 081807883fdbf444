//! The frame type the analytics see.

/// One decoded frame, converted for analysis.
///
/// `gray` is always present (taken straight from the decoder's Y plane when the analysis size
/// equals the coded size). `rgb` is filled only when an analytic of the camera asked for colour.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Decoded-frame counter for this camera session (0-based).
    pub index: u64,
    /// Media time in seconds, from the stream's PTS, relative to the stream's first PTS.
    pub pts_s: f64,
    pub width: u32,
    pub height: u32,
    /// Luma, `width * height` bytes, row-major, no padding.
    pub gray: Vec<u8>,
    /// Packed RGB24, `width * height * 3` bytes, when requested.
    pub rgb: Option<Vec<u8>>,
}

impl Frame {
    #[inline]
    pub fn luma(&self, x: u32, y: u32) -> u8 {
        self.gray[(y * self.width + x) as usize]
    }

    /// RGB image of the frame (from `rgb`, or grey replicated when no colour was decoded).
    pub fn to_rgb_image(&self) -> image::RgbImage {
        match &self.rgb {
            Some(rgb) => image::RgbImage::from_raw(self.width, self.height, rgb.clone())
                .unwrap_or_else(|| image::RgbImage::new(self.width, self.height)),
            None => {
                let mut img = image::RgbImage::new(self.width, self.height);
                for (px, &g) in img.pixels_mut().zip(self.gray.iter()) {
                    *px = image::Rgb([g, g, g]);
                }
                img
            }
        }
    }
}
