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
    /// The window the object left from (label such as `21-03`, opening corners in image px),
    /// when the building model gives one: outlined on the picture.
    pub window: Option<(String, [(f64, f64); 4])>,
}

/// Colour of the window outline.
pub const WINDOW: Rgb<u8> = Rgb([255, 120, 0]);

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
    // The window last but the header: nothing hides its outline.
    if let Some((label, c)) = &info.window {
        draw::draw_polygon(&mut img, c, WINDOW, 2);
        let top = c.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let left = c.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let txt = format!("WINDOW {label}");
        draw::draw_label(
            &mut img,
            left as i64,
            top as i64 - 7 * scale as i64 - 8,
            &txt,
            WINDOW,
            scale,
        );
    }
    let head = format!(
        "{}  falling object  alarm t={:.2}s",
        info.camera, info.t_alarm
    );
    draw::draw_label(&mut img, 4, 4, &head, draw::WHITE, scale);
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judgement() -> Judgement {
        Judgement {
            falling: true,
            score: 1.0,
            reason: "test",
            t_release: 0.0,
            origin_px: (100.0, 50.0),
            height_m: Some(20.0),
            facade_x_m: Some(0.0),
            acc: 9.8,
            fit_x: None,
            fit_y: None,
        }
    }

    #[test]
    fn the_window_is_outlined_only_when_known() {
        let bg = vec![90u8; 320 * 200];
        let obs = [Obs {
            t: 0.1,
            x: 100.0,
            y: 60.0,
            area: 4,
        }];
        let mut info = PictureInfo {
            camera: "east",
            t_alarm: 0.5,
            floor: Some(7),
            height_m: Some(20.0),
            window: None,
        };
        let plain = trajectory_picture(&bg, 320, 200, &obs, &judgement(), &info);
        assert!(
            !plain.pixels().any(|p| *p == WINDOW),
            "no window, no outline"
        );
        let c = [
            (200.0, 150.0),
            (260.0, 150.0),
            (260.0, 110.0),
            (200.0, 110.0),
        ];
        info.window = Some(("7-03".into(), c));
        let img = trajectory_picture(&bg, 320, 200, &obs, &judgement(), &info);
        // Both vertical edges and the bottom edge of the opening, not its inside.
        assert_eq!(*img.get_pixel(200, 130), WINDOW);
        assert_eq!(*img.get_pixel(260, 130), WINDOW);
        assert_eq!(*img.get_pixel(230, 150), WINDOW);
        assert_eq!(*img.get_pixel(230, 130), Rgb([90, 90, 90]));
        // Elsewhere the picture is the same as without a window.
        assert_eq!(img.get_pixel(20, 190), plain.get_pixel(20, 190));
        // Its label sits above the opening.
        let above = (195..300).any(|x| (90..110).any(|y| *img.get_pixel(x, y) == WINDOW));
        assert!(above, "label drawn");
    }
}
