//! avcC extradata and slice NALs from a camera, through the clip cutter's H.264 rewriter.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vigil::evidence::clip::fuzz_h264(data);
});
