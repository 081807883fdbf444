//! The network edge of a real `vigil serve` on 127.0.0.1: login throttling under a flood,
//! bounded memory, connection and subscriber caps, header read timeout, audited ranged
//! downloads, tampered evidence refused, case-insensitive bearer scheme.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{synth_facade, synth_facade_table, Server};

fn config(dir: &std::path::Path, api: &str) -> String {
    let clip = synth_facade(dir, "tower", 3, &["--duration", "8", "--drops", "2"]);
    let facade = synth_facade_table(dir, "tower");
    format!(
        "[node]\ndata_dir = \"data\"\npre_roll_s = 1.0\npost_roll_s = 1.0\n\n[api]\n{api}\n\n\
         [[camera]]\nname = \"tower\"\nkind = \"facade\"\nsource = \"{}\"\nrealtime = true\nloop = true\n\
         [camera.facade]\n{facade}\n",
        clip.display()
    )
}

fn post_login(addr: &str, name: &str, password: &str) -> (u16, Option<String>) {
    let body = serde_json::json!({ "name": name, "password": password }).to_string();
    let r = common::agent()
        .post(&format!("http://{addr}/api/v1/auth/login"))
        .set("Content-Type", "application/json")
        .send_string(&body);
    match r {
        Ok(r) => (r.status(), None),
        Err(ureq::Error::Status(s, r)) => (s, r.header("retry-after").map(str::to_string)),
        Err(e) => panic!("login request failed: {e}"),
    }
}

fn rss_mb(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[test]
fn login_floods_are_throttled_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &config(dir.path(), ""));
    srv.add_user("guard1", "operator", "guard1-password");

    // Five failures are free; the sixth locks the name (429 with Retry-After).
    for _ in 0..6 {
        assert_eq!(post_login(&srv.addr, "guard1", "wrong").0, 401);
    }
    let (status, retry) = post_login(&srv.addr, "guard1", "guard1-password");
    assert_eq!(status, 429, "even the right password waits out the lock");
    assert!(
        retry
            .as_deref()
            .and_then(|r| r.parse::<u64>().ok())
            .is_some_and(|s| s >= 1),
        "Retry-After: {retry:?}"
    );

    let rss_before = rss_mb(srv.pid());
    eprintln!("resident memory before the flood: {rss_before:.0} MB");
    // 200 concurrent bad logins for many names from one address.
    let handles: Vec<_> = (0..200)
        .map(|i| {
            let addr = srv.addr.clone();
            std::thread::spawn(move || {
                post_login(&addr, &format!("mallory{}\nINFO forged", i % 40), "x").0
            })
        })
        .collect();
    let codes: Vec<u16> = handles
        .into_iter()
        .map(|h| h.join().expect("login thread"))
        .collect();
    let throttled = codes.iter().filter(|&&c| c == 429).count();
    assert!(
        codes.iter().all(|&c| c == 401 || c == 429),
        "only 401 and 429: {codes:?}"
    );
    assert!(throttled >= 100, "{throttled} of 200 throttled");
    let rss = rss_mb(srv.pid());
    eprintln!("resident memory after the flood: {rss:.0} MB");
    assert!(rss > 0.0 && rss < 500.0, "resident memory {rss:.0} MB");
    // A forged log line cannot be written through a user name.
    assert!(
        !srv.log_text().lines().any(|l| l.starts_with("INFO forged")),
        "a user name forged a log line"
    );
}

#[test]
fn connection_and_subscriber_caps_and_header_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = "max_connections = 6\nmax_sse_subscribers = 2\nheader_read_timeout_s = 1.0";
    let srv = Server::start(dir.path(), &config(dir.path(), api));
    let tok = srv.admin_token.clone();

    // A half-sent request is dropped after the header timeout.
    let mut slow = TcpStream::connect(&srv.addr).expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 512];
    let n = slow.read(&mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(
        n == 0 || text.contains("408"),
        "the slow request was answered as if whole: {text}"
    );

    // The third live-stream subscriber is refused with 503.
    let sse = |n: usize| {
        let mut s = TcpStream::connect(&srv.addr).expect("connect");
        write!(
            s,
            "GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n\r\n"
        )
        .expect("write");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut b = [0u8; 256];
        let k = s.read(&mut b).unwrap_or(0);
        let head = String::from_utf8_lossy(&b[..k]).to_string();
        assert!(head.starts_with("HTTP/1.1"), "subscriber {n}: {head}");
        (s, head)
    };
    let (_a, h1) = sse(1);
    let (_b, h2) = sse(2);
    assert!(h1.contains(" 200 ") && h2.contains(" 200 "), "{h1}\n{h2}");
    let (_c, h3) = sse(3);
    assert!(
        h3.contains(" 503 ") && h3.contains("too_many_subscribers"),
        "{h3}"
    );
    drop((_a, _b, _c));

    // Hold the connection slots open: the one past the cap gets a 503 and is closed.
    std::thread::sleep(Duration::from_millis(500));
    let idle: Vec<TcpStream> = (0..6)
        .map(|_| TcpStream::connect(&srv.addr).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut over = TcpStream::connect(&srv.addr).expect("connect");
    over.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut b = String::new();
    let _ = over.read_to_string(&mut b);
    assert!(
        b.starts_with("HTTP/1.1 503") && b.contains("too_many_connections"),
        "{b}"
    );
    drop(idle);
}

#[test]
fn evidence_downloads_are_audited_per_session_and_tampering_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &config(dir.path(), ""));
    let tok = srv.admin_token.clone();
    let mut id = 0;
    srv.wait_for("an event with a clip", Duration::from_secs(120), || {
        let (_, v) = srv.json("GET", "/api/v1/events?limit=50", Some(&tok));
        let found = v["events"].as_array().and_then(|evs| {
            evs.iter()
                .find(|e| {
                    e["evidence"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x["kind"] == "clip"))
                })
                .and_then(|e| e["id"].as_i64())
        });
        if let Some(i) = found {
            id = i;
        }
        found.is_some()
    });
    let audit_count = |action: &str| -> usize {
        let (_, v) = srv.json("GET", "/api/v1/audit?limit=1000", Some(&tok));
        v["records"]
            .as_array()
            .map_or(0, |r| r.iter().filter(|x| x["action"] == action).count())
    };

    // A ranged download that does not start at byte 0 is audited (once per session).
    let ranged = |range: &str| -> u16 {
        match common::agent()
            .get(&srv.url(&format!("/api/v1/events/{id}/clip.mp4")))
            .set("Authorization", &format!("bearer {tok}"))
            .set("Range", range)
            .call()
        {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(s, _)) => s,
            Err(e) => panic!("download: {e}"),
        }
    };
    assert_eq!(ranged("bytes=1-"), 206);
    assert_eq!(ranged("bytes=100-200"), 206);
    assert_eq!(
        audit_count("evidence.download"),
        1,
        "one record per session"
    );

    // The file is replaced behind the node's back: refused as tampered, never served.
    let db = dir.path().join("data/vigil.db");
    let path: String =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| {
                c.query_row(
                    "SELECT path FROM evidence WHERE event_id = ?1 AND kind = 'clip'",
                    [id],
                    |r| r.get(0),
                )
            })
            .expect("indexed clip path");
    let path = std::path::PathBuf::from(path);
    let mut bytes = std::fs::read(&path).expect("clip");
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&path, &bytes).expect("tamper");
    let (status, body) = srv.req(
        "GET",
        &format!("/api/v1/events/{id}/clip.mp4"),
        Some(&tok),
        None,
    );
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("evidence_tampered"));
    assert_eq!(audit_count("evidence.tampered"), 1);

    // Logout with a lowercase scheme really revokes the token.
    let t2 = srv.login("admin", &srv.admin_password);
    let r = common::agent()
        .post(&srv.url("/api/v1/auth/logout"))
        .set("Authorization", &format!("bearer {t2}"))
        .call()
        .map(|r| r.status())
        .unwrap_or_else(|e| match e {
            ureq::Error::Status(s, _) => s,
            e => panic!("logout: {e}"),
        });
    assert_eq!(r, 204);
    let (s, _) = srv.json("GET", "/api/v1/cameras", Some(&t2));
    assert_eq!(s, 401, "the token still works after logout");
}
