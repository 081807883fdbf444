//! Evidence clips: packets cut from the ring, remuxed (not re-encoded) to MP4.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ffmpeg_next as ff;

use super::crypt::EvidenceKey;
use super::EvidenceError;
use crate::ingest::ring::ClipPackets;

mod h264;

/// Fuzzing hook for the H.264 rewriter (see `fuzz/`); not an API.
#[doc(hidden)]
pub fn fuzz_h264(data: &[u8]) {
    h264::fuzz_entry(data);
}

/// What was written.
#[derive(Clone, Debug)]
pub struct ClipInfo {
    pub path: PathBuf,
    /// Media time (camera clock) of the clip's first frame and end.
    pub start_s: f64,
    pub end_s: f64,
    pub packets: usize,
    pub bytes: u64,
}

/// Remux to MP4 with timestamps rebased to zero (the earliest pts → 0, pts−dts offsets kept, so
/// with B-frames the first dts is slightly negative and MP4's edit list absorbs it, the same
/// layout x264 + ffmpeg write and browsers play), `+faststart`. The packets come from
/// [`crate::ingest::PacketRing::cut`], which starts on a keyframe and leaves out pictures shown
/// before it, so the earliest pts is the first keyframe's. Writes to a temporary name and
/// renames, so a failure never leaves a half file.
///
/// With `seal` (evidence encryption on) the file is sealed before it takes its final name.
pub fn write_mp4(
    path: &Path,
    clip: &ClipPackets,
    seal: Option<&Arc<EvidenceKey>>,
) -> Result<ClipInfo, EvidenceError> {
    crate::ingest::init();
    if clip.packets.is_empty() {
        return Err(EvidenceError::Empty {
            from_s: clip.start_s,
            to_s: clip.end_s,
        });
    }
    let io = |e: std::io::Error| EvidenceError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".part");
    let tmp = path.with_file_name(tmp_name);

    let res = mux(&tmp, clip).and_then(|n| {
        // Sealed when evidence encryption is on (`[evidence] encrypt = "sm4"`).
        if let Some(key) = seal {
            super::crypt::seal_file_for(key, &tmp, &super::crypt::context_of(path)).map_err(
                |e| EvidenceError::Io {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                },
            )?;
        }
        // Durable before it becomes visible under the final name.
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .and_then(|_| super::publish_new(&tmp, path))
            .map_err(io)?;
        Ok(n)
    });
    let packets = match res {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let bytes = std::fs::metadata(path).map_err(io)?.len();
    Ok(ClipInfo {
        path: path.to_path_buf(),
        start_s: clip.start_s,
        end_s: clip.end_s,
        packets,
        bytes,
    })
}

/// Mux into `tmp`; returns the number of packets written. The output is closed on return.
fn mux(tmp: &Path, clip: &ClipPackets) -> Result<usize, EvidenceError> {
    let err = |what: &str, e: ff::Error| EvidenceError::Mux {
        path: tmp.to_path_buf(),
        reason: format!("{what}: {e}"),
    };
    let mut octx = ff::format::output_as(&tmp, "mp4").map_err(|e| err("create", e))?;
    {
        let mut ost = octx
            .add_stream(ff::codec::Id::None)
            .map_err(|e| err("add stream", e))?;
        ost.set_parameters(clip.params.clone());
        ost.set_time_base(clip.time_base);
        // SAFETY: plain field on the stream's own parameters; a source tag (e.g. from MPEG-TS)
        // may not be valid in MP4, so let the muxer choose.
        unsafe {
            (*ost.parameters().as_mut_ptr()).codec_tag = 0;
        }
    }
    let mut opts = ff::Dictionary::new();
    opts.set("movflags", "+faststart");
    octx.write_header_with(opts)
        .map_err(|e| err("write header", e))?;
    let out_tb = octx
        .stream(0)
        .map(|s| s.time_base())
        .unwrap_or(clip.time_base);

    // The earliest presentation time becomes 0 (with B-frames the first dts is then negative,
    // which MP4 records in its edit list), so players start the clip at 0.
    let base = clip
        .packets
        .iter()
        .filter_map(|p| p.pts().or(p.dts()))
        .min()
        .unwrap_or(0);
    // A clip cut at an open-GOP keyframe: memory-management operations on pictures before it
    // break browsers' decoders (see `h264`).
    let mut fixed;
    let mut packets = &clip.packets;
    if clip.params.id() == ff::codec::Id::H264 && clip.packets.first().is_some_and(|p| p.is_key()) {
        let extra = crate::ingest::ring::extradata(&clip.params);
        fixed = clip.packets.clone();
        let n = h264::drop_missing_ref_mmcos(extra, &mut fixed);
        if n > 0 {
            tracing::debug!(clip = %tmp.display(), packets = n, "dropped MMCOs on pictures before the clip");
            packets = &fixed;
        }
    }
    let mut last_dts: Option<i64> = None;
    let mut written = 0usize;
    let mut skipped = 0usize;
    for p in packets {
        let dts = p.dts().or(p.pts());
        let pts = p.pts().or(dts);
        let (Some(dts), Some(pts)) = (dts, pts) else {
            skipped += 1;
            continue;
        };
        // MP4 needs strictly increasing dts; a broken stream must not fail the whole clip.
        if last_dts.is_some_and(|l| dts <= l) {
            skipped += 1;
            continue;
        }
        last_dts = Some(dts);
        let mut q = p.clone();
        q.set_dts(Some(dts - base));
        q.set_pts(Some(pts.max(dts) - base));
        q.set_stream(0);
        q.set_position(-1);
        q.rescale_ts(clip.time_base, out_tb);
        q.write_interleaved(&mut octx)
            .map_err(|e| err("write packet", e))?;
        written += 1;
    }
    if skipped > 0 {
        tracing::debug!(clip = %tmp.display(), skipped, "packets without usable timestamps skipped");
    }
    if written == 0 {
        return Err(EvidenceError::Empty {
            from_s: clip.start_s,
            to_s: clip.end_s,
        });
    }
    octx.write_trailer().map_err(|e| err("write trailer", e))?;
    Ok(written)
}
