//! SM4 evidence encryption at rest: the sealed format (round trip, random access, tamper and
//! wrong-key detection), the config, and the serve path end to end: clips and pictures sealed
//! where they are written, then downloaded decrypted through the real HTTP API with Range.

mod common;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use vigil::api::AppState;
use vigil::auth::{self, Role};
use vigil::config::service::ApiConfig;
use vigil::config::{Config, EvidenceConfig};
use vigil::events::{Event, EventKind, EventUpdate, Phase};
use vigil::evidence::crypt::{
    self, sealed_len, CryptError, EvidenceKey, Sealed, CHUNK, HEADER_LEN, TAG_LEN,
};
use vigil::service::{commit_update, EventBus, EventIds, SharedCameras};
use vigil::store::{EvidenceKind, Store};

const KEY_HEX: &str = "0123456789abcdeffedcba9876543210";

fn key() -> Arc<EvidenceKey> {
    Arc::new(EvidenceKey::from_hex(KEY_HEX).unwrap())
}

fn plaintext(n: usize, seed: u64) -> Vec<u8> {
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| r.gen()).collect()
}

fn detect(bytes: &[u8], k: Option<Arc<EvidenceKey>>) -> Result<Option<Sealed>, CryptError> {
    Sealed::detect_with(&mut Cursor::new(bytes), k)
}

#[test]
fn round_trip_sizes_and_files() {
    let k = key();
    let dir = tempfile::tempdir().unwrap();
    for n in [
        0,
        1,
        31,
        CHUNK as usize - 1,
        CHUNK as usize,
        CHUNK as usize + 1,
        300_001,
    ] {
        let plain = plaintext(n, n as u64);
        // In memory.
        let sealed = crypt::seal(&k, &plain);
        assert_eq!(sealed.len() as u64, sealed_len(n as u64));
        assert!(crypt::is_sealed(&sealed));
        assert_eq!(crypt::open(&k, &sealed).unwrap(), plain, "n={n}");
        // In place on disk, as clips are sealed.
        let p = dir.path().join(format!("f{n}.bin"));
        std::fs::write(&p, &plain).unwrap();
        crypt::seal_file(&k, &p).unwrap();
        let on_disk = std::fs::read(&p).unwrap();
        assert_eq!(on_disk.len() as u64, sealed_len(n as u64));
        assert!(!dir.path().join(format!("f{n}.bin.sealing")).exists());
        if n >= 16 {
            // Ciphertext does not contain the plaintext.
            let body = &on_disk[HEADER_LEN as usize..HEADER_LEN as usize + 16];
            assert_ne!(body, &plain[..16]);
        }
        assert_eq!(crypt::read_evidence(&p, Some(k.clone())).unwrap(), plain);
    }
    // Same plaintext twice: different IVs, different ciphertexts.
    let a = crypt::seal(&k, b"same bytes");
    let b = crypt::seal(&k, b"same bytes");
    assert_ne!(a, b);
}

#[test]
fn random_access_at_odd_offsets_matches_plaintext() {
    let k = key();
    let plain = plaintext(5 * CHUNK as usize + 12_345, 7);
    let sealed = crypt::seal(&k, &plain);
    let s = detect(&sealed, Some(k.clone())).unwrap().unwrap();
    assert_eq!(s.plain_len(), plain.len() as u64);
    let mut c = Cursor::new(&sealed[..]);
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let mut cases: Vec<(u64, u64)> = vec![
        (0, 0),
        (0, 1),
        (CHUNK - 1, 2),              // straddles a chunk boundary
        (CHUNK, CHUNK),              // exactly one chunk
        (3, 3 * CHUNK + 17),         // several chunks
        (plain.len() as u64 - 1, 1), // last byte
        (plain.len() as u64, 0),
        (0, plain.len() as u64),
    ];
    for _ in 0..200 {
        let start = r.gen_range(0..plain.len() as u64);
        let len = r.gen_range(0..=(plain.len() as u64 - start).min(200_000));
        cases.push((start, len));
    }
    for (start, len) in cases {
        let got = s.read_range(&mut c, start, len).unwrap();
        assert_eq!(
            got,
            &plain[start as usize..(start + len) as usize],
            "range {start}+{len}"
        );
    }
    assert!(matches!(
        s.read_range(&mut c, plain.len() as u64 - 2, 3),
        Err(CryptError::Range { .. })
    ));
}

#[test]
fn tampering_is_detected() {
    let k = key();
    let plain = plaintext(3 * CHUNK as usize + 100, 3);
    let sealed = crypt::seal(&k, &plain);
    let block = (CHUNK + TAG_LEN) as usize;
    let h = HEADER_LEN as usize;

    // One ciphertext byte in chunk 1: reads of chunk 1 fail, chunk 0 is still readable.
    let mut t = sealed.clone();
    t[h + block + 1000] ^= 0x01;
    let s = detect(&t, Some(k.clone())).unwrap().unwrap();
    let mut c = Cursor::new(&t[..]);
    assert!(matches!(
        s.read_range(&mut c, CHUNK + 5, 10),
        Err(CryptError::Tampered(1))
    ));
    assert_eq!(s.read_range(&mut c, 10, 100).unwrap(), &plain[10..110]);
    assert!(matches!(crypt::open(&k, &t), Err(CryptError::Tampered(1))));

    // A tag byte, the IV in the header, the last byte of the file.
    for pos in [h + CHUNK as usize + 3, 20, sealed.len() - 1] {
        let mut t = sealed.clone();
        t[pos] ^= 0x80;
        assert!(
            matches!(crypt::open(&k, &t), Err(CryptError::Tampered(_))),
            "byte {pos}"
        );
    }
    // Truncated mid-chunk and at a chunk boundary; a chunk appended from another file.
    assert!(crypt::open(&k, &sealed[..sealed.len() - 7]).is_err());
    assert!(crypt::open(&k, &sealed[..h + 2 * block]).is_err());
    let other = crypt::seal(&k, &plaintext(CHUNK as usize, 4));
    let mut spliced = sealed[..h + block].to_vec();
    spliced.extend_from_slice(&other[h..]);
    assert!(crypt::open(&k, &spliced).is_err());
    // Chunks swapped.
    let mut swapped = sealed.clone();
    let (a, b) = (h..h + block, h + block..h + 2 * block);
    let chunk0 = sealed[a.clone()].to_vec();
    swapped.copy_within(b.clone(), a.start);
    swapped[b].copy_from_slice(&chunk0);
    assert!(matches!(
        crypt::open(&k, &swapped),
        Err(CryptError::Tampered(0))
    ));
    // An unknown version.
    let mut v = sealed.clone();
    v[7] = 9;
    assert!(matches!(crypt::open(&k, &v), Err(CryptError::Version(9))));
}

#[test]
fn wrong_or_missing_key_is_detected() {
    let sealed = crypt::seal(&key(), b"evidence");
    let other = Arc::new(EvidenceKey::from_hex("00000000000000000000000000000001").unwrap());
    assert!(matches!(
        detect(&sealed, Some(other)),
        Err(CryptError::WrongKey)
    ));
    assert!(matches!(detect(&sealed, None), Err(CryptError::NoKey)));
    // A plaintext file is not sealed, with or without a key.
    assert!(detect(b"\x00\x00\x00\x18ftypmp42", Some(key()))
        .unwrap()
        .is_none());
    assert!(detect(b"", None).unwrap().is_none());
}

/// The key `[evidence]` names, as `vigil serve` loads it.
fn load_key(c: &Config, base_dir: &Path) -> Result<Option<EvidenceKey>, CryptError> {
    crypt::load_key(
        c.evidence.key_file.as_deref(),
        c.evidence.key_env.as_deref(),
        base_dir,
    )
}

#[test]
fn config_and_key_loading() {
    let dir = tempfile::tempdir().unwrap();
    // Defaults: off, nothing needed.
    let c = Config::parse("").unwrap();
    assert_eq!(c.evidence, EvidenceConfig::default());
    assert!(load_key(&c, dir.path()).unwrap().is_none());
    // sm4 without a key source is a config error.
    let e = Config::parse("[evidence]\nencrypt = \"sm4\"\n").unwrap_err();
    assert!(e.to_string().contains("evidence.encrypt"), "{e}");
    assert!(Config::parse("[evidence]\nencrypt = \"aes\"\n").is_err());
    assert!(
        Config::parse("[evidence]\nencrypt = \"sm4\"\nkey_file = \"k\"\nkey_env = \"K\"\n")
            .is_err()
    );
    // key_file relative to the config's directory.
    std::fs::write(dir.path().join("sm4.key"), format!("{KEY_HEX}\n")).unwrap();
    let c = Config::parse("[evidence]\nencrypt = \"sm4\"\nkey_file = \"sm4.key\"\n").unwrap();
    let k = load_key(&c, dir.path()).unwrap().unwrap();
    assert_eq!(k.id_hex(), key().id_hex());
    // Missing file, short key, bad hex: clear errors naming the field, no key material.
    let missing = load_key(&c, &dir.path().join("nowhere")).unwrap_err();
    assert!(
        missing.to_string().contains("evidence.key_file"),
        "{missing}"
    );
    std::fs::write(dir.path().join("sm4.key"), "0123456789abcdef\n").unwrap();
    let short = load_key(&c, dir.path()).unwrap_err().to_string();
    assert!(
        short.contains("32 hex digits") && short.contains("got 16"),
        "{short}"
    );
    std::fs::write(
        dir.path().join("sm4.key"),
        "0123456789abcdeffedcba987654321x",
    )
    .unwrap();
    assert!(load_key(&c, dir.path()).is_err());
    // key_env.
    let var = "VIGIL_TEST_SM4_KEY_CRYPT_RS";
    let c = Config::parse(&format!(
        "[evidence]\nencrypt = \"sm4\"\nkey_env = \"{var}\"\n"
    ))
    .unwrap();
    let unset = load_key(&c, dir.path()).unwrap_err().to_string();
    assert!(unset.contains(var) && unset.contains("not set"), "{unset}");
    std::env::set_var(var, KEY_HEX);
    assert!(load_key(&c, dir.path()).unwrap().is_some());
    std::env::set_var(var, "abc");
    let e = load_key(&c, dir.path()).unwrap_err().to_string();
    assert!(!e.contains("abc"), "the key must not be echoed: {e}");
}

#[test]
fn serve_with_missing_key_fails_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("vigil.toml");
    std::fs::write(
        &cfg,
        "[node]\ndata_dir = \"data\"\n[evidence]\nencrypt = \"sm4\"\nkey_file = \"missing.key\"\n",
    )
    .unwrap();
    let out = Command::new(common::VIGIL)
        .args(["serve", "--addr", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("evidence.key_file") && err.contains("missing.key"),
        "{err}"
    );
}

// ---------- the serve path through the real HTTP API ----------

fn ffmpeg_clip(dir: &Path) -> PathBuf {
    let path = dir.join("src.mp4");
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .args([
            "testsrc2=size=320x240:rate=25",
            "-t",
            "3",
            "-c:v",
            "libx264",
        ])
        .args(["-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p"])
        .arg(&path)
        .output()
        .expect("the ffmpeg CLI is needed for this test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

struct Api {
    _rt: tokio::runtime::Runtime,
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Api {
    /// An API server on `store` that opens sealed evidence with `key`.
    fn start(store: &Store, key: Option<Arc<EvidenceKey>>) -> Api {
        Self::start_with(store, key, false)
    }

    /// … and refusing unsealed files when `require_sealed` (encryption on).
    fn start_with(store: &Store, key: Option<Arc<EvidenceKey>>, require_sealed: bool) -> Api {
        if auth::user_count(store).unwrap() == 0 {
            auth::add_user(store, "op", Role::Operator, "password-123").unwrap();
        }
        let state = AppState::new(
            store.clone(),
            EventBus::new(16),
            Arc::new(SharedCameras::default()),
            ApiConfig::default(),
        )
        .with_evidence_key(key)
        .with_require_sealed(require_sealed);
        let (rt, base) = common::serve_api(state, 1);
        let agent = ureq::AgentBuilder::new()
            .timeout_read(Duration::from_secs(60))
            .build();
        let r = agent
            .post(&format!("{base}/auth/login"))
            .send_json(serde_json::json!({ "name": "op", "password": "password-123" }))
            .unwrap();
        let v: serde_json::Value = r.into_json().unwrap();
        let token = v["token"].as_str().unwrap().to_string();
        Api {
            _rt: rt,
            base,
            token,
            agent,
        }
    }

    /// (status, body, content-range, content-length, x-content-sha256, x-stored-sha256)
    #[allow(clippy::type_complexity)]
    fn get(
        &self,
        path: &str,
        range: Option<&str>,
    ) -> (
        u16,
        Vec<u8>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) {
        let mut req = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token));
        if let Some(r) = range {
            req = req.set("Range", r);
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let h = |n: &str| resp.header(n).map(str::to_string);
        let (cr, cl, xc, xs) = (
            h("content-range"),
            h("content-length"),
            h("x-content-sha256"),
            h("x-stored-sha256"),
        );
        let status = resp.status();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
        (status, body, cr, cl, xc, xs)
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[test]
fn evidence_is_sealed_when_written_and_served_decrypted_with_range() {
    use vigil::ingest::{Counters, IngestOptions, MediaSource};
    let dir = tempfile::tempdir().unwrap();
    let k = key();

    // A real clip cut from a packet ring, and two pictures, written by the evidence writers.
    let src = ffmpeg_clip(dir.path());
    let mut ms = MediaSource::open(
        &src.to_string_lossy(),
        &IngestOptions::default(),
        Arc::new(Counters::default()),
    )
    .unwrap();
    let mut last = None;
    while let Some(f) = ms.next_frame().unwrap() {
        last = Some(f);
    }
    let cut = ms.ring().cut(0.5, 2.5).expect("cut");
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 3, y as u8 * 5, 90]));
    drop(last);

    // Plaintext references, written with encryption off.
    let plain_clip = dir.path().join("plain/clip.mp4");
    vigil::evidence::clip::write_mp4(&plain_clip, &cut, None).unwrap();
    let plain_png = dir.path().join("plain/trajectory.png");
    vigil::evidence::draw::save_picture(&plain_png, &img, None).unwrap();
    let clip_bytes = std::fs::read(&plain_clip).unwrap();
    let png_bytes = std::fs::read(&plain_png).unwrap();

    // Encryption on: the same writers seal with the key they are given.
    let ev_dir = dir.path().join("evidence/cam/falling-0001");
    let clip = ev_dir.join("clip.mp4");
    let info = vigil::evidence::clip::write_mp4(&clip, &cut, Some(&k)).unwrap();
    let png = ev_dir.join("trajectory.png");
    vigil::evidence::draw::save_picture(&png, &img, Some(&k)).unwrap();
    let jpg = ev_dir.join("snapshot.jpg");
    vigil::evidence::draw::save_picture(&jpg, &img, Some(&k)).unwrap();
    let sealed_clip = std::fs::read(&clip).unwrap();
    assert!(crypt::is_sealed(&sealed_clip), "clip not sealed");
    assert_eq!(info.bytes, sealed_clip.len() as u64);
    assert!(
        !ev_dir.join("clip.mp4.part").exists() && !ev_dir.join("clip.mp4.part.sealing").exists()
    );
    assert!(crypt::is_sealed(&std::fs::read(&png).unwrap()));
    assert!(crypt::is_sealed(&std::fs::read(&jpg).unwrap()));
    // The MP4 muxer is deterministic, so the sealed clip opens to the very same bytes.
    let opened = crypt::read_evidence(&clip, Some(k.clone())).unwrap();
    assert_eq!(opened.len(), clip_bytes.len());
    assert_eq!(sha256_hex(&opened), sha256_hex(&clip_bytes));
    assert_eq!(
        crypt::read_evidence(&png, Some(k.clone())).unwrap(),
        png_bytes
    );
    assert!(
        crypt::read_evidence(&png, None).is_err(),
        "sealed needs the key"
    );

    // Indexed like `serve` does, then downloaded through the API.
    let store = Store::open(dir.path().join("vigil.db")).unwrap();
    let mut ids = EventIds::new();
    let id = commit_update(
        &store,
        &EventBus::new(4),
        &mut ids,
        &EventUpdate {
            phase: Phase::New,
            event: Event::new(1, EventKind::FallingObject, "cam", 1.0, 0.9),
            pictures: Vec::new(),
        },
    )
    .unwrap();
    let idx = store
        .attach_evidence(id, EvidenceKind::Clip, &clip)
        .unwrap();
    // The index describes the file at rest (ciphertext).
    assert_eq!(idx.sha256, sha256_hex(&sealed_clip));
    assert_eq!(idx.bytes, sealed_clip.len() as u64);
    store
        .attach_evidence(id, EvidenceKind::Trajectory, &png)
        .unwrap();
    // A plaintext snapshot (written before encryption was turned on) is served as it is.
    let old_jpg = dir.path().join("plain/snapshot.jpg");
    vigil::evidence::draw::save_picture(&old_jpg, &img, None).unwrap();
    let old_jpg_bytes = std::fs::read(&old_jpg).unwrap();
    assert!(!crypt::is_sealed(&old_jpg_bytes));
    store
        .attach_evidence(id, EvidenceKind::Snapshot, &old_jpg)
        .unwrap();

    let api = Api::start(&store, Some(k.clone()));
    let n = clip_bytes.len() as u64;
    let clip_path = format!("/events/{id}/clip.mp4");

    // Whole file: plaintext, plaintext length, checksum header of the stored file.
    let (s, body, cr, cl, xc, xs) = api.get(&clip_path, None);
    assert_eq!(s, 200);
    assert_eq!(body, clip_bytes);
    assert_eq!(cl.as_deref(), Some(n.to_string().as_str()));
    assert!(cr.is_none() && xc.is_none());
    assert_eq!(xs.as_deref(), Some(idx.sha256.as_str()));

    // Ranges on plaintext offsets.
    for (range, a, b) in [
        ("bytes=0-0", 0, 0),
        ("bytes=7-70000", 7, 70000.min(n - 1)),
        (&*format!("bytes={}-", n - 13), n - 13, n - 1),
        ("bytes=-21", n - 21, n - 1),
        (
            &*format!("bytes={}-{}", n / 2 - 1, n / 2 + 99),
            n / 2 - 1,
            n / 2 + 99,
        ),
        (&*format!("bytes=5-{}", n + 1000), 5, n - 1),
    ] {
        let (s, body, cr, cl, _, _) = api.get(&clip_path, Some(range));
        assert_eq!(s, 206, "{range}");
        assert_eq!(body, &clip_bytes[a as usize..=b as usize], "{range}");
        assert_eq!(
            cr.as_deref(),
            Some(format!("bytes {a}-{b}/{n}").as_str()),
            "{range}"
        );
        assert_eq!(
            cl.as_deref(),
            Some((b - a + 1).to_string().as_str()),
            "{range}"
        );
    }
    // Beyond the plaintext end (though inside the larger sealed file): 416 with the
    // plaintext length.
    let (s, _, cr, ..) = api.get(&clip_path, Some(&format!("bytes={n}-")));
    assert_eq!(s, 416);
    assert_eq!(cr.as_deref(), Some(format!("bytes */{n}").as_str()));

    // Sealed picture and plaintext picture side by side.
    let (s, body, _, _, _, xs) = api.get(&format!("/events/{id}/trajectory.png"), None);
    assert_eq!((s, body == png_bytes, xs.is_some()), (200, true, true));
    let (s, body, _, _, xc, xs) = api.get(&format!("/events/{id}/snapshot.jpg"), None);
    assert_eq!((s, body == old_jpg_bytes), (200, true));
    assert_eq!(xc.as_deref(), Some(sha256_hex(&old_jpg_bytes).as_str()));
    assert!(xs.is_none());

    // Tampered at rest: the file no longer matches its indexed SHA-256, so it is refused
    // whole (409 evidence_tampered), whatever range is asked for.
    let mut t = sealed_clip.clone();
    let pos = (HEADER_LEN + 100) as usize; // chunk 0
    t[pos] ^= 0xff;
    std::fs::write(&clip, &t).unwrap();
    for range in [None, Some("bytes=50-60")] {
        let (s, body, ..) = api.get(&clip_path, range);
        assert_eq!(s, 409, "{range:?}");
        assert!(String::from_utf8_lossy(&body).contains("evidence_tampered"));
    }
    // Someone who can also rewrite the index: the chunk's HMAC still fails (500,
    // evidence_corrupt), whole or ranged; a range elsewhere still reads.
    let c = rusqlite::Connection::open(dir.path().join("vigil.db")).unwrap();
    c.execute(
        "UPDATE evidence SET sha256 = ?1 WHERE event_id = ?2 AND kind = 'clip'",
        rusqlite::params![sha256_hex(&t), id],
    )
    .unwrap();
    let (s, body, ..) = api.get(&clip_path, None);
    assert_eq!(s, 500);
    assert!(String::from_utf8_lossy(&body).contains("evidence_corrupt"));
    let (s, ..) = api.get(&clip_path, Some("bytes=50-60"));
    assert_eq!(s, 500);
    if n > CHUNK + 10 {
        let (s, body, ..) = api.get(&clip_path, Some(&format!("bytes={}-{}", CHUNK, CHUNK + 9)));
        assert_eq!(s, 206);
        assert_eq!(body, &clip_bytes[CHUNK as usize..CHUNK as usize + 10]);
    }

    // Wrong key configured: a clear error, not garbage.
    std::fs::write(&clip, &sealed_clip).unwrap();
    c.execute(
        "UPDATE evidence SET sha256 = ?1 WHERE event_id = ?2 AND kind = 'clip'",
        rusqlite::params![sha256_hex(&sealed_clip), id],
    )
    .unwrap();
    let wrong = Arc::new(EvidenceKey::from_hex("ffffffffffffffffffffffffffffffff").unwrap());
    let api = Api::start(&store, Some(wrong));
    let (s, body, ..) = api.get(&clip_path, Some("bytes=0-9"));
    assert_eq!(s, 500);
    assert!(String::from_utf8_lossy(&body).contains("evidence_key"));
    // No key at all: sealed evidence cannot be served, plaintext still can.
    let api = Api::start(&store, None);
    assert_eq!(api.get(&clip_path, None).0, 500);
    assert_eq!(api.get(&format!("/events/{id}/snapshot.jpg"), None).0, 200);
}

/// Throughput of sealing and of a verified whole-file read (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn measure_throughput() {
    let k = key();
    let plain = plaintext(32 << 20, 1);
    let t0 = std::time::Instant::now();
    let sealed = crypt::seal(&k, &plain);
    let seal_s = t0.elapsed().as_secs_f64();
    let s = detect(&sealed, Some(k.clone())).unwrap().unwrap();
    let t0 = std::time::Instant::now();
    let back = s.read_all(&mut Cursor::new(&sealed[..])).unwrap();
    let open_s = t0.elapsed().as_secs_f64();
    assert_eq!(back.len(), plain.len());
    let t0 = std::time::Instant::now();
    let mut c = Cursor::new(&sealed[..]);
    for i in 0..1000u64 {
        s.read_range(&mut c, (i * 31_337) % (30 << 20), 4096)
            .unwrap();
    }
    let range_us = t0.elapsed().as_secs_f64() * 1e6 / 1000.0;
    let mb = plain.len() as f64 / 1e6;
    println!(
        "seal {:.0} MB/s, open+verify {:.0} MB/s, 4 KiB range read {range_us:.0} µs",
        mb / seal_s,
        mb / open_s
    );
}

#[test]
fn a_sealed_file_is_bound_to_its_place() {
    let k = key();
    let plain = plaintext(200_000, 7);
    let sealed = crypt::seal_for(&k, "cam/falling-0001-20261203T000000.000Z/clip.mp4", &plain);
    assert_eq!(
        crypt::open_for(
            &k,
            "cam/falling-0001-20261203T000000.000Z/clip.mp4",
            &sealed
        )
        .unwrap(),
        plain
    );
    for other in [
        "cam/falling-0002-20261203T000001.000Z/clip.mp4",
        "cam/falling-0001-20261203T000000.000Z/snapshot.jpg",
        "",
    ] {
        assert!(
            matches!(
                crypt::open_for(&k, other, &sealed),
                Err(CryptError::Tampered(0))
            ),
            "opened for {other}"
        );
    }
    assert_eq!(
        crypt::context_of(Path::new("/data/evidence/gate/ebike-0003-x/clip.mp4")),
        "gate/ebike-0003-x/clip.mp4"
    );
}

/// Issue 12, finding 6: someone who can write the data directory *and* the index swaps in a
/// sealed file of another event, or a plain file, and rewrites the indexed SHA-256 to match.
/// The first fails its tags (bound to its place), the second is refused while encryption is on.
#[test]
fn swapped_or_unsealed_evidence_is_refused_even_with_a_rewritten_index() {
    let dir = tempfile::tempdir().unwrap();
    let k = key();
    let store = Store::open(dir.path().join("vigil.db")).unwrap();
    let bus = EventBus::new(4);
    let mut ids = EventIds::new();
    let mut paths = Vec::new();
    let mut event_ids = Vec::new();
    for n in 1..=2u64 {
        let img = image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([x as u8 * 3, y as u8 * 5, 40 * n as u8])
        });
        let png = dir.path().join(format!(
            "evidence/cam/falling-000{n}-20261203T00000{n}.000Z/trajectory.png"
        ));
        vigil::evidence::draw::save_picture(&png, &img, Some(&k)).unwrap();
        let id = commit_update(
            &store,
            &bus,
            &mut ids,
            &EventUpdate {
                phase: Phase::New,
                event: Event::new(n, EventKind::FallingObject, "cam", n as f64, 0.9),
                pictures: Vec::new(),
            },
        )
        .unwrap();
        store
            .attach_evidence(id, EvidenceKind::Trajectory, &png)
            .unwrap();
        paths.push(png);
        event_ids.push(id);
    }
    let db = rusqlite::Connection::open(dir.path().join("vigil.db")).unwrap();
    let reindex = |bytes: &[u8]| {
        db.execute(
            "UPDATE evidence SET sha256 = ?1, bytes = ?2 WHERE event_id = ?3",
            rusqlite::params![sha256_hex(bytes), bytes.len() as i64, event_ids[0]],
        )
        .unwrap();
    };
    let api = Api::start_with(&store, Some(k.clone()), true);
    let url = format!("/events/{}/trajectory.png", event_ids[0]);
    assert_eq!(api.get(&url, None).0, 200);

    // Event 2's sealed picture copied over event 1's, index rewritten to match.
    let other = std::fs::read(&paths[1]).unwrap();
    std::fs::remove_file(&paths[0]).unwrap();
    std::fs::write(&paths[0], &other).unwrap();
    reindex(&other);
    let (s, body, ..) = api.get(&url, None);
    assert_eq!(s, 500, "another event's evidence was served as this one's");
    assert!(String::from_utf8_lossy(&body).contains("evidence_corrupt"));

    // A plain picture in its place, index rewritten: refused while encryption is on …
    let plain = crypt::read_evidence(&paths[1], Some(k.clone())).unwrap();
    std::fs::remove_file(&paths[0]).unwrap();
    std::fs::write(&paths[0], &plain).unwrap();
    reindex(&plain);
    let (s, body, ..) = api.get(&url, None);
    assert_eq!(s, 409);
    assert!(String::from_utf8_lossy(&body).contains("evidence_tampered"));
    // … and served when the operator allows files from before encryption was turned on.
    let lenient = Api::start_with(&store, Some(k.clone()), false);
    let (s, body, ..) = lenient.get(&url, None);
    assert_eq!((s, body == plain), (200, true));
    let cfg: EvidenceConfig =
        toml::from_str("encrypt = \"sm4\"\nkey_env = \"K\"\nallow_unsealed = true").unwrap();
    assert!(!cfg.require_sealed());
    let cfg: EvidenceConfig = toml::from_str("encrypt = \"sm4\"\nkey_env = \"K\"").unwrap();
    assert!(cfg.require_sealed());
}
