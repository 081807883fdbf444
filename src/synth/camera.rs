//! Pinhole camera in the facade frame (`x` along the facade, `y` up, `z` out of the facade).

use super::truth::CameraTruth;

pub type V3 = [f64; 3];

#[inline]
pub fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
#[inline]
pub fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// Camera with pitch (up), yaw (about world up) and roll (about the optical axis).
/// Pixel centres sit at integer coordinates; the principal point is the image centre.
#[derive(Clone, Debug)]
pub struct Camera {
    pub width: u32,
    pub height: u32,
    pub pos: V3,
    pub pitch_deg: f64,
    pub yaw_deg: f64,
    pub roll_deg: f64,
    pub hfov_deg: f64,
    pub f_px: f64,
    pub cx: f64,
    pub cy: f64,
    right: V3,
    up: V3,
    fwd: V3,
}

impl Camera {
    pub fn new(
        width: u32,
        height: u32,
        pos: V3,
        pitch_deg: f64,
        yaw_deg: f64,
        roll_deg: f64,
        hfov_deg: f64,
    ) -> Camera {
        let (sp, cp) = pitch_deg.to_radians().sin_cos();
        let fwd0 = [0.0, sp, -cp];
        let right0 = [1.0, 0.0, 0.0];
        let up0 = [0.0, cp, sp];
        let (sr, cr) = roll_deg.to_radians().sin_cos();
        let right1 = [
            right0[0] * cr + up0[0] * sr,
            right0[1] * cr + up0[1] * sr,
            right0[2] * cr + up0[2] * sr,
        ];
        let up1 = [
            up0[0] * cr - right0[0] * sr,
            up0[1] * cr - right0[1] * sr,
            up0[2] * cr - right0[2] * sr,
        ];
        let (sy, cy_) = yaw_deg.to_radians().sin_cos();
        let yaw = |v: V3| [v[0] * cy_ + v[2] * sy, v[1], -v[0] * sy + v[2] * cy_];
        let f_px = (width as f64 / 2.0) / (hfov_deg.to_radians() / 2.0).tan();
        Camera {
            width,
            height,
            pos,
            pitch_deg,
            yaw_deg,
            roll_deg,
            hfov_deg,
            f_px,
            cx: (width as f64 - 1.0) / 2.0,
            cy: (height as f64 - 1.0) / 2.0,
            right: yaw(right1),
            up: yaw(up1),
            fwd: yaw(fwd0),
        }
    }

    /// Image position and depth (along the optical axis) of a world point; None behind the camera.
    pub fn project(&self, p: V3) -> Option<(f64, f64, f64)> {
        let r = sub(p, self.pos);
        let zc = dot(r, self.fwd);
        if zc < 0.05 {
            return None;
        }
        let x = self.cx + self.f_px * dot(r, self.right) / zc;
        let y = self.cy - self.f_px * dot(r, self.up) / zc;
        Some((x, y, zc))
    }

    /// Unnormalised ray direction through image point `(x, y)`.
    pub fn ray(&self, x: f64, y: f64) -> V3 {
        let a = (x - self.cx) / self.f_px;
        let b = (y - self.cy) / self.f_px;
        [
            self.fwd[0] + a * self.right[0] - b * self.up[0],
            self.fwd[1] + a * self.right[1] - b * self.up[1],
            self.fwd[2] + a * self.right[2] - b * self.up[2],
        ]
    }

    /// Where the ray through `(x, y)` meets the plane `z = plane_z` (x, y, ray parameter).
    pub fn hit_plane_z(&self, x: f64, y: f64, plane_z: f64) -> Option<(f64, f64, f64)> {
        let d = self.ray(x, y);
        if d[2] > -1e-9 {
            return None;
        }
        let t = (plane_z - self.pos[2]) / d[2];
        Some((self.pos[0] + t * d[0], self.pos[1] + t * d[1], t))
    }

    pub fn in_frame(&self, x: f64, y: f64) -> bool {
        x >= 0.0 && y >= 0.0 && x <= self.width as f64 - 1.0 && y <= self.height as f64 - 1.0
    }

    pub fn truth(&self) -> CameraTruth {
        CameraTruth {
            position_m: self.pos,
            pitch_deg: self.pitch_deg,
            yaw_deg: self.yaw_deg,
            roll_deg: self.roll_deg,
            hfov_deg: self.hfov_deg,
            focal_px: self.f_px,
            principal_px: [self.cx, self.cy],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ray_and_projection_agree() {
        let cam = Camera::new(1280, 720, [3.0, 1.5, 40.0], 30.0, 4.0, 2.0, 70.0);
        for &(x, y) in &[(100.0, 50.0), (640.0, 360.0), (1200.0, 700.0)] {
            let (fx, fy, _) = cam.hit_plane_z(x, y, 0.0).unwrap();
            let (px, py, _) = cam.project([fx, fy, 0.0]).unwrap();
            assert!((px - x).abs() < 1e-6 && (py - y).abs() < 1e-6);
        }
        // Looking up: higher facade points appear higher in the image.
        let (_, y1, _) = cam.project([3.0, 10.0, 0.0]).unwrap();
        let (_, y2, _) = cam.project([3.0, 30.0, 0.0]).unwrap();
        assert!(y2 < y1);
    }
}
