//! Sealed (SM4-CTR + HMAC-SM3) evidence files read back: forged or damaged bytes must give a
//! clear error, never a panic or plaintext that was not authenticated.
#![no_main]
use std::sync::Arc;
use vigil::evidence::crypt::{self, EvidenceKey};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let key = Arc::new(EvidenceKey::from_bytes([7u8; 16]));
    let _ = crypt::open(&key, data);
    // Also a genuine file with one byte flipped where the fuzzer says.
    if let Some((&pos, rest)) = data.split_first() {
        let mut sealed = crypt::seal(&key, rest);
        let i = pos as usize % sealed.len();
        sealed[i] ^= 0x5a;
        assert!(crypt::open(&key, &sealed).is_err(), "a flipped byte at {i} was accepted");
    }
});
