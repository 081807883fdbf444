//! `[camera.facade]` settings (read by `analytics::falling`).

use serde::{Deserialize, Serialize};

/// One calibration point: image pixel and its facade-plane position in metres
/// (`m = [x along the facade, h above ground]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibPoint {
    pub px: [f64; 2],
    pub m: [f64; 2],
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacadeConfig {
    /// Storey height in metres (floor 1 = ground floor).
    #[serde(default = "default_floor_height")]
    pub floor_height_m: f64,
    /// At least four non-collinear points; without it no floor is reported.
    #[serde(default)]
    pub calibration: Vec<CalibPoint>,
    /// Polygons (analysis pixels) excluded from detection: trees, roads, sky.
    #[serde(default)]
    pub masks: Vec<Vec<[f64; 2]>>,
    /// `[camera.facade.building]`: the building model for window-level location and coverage
    /// planning (`vigil coverage`). Absent: floors only.
    #[serde(
        default,
        rename = "building",
        skip_serializing_if = "BuildingModel::is_empty"
    )]
    pub model: BuildingModel,
}

/// One window / balcony column of a facade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Centre along the facade, in the calibration's metres.
    pub x_m: f64,
    /// What residents call it, e.g. the unit number "03"; default: its 1-based index, "01"…
    #[serde(default)]
    pub name: Option<String>,
}

/// The facade as a building: storeys, extent and window columns. Every field is optional;
/// `storeys` and `facade_x_m` make windows known (columns every `column_spacing_m` when none
/// are listed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildingModel {
    /// Building name, e.g. "T1"; cameras naming the same building are planned together.
    #[serde(default)]
    pub name: Option<String>,
    /// Number of storeys above ground.
    #[serde(default)]
    pub storeys: Option<u32>,
    /// Extent of the facade along x: `[from, to]` in the calibration's metres.
    #[serde(default)]
    pub facade_x_m: Option<[f64; 2]>,
    /// Window / balcony columns; empty: one every `column_spacing_m` across `facade_x_m`.
    #[serde(default)]
    pub columns: Vec<Column>,
    /// Spacing of the default columns (m).
    #[serde(default)]
    pub column_spacing_m: Option<f64>,
    /// Window opening width and height (m) and its sill above the floor (m).
    #[serde(default)]
    pub window_w_m: Option<f64>,
    #[serde(default)]
    pub window_h_m: Option<f64>,
    #[serde(default)]
    pub sill_m: Option<f64>,
}

/// A resolved window column.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnRef {
    /// 1-based, left to right (increasing x).
    pub index: u32,
    pub name: String,
    pub x_m: f64,
}

/// The window an object left from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowRef {
    pub column: ColumnRef,
    /// `<floor>-<column name>`, e.g. `21-03`.
    pub label: String,
    /// Distance along the facade from the release point to the column's centre (m).
    pub distance_m: f64,
}

impl BuildingModel {
    /// Nothing given: floors only.
    pub fn is_empty(&self) -> bool {
        *self == BuildingModel::default()
    }

    pub fn window_w(&self) -> f64 {
        self.window_w_m.unwrap_or(1.5)
    }
    pub fn window_h(&self) -> f64 {
        self.window_h_m.unwrap_or(1.5)
    }
    pub fn sill(&self) -> f64 {
        self.sill_m.unwrap_or(0.9)
    }

    /// The columns, listed or derived, sorted by x; empty when the model does not say.
    pub fn columns(&self) -> Vec<ColumnRef> {
        let mut xs: Vec<(f64, Option<String>)> = if !self.columns.is_empty() {
            self.columns
                .iter()
                .map(|c| (c.x_m, c.name.clone()))
                .collect()
        } else if let Some([a, b]) = self.facade_x_m {
            let step = self.column_spacing_m.unwrap_or(3.6);
            let n = ((b - a) / step).floor().max(1.0) as usize;
            // Centred in the extent: n columns of `step`, the margin split at both ends.
            let x0 = a + ((b - a) - step * (n as f64 - 1.0)) / 2.0;
            (0..n).map(|i| (x0 + step * i as f64, None)).collect()
        } else {
            Vec::new()
        };
        xs.sort_by(|p, q| p.0.total_cmp(&q.0));
        xs.into_iter()
            .enumerate()
            .map(|(i, (x_m, name))| ColumnRef {
                index: i as u32 + 1,
                name: name.unwrap_or_else(|| format!("{:02}", i + 1)),
                x_m,
            })
            .collect()
    }

    /// The window nearest to a release point `x_m` on `floor`; `None` without columns.
    pub fn locate(&self, x_m: f64, floor: i32) -> Option<WindowRef> {
        let col = self
            .columns()
            .into_iter()
            .min_by(|a, b| (a.x_m - x_m).abs().total_cmp(&(b.x_m - x_m).abs()))?;
        Some(WindowRef {
            label: format!("{floor}-{}", col.name),
            distance_m: (col.x_m - x_m).abs(),
            column: col,
        })
    }

    /// The opening of the window of column centre `x_m` on `floor`, in facade metres:
    /// bottom-left, bottom-right, top-right, top-left.
    pub fn opening_m(&self, x_m: f64, floor: i32, floor_height_m: f64) -> [[f64; 2]; 4] {
        let (ww, wh) = (self.window_w(), self.window_h());
        let y0 = (floor - 1) as f64 * floor_height_m + self.sill();
        let xs = [x_m - ww / 2.0, x_m + ww / 2.0];
        [[xs[0], y0], [xs[1], y0], [xs[1], y0 + wh], [xs[0], y0 + wh]]
    }

    fn validate(&self, floor_height_m: f64) -> Result<(), (String, String)> {
        let err = |f: &str, r: String| Err((format!("facade.building.{f}"), r));
        if let Some(n) = self.storeys {
            if !(1..=200).contains(&n) {
                return err("storeys", format!("must be 1..=200, got {n}"));
            }
        }
        if let Some([a, b]) = self.facade_x_m {
            if !(a.is_finite() && b.is_finite() && a < b) {
                return err(
                    "facade_x_m",
                    format!("must be [from, to] with from < to, got [{a}, {b}]"),
                );
            }
            for (i, c) in self.columns.iter().enumerate() {
                if !(a..=b).contains(&c.x_m) {
                    return err(
                        &format!("columns[{i}].x_m"),
                        format!("{} is outside facade_x_m [{a}, {b}]", c.x_m),
                    );
                }
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, c) in self.columns.iter().enumerate() {
            if !c.x_m.is_finite() {
                return err(&format!("columns[{i}].x_m"), "must be a number".into());
            }
            if let Some(n) = &c.name {
                if n.is_empty() || n.len() > 16 || !names.insert(n.clone()) {
                    return err(
                        &format!("columns[{i}].name"),
                        format!("'{n}' must be 1-16 characters and unique"),
                    );
                }
            }
        }
        if let Some(s) = self.column_spacing_m {
            if !(0.5..=50.0).contains(&s) {
                return err("column_spacing_m", format!("must be 0.5-50 m, got {s}"));
            }
        }
        let (w, h, sill) = (self.window_w(), self.window_h(), self.sill());
        if !(w > 0.1 && w < 20.0) {
            return err("window_w_m", format!("must be 0.1-20 m, got {w}"));
        }
        if !(h > 0.1 && sill >= 0.0 && sill + h <= floor_height_m) {
            return err(
                "window_h_m",
                format!("sill {sill} m + window {h} m must fit in the {floor_height_m} m storey"),
            );
        }
        Ok(())
    }
}

fn default_floor_height() -> f64 {
    3.0
}

impl Default for FacadeConfig {
    fn default() -> Self {
        FacadeConfig {
            floor_height_m: default_floor_height(),
            calibration: Vec::new(),
            masks: Vec::new(),
            model: BuildingModel::default(),
        }
    }
}

impl FacadeConfig {
    /// Semantic checks; returns (field, reason) of the first problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(self.floor_height_m > 1.0 && self.floor_height_m < 10.0) {
            return Err((
                "facade.floor_height_m".into(),
                format!("must be between 1 and 10 m, got {}", self.floor_height_m),
            ));
        }
        if !self.calibration.is_empty() && self.calibration.len() < 4 {
            return Err((
                "facade.calibration".into(),
                format!("needs at least 4 points, got {}", self.calibration.len()),
            ));
        }
        for (i, m) in self.masks.iter().enumerate() {
            if m.len() < 3 {
                return Err((
                    format!("facade.masks[{i}]"),
                    "a polygon needs at least 3 points".into(),
                ));
            }
        }
        self.model.validate(self.floor_height_m)
    }
}
