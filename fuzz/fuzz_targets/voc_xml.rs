//! Pascal VOC annotations (dataset import and `vigil eval-ebike`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vigil::analytics::ebike::eval::parse_voc(text);
    }
});
