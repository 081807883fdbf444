//! Calibration through the API on a real `vigil serve`: points placed at known facade features
//! of a generated scene (projected with the generator's true camera), fitted in a dry run,
//! saved into the TOML file (comments and other settings kept), audited, applied by the live
//! reload; bad input is refused naming the camera and field and changes nothing.

mod common;

use common::{synth_facade, synth_facade_table, Server};
use serde_json::json;
use vigil::synth::camera::Camera;

#[test]
fn calibration_through_the_api_on_a_generated_scene() {
    let dir = tempfile::tempdir().unwrap();
    let clip = synth_facade(
        dir.path(),
        "tower",
        3,
        &["--duration", "3", "--width", "640", "--height", "360"],
    );
    let truth: vigil::synth::truth::FacadeTruth =
        serde_json::from_slice(&std::fs::read(dir.path().join("tower.truth.json")).unwrap())
            .unwrap();
    let table = synth_facade_table(dir.path(), "tower");
    let config = format!(
        "# site survey 2026-12 (keep this comment)\n[node]\ndata_dir = \"data\"\n\n\
         [[camera]]\nname = \"tower\"\nkind = \"facade\"\nsource = \"{}\"\nrealtime = true\nloop = true\n\
         [camera.facade]\n{table}\n\
         [camera.facade.building]\nname = \"T3\"\nstoreys = {}\nfacade_x_m = [{:.3}, {:.3}]\n\n\
         [[camera]]\nname = \"lift\"\nkind = \"elevator\"\nsource = \"rtsp://127.0.0.1:9/none\"\nio_timeout_s = 1.0\n",
        clip.display(),
        truth.floors,
        truth.facade_x_m[0],
        truth.facade_x_m[1]
    );
    let mut srv = Server::start(dir.path(), &config);
    srv.add_user("op", "operator", "op-password-1");
    let (admin, op) = (srv.admin_token.clone(), srv.login("op", "op-password-1"));
    let path = "/api/v1/cameras/tower/calibration";

    // The full-size snapshot the points are placed on (admin; the analysed size).
    srv.wait_for("a snapshot", std::time::Duration::from_secs(60), || {
        srv.req(
            "GET",
            "/api/v1/cameras/tower/snapshot.jpg",
            Some(&admin),
            None,
        )
        .0 == 200
    });
    let (_, jpeg) = srv.req(
        "GET",
        "/api/v1/cameras/tower/snapshot.jpg",
        Some(&admin),
        None,
    );
    let snap = image::load_from_memory(&jpeg).expect("snapshot is a JPEG");
    assert_eq!((snap.width(), snap.height()), (truth.width, truth.height));
    assert_eq!(
        srv.req("GET", "/api/v1/cameras/tower/snapshot.jpg", Some(&op), None)
            .0,
        403
    );

    // What the TOML calibration (written by the generator) plans.
    let cfg = vigil::config::Config::load(&srv.config).unwrap();
    let facade = cfg.cameras[0].facade.clone().unwrap();
    let (w, h) = (truth.width, truth.height);
    let plan = vigil::analytics::coverage::plan_camera("tower", &facade, w, h).unwrap();
    let want = [
        *plan.floors_in_view.first().unwrap(),
        *plan.floors_in_view.last().unwrap(),
    ];

    // Clicks at known facade features: the floor line under windows of two columns on three
    // floors, where the generator's true camera shows them.
    let c = &truth.camera;
    let cam = Camera::new(
        w,
        h,
        c.position_m,
        c.pitch_deg,
        c.yaw_deg,
        c.roll_deg,
        c.hfov_deg,
    );
    let cols = facade.model.columns();
    let in_view: Vec<_> = plan.windows.iter().filter(|v| v.in_view).collect();
    let (lo_f, hi_f) = (in_view[0].floor, in_view[in_view.len() - 1].floor);
    let col_ids: Vec<u32> = {
        let mut ids: Vec<u32> = in_view
            .iter()
            .filter(|v| v.floor == lo_f + 1)
            .map(|v| v.column)
            .collect();
        ids.dedup();
        vec![ids[0], ids[ids.len() - 1]]
    };
    let mut points = Vec::new();
    for floor in [lo_f + 1, (lo_f + hi_f) / 2 + 1, hi_f] {
        for &col in &col_ids {
            let x = cols[col as usize - 1].x_m;
            let hm = (floor - 1) as f64 * facade.floor_height_m;
            let (px, py, _) = cam.project([x, hm, 0.0]).unwrap();
            assert!(px >= 0.0 && py >= 0.0 && px < w as f64 && py < h as f64);
            points.push(json!({ "px": [px, py], "floor": floor, "column": col }));
        }
    }
    let body = |pts: &[serde_json::Value]| json!({ "points": pts, "image_size": [w, h] });
    let before = std::fs::read_to_string(&srv.config).unwrap();

    // Dry run: errors per point, the floors then in view; nothing written.
    let (s, b) = srv.req(
        "POST",
        &format!("{path}?dry_run=true"),
        Some(&admin),
        Some(body(&points)),
    );
    let v = common::json(&b);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["saved"], false);
    assert_eq!(v["points"].as_array().unwrap().len(), 6);
    assert!(v["max_error_px"].as_f64().unwrap() < 1.0, "{v}");
    assert_eq!(v["floors_visible"], json!(want), "{v}");
    assert!(v["grid"]["floor_lines"].as_array().unwrap().len() > 5);
    assert_eq!(std::fs::read_to_string(&srv.config).unwrap(), before);

    // A point typed one floor off: a large error on it and a warning.
    let mut typo = points.clone();
    typo[2]["floor"] = json!(typo[2]["floor"].as_i64().unwrap() + 1);
    let (_, b) = srv.req(
        "POST",
        &format!("{path}?dry_run=true"),
        Some(&admin),
        Some(body(&typo)),
    );
    let v = common::json(&b);
    assert!(v["max_error_px"].as_f64().unwrap() > 3.0, "{v}");
    assert!(v["warnings"].to_string().contains("px from"), "{v}");

    // Bad input: 422 naming the camera and the field; the file never changes.
    let mut outside = points.clone();
    outside[3]["px"] = json!([w as f64 + 50.0, 10.0]);
    let mut roof = points.clone();
    roof[0]["floor"] = json!(truth.floors + 5);
    let line: Vec<serde_json::Value> = (0..5)
        .map(|i| json!({ "px": [100.0 + 50.0 * i as f64, 100.0 + 20.0 * i as f64], "m": [i as f64, 10.0 + i as f64] }))
        .collect();
    for (pts, field) in [
        (points[..3].to_vec(), "points"),
        (outside, "points[3].px"),
        (roof, "points[0].floor"),
        (line, "one line"),
    ] {
        let (s, b) = srv.req("POST", path, Some(&admin), Some(body(&pts)));
        let v = common::json(&b);
        assert_eq!(s, 422, "{field}: {v}");
        assert_eq!(v["error"]["code"], "invalid_calibration");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("tower") && msg.contains(field),
            "{field}: {msg}"
        );
    }
    // No picture size known: say which field.
    let (s, b) = srv.req(
        "POST",
        path,
        Some(&admin),
        Some(json!({ "points": points })),
    );
    assert_eq!(s, 422);
    assert!(String::from_utf8_lossy(&b).contains("image_size"));
    // Not a facade camera, an unknown camera, an operator.
    let (s, b) = srv.req(
        "POST",
        "/api/v1/cameras/lift/calibration",
        Some(&admin),
        Some(body(&points)),
    );
    assert_eq!(s, 422, "{}", String::from_utf8_lossy(&b));
    assert!(String::from_utf8_lossy(&b).contains("lift"));
    let (s, _) = srv.req(
        "POST",
        "/api/v1/cameras/nope/calibration",
        Some(&admin),
        Some(body(&points)),
    );
    assert_eq!(s, 404);
    let (s, _) = srv.req("POST", path, Some(&op), Some(body(&points)));
    assert_eq!(s, 403);
    assert_eq!(std::fs::read_to_string(&srv.config).unwrap(), before);

    // Save: written into the file with the rest kept, applied live, audited.
    let (_, g0) = srv.json("GET", "/api/v1/config", Some(&admin));
    let (s, b) = srv.req("POST", path, Some(&admin), Some(body(&points)));
    let v = common::json(&b);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["saved"], true);
    assert!(
        v["reload"]["applied"].to_string().contains("tower"),
        "applied live: {v}"
    );
    let after = std::fs::read_to_string(&srv.config).unwrap();
    assert!(after.contains("# site survey 2026-12 (keep this comment)"));
    assert!(
        after.contains("# Image pixels (x, y) and facade-plane metres"),
        "{after}"
    );
    assert!(after.contains("realtime = true") && after.contains("name = \"lift\""));
    let saved = vigil::config::Config::load(&srv.config).expect("saved config loads");
    let sf = saved.cameras[0].facade.clone().unwrap();
    assert_eq!(sf.calibration.len(), 6);
    assert_eq!(sf.model, facade.model, "the building model is kept");
    // Floors from the saved calibration equal the generator's TOML calibration's (±0).
    let plan2 = vigil::analytics::coverage::plan_camera("tower", &sf, w, h).unwrap();
    assert_eq!(plan2.floors_in_view, plan.floors_in_view);
    let (_, g1) = srv.json("GET", "/api/v1/config", Some(&admin));
    assert!(
        g1["generation"].as_u64() > g0["generation"].as_u64(),
        "{g0} {g1}"
    );
    // The coverage view's data under the running (new) calibration, for an operator.
    let (s, cv) = srv.json(
        "GET",
        &format!("/api/v1/cameras/tower/coverage?width={w}&height={h}"),
        Some(&op),
    );
    assert_eq!(s, 200, "{cv}");
    assert_eq!(cv["floors_in_view"], json!(plan.floors_in_view), "{cv}");
    let classes = cv["windows"].to_string();
    assert!(
        classes.contains("\"size_class\":\"not_covered\""),
        "top floors out of view"
    );
    let (s, _) = srv.json(
        "GET",
        "/api/v1/cameras/lift/coverage?width=640&height=360",
        Some(&op),
    );
    assert_eq!(s, 422);
    let (_, a) = srv.json("GET", "/api/v1/audit?limit=1000", Some(&admin));
    let rec = a["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "camera.calibration")
        .unwrap_or_else(|| panic!("audited: {a}"));
    assert_eq!(rec["actor"], "admin");
    srv.stop();
}

/// A facade camera whose picture changes under its calibration (re-aimed: the looping file is
/// replaced by another scene) is flagged in its status: `calibration_check.moved`.
#[test]
fn calibration_check_flags_a_moved_camera() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--duration", "2", "--width", "640", "--height", "360"];
    let a = synth_facade(dir.path(), "a", 3, &args);
    let b = synth_facade(dir.path(), "b", 8, &args);
    let table = synth_facade_table(dir.path(), "a");
    let cam = dir.path().join("cam.mp4");
    std::fs::copy(&a, &cam).unwrap();
    let config = format!(
        "[node]\ndata_dir = \"data\"\n\n[[camera]]\nname = \"tower\"\nkind = \"facade\"\n\
         source = \"{}\"\nrealtime = true\nloop = true\n[camera.facade]\n{table}\n",
        cam.display()
    );
    let mut srv = Server::start_with_env(dir.path(), &config, &[("VIGIL_DRIFT_EVERY_S", "0.3")]);
    let admin = srv.admin_token.clone();
    let check = || {
        srv.json("GET", "/api/v1/cameras/tower/status", Some(&admin))
            .1["calibration_check"]
            .clone()
    };
    srv.wait_for("a first check", std::time::Duration::from_secs(60), || {
        check()["moved"] == false && check()["match_in_place"].as_f64() > Some(0.5)
    });
    // Steady for a while: never flagged.
    for _ in 0..5 {
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert_eq!(check()["moved"], false, "{}", check());
    }
    // Re-aimed: the next loop of the file shows another scene.
    let tmp = dir.path().join("cam.mp4.new");
    std::fs::copy(&b, &tmp).unwrap();
    std::fs::rename(&tmp, &cam).unwrap();
    srv.wait_for(
        "the move flagged",
        std::time::Duration::from_secs(60),
        || check()["moved"] == true,
    );
    assert!(srv.log_text().contains("no longer matches the calibration"));
    srv.stop();
}
