//! Config parsing and validation: errors name the camera and the field.

use vigil::config::{CameraKind, Config, ConfigError};

const GOOD: &str = r#"
[node]
data_dir = "/tmp/vigil-data"
pre_roll_s = 4.0

[[camera]]
name = "tower-3-east"
kind = "facade"
source = "rtsp://127.0.0.1:8554/tower"
[camera.facade]
floor_height_m = 3.0
calibration = [
  { px = [100, 700], m = [0.0, 0.0] },
  { px = [1100, 700], m = [30.0, 0.0] },
  { px = [1000, 100], m = [30.0, 60.0] },
  { px = [200, 100], m = [0.0, 60.0] },
]

[[camera]]
name = "lift-2"
kind = "elevator"
source = "lift.mp4"
"#;

#[test]
fn good_config_parses() {
    let cfg = Config::parse(GOOD).expect("valid config");
    assert_eq!(cfg.cameras.len(), 2);
    assert_eq!(cfg.node.pre_roll_s, 4.0);
    assert_eq!(cfg.node.post_roll_s, 3.0, "default post-roll");
    let t = cfg.camera(Some("tower-3-east")).expect("camera");
    assert_eq!(t.kind, CameraKind::Facade);
    assert!(t.is_network());
    assert_eq!(t.facade.as_ref().map(|f| f.calibration.len()), Some(4));
    let l = cfg.camera(Some("lift-2")).expect("camera");
    assert!(!l.is_network());
    assert!(matches!(
        cfg.camera(Some("nope")),
        Err(ConfigError::NoSuchCamera(_))
    ));
}

fn err_of(text: &str) -> String {
    match Config::parse(text) {
        Ok(_) => panic!("config should have been rejected:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unknown_key_is_rejected_with_its_name() {
    let e = err_of(&GOOD.replace("pre_roll_s = 4.0", "pre_roll_s = 4.0\nprerol = 3"));
    assert!(e.contains("prerol"), "{e}");
}

#[test]
fn wrong_type_is_rejected() {
    let e = err_of(&GOOD.replace("floor_height_m = 3.0", "floor_height_m = \"three\""));
    assert!(
        e.contains("floor_height_m") || e.contains("invalid type"),
        "{e}"
    );
}

#[test]
fn bad_kind_is_rejected() {
    let e = err_of(&GOOD.replace("kind = \"elevator\"", "kind = \"garage\""));
    assert!(e.contains("garage"), "{e}");
}

#[test]
fn semantic_errors_name_camera_and_field() {
    let e = err_of(&GOOD.replace("floor_height_m = 3.0", "floor_height_m = 30.0"));
    assert!(
        e.contains("tower-3-east") && e.contains("floor_height_m"),
        "{e}"
    );

    let three_points = GOOD.replace("  { px = [200, 100], m = [0.0, 60.0] },\n", "");
    let e = err_of(&three_points);
    assert!(
        e.contains("tower-3-east") && e.contains("calibration"),
        "{e}"
    );

    let e = err_of(&GOOD.replace("name = \"lift-2\"", "name = \"tower-3-east\""));
    assert!(e.contains("duplicate"), "{e}");

    let e = err_of(&GOOD.replace("source = \"lift.mp4\"", "source = \"\""));
    assert!(e.contains("lift-2") && e.contains("source"), "{e}");

    let e = err_of(&GOOD.replace("pre_roll_s = 4.0", "pre_roll_s = -1"));
    assert!(e.contains("pre_roll_s"), "{e}");

    let e = err_of(&GOOD.replace(
        "source = \"lift.mp4\"",
        "source = \"lift.mp4\"\nanalysis_size = [641, 360]",
    ));
    assert!(e.contains("lift-2") && e.contains("analysis_size"), "{e}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let e = Config::load(std::path::Path::new("/nonexistent/vigil.toml"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("/nonexistent/vigil.toml"), "{e}");
}

#[test]
fn relative_paths_resolve_against_the_config_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("vigil.toml");
    std::fs::write(&p, GOOD).expect("write");
    let cfg = Config::load(&p).expect("load");
    assert_eq!(cfg.resolve("lift.mp4"), dir.path().join("lift.mp4"));
    assert_eq!(
        cfg.resolve("/abs/x.mp4"),
        std::path::PathBuf::from("/abs/x.mp4")
    );
}
