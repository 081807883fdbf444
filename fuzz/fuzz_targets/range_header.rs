//! HTTP `Range` headers from clients against evidence of various lengths.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let len = u64::from_le_bytes(data[..8].try_into().unwrap_or([0; 8])) % (1 << 40);
    if let Ok(h) = std::str::from_utf8(&data[8..]) {
        if let Ok(Some(r)) = vigil::api::parse_range(Some(h), len) {
            assert!(r.start <= r.end && r.end < len, "{h:?} on {len}: {r:?}");
        }
    }
});
