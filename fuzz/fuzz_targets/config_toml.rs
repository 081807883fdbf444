//! Configuration files: any text gives a config or a clear error.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vigil::config::Config::parse(text);
    }
});
