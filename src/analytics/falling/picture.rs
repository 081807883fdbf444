//! The trajectory picture: clean background, successive positions, fitted curve, origin
//! with its floor, camera name and time.

use image::{Rgb, RgbImage};

use super::physics::Judgement;
use super::tracker::Obs;
use crate::evidence::draw;

pub struct PictureInfo<'a> {
    pub camera: &'a str,
    pub t_alarm: f64,
    pub floor: Option<i32>,
    pub height_m: Option<f64>,
}

/// Render onto a copy of the background luma (`width*height`).
pub fn trajectory_picture(
    bg_luma: &[u8],
    width: u32,
    height: u32,
    obs: &[Obs],
    j: &Judgement,
    info: &PictureInfo,
) -> RgbImage {
    let mut img = RgbImage::new(width.max(1), height.max(1));
    if bg_luma.len() == (width * height) as usize {
        for (px, &g) in img.pixels_mut().zip(bg_luma) {
            *px = Rgb([g, g, g]);
        }
    }
    // Fitted curve from release to the last observation.
    if let (Some(fx), Some(fy), Some(last)) = (j.fit_x, j.fit_y, obs.last()) {
        let (t0, t1) = (j.t_release.min(last.t), last.t);
        let pts: Vec<(f64, f64)> = (0..=60)
            .map(|i| {
                let t = t0 + (t1 - t0) * i as f64 / 60.0;
                (fx.at(t), fy.at(t))
            })
            .collect();
        draw::draw_polyline(&mut img, &pts, draw::CYAN, 1);
        // Dashed extrapolation back to the release point is the first part of the same curve.
    }
    for o in obs {
        let r = (o.area as f64).sqrt().max(2.0) + 1.0;
        draw::draw_circle(&mut img, o.x, o.y, r, draw::YELLOW, false);
    }
    let (ox, oy) = j.origin_px;
    draw::draw_circle(&mut img, ox, oy, 6.0, draw::RED, false);
    draw::draw_line(&mut img, (ox - 10.0, oy), (ox + 10.0, oy), draw::RED, 2);
    let scale = if width >= 960 { 2 } else { 1 };
    let origin_txt = match (info.floor, info.height_m) {
        (Some(f), Some(h)) => format!("ORIGIN FLOOR {f} ({h:.1} m)"),
        _ => "ORIGIN (uncalibrated)".to_string(),
    };
    draw::draw_label(
        &mut img,
        ox as i64 + 12,
        oy as i64 - 8,
        &origin_txt,
        draw::RED,
        scale,
    );
    let head = format!(
        "{}  falling object  alarm t={:.2}s",
        info.camera, info.t_alarm
    );
    draw::draw_label(&mut img, 4, 4, &head, draw::WHITE, scale);
    img
}
