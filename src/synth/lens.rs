//! Mild barrel distortion, applied to the rendered pinhole picture as a remap.
//!
//! With `d` the distorted (output) pixel and `u` the pinhole pixel, both relative to the image
//! centre, and `r = |d| / R` (`R` = half the image diagonal):
//!
//! `u = d · (1 + k r²) / (1 + k)`
//!
//! so the corners stay where the pinhole put them (`r = 1`: `u = d`) and the centre is
//! magnified by `1 + k`: straight lines bow outwards (barrel). Every output pixel samples the
//! pinhole picture inside the frame, so nothing is invented at the borders. Truth positions and
//! calibration points go through [`Lens::distort`], so they match the pixels exactly; the
//! analytics' facade homography cannot model the bend, which costs up to about
//! `k / 4 · R / (1 + k)` px between the centre and the corners (≈ 8 px at k = 0.05 and 1280×720),
//! less after the least-squares fit spreads it.

#[derive(Clone, Debug, PartialEq)]
pub struct Lens {
    pub k: f64,
    cx: f64,
    cy: f64,
    r: f64,
}

impl Lens {
    pub fn new(width: u32, height: u32, k: f64) -> Lens {
        let cx = (width as f64 - 1.0) / 2.0;
        let cy = (height as f64 - 1.0) / 2.0;
        Lens {
            k,
            cx,
            cy,
            r: (cx * cx + cy * cy).sqrt().max(1.0),
        }
    }

    pub fn is_identity(&self) -> bool {
        self.k == 0.0
    }

    /// Pinhole position of output pixel `(x, y)`.
    pub fn undistort(&self, x: f64, y: f64) -> (f64, f64) {
        if self.is_identity() {
            return (x, y);
        }
        let (dx, dy) = (x - self.cx, y - self.cy);
        let r2 = (dx * dx + dy * dy) / (self.r * self.r);
        let s = (1.0 + self.k * r2) / (1.0 + self.k);
        (self.cx + dx * s, self.cy + dy * s)
    }

    /// Output pixel showing pinhole position `(x, y)` (inverse of [`Lens::undistort`]).
    pub fn distort(&self, x: f64, y: f64) -> (f64, f64) {
        if self.is_identity() {
            return (x, y);
        }
        let (ux, uy) = (x - self.cx, y - self.cy);
        let nu = (ux * ux + uy * uy).sqrt();
        if nu < 1e-12 {
            return (x, y);
        }
        // Solve ρ (1 + k ρ²) = a for the distorted normalised radius ρ.
        let a = nu / self.r * (1.0 + self.k);
        let mut rho = a;
        for _ in 0..8 {
            let f = rho + self.k * rho * rho * rho - a;
            let df = 1.0 + 3.0 * self.k * rho * rho;
            rho -= f / df;
        }
        let s = rho * self.r / nu;
        (self.cx + ux * s, self.cy + uy * s)
    }

    /// Pinhole source position of every output pixel, row-major (None for the identity).
    pub fn source_map(&self, width: u32, height: u32) -> Option<Vec<[f32; 2]>> {
        if self.is_identity() {
            return None;
        }
        let mut m = Vec::with_capacity(width as usize * height as usize);
        for y in 0..height {
            for x in 0..width {
                let (u, v) = self.undistort(x as f64, y as f64);
                m.push([u as f32, v as f32]);
            }
        }
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distort_inverts_undistort_and_corners_stay() {
        let l = Lens::new(1280, 720, 0.05);
        for &(x, y) in &[(0.0, 0.0), (100.0, 650.0), (640.0, 360.0), (1279.0, 10.0)] {
            let (u, v) = l.undistort(x, y);
            let (a, b) = l.distort(u, v);
            assert!((a - x).abs() < 1e-6 && (b - y).abs() < 1e-6, "{x},{y}");
        }
        let (u, v) = l.undistort(0.0, 0.0);
        assert!(u.abs() < 1e-9 && v.abs() < 1e-9);
        // Barrel: a point half way out is shown further out than the pinhole puts it.
        let (a, _) = l.distort(320.0, 359.5);
        assert!(a < 320.0, "{a}");
    }
}
