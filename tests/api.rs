//! The HTTP API on a real server (127.0.0.1, random port) over a real SQLite file, driven
//! by a real HTTP client: roles, filters, pagination, Range, SSE, bad input, webhooks.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use vigil::api::{router, AppState};
use vigil::audit;
use vigil::auth::{self, Role};
use vigil::config::service::{ApiConfig, WebhookConfig};
use vigil::events::{Event, EventKind, EventUpdate, Phase};
use vigil::service::{commit_update, CameraStatus, EventBus, EventIds, SharedCameras};
use vigil::store::{EvidenceKind, HealthSample, Store};

struct Headers(Vec<(String, String)>);

impl Headers {
    fn header(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Node {
    _rt: tokio::runtime::Runtime,
    base: String,
    store: Store,
    bus: EventBus,
    cams: SharedCameras,
    dir: tempfile::TempDir,
    tokens: BTreeMap<Role, String>,
    agent: ureq::Agent,
}

use common::{agent, json, wait_until};

impl Node {
    fn start() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("vigil.db")).unwrap();
        let mut tokens = BTreeMap::new();
        for role in [Role::Admin, Role::Operator, Role::Viewer] {
            auth::add_user(&store, role.as_str(), role, "password-123").unwrap();
        }
        let bus = EventBus::new(256);
        let cams = SharedCameras::default();
        cams.set(CameraStatus {
            name: "east".into(),
            kind: "facade".into(),
            online: true,
            input_fps: 25.0,
            analysed_fps: 12.5,
            last_frame_age_s: Some(0.04),
            ..Default::default()
        });
        let cfg = ApiConfig {
            sse_heartbeat_s: 1.0,
            ..ApiConfig::default()
        };
        let state = AppState::new(store.clone(), bus.clone(), Arc::new(cams.clone()), cfg);
        let (rt, base) = common::serve_api(state, 2);
        let mut node = Node {
            _rt: rt,
            base,
            store,
            bus,
            cams,
            dir,
            tokens: BTreeMap::new(),
            agent: agent(),
        };
        for role in [Role::Admin, Role::Operator, Role::Viewer] {
            let r = node
                .agent
                .post(&format!("{}/auth/login", node.base))
                .set("Content-Type", "application/json")
                .send_string(
                    &serde_json::json!({ "name": role.as_str(), "password": "password-123" })
                        .to_string(),
                )
                .unwrap();
            let v: serde_json::Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
            tokens.insert(role, v["token"].as_str().unwrap().to_string());
        }
        node.tokens = tokens;
        node
    }

    /// (status, body bytes, headers of interest)
    fn req(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> (u16, Vec<u8>, Headers) {
        self.req_h(method, path, token, body, &[])
    }

    fn req_h(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &[u8])>,
        headers: &[(&str, &str)],
    ) -> (u16, Vec<u8>, Headers) {
        let mut r = self
            .agent
            .request(method, &format!("{}{}", self.base, path));
        if let Some(t) = token {
            r = r.set("Authorization", &format!("Bearer {t}"));
        }
        for (k, v) in headers {
            r = r.set(k, v);
        }
        let res = match body {
            Some((ct, b)) => r.set("Content-Type", ct).send_bytes(b),
            None => r.call(),
        };
        let resp = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        let headers = Headers(
            resp.headers_names()
                .into_iter()
                .filter_map(|n| {
                    resp.header(&n)
                        .map(|v| (n.to_ascii_lowercase(), v.to_string()))
                })
                .collect(),
        );
        let mut buf = Vec::new();
        resp.into_reader().read_to_end(&mut buf).unwrap();
        (status, buf, headers)
    }

    fn tok(&self, r: Role) -> &str {
        &self.tokens[&r]
    }

    fn event(&self, ids: &mut EventIds, seq: u64, cam: &str, kind: EventKind, phase: Phase) -> i64 {
        let upd = EventUpdate {
            phase,
            event: Event::new(seq, kind, cam, seq as f64, 0.8),
            pictures: Vec::new(),
        };
        commit_update(&self.store, &self.bus, ids, &upd).unwrap()
    }
}

fn err_code(b: &[u8]) -> String {
    json(b)["error"]["code"].as_str().unwrap_or("").to_string()
}

fn audit_actions(store: &Store) -> Vec<(String, String, String)> {
    audit::list(store, 0, 10_000)
        .unwrap()
        .into_iter()
        .map(|r| (r.actor, r.action, r.target))
        .collect()
}

#[test]
fn role_checks_for_every_route() {
    let n = Node::start();
    let mut ids = EventIds::new();
    let id = n.event(&mut ids, 1, "east", EventKind::FallingObject, Phase::New);
    for (k, name) in [
        (EvidenceKind::Clip, "c.mp4"),
        (EvidenceKind::Snapshot, "s.jpg"),
        (EvidenceKind::Trajectory, "t.png"),
    ] {
        let p = n.dir.path().join(name);
        std::fs::write(&p, b"evidence-bytes").unwrap();
        n.store.attach_evidence(id, k, &p).unwrap();
    }
    use Role::*;
    // (method, path, body, lowest role allowed)
    let routes: Vec<(&str, String, Option<&str>, Role)> = vec![
        ("GET", "/cameras".into(), None, Viewer),
        ("GET", "/cameras/east/status".into(), None, Viewer),
        ("GET", "/cameras/east/health".into(), None, Viewer),
        ("GET", "/events".into(), None, Viewer),
        ("GET", format!("/events/{id}"), None, Viewer),
        ("GET", format!("/events/{id}/clip.mp4"), None, Operator),
        ("GET", format!("/events/{id}/snapshot.jpg"), None, Operator),
        (
            "GET",
            format!("/events/{id}/trajectory.png"),
            None,
            Operator,
        ),
        ("POST", format!("/events/{id}/ack"), Some("{}"), Operator),
        (
            "POST",
            format!("/events/{id}/false_alarm"),
            Some("{}"),
            Operator,
        ),
        (
            "POST",
            format!("/events/{id}/note"),
            Some(r#"{"text":"checked"}"#),
            Operator,
        ),
        ("GET", "/audit".into(), None, Admin),
        ("GET", "/audit/verify".into(), None, Admin),
        ("GET", "/metrics".into(), None, Viewer),
        (
            "POST",
            "/users".into(),
            Some(r#"{"name":"u_ROLE","role":"viewer","password":"long-enough-pw"}"#),
            Admin,
        ),
    ];
    for (m, path, body, min) in &routes {
        let (s, b, _) = n.req(
            m,
            path,
            None,
            body.map(|b| ("application/json", b.as_bytes())),
        );
        assert_eq!(s, 401, "{m} {path} without token");
        assert_eq!(err_code(&b), "unauthorized");
        for role in [Viewer, Operator, Admin] {
            let body = body.map(|b| b.replace("ROLE", role.as_str()));
            let (s, b, _) = n.req(
                m,
                path,
                Some(n.tok(role)),
                body.as_deref().map(|b| ("application/json", b.as_bytes())),
            );
            if role >= *min {
                assert!(
                    s == 200 || s == 201,
                    "{m} {path} as {role:?}: {s} {}",
                    String::from_utf8_lossy(&b)
                );
            } else {
                assert_eq!(s, 403, "{m} {path} as {role:?}");
                assert_eq!(err_code(&b), "forbidden");
            }
        }
    }
    // Public routes.
    for p in ["/healthz", "/openapi.json"] {
        assert_eq!(n.req("GET", p, None, None).0, 200, "{p}");
    }
    // Refused evidence access is audited, as are downloads and state changes.
    let acts = audit_actions(&n.store);
    assert!(acts.contains(&("viewer".into(), "denied".into(), format!("event/{id}/clip"))));
    assert!(acts.contains(&(
        "operator".into(),
        "evidence.download".into(),
        format!("event/{id}/clip")
    )));
    assert!(acts.contains(&("operator".into(), "event.ack".into(), format!("event/{id}"))));
    assert!(acts.iter().any(|a| a.0 == "admin" && a.1 == "login"));
    assert_eq!(audit::verify(&n.store).unwrap() as usize, acts.len());
}

#[test]
fn list_filters_and_cursor_pagination() {
    let n = Node::start();
    let mut ids = EventIds::new();
    for i in 0..120u64 {
        let (cam, kind) = if i % 3 == 0 {
            ("lift1", EventKind::EbikeInElevator)
        } else {
            ("east", EventKind::FallingObject)
        };
        n.event(&mut ids, i, cam, kind, Phase::New);
    }
    let t = n.tok(Role::Viewer).to_string();
    let mut all = Vec::new();
    let mut path = "/events?camera=east&limit=30".to_string();
    loop {
        let (s, b, _) = n.req("GET", &path, Some(&t), None);
        assert_eq!(s, 200);
        let v = json(&b);
        for e in v["events"].as_array().unwrap() {
            assert_eq!(e["camera"], "east");
            all.push(e["id"].as_i64().unwrap());
        }
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/events?camera=east&limit=30&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(all.len(), 80);
    assert!(all.windows(2).all(|w| w[0] > w[1]));
    let (_, b, _) = n.req(
        "GET",
        "/events?kind=ebike_in_elevator&limit=1000",
        Some(&t),
        None,
    );
    assert_eq!(json(&b)["events"].as_array().unwrap().len(), 40);
    // Operator acknowledges one; the state filter finds exactly it.
    let target = all[5];
    let (s, b, _) = n.req(
        "POST",
        &format!("/events/{target}/ack"),
        Some(n.tok(Role::Operator)),
        Some(("application/json", br#"{"note":"on my way"}"#)),
    );
    assert_eq!(s, 200);
    assert_eq!(json(&b)["state"], "acknowledged");
    let (_, b, _) = n.req("GET", "/events?state=acknowledged", Some(&t), None);
    let v = json(&b);
    assert_eq!(v["events"].as_array().unwrap().len(), 1);
    assert_eq!(v["events"][0]["id"].as_i64(), Some(target));
    let (_, b, _) = n.req("GET", &format!("/events/{target}"), Some(&t), None);
    assert_eq!(json(&b)["notes"][0]["text"], "on my way");
    // Time range: everything was created now.
    let now = vigil::store::now_ms() as f64 / 1000.0;
    let (_, b, _) = n.req(
        "GET",
        &format!("/events?since={}&limit=1000", now - 600.0),
        Some(&t),
        None,
    );
    assert_eq!(json(&b)["events"].as_array().unwrap().len(), 120);
    let (_, b, _) = n.req(
        "GET",
        &format!("/events?until={}", now - 600.0),
        Some(&t),
        None,
    );
    assert_eq!(json(&b)["events"].as_array().unwrap().len(), 0);
    // Bad query values and unknown parameters.
    for bad in [
        "/events?limit=abc",
        "/events?limit=0",
        "/events?kind=cat",
        "/events?state=done",
        "/events?colour=red",
        "/events?cursor=zz",
        "/events?since=-5",
    ] {
        let (s, b, _) = n.req("GET", bad, Some(&t), None);
        assert_eq!(s, 400, "{bad}");
        assert_eq!(err_code(&b), "bad_request", "{bad}");
    }
}

#[test]
fn evidence_range_downloads() {
    let n = Node::start();
    let mut ids = EventIds::new();
    let id = n.event(&mut ids, 1, "east", EventKind::FallingObject, Phase::New);
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let clip = n.dir.path().join("clip.mp4");
    std::fs::write(&clip, &data).unwrap();
    n.store
        .attach_evidence(id, EvidenceKind::Clip, &clip)
        .unwrap();
    let t = n.tok(Role::Operator).to_string();
    let path = format!("/events/{id}/clip.mp4");
    let (s, b, h) = n.req("GET", &path, Some(&t), None);
    assert_eq!(s, 200);
    assert_eq!(b, data);
    assert_eq!(h.header("accept-ranges"), Some("bytes"));
    assert_eq!(h.header("content-type"), Some("video/mp4"));
    let cases: [(&str, usize, usize); 4] = [
        ("bytes=100-199", 100, 199),
        ("bytes=9990-", 9990, 9999),
        ("bytes=-50", 9950, 9999),
        ("bytes=9000-20000", 9000, 9999),
    ];
    for (range, a, z) in cases {
        let (s, b, h) = n.req_h("GET", &path, Some(&t), None, &[("Range", range)]);
        assert_eq!(s, 206, "{range}");
        assert_eq!(b, &data[a..=z], "{range}");
        assert_eq!(
            h.header("content-range"),
            Some(format!("bytes {a}-{z}/10000").as_str()),
            "{range}"
        );
    }
    for range in ["bytes=20000-", "bytes=500-100", "bytes=-0", "bytes=x-y"] {
        let (s, b, h) = n.req_h("GET", &path, Some(&t), None, &[("Range", range)]);
        assert_eq!(s, 416, "{range}");
        assert_eq!(err_code(&b), "bad_range");
        assert_eq!(h.header("content-range"), Some("bytes */10000"));
    }
    // Several ranges: served whole (allowed by RFC 9110).
    let (s, b, _) = n.req_h("GET", &path, Some(&t), None, &[("Range", "bytes=0-1,5-6")]);
    assert_eq!((s, b.len()), (200, 10_000));
    assert_eq!(
        n.req("GET", &format!("/events/{id}/snapshot.jpg"), Some(&t), None)
            .0,
        404
    );
    assert_eq!(
        n.req("GET", "/events/999999/clip.mp4", Some(&t), None).0,
        404
    );
    assert_eq!(n.req("GET", "/events/abc/clip.mp4", Some(&t), None).0, 400);
    // After retention the file is gone and says so.
    n.store.enforce_retention(None, Some(0)).unwrap();
    let (s, b, _) = n.req("GET", &path, Some(&t), None);
    assert_eq!(s, 410);
    assert_eq!(err_code(&b), "gone");
}

#[test]
fn evidence_with_a_query_token() {
    let n = Node::start();
    let mut ids = EventIds::new();
    let id = n.event(&mut ids, 1, "east", EventKind::FallingObject, Phase::New);
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let clip = n.dir.path().join("clip-q.mp4");
    std::fs::write(&clip, &data).unwrap();
    n.store
        .attach_evidence(id, EvidenceKind::Clip, &clip)
        .unwrap();
    let op = n.tok(Role::Operator).to_string();
    let path = format!("/events/{id}/clip.mp4");
    // Range with the token in the URL (what <video> does): 206 and the right bytes.
    let (s, b, h) = n.req_h(
        "GET",
        &format!("{path}?access_token={op}"),
        None,
        None,
        &[("Range", "bytes=0-99")],
    );
    assert_eq!(s, 206);
    assert_eq!(b, &data[..100]);
    assert_eq!(h.header("content-range"), Some("bytes 0-99/10000"));
    let (s, b, _) = n.req_h(
        "GET",
        &format!("{path}?x=1&access_token={op}"),
        None,
        None,
        &[("Range", "bytes=5000-")],
    );
    assert_eq!(s, 206);
    assert_eq!(b, &data[5000..]);
    // Whole file too.
    let (s, b, _) = n.req("GET", &format!("{path}?access_token={op}"), None, None);
    assert_eq!((s, b.len()), (200, 10_000));
    // A wrong token: 401, like a wrong header.
    let (s, b, _) = n.req("GET", &format!("{path}?access_token=nope"), None, None);
    assert_eq!(s, 401);
    assert_eq!(err_code(&b), "unauthorized");
    // A viewer's token: 403, audited like a refused header request.
    let vw = n.tok(Role::Viewer).to_string();
    let (s, b, _) = n.req_h(
        "GET",
        &format!("{path}?access_token={vw}"),
        None,
        None,
        &[("Range", "bytes=0-99")],
    );
    assert_eq!(s, 403);
    assert_eq!(err_code(&b), "forbidden");
    // Only evidence files (and the stream and thumbnails) take a URL token.
    assert_eq!(
        n.req(
            "GET",
            &format!("/events/{id}?access_token={op}"),
            None,
            None
        )
        .0,
        401
    );
    assert_eq!(
        n.req("GET", &format!("/events?access_token={op}"), None, None)
            .0,
        401
    );
    let acts = audit_actions(&n.store);
    assert!(
        acts.contains(&("viewer".into(), "denied".into(), format!("event/{id}/clip"))),
        "{acts:?}"
    );
    assert!(acts.contains(&(
        "operator".into(),
        "evidence.download".into(),
        format!("event/{id}/clip")
    )));
    // The token itself is never written to the audit log.
    for r in audit::list(&n.store, 0, 10_000).unwrap() {
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains(&op) && !text.contains(&vw), "{text}");
    }
}

#[test]
fn camera_thumbnails_and_states() {
    let n = Node::start();
    let vw = n.tok(Role::Viewer).to_string();
    let path = "/cameras/east/thumbnail.jpg";
    // None taken yet, unknown camera, no token.
    let (s, b, _) = n.req("GET", path, Some(&vw), None);
    assert_eq!(s, 404);
    assert_eq!(err_code(&b), "not_found");
    assert_eq!(
        n.req("GET", "/cameras/nope/thumbnail.jpg", Some(&vw), None)
            .0,
        404
    );
    assert_eq!(n.req("GET", path, None, None).0, 401);
    let jpeg = {
        let img = image::GrayImage::from_pixel(32, 18, image::Luma([90]));
        let mut buf = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut buf)
            .encode_image(&img)
            .unwrap();
        buf
    };
    n.cams.set_thumbnail(
        "east",
        vigil::service::Thumbnail {
            jpeg: Arc::new(jpeg.clone()),
            at_ms: 1_700_000_000_123,
            width: 32,
            height: 18,
            full: None,
            full_size: [32, 18],
        },
    );
    // Viewers may see it (header or URL token); it is never cached.
    let (s, b, h) = n.req("GET", path, Some(&vw), None);
    assert_eq!(s, 200);
    assert_eq!(b, jpeg);
    assert_eq!(h.header("content-type"), Some("image/jpeg"));
    assert_eq!(h.header("cache-control"), Some("no-store"));
    let (_, b, _) = n.req("GET", "/cameras", Some(&vw), None);
    let cams = json(&b);
    let east = &cams["cameras"][0];
    let url = east["thumbnail_url"]
        .as_str()
        .expect("thumbnail_url")
        .to_string();
    assert_eq!(url, "/api/v1/cameras/east/thumbnail.jpg?t=1700000000123");
    assert_eq!(east["thumbnail_at_ms"], 1_700_000_000_123i64);
    let rel = url.trim_start_matches("/api/v1");
    let (s, b, _) = n.req("GET", &format!("{rel}&access_token={vw}"), None, None);
    assert_eq!((s, b.len()), (200, jpeg.len()));
    // Names outside ASCII are percent-encoded in the URL and found again.
    assert_eq!(
        vigil::service::thumbnail_path("东楼-3"),
        "/api/v1/cameras/%E4%B8%9C%E6%A5%BC-3/thumbnail.jpg"
    );
    // A reconnecting camera says so, apart from offline.
    n.cams.set(CameraStatus {
        name: "gate".into(),
        kind: "facade".into(),
        online: false,
        reconnects: 3,
        state: vigil::service::CameraState::Reconnecting,
        last_error: Some("connection refused".into()),
        ..Default::default()
    });
    let (_, b, _) = n.req("GET", "/cameras/gate/status", Some(&vw), None);
    let v = json(&b);
    assert_eq!(v["state"], "reconnecting");
    assert_eq!(v["online"], false);
    assert_eq!(v["last_error"], "connection refused");
    assert!(v["thumbnail_url"].is_null());
    // Without a node behind it the reload routes say so.
    let (s, _, _) = n.req("POST", "/config/reload", Some(n.tok(Role::Admin)), None);
    assert_eq!(s, 501);
    assert_eq!(n.req("POST", "/config/reload", Some(&vw), None).0, 403);
}

/// (method, path, token, (content type, body), expected status, expected error code)
type BadCase<'a> = (
    &'a str,
    String,
    Option<&'a str>,
    Option<(&'a str, Vec<u8>)>,
    u16,
    &'a str,
);

#[test]
fn bad_input_gets_json_errors() {
    let n = Node::start();
    let mut ids = EventIds::new();
    let id = n.event(&mut ids, 1, "east", EventKind::FallingObject, Phase::New);
    let op = n.tok(Role::Operator).to_string();
    let j = "application/json";
    let cases: Vec<BadCase> = vec![
        (
            "POST",
            "/auth/login".into(),
            None,
            Some((j, b"{not json".to_vec())),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/auth/login".into(),
            None,
            Some((j, br#"{"name":1,"password":"x"}"#.to_vec())),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/auth/login".into(),
            None,
            Some((
                j,
                br#"{"name":"admin","password":"password-123","extra":1}"#.to_vec(),
            )),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/auth/login".into(),
            None,
            Some(("text/plain", br#"{"name":"a","password":"b"}"#.to_vec())),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/auth/login".into(),
            None,
            Some((
                j,
                br#"{"name":"admin","password":"wrong-password"}"#.to_vec(),
            )),
            401,
            "unauthorized",
        ),
        (
            "POST",
            format!("/events/{id}/note"),
            Some(&op),
            Some((j, br#"{"text":""}"#.to_vec())),
            400,
            "bad_request",
        ),
        (
            "POST",
            format!("/events/{id}/note"),
            Some(&op),
            Some((j, br#"{"text":["a"]}"#.to_vec())),
            400,
            "bad_request",
        ),
        (
            "POST",
            format!("/events/{id}/ack"),
            Some(&op),
            Some((j, br#"{"state":"x"}"#.to_vec())),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/events/424242/ack".into(),
            Some(&op),
            None,
            404,
            "not_found",
        ),
        (
            "GET",
            "/events/424242".into(),
            Some(&op),
            None,
            404,
            "not_found",
        ),
        (
            "GET",
            "/events/-3".into(),
            Some(&op),
            None,
            400,
            "bad_request",
        ),
        (
            "GET",
            "/cameras/nope/status".into(),
            Some(&op),
            None,
            404,
            "not_found",
        ),
        (
            "GET",
            "/cameras/east/health?window_s=-1".into(),
            Some(&op),
            None,
            400,
            "bad_request",
        ),
        (
            "GET",
            "/no/such/route".into(),
            Some(&op),
            None,
            404,
            "not_found",
        ),
        (
            "DELETE",
            "/events".into(),
            Some(&op),
            None,
            405,
            "method_not_allowed",
        ),
        (
            "GET",
            "/events".into(),
            Some("vgl_0000"),
            None,
            401,
            "unauthorized",
        ),
    ];
    for (m, p, t, body, want, code) in cases {
        let (s, b, _) = n.req(m, &p, t, body.as_ref().map(|(c, b)| (*c, b.as_slice())));
        assert_eq!(s, want, "{m} {p}: {}", String::from_utf8_lossy(&b));
        assert_eq!(err_code(&b), code, "{m} {p}");
    }
    // A body over the limit (on its own connection: the server answers 413 and closes it).
    // One byte over, so the server has read everything sent when it answers: with a larger
    // body the client may still be writing when the server closes, and sees a reset instead
    // of the 413 (a race of the client, not of the server's limit).
    let big = vec![b' '; ApiConfig::default().max_body_bytes + 1];
    let r = agent()
        .post(&format!("{}/auth/login", n.base))
        .set("Content-Type", j)
        .send_bytes(&big);
    match r {
        Err(ureq::Error::Status(413, resp)) => assert_eq!(
            err_code(resp.into_string().unwrap().as_bytes()),
            "too_large"
        ),
        other => panic!("huge body: {other:?}"),
    }
    // Expired token.
    let user = auth::check_password(&n.store, "viewer", "password-123").unwrap();
    let expired = auth::issue_token(&n.store, user.user_id, "session", "t", Some(-1)).unwrap();
    let (s, b, _) = n.req("GET", "/events", Some(&expired.token), None);
    assert_eq!(s, 401);
    assert_eq!(err_code(&b), "token_expired");
    // Failed logins are audited.
    assert!(audit_actions(&n.store)
        .iter()
        .any(|a| a.0 == "admin" && a.1 == "login.failed"));
    // Logout revokes.
    let (s, _, _) = n.req("POST", "/auth/logout", Some(&op), None);
    assert_eq!(s, 204);
    assert_eq!(n.req("GET", "/events", Some(&op), None).0, 401);
}

#[test]
fn sse_receives_published_events() {
    let n = Node::start();
    let url = format!(
        "{}/events/stream?camera=east&access_token={}",
        n.base,
        n.tok(Role::Viewer)
    );
    let resp = n.agent.get(&url).call().unwrap();
    assert!(resp.content_type().starts_with("text/event-stream"));
    let mut lines = BufReader::new(resp.into_reader()).lines();
    // Subscribed once the hello comment arrives.
    loop {
        let l = lines.next().unwrap().unwrap();
        if l.starts_with(": connected") {
            break;
        }
    }
    let mut ids = EventIds::new();
    n.event(&mut ids, 1, "lift9", EventKind::EbikeInElevator, Phase::New); // filtered out
    let id = n.event(&mut ids, 2, "east", EventKind::FallingObject, Phase::New);
    n.event(&mut ids, 2, "east", EventKind::FallingObject, Phase::End);
    let mut got = Vec::new();
    let mut heartbeat = false;
    let mut kind = String::new();
    while got.len() < 2 {
        let l = lines.next().unwrap().unwrap();
        if let Some(k) = l.strip_prefix("event: ") {
            kind = k.to_string();
        } else if let Some(d) = l.strip_prefix("data: ") {
            let v = json(d.as_bytes());
            assert_eq!(v["event"]["camera"], "east");
            assert_eq!(v["phase"].as_str(), Some(kind.as_str()));
            got.push((
                kind.clone(),
                v["event"]["id"].as_i64().unwrap(),
                v["event"]["phase"].as_str().unwrap().to_string(),
            ));
        } else if l.starts_with(": heartbeat") {
            heartbeat = true;
        }
    }
    assert_eq!(got[0], ("new".to_string(), id, "open".to_string()));
    assert_eq!(got[1], ("end".to_string(), id, "ended".to_string()));
    // Heartbeats keep idle connections alive (interval 1 s in this test).
    while !heartbeat {
        let l = lines.next().unwrap().unwrap();
        heartbeat = l.starts_with(": heartbeat");
    }
    // Without any token the stream is refused.
    let r = n.agent.get(&format!("{}/events/stream", n.base)).call();
    assert!(matches!(r, Err(ureq::Error::Status(401, _))));
}

#[test]
fn cameras_health_metrics_openapi() {
    let n = Node::start();
    let now = vigil::store::now_ms();
    for i in 0..4 {
        n.store
            .record_health(&HealthSample {
                camera: "east".into(),
                ts_ms: now - 1000 * i,
                online: i != 0,
                image_ok: i >= 2,
                input_fps: 25.0,
                analysed_fps: 12.0,
                decode_errors: 0,
                reconnects: 0,
            })
            .unwrap();
    }
    let t = n.tok(Role::Viewer).to_string();
    let (_, b, _) = n.req("GET", "/cameras/east/health?window_s=3600", Some(&t), None);
    let v = json(&b);
    assert_eq!(v["samples"], 4);
    assert_eq!(v["online_rate"], 0.75);
    assert_eq!(v["image_availability_rate"], 0.5);
    let (_, b, _) = n.req("GET", "/cameras", Some(&t), None);
    assert_eq!(json(&b)["cameras"][0]["analysed_fps"], 12.5);
    // A dead camera's fps shows 0 in metrics.
    n.cams.set(CameraStatus {
        name: "lift1".into(),
        kind: "elevator".into(),
        online: false,
        ..Default::default()
    });
    let mut ids = EventIds::new();
    n.event(&mut ids, 1, "east", EventKind::FallingObject, Phase::New);
    let (s, b, h) = n.req("GET", "/metrics", Some(&t), None);
    assert_eq!(s, 200);
    assert!(h.header("content-type").unwrap().starts_with("text/plain"));
    let m = String::from_utf8(b).unwrap();
    assert!(
        m.contains("vigil_camera_input_fps{camera=\"east\"} 25"),
        "{m}"
    );
    assert!(
        m.contains("vigil_camera_input_fps{camera=\"lift1\"} 0"),
        "{m}"
    );
    assert!(m.contains("vigil_camera_online{camera=\"lift1\"} 0"), "{m}");
    assert!(
        m.contains("vigil_events_total{camera=\"east\",kind=\"falling_object\"} 1"),
        "{m}"
    );
    assert!(m.contains("vigil_webhook_failures_total 0"));
    // The root aliases answer too.
    let root = n.base.trim_end_matches("/api/v1");
    assert_eq!(
        n.agent
            .get(&format!("{root}/healthz"))
            .call()
            .unwrap()
            .status(),
        200
    );
    // OpenAPI lists every route of the router.
    let (_, b, _) = n.req("GET", "/openapi.json", None, None);
    let doc = json(&b);
    // Generated by utoipa (OpenAPI 3.1); `api::router::tests` checks routes and document agree.
    assert_eq!(doc["openapi"], "3.1.0");
    for p in [
        "/auth/login",
        "/auth/logout",
        "/users",
        "/cameras",
        "/cameras/{name}/status",
        "/cameras/{name}/health",
        "/cameras/{name}/thumbnail.jpg",
        "/config",
        "/config/reload",
        "/events",
        "/events/stream",
        "/events/{id}",
        "/events/{id}/clip.mp4",
        "/events/{id}/snapshot.jpg",
        "/events/{id}/trajectory.png",
        "/events/{id}/ack",
        "/events/{id}/false_alarm",
        "/events/{id}/note",
        "/audit",
        "/audit/verify",
        "/healthz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(doc["paths"].get(p).is_some(), "openapi lacks {p}");
    }
}

/// A webhook receiver on a fixed port that records deliveries.
type Got = Arc<Mutex<Vec<(i64, String, bool, serde_json::Value)>>>;

fn start_receiver(rt: &tokio::runtime::Runtime, port: u16, secret: &'static str) -> Got {
    use axum::http::HeaderMap;
    let got: Got = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: HeaderMap, body: axum::body::Bytes| {
            let g = g.clone();
            async move {
                let sig = h
                    .get("x-vigil-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let seq: i64 = h
                    .get("x-vigil-delivery")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(-1);
                let ts: i64 = h
                    .get("x-vigil-timestamp")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(-1);
                let ok = vigil::push::verify_signature(secret.as_bytes(), ts, seq, &body, sig);
                let phase = h
                    .get("x-vigil-event")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                g.lock().unwrap().push((seq, phase, ok, v));
                "ok"
            }
        }),
    );
    let l = rt
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
        .unwrap();
    rt.spawn(async move { axum::serve(l, app).await });
    got
}

#[test]
fn webhook_retries_across_restart_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vigil.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let secret = "hook-secret-123";
    let hook = WebhookConfig {
        max_backoff_s: 0.3,
        events: vec!["new".into(), "end".into()],
        ..WebhookConfig::new(&format!("http://127.0.0.1:{port}/hook"), secret)
    };
    let mut expected = Vec::new();
    // First life: receiver down; alarms pile up and deliveries fail.
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let store = Store::open(&db).unwrap();
        let bus = EventBus::new(64);
        let workers = rt.block_on(async {
            vigil::push::spawn_webhook_worker(store.clone(), vec![hook.clone()], &bus)
        });
        // Let the worker register its cursor before the first alarm.
        wait_until("cursor", || !store.outbox_depths().unwrap().is_empty());
        let mut ids = EventIds::new();
        for i in 0..3u64 {
            let upd = |phase| EventUpdate {
                phase,
                event: Event::new(i, EventKind::FallingObject, "east", i as f64, 0.9),
                pictures: vec![],
            };
            let id = commit_update(&store, &bus, &mut ids, &upd(Phase::New)).unwrap();
            commit_update(&store, &bus, &mut ids, &upd(Phase::Update)).unwrap(); // not subscribed
            commit_update(&store, &bus, &mut ids, &upd(Phase::End)).unwrap();
            expected.push((id, "new".to_string()));
            expected.push((id, "end".to_string()));
        }
        wait_until("failures", || {
            bus.metrics
                .webhook_failures
                .load(std::sync::atomic::Ordering::Relaxed)
                >= 2
        });
        for w in workers {
            w.abort();
        }
        rt.shutdown_background();
    }
    // Second life: the node restarts, one more alarm, then the receiver comes up.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = Store::open(&db).unwrap();
    let bus = EventBus::new(64);
    let mut ids = EventIds::new();
    let id = commit_update(
        &store,
        &bus,
        &mut ids,
        &EventUpdate {
            phase: Phase::New,
            event: Event::new(0, EventKind::EbikeInElevator, "lift1", 1.0, 0.9),
            pictures: vec![],
        },
    )
    .unwrap();
    expected.push((id, "new".to_string()));
    let depths = store.outbox_depths().unwrap();
    assert!(
        depths[0].1 >= 7,
        "pending notices kept across restart: {depths:?}"
    );
    assert!(depths[0].2 >= 2, "failures recorded: {depths:?}");
    let got = start_receiver(&rt, port, secret);
    let _workers = rt.block_on(async {
        vigil::push::spawn_webhook_worker(store.clone(), vec![hook.clone()], &bus)
    });
    wait_until("all deliveries", || {
        got.lock().unwrap().len() >= expected.len()
    });
    let got = got.lock().unwrap().clone();
    assert!(got.iter().all(|g| g.2), "every signature verifies");
    let seqs: Vec<i64> = got.iter().map(|g| g.0).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates: {seqs:?}"
    );
    let delivered: Vec<(i64, String)> = got
        .iter()
        .map(|g| (g.3["event"]["id"].as_i64().unwrap(), g.1.clone()))
        .collect();
    assert_eq!(delivered, expected);
    assert!(got
        .iter()
        .all(|g| g.3["phase"] == serde_json::Value::String(g.1.clone())));
    wait_until("cursor at head", || {
        store.outbox_depths().unwrap()[0].1 == 0
    });
}

/// Load fixture (run by hand, see the report): 100,000 events, server on
/// 127.0.0.1:$VIGIL_LOAD_PORT until killed; prints a viewer token. Then e.g.
/// `wrk -t2 -c200 -d20s --latency -H "Authorization: Bearer $T" http://127.0.0.1:PORT/api/v1/events`.
#[test]
#[ignore]
fn load_fixture_serve() {
    let Ok(port) = std::env::var("VIGIL_LOAD_PORT") else {
        return;
    };
    let n = Node::start();
    n.store
        .insert_event(
            &Event::new(0, EventKind::FallingObject, "east", 0.0, 0.9),
            0,
        )
        .unwrap();
    let c = rusqlite::Connection::open(n.store.path()).unwrap();
    c.execute_batch(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 99999)
         INSERT INTO events (camera, seq, kind, start_s, end_s, alarm_s, created_at, updated_at, confidence, origin, trajectory)
         SELECT CASE i % 4 WHEN 0 THEN 'lift1' ELSE 'east' END, i,
                CASE i % 4 WHEN 0 THEN 'ebike_in_elevator' ELSE 'falling_object' END,
                i, i + 2.5, i + 0.5, 1700000000000 + i * 1000, 1700000000000 + i * 1000, 0.9,
                '{\"x\":10.0,\"y\":20.0,\"floor\":7}', '[[0.0,1.0,2.0],[0.1,1.5,3.0],[0.2,2.0,4.5]]'
         FROM s;",
    )
    .unwrap();
    assert_eq!(n.store.count_events().unwrap(), 100_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let l = rt
        .block_on(tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")))
        .unwrap();
    let state = AppState::new(
        n.store.clone(),
        n.bus.clone(),
        Arc::new(n.cams.clone()),
        ApiConfig::default(),
    );
    println!("TOKEN {}", n.tok(Role::Viewer));
    // Publish a new alarm every VIGIL_LOAD_PUBLISH_MS (for SSE fan-out measurements).
    let every = std::env::var("VIGIL_LOAD_PUBLISH_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    let (store, bus) = (n.store.clone(), n.bus.clone());
    std::thread::spawn(move || {
        let Some(ms) = every else { return };
        let mut ids = EventIds::new();
        for i in 1_000_000u64.. {
            std::thread::sleep(Duration::from_millis(ms));
            let mut e = Event::new(i, EventKind::FallingObject, "east", 0.0, 0.9);
            // The wall clock of publication rides along in the label.
            e.label = Some(format!("sent_ms={}", vigil::store::now_ms()));
            let upd = EventUpdate {
                phase: Phase::New,
                event: e,
                pictures: vec![],
            };
            commit_update(&store, &bus, &mut ids, &upd).unwrap();
        }
    });
    rt.block_on(async move { axum::serve(l, router(state)).await })
        .unwrap();
}

/// Configuration reload on a real `vigil serve`: through the API (admin only, audited) and
/// SIGHUP; analytic settings apply live, the rest is reported; an invalid file changes nothing.
/// Also the camera states (online / reconnecting) and thumbnails of real cameras.
#[test]
fn config_reload_on_a_running_server() {
    use common::{synth_facade, Server};
    let dir = tempfile::tempdir().unwrap();
    let clip = synth_facade(
        dir.path(),
        "tower",
        3,
        &["--duration", "4", "--width", "640", "--height", "360"],
    );
    let config = |floor_h: &str, pre_roll: &str| {
        format!(
            "[node]\ndata_dir = \"data\"\npre_roll_s = {pre_roll}\n\n\
             [[camera]]\nname = \"tower\"\nkind = \"facade\"\nsource = \"{}\"\nrealtime = true\nloop = true\n\
             [camera.facade]\nfloor_height_m = {floor_h}\n\n\
             [[camera]]\nname = \"dead\"\nkind = \"facade\"\nsource = \"rtsp://127.0.0.1:9/none\"\n\
             io_timeout_s = 1.0\nreconnect_max_s = 2.0\n",
            clip.display()
        )
    };
    let mut srv = Server::start(dir.path(), &config("3.0", "5.0"));
    srv.add_user("op", "operator", "op-password-1");
    srv.add_user("vw", "viewer", "vw-password-1");
    let (admin, op, vw) = (
        srv.admin_token.clone(),
        srv.login("op", "op-password-1"),
        srv.login("vw", "vw-password-1"),
    );
    let status = |name: &str| {
        srv.json("GET", &format!("/api/v1/cameras/{name}/status"), Some(&vw))
            .1
    };

    // States: the file camera comes online, the dead RTSP one is reconnecting (not "offline").
    srv.wait_for("tower online", Duration::from_secs(60), || {
        status("tower")["state"] == "online"
    });
    srv.wait_for("dead reconnecting", Duration::from_secs(60), || {
        status("dead")["state"] == "reconnecting"
    });
    let dead = status("dead");
    assert_eq!(dead["online"], false);
    assert!(dead["reconnects"].as_u64().unwrap_or(0) >= 1, "{dead}");
    // Thumbnails: the live camera has one (a viewer may see it), the dead one has none.
    srv.wait_for("tower thumbnail", Duration::from_secs(30), || {
        status("tower")["thumbnail_url"].is_string()
    });
    let (s, jpeg) = srv.req(
        "GET",
        "/api/v1/cameras/tower/thumbnail.jpg",
        Some(&vw),
        None,
    );
    assert_eq!(s, 200);
    let img = image::load_from_memory(&jpeg).expect("thumbnail is an image");
    assert!(img.width() <= 320 && img.height() <= 320 && img.width() > 0);
    assert_eq!(
        srv.req("GET", "/api/v1/cameras/dead/thumbnail.jpg", Some(&vw), None)
            .0,
        404
    );

    // The running configuration (admin only).
    let (s, v) = srv.json("GET", "/api/v1/config", Some(&admin));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["generation"], 0);
    assert_eq!(v["cameras"][0]["facade"]["floor_height_m"], 3.0);
    assert!(!v.to_string().contains("rtsp://"), "no source URLs: {v}");
    assert_eq!(srv.json("GET", "/api/v1/config", Some(&op)).0, 403);

    // A threshold and a restart-only setting change in the file.
    std::fs::write(&srv.config, config("3.5", "4.0")).unwrap();
    for (who, tok) in [("op", &op), ("vw", &vw)] {
        let (s, v) = srv.json("POST", "/api/v1/config/reload", Some(tok));
        assert_eq!(s, 403, "{who}: {v}");
    }
    assert_eq!(
        srv.json("GET", "/api/v1/config", Some(&admin)).1["generation"],
        0
    );
    let (s, v) = srv.json("POST", "/api/v1/config/reload", Some(&admin));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["generation"], 1);
    assert_eq!(v["applied"], serde_json::json!(["camera.tower.facade"]));
    assert_eq!(
        v["restart_required"],
        serde_json::json!(["node.pre_roll_s"])
    );
    let (_, v) = srv.json("GET", "/api/v1/config", Some(&admin));
    assert_eq!(v["cameras"][0]["facade"]["floor_height_m"], 3.5);
    // The camera thread picks the new analytic up between two frames.
    srv.wait_for("tower on generation 1", Duration::from_secs(30), || {
        status("tower")["config_generation"] == 1
    });
    assert_eq!(status("tower")["state"], "online");

    // An invalid file: 422 with the reason; nothing changes.
    std::fs::write(&srv.config, config("50.0", "4.0")).unwrap();
    let (s, v) = srv.json("POST", "/api/v1/config/reload", Some(&admin));
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "invalid_config");
    let msg = v["error"]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("floor_height_m") && msg.contains("tower"),
        "{msg}"
    );
    std::fs::write(&srv.config, "[node\nbroken").unwrap();
    let (s, v) = srv.json("POST", "/api/v1/config/reload", Some(&admin));
    assert_eq!(s, 422, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("vigil.toml"),
        "{v}"
    );
    let (_, v) = srv.json("GET", "/api/v1/config", Some(&admin));
    assert_eq!(v["generation"], 1);
    assert_eq!(v["cameras"][0]["facade"]["floor_height_m"], 3.5);
    assert_eq!(status("tower")["config_generation"], 1);

    // SIGHUP re-reads the file too.
    std::fs::write(&srv.config, config("4.0", "4.0")).unwrap();
    srv.signal("HUP");
    srv.wait_for("SIGHUP reload", Duration::from_secs(30), || {
        let v = srv.json("GET", "/api/v1/config", Some(&admin)).1;
        v["generation"] == 2 && v["cameras"][0]["facade"]["floor_height_m"] == 4.0
    });
    srv.wait_for("tower on generation 2", Duration::from_secs(30), || {
        status("tower")["config_generation"] == 2
    });

    // Every reload and refusal is in the audit log.
    let (_, v) = srv.json("GET", "/api/v1/audit?limit=1000", Some(&admin));
    let recs = v["records"].as_array().cloned().unwrap_or_default();
    let has = |actor: &str, action: &str, ok: Option<bool>| {
        recs.iter().any(|r| {
            r["actor"] == actor
                && r["action"] == action
                && ok.map_or(true, |ok| {
                    // The detail is stored as JSON text.
                    let d: serde_json::Value =
                        serde_json::from_str(r["detail"].as_str().unwrap_or("null"))
                            .unwrap_or_default();
                    d["ok"] == ok
                })
        })
    };
    assert!(has("admin", "config.reload", Some(true)), "{v}");
    assert!(has("admin", "config.reload", Some(false)), "{v}");
    assert!(has("SIGHUP", "config.reload", Some(true)), "{v}");
    assert!(has("op", "denied", None), "{v}");
    assert!(has("vw", "denied", None), "{v}");

    let st = srv.stop();
    let log = srv.log_text();
    assert!(st.is_some_and(|s| s.success()), "{st:?}\n{log}");
    assert!(log.contains("configuration reloaded"), "{log}");
    assert!(log.contains("need a restart"), "{log}");
}

/// `docs/openapi.json`, the API reference a client developer reads without running a node, is
/// the document the code generates (re-write it: `VIGIL_BLESS=1 cargo test --test api
/// openapi_reference_is_current`).
#[test]
fn openapi_reference_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    let generated = vigil::api::openapi_document();
    if std::env::var_os("VIGIL_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
    }
    let checked_in: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        checked_in == generated,
        "docs/openapi.json is stale: re-write it with VIGIL_BLESS=1 cargo test --test api openapi_reference_is_current"
    );
}

/// A camera whose analysis cannot keep up with its live source (a file paced in real time at
/// 25 fps, each frame's analysis slowed to 100 ms with the test-only `VIGIL_TEST_ANALYSIS_DELAY_MS`)
/// drops frames at its bounded queue, and `/metrics` and the camera status say so.
#[test]
fn a_camera_that_falls_behind_drops_frames() {
    use common::{synth_facade, Server};
    let dir = tempfile::tempdir().unwrap();
    let clip = synth_facade(
        dir.path(),
        "tower",
        3,
        &["--duration", "4", "--width", "320", "--height", "180"],
    );
    let config = format!(
        "[node]\ndata_dir = \"data\"\n\n\
         [[camera]]\nname = \"tower\"\nkind = \"facade\"\nsource = \"{}\"\nrealtime = true\nloop = true\n",
        clip.display()
    );
    let srv = Server::start_with_env(
        dir.path(),
        &config,
        &[("VIGIL_TEST_ANALYSIS_DELAY_MS", "100")],
    );
    let tok = srv.admin_token.clone();
    let metric = |text: &str, name: &str| -> f64 {
        let prefix = format!("{name}{{camera=\"tower\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let mut text = String::new();
    srv.wait_for(
        "dropped frames on /metrics",
        Duration::from_secs(60),
        || {
            let (s, b) = srv.req("GET", "/metrics", Some(&tok), None);
            text = String::from_utf8_lossy(&b).into_owned();
            s == 200 && metric(&text, "vigil_camera_frames_dropped_total") >= 10.0
        },
    );
    let received = metric(&text, "vigil_camera_frames_received_total");
    let analysed = metric(&text, "vigil_camera_frames_analysed_total");
    let dropped = metric(&text, "vigil_camera_frames_dropped_total");
    assert!(received > analysed, "{text}");
    // Every received frame is analysed, dropped or still queued (at most the queue's 8 + the
    // one being analysed).
    assert!(received - analysed - dropped <= 9.0, "{text}");
    assert!(metric(&text, "vigil_camera_queue_depth") <= 8.0, "{text}");
    assert!(
        text.contains("# TYPE vigil_camera_frames_dropped_total counter"),
        "{text}"
    );
    // The camera status says the same, and its rates differ.
    srv.wait_for("rates measured", Duration::from_secs(30), || {
        let v = srv
            .json("GET", "/api/v1/cameras/tower/status", Some(&tok))
            .1;
        v["frames_dropped"].as_u64().unwrap_or(0) > 0
            && v["input_fps"].as_f64().unwrap_or(0.0)
                > v["analysed_fps"].as_f64().unwrap_or(0.0) + 5.0
    });
}
