//! Coverage planning (`vigil coverage`): which floors and windows of a building a facade camera
//! sees, how large an object of a given size appears there, and whether the cameras of a
//! building together meet the estate standard ("every window and opening from floor 3 up is
//! watched"). Pure geometry from the camera's calibration, image size, masks and the building
//! model (`[camera.facade.building]`); no I/O.

use serde::Serialize;

use super::falling::physics::Homography;
use crate::config::{ColumnRef, FacadeConfig};

/// The smallest apparent size (px) the falling-object analytic finds reliably, from its
/// evaluation by size (EVAL.md: objects of 3-4.9 px are the smallest bucket it is scored on).
pub const MIN_RELIABLE_PX: f64 = 3.0;
/// Lowest floor the standard asks to be covered.
pub const FIRST_FLOOR: i32 = 3;
/// Object sizes whose apparent size is reported (m).
pub const OBJECT_SIZES_M: [f64; 3] = [0.05, 0.10, 0.30];
/// The object size the verdict is judged on (m).
pub const VERDICT_OBJECT_M: f64 = 0.10;

#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    #[error("camera '{0}' has no facade calibration ([camera.facade] calibration, ≥ 4 points)")]
    NotCalibrated(String),
    #[error("camera '{0}': calibration unusable: {1}")]
    BadCalibration(String, String),
}

/// One window as one camera sees it.
#[derive(Clone, Debug, Serialize)]
pub struct WindowView {
    pub floor: i32,
    pub column: u32,
    pub column_name: String,
    /// `<floor>-<column name>`.
    pub label: String,
    /// The whole opening is inside the picture.
    pub in_image: bool,
    /// Part of the opening is under a detection mask.
    pub masked: bool,
    /// In the picture and not masked.
    pub in_view: bool,
    /// Image pixels per metre on the facade at the window (geometric mean of both directions).
    pub px_per_m: f64,
    /// Apparent pixels per metre of a compact object released there (`f / depth` from the
    /// calibration's camera pose; the facade's scale when the pose is unknown).
    pub object_px_per_m: f64,
    /// Apparent size in pixels at release of objects of [`OBJECT_SIZES_M`].
    pub object_px: [f64; 3],
    /// Smallest object (m) that appears at [`MIN_RELIABLE_PX`] here.
    pub min_object_m: f64,
    /// The opening's corners in image pixels (for drawing).
    pub corners_px: [[f64; 2]; 4],
}

impl WindowView {
    /// Seen well enough for the standard: in view, and a 10 cm object at ≥ [`MIN_RELIABLE_PX`].
    pub fn covered(&self) -> bool {
        self.in_view && self.object_px[1] >= MIN_RELIABLE_PX
    }
}

/// What one camera covers.
#[derive(Clone, Debug, Serialize)]
pub struct CameraCoverage {
    pub camera: String,
    pub building: String,
    pub image_size: [u32; 2],
    /// Floors with at least one window in view.
    pub floors_in_view: Vec<i32>,
    /// Whether the model has columns (else one virtual column at the picture's centre).
    pub has_columns: bool,
    pub storeys: Option<u32>,
    pub windows: Vec<WindowView>,
}

/// The verdict for one building, over all its cameras.
#[derive(Clone, Debug, Serialize)]
pub struct BuildingVerdict {
    pub building: String,
    pub cameras: Vec<String>,
    pub storeys: Option<u32>,
    /// `met`, `not met`, or `unknown` (the model lacks storeys or columns).
    pub verdict: String,
    pub rule: String,
    pub windows_required: usize,
    pub windows_covered: usize,
    /// Labels of the windows no camera covers (floor 3 up).
    pub uncovered: Vec<String>,
    pub reason: Option<String>,
}

fn inside(poly: &[[f64; 2]], x: f64, y: f64) -> bool {
    let mut c = false;
    let n = poly.len();
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + n - 1) % n]);
        if (a[1] > y) != (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0] {
            c = !c;
        }
    }
    c
}

/// The calibration's image → facade homography for a `width` × `height` picture.
pub fn homography(
    camera: &str,
    facade: &FacadeConfig,
    width: u32,
    height: u32,
) -> Result<Homography, CoverageError> {
    if facade.calibration.len() < 4 {
        return Err(CoverageError::NotCalibrated(camera.into()));
    }
    let img: Vec<[f64; 2]> = facade.calibration.iter().map(|p| p.px).collect();
    let world: Vec<[f64; 2]> = facade.calibration.iter().map(|p| p.m).collect();
    let mut hom = Homography::from_points(&img, &world)
        .map_err(|e| CoverageError::BadCalibration(camera.into(), e.to_string()))?;
    hom.set_image_size(width, height);
    Ok(hom)
}

/// Image pixels per metre on the facade around `(x_m, h_m)`: the geometric mean of one metre
/// across (0.5 m each side) and one metre up. 0 where the point is behind the camera.
pub fn px_per_m_at(hom: &Homography, x_m: f64, h_m: f64) -> f64 {
    let d = |dx: f64, dy: f64| -> f64 {
        match (
            hom.to_image(x_m + dx, h_m + dy),
            hom.to_image(x_m - dx, h_m - dy),
        ) {
            (Some(a), Some(b)) => ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt(),
            _ => 0.0,
        }
    };
    (d(0.5, 0.0) * d(0.0, 0.5)).sqrt()
}

/// Apparent size in pixels of a one-metre object at `(x_m, h_m)` on the facade: `f / depth`
/// with the camera pose the calibration implies (a compact object is not foreshortened the way
/// the facade plane is); without a pose (a fronto-parallel view, or a lens bending the
/// calibration too much) the facade's own scale, [`px_per_m_at`].
pub fn object_px_per_m_at(hom: &Homography, width: u32, height: u32, x_m: f64, h_m: f64) -> f64 {
    let (cx, cy) = ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0);
    if let (Some(p), Some(axis)) = (hom.pose, hom.to_world(cx, cy)) {
        let c = [p.along_m, p.height_m, p.dist_m];
        let a = [axis.0 - c[0], axis.1 - c[1], -c[2]];
        let n = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt();
        let depth = ((x_m - c[0]) * a[0] + (h_m - c[1]) * a[1] - c[2] * a[2]) / n.max(1e-9);
        if depth > 0.1 && p.focal_px.is_finite() {
            return p.focal_px / depth;
        }
    }
    px_per_m_at(hom, x_m, h_m)
}

/// The facade's floor grid as one camera sees it, for drawing: each floor's slab line across
/// the facade (image px) and the facade's extent used.
#[derive(Clone, Debug, Serialize)]
pub struct FacadeGrid {
    /// `[from, to]` along the facade (m): the model's `facade_x_m`, else the columns' extent,
    /// else where the picture's bottom corners meet the facade.
    pub x_m: [f64; 2],
    /// `(floor, left end, right end)`: the line at the bottom of `floor` (floor `storeys + 1`
    /// is the roof line).
    pub floor_lines: Vec<(i32, [f64; 2], [f64; 2])>,
}

/// The floor grid of a facade camera (see [`FacadeGrid`]); floors up to the model's storeys,
/// or up to the `top_floor` the plan looked at.
pub fn facade_grid(
    camera: &str,
    facade: &FacadeConfig,
    width: u32,
    height: u32,
    top_floor: i32,
) -> Result<FacadeGrid, CoverageError> {
    let hom = homography(camera, facade, width, height)?;
    let model = &facade.model;
    let cols = model.columns();
    let x_m = match (model.facade_x_m, cols.first(), cols.last()) {
        (Some(r), _, _) => r,
        (None, Some(a), Some(b)) => {
            let half = model.window_w().max(model.column_spacing_m.unwrap_or(3.6)) / 2.0;
            [a.x_m - half, b.x_m + half]
        }
        _ => {
            let (w, h) = (width as f64, height as f64);
            let a = hom.to_world(0.0, h - 1.0).map(|p| p.0).unwrap_or(-10.0);
            let b = hom.to_world(w - 1.0, h - 1.0).map(|p| p.0).unwrap_or(10.0);
            [a.min(b), a.max(b)]
        }
    };
    let top = model.storeys.map(|n| n as i32).unwrap_or(top_floor).max(1);
    let fh = facade.floor_height_m;
    let floor_lines = (1..=top + 1)
        .filter_map(|f| {
            let h = (f - 1) as f64 * fh;
            let a = hom.to_image(x_m[0], h)?;
            let b = hom.to_image(x_m[1], h)?;
            Some((f, [a.0, a.1], [b.0, b.1]))
        })
        .collect();
    Ok(FacadeGrid { x_m, floor_lines })
}

/// How a window is seen, for colouring: the smallest object visible there at
/// [`MIN_RELIABLE_PX`], in classes of 5 / 10 / 30 cm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeClass {
    /// A 5 cm object is seen.
    Cm5,
    /// A 10 cm object is seen (meets the standard).
    Cm10,
    /// Only objects of 10-30 cm are seen.
    Cm30,
    /// Not in view, masked, or only objects over 30 cm.
    NotCovered,
}

impl WindowView {
    /// The window's [`SizeClass`].
    pub fn size_class(&self) -> SizeClass {
        // The same test as [`WindowView::covered`]: an object of that size at ≥ 3 px.
        let seen = |i: usize| self.in_view && self.object_px[i] >= MIN_RELIABLE_PX;
        if seen(0) {
            SizeClass::Cm5
        } else if seen(1) {
            SizeClass::Cm10
        } else if seen(2) {
            SizeClass::Cm30
        } else {
            SizeClass::NotCovered
        }
    }
}

/// The best class of each window of a building over its cameras: `(floor, column index,
/// column name, class)`, sorted by floor then column.
pub fn building_cells(cams: &[&CameraCoverage]) -> Vec<(i32, u32, String, SizeClass)> {
    let mut cells: Vec<(i32, u32, String, SizeClass)> = Vec::new();
    for c in cams {
        for v in &c.windows {
            let k = v.size_class();
            match cells.iter_mut().find(|e| e.0 == v.floor && e.1 == v.column) {
                Some(e) => e.3 = e.3.min(k),
                None => cells.push((v.floor, v.column, v.column_name.clone(), k)),
            }
        }
    }
    cells.sort_by_key(|a| (a.0, a.1));
    cells
}

/// Plan one facade camera whose analysed picture is `width` × `height`.
pub fn plan_camera(
    camera: &str,
    facade: &FacadeConfig,
    width: u32,
    height: u32,
) -> Result<CameraCoverage, CoverageError> {
    let hom = homography(camera, facade, width, height)?;
    let model = &facade.model;
    let (w, h) = (width as f64, height as f64);
    let mut columns = model.columns();
    let has_columns = !columns.is_empty();
    if !has_columns {
        // No model: one virtual column where the picture's centre meets the facade.
        let x = hom.to_world(w / 2.0, h / 2.0).map(|p| p.0).unwrap_or(0.0);
        columns.push(ColumnRef {
            index: 1,
            name: "-".into(),
            x_m: x,
        });
    }
    let fh = facade.floor_height_m;
    // Floors to look at: the model's, or as high as the picture's top reaches.
    let top_floor = match model.storeys {
        Some(n) => n as i32,
        None => {
            let top = [(0.0, 0.0), (w, 0.0), (w / 2.0, 0.0)]
                .iter()
                .filter_map(|&(x, y)| hom.to_world(x, y))
                .map(|p| p.1)
                .fold(0.0f64, f64::max);
            ((top / fh).ceil() as i32).clamp(1, 200)
        }
    };
    let (ww, wh, sill) = (model.window_w(), model.window_h(), model.sill());
    let mut windows = Vec::new();
    for floor in 1..=top_floor {
        let y0 = (floor - 1) as f64 * fh + sill;
        for col in &columns {
            let xs = [col.x_m - ww / 2.0, col.x_m + ww / 2.0];
            let world_corners = model.opening_m(col.x_m, floor, fh);
            let corners: Vec<Option<(f64, f64)>> = world_corners
                .iter()
                .map(|c| hom.to_image(c[0], c[1]))
                .collect();
            let Some(corners) = corners.into_iter().collect::<Option<Vec<_>>>() else {
                continue; // behind the camera
            };
            let in_image = corners
                .iter()
                .all(|&(x, y)| x >= 0.0 && y >= 0.0 && x < w && y < h);
            // A 5×5 grid over the opening: any sample under a mask blocks it.
            let masked = (0..5).any(|i| {
                (0..5).any(|j| {
                    let (u, v) = (i as f64 / 4.0, j as f64 / 4.0);
                    let wx = xs[0] + u * ww;
                    let wy = y0 + v * wh;
                    hom.to_image(wx, wy)
                        .is_some_and(|(x, y)| facade.masks.iter().any(|m| inside(m, x, y)))
                })
            });
            let px_per_m = px_per_m_at(&hom, col.x_m, y0 + wh / 2.0);
            let obj_ppm = object_px_per_m_at(&hom, width, height, col.x_m, y0 + wh / 2.0);
            let object_px = OBJECT_SIZES_M.map(|s| s * obj_ppm);
            let round = |v: f64| (v * 100.0).round() / 100.0;
            windows.push(WindowView {
                floor,
                column: col.index,
                column_name: col.name.clone(),
                label: format!("{floor}-{}", col.name),
                in_image,
                masked,
                in_view: in_image && !masked,
                px_per_m: round(px_per_m),
                object_px_per_m: round(obj_ppm),
                object_px: object_px.map(round),
                min_object_m: if obj_ppm > 0.0 {
                    round(MIN_RELIABLE_PX / obj_ppm * 100.0) / 100.0
                } else {
                    f64::INFINITY
                },
                corners_px: [0, 1, 2, 3].map(|i| [round(corners[i].0), round(corners[i].1)]),
            });
        }
    }
    let mut floors_in_view: Vec<i32> = windows
        .iter()
        .filter(|v| v.in_view)
        .map(|v| v.floor)
        .collect();
    floors_in_view.dedup();
    Ok(CameraCoverage {
        camera: camera.into(),
        building: model.name.clone().unwrap_or_else(|| camera.into()),
        image_size: [width, height],
        floors_in_view,
        has_columns,
        storeys: model.storeys,
        windows,
    })
}

/// The verdict for each building over its cameras (cameras without a building name are their
/// own building).
pub fn verdicts(cams: &[CameraCoverage]) -> Vec<BuildingVerdict> {
    let mut names: Vec<&str> = cams.iter().map(|c| c.building.as_str()).collect();
    names.sort();
    names.dedup();
    let rule = format!(
        "every window from floor {FIRST_FLOOR} up seen by at least one camera with a {:.0} cm \
         object at ≥ {MIN_RELIABLE_PX} px",
        VERDICT_OBJECT_M * 100.0
    );
    names
        .into_iter()
        .map(|b| {
            let group: Vec<&CameraCoverage> = cams.iter().filter(|c| c.building == b).collect();
            let storeys = group.iter().filter_map(|c| c.storeys).max();
            let has_columns = group.iter().all(|c| c.has_columns);
            let mut required: Vec<(i32, u32, String)> = Vec::new();
            for c in &group {
                for v in &c.windows {
                    if v.floor >= FIRST_FLOOR
                        && storeys.is_some_and(|n| v.floor <= n as i32)
                        && !required.iter().any(|r| r.2 == v.label)
                    {
                        required.push((v.floor, v.column, v.label.clone()));
                    }
                }
            }
            required.sort();
            let covered = |label: &str| {
                group
                    .iter()
                    .any(|c| c.windows.iter().any(|v| v.label == label && v.covered()))
            };
            let uncovered: Vec<String> = required
                .iter()
                .filter(|r| !covered(&r.2))
                .map(|r| r.2.clone())
                .collect();
            let reason = match (storeys, has_columns) {
                (None, _) => Some("the building model has no storeys".to_string()),
                (_, false) => Some("the building model has no window columns".to_string()),
                _ => None,
            };
            let verdict = if reason.is_some() {
                "unknown"
            } else if uncovered.is_empty() {
                "met"
            } else {
                "not met"
            };
            BuildingVerdict {
                building: b.to_string(),
                cameras: group.iter().map(|c| c.camera.clone()).collect(),
                storeys,
                verdict: verdict.into(),
                rule: rule.clone(),
                windows_required: required.len(),
                windows_covered: required.len() - uncovered.len(),
                uncovered,
                reason,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BuildingModel, CalibPoint, Column};

    /// A frontal camera: 20 px per metre, x = (px − 640)/20, height = (720 − py)/20 + 5.
    fn frontal(model: BuildingModel) -> FacadeConfig {
        frontal_at(model, 20.0, 5.0)
    }

    /// A 1280×720 camera square-on to the facade at `ppm` px per metre, its bottom edge at
    /// `base_m` above ground.
    fn frontal_at(model: BuildingModel, ppm: f64, base_m: f64) -> FacadeConfig {
        let pt = |px: f64, py: f64| CalibPoint {
            px: [px, py],
            m: [(px - 640.0) / ppm, (720.0 - py) / ppm + base_m],
        };
        FacadeConfig {
            floor_height_m: 3.0,
            calibration: vec![
                pt(0.0, 0.0),
                pt(1280.0, 0.0),
                pt(1280.0, 720.0),
                pt(0.0, 720.0),
            ],
            masks: Vec::new(),
            model,
        }
    }

    #[test]
    fn a_frontal_camera_sees_its_floors_at_the_right_size() {
        let model = BuildingModel {
            name: Some("T1".into()),
            storeys: Some(20),
            facade_x_m: Some([-20.0, 20.0]),
            columns: vec![
                Column {
                    x_m: -10.0,
                    name: Some("01".into()),
                },
                Column {
                    x_m: 10.0,
                    name: Some("02".into()),
                },
            ],
            ..Default::default()
        };
        let cov = plan_camera("east", &frontal(model), 1280, 720).unwrap();
        // The picture spans heights 5 m .. 41 m: floors whose window (sill 0.9, 1.5 m) fits.
        // Floor f's opening: 3(f-1)+0.9 .. 3(f-1)+2.4 → floors 3 (6.9 m) to 13 (38.4 m).
        assert_eq!(cov.floors_in_view, (3..=13).collect::<Vec<_>>());
        let w = cov.windows.iter().find(|v| v.label == "8-02").unwrap();
        assert!((w.px_per_m - 20.0).abs() < 0.01, "{}", w.px_per_m);
        assert!((w.object_px[1] - 2.0).abs() < 0.01);
        assert!((w.min_object_m - 0.15).abs() < 0.01);
        let v = verdicts(&[cov]);
        assert_eq!(v[0].verdict, "not met");
        // 18 floors (3..=20) × 2 columns required; a 10 cm object is 2 px < 3 px everywhere.
        assert_eq!(v[0].windows_required, 36);
        assert_eq!(v[0].windows_covered, 0);
    }

    #[test]
    fn masks_block_windows_and_two_cameras_unite() {
        let model = BuildingModel {
            name: Some("T1".into()),
            storeys: Some(6),
            facade_x_m: Some([-4.0, 4.0]),
            columns: vec![Column {
                x_m: 0.0,
                name: Some("A".into()),
            }],
            ..Default::default()
        };
        // 100 px per metre: a 10 cm object is 10 px.
        let mut low = frontal_at(model.clone(), 100.0, 6.0);
        // Heights 6 .. 13.2 m: floors 3 (6.9-8.4) and 4 (9.9-11.4) in view.
        let a = plan_camera("low", &low, 1280, 720).unwrap();
        assert_eq!(a.floors_in_view, vec![3, 4]);
        // A mask over floor 4's window takes it out of view.
        low.masks = vec![vec![
            [500.0, 150.0],
            [800.0, 150.0],
            [800.0, 350.0],
            [500.0, 350.0],
        ]];
        let a = plan_camera("low", &low, 1280, 720).unwrap();
        assert_eq!(a.floors_in_view, vec![3]);
        let v = verdicts(std::slice::from_ref(&a));
        assert_eq!(v[0].verdict, "not met");
        assert_eq!(v[0].uncovered, vec!["4-A", "5-A", "6-A"]);
        // A second camera higher up covers 4-6: together they meet the standard.
        let high = frontal_at(model, 90.0, 9.6);
        let b = plan_camera("high", &high, 1280, 720).unwrap();
        let v = verdicts(&[a, b]);
        assert_eq!(v[0].verdict, "met", "{:?}", v[0].uncovered);
        assert_eq!(v[0].cameras, vec!["low", "high"]);
    }

    #[test]
    fn without_a_model_the_verdict_is_unknown_and_windows_are_located() {
        let cov = plan_camera("east", &frontal(BuildingModel::default()), 1280, 720).unwrap();
        assert!(!cov.has_columns);
        assert!(!cov.floors_in_view.is_empty());
        assert_eq!(verdicts(&[cov])[0].verdict, "unknown");
        let m = BuildingModel {
            facade_x_m: Some([0.0, 18.0]),
            column_spacing_m: Some(3.6),
            ..Default::default()
        };
        // Five default columns, 3.6 m apart, centred: 1.8, 5.4 … 16.2.
        let cols = m.columns();
        assert_eq!(cols.len(), 5);
        assert!((cols[0].x_m - 1.8).abs() < 1e-9 && cols[4].name == "05");
        let w = m.locate(6.0, 21).unwrap();
        assert_eq!((w.label.as_str(), w.column.index), ("21-02", 2));
        assert!((w.distance_m - 0.6).abs() < 1e-9);
    }
}
