//! H.264 (AVCC, as in MP4) slice-header surgery for clips that start at an open-GOP keyframe.
//!
//! x264's open-GOP keyframes are non-IDR I-frames. The frames after them carry memory-management
//! operations (MMCO 1, "unreference short-term picture") for pictures of the previous GOP. In a
//! clip cut at that keyframe those pictures do not exist: ffmpeg logs "mmco: unref short
//! failure" and carries on, Chromium stops with PIPELINE_ERROR_DECODE. Such an operation is a
//! no-op on the clip's decoder state, so removing it from the slice header (keeping the rest of
//! the picture's operations and the slice data bit for bit) decodes to the same pictures.
//!
//! Only frame-coded streams, one slice group, AVCC packets; anything else is left unchanged.

use ffmpeg_next::Packet;

struct Sps {
    id: u32,
    separate_colour_plane: bool,
    chroma_array_type: u32,
    log2_max_frame_num: u32,
    poc_type: u32,
    log2_max_poc_lsb: u32,
    delta_pic_order_always_zero: bool,
    max_num_ref_frames: usize,
    frame_mbs_only: bool,
}

struct Pps {
    id: u32,
    sps_id: u32,
    cabac: bool,
    bottom_field_pic_order: bool,
    num_ref_idx_l0: u32,
    num_ref_idx_l1: u32,
    weighted_pred: bool,
    weighted_bipred_idc: u32,
    deblocking_control: bool,
    redundant_pic_cnt: bool,
}

struct Reader<'a> {
    d: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(d: &'a [u8]) -> Self {
        Reader { d, pos: 0 }
    }
    fn bit(&mut self) -> Option<u32> {
        let b = *self.d.get(self.pos / 8)?;
        let v = (b >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(v as u32)
    }
    fn bits(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Some(v)
    }
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some(((1u64 << zeros) - 1 + self.bits(zeros)? as u64) as u32)
    }
    fn se(&mut self) -> Option<i32> {
        let k = self.ue()? as i64;
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) } as i32)
    }
}

#[derive(Default)]
struct Writer {
    out: Vec<u8>,
    nbits: usize,
}

impl Writer {
    fn bit(&mut self, b: u32) {
        if self.nbits % 8 == 0 {
            self.out.push(0);
        }
        if b != 0 {
            let last = self.out.len() - 1;
            self.out[last] |= 1 << (7 - self.nbits % 8);
        }
        self.nbits += 1;
    }
    fn bits(&mut self, v: u32, n: u32) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1);
        }
    }
    fn ue(&mut self, v: u32) {
        let x = v as u64 + 1;
        let len = 64 - x.leading_zeros();
        self.bits(0, len - 1);
        for i in (0..len).rev() {
            self.bit(((x >> i) & 1) as u32);
        }
    }
}

/// Copy bits `from..to` of the reader's data.
fn copy_bits(w: &mut Writer, d: &[u8], from: usize, to: usize) {
    let mut r = Reader { d, pos: from };
    while r.pos < to {
        match r.bit() {
            Some(b) => w.bit(b),
            None => break,
        }
    }
}

fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

fn escape(rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + 8);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

fn skip_scaling_list(r: &mut Reader, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            // delta_scale is -128..=127 (§7.4.2.1.1); anything else is not a real stream.
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return None;
            }
            next = (last + delta + 256) % 256;
        }
        last = if next == 0 { last } else { next };
    }
    Some(())
}

// Every value below comes from a camera: anything outside the H.264 limits (§7.4.2.1.1, A.3)
// is refused, so a hostile SPS can neither overflow a shift nor size an unbounded loop.
fn parse_sps(rbsp: &[u8]) -> Option<Sps> {
    let mut r = Reader::new(rbsp.get(1..)?);
    let profile = r.bits(8)?;
    r.bits(16)?;
    let id = r.ue()?;
    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    if [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].contains(&profile) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.bit()? == 1;
        }
        r.ue()?;
        r.ue()?;
        r.bit()?;
        if r.bit()? == 1 {
            let n = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..n {
                if r.bit()? == 1 {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    let log2_max_frame_num = r.ue()?.checked_add(4).filter(|&v| v <= 16)?;
    let poc_type = r.ue()?;
    let mut log2_max_poc_lsb = 0;
    let mut delta_pic_order_always_zero = false;
    if poc_type == 0 {
        log2_max_poc_lsb = r.ue()?.checked_add(4).filter(|&v| v <= 16)?;
    } else if poc_type == 1 {
        delta_pic_order_always_zero = r.bit()? == 1;
        r.se()?;
        r.se()?;
        let cycle = r.ue()?;
        if cycle > 255 {
            return None;
        }
        for _ in 0..cycle {
            r.se()?;
        }
    } else if poc_type != 2 {
        return None;
    }
    let max_num_ref_frames = r.ue()? as usize;
    if max_num_ref_frames > 16 {
        return None;
    }
    r.bit()?;
    r.ue()?;
    r.ue()?;
    let frame_mbs_only = r.bit()? == 1;
    Some(Sps {
        id,
        separate_colour_plane,
        chroma_array_type: if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        },
        log2_max_frame_num,
        poc_type,
        log2_max_poc_lsb,
        delta_pic_order_always_zero,
        max_num_ref_frames: max_num_ref_frames.max(1),
        frame_mbs_only,
    })
}

fn parse_pps(rbsp: &[u8]) -> Option<Pps> {
    let mut r = Reader::new(rbsp.get(1..)?);
    let id = r.ue()?;
    let sps_id = r.ue()?;
    let cabac = r.bit()? == 1;
    let bottom_field_pic_order = r.bit()? == 1;
    if r.ue()? != 0 {
        return None; // slice groups (FMO): not handled
    }
    let num_ref_idx_l0 = r.ue()? + 1;
    let num_ref_idx_l1 = r.ue()? + 1;
    let weighted_pred = r.bit()? == 1;
    let weighted_bipred_idc = r.bits(2)?;
    r.se()?;
    r.se()?;
    r.se()?;
    let deblocking_control = r.bit()? == 1;
    r.bit()?;
    let redundant_pic_cnt = r.bit()? == 1;
    Some(Pps {
        id,
        sps_id,
        cabac,
        bottom_field_pic_order,
        num_ref_idx_l0,
        num_ref_idx_l1,
        weighted_pred,
        weighted_bipred_idc,
        deblocking_control,
        redundant_pic_cnt,
    })
}

/// SPS/PPS and NAL length size from an avcC record.
fn parse_avcc(extra: &[u8]) -> Option<(usize, Vec<Sps>, Vec<Pps>)> {
    if extra.len() < 7 || extra[0] != 1 {
        return None;
    }
    let len_size = (extra[4] & 3) as usize + 1;
    let mut p = 5;
    let mut sps = Vec::new();
    let mut pps = Vec::new();
    for kind in 0..2 {
        let n = if kind == 0 {
            (*extra.get(p)? & 0x1f) as usize
        } else {
            *extra.get(p)? as usize
        };
        p += 1;
        for _ in 0..n {
            let l = u16::from_be_bytes([*extra.get(p)?, *extra.get(p + 1)?]) as usize;
            let nal = unescape(extra.get(p + 2..p + 2 + l)?);
            p += 2 + l;
            if kind == 0 {
                sps.push(parse_sps(&nal)?);
            } else {
                pps.push(parse_pps(&nal)?);
            }
        }
    }
    Some((len_size, sps, pps))
}

/// The clip decoder's short-term reference frames (frame_num), oldest first.
struct Dpb {
    refs: Vec<u32>,
    prev_frame_num: u32,
}

/// Rewrite one slice NAL (escaped, with header byte); `None` = keep it as it is.
fn fix_slice(nal: &[u8], sps: &[Sps], pps: &[Pps], dpb: &mut Dpb) -> Option<Option<Vec<u8>>> {
    let rbsp = unescape(nal);
    let header = *rbsp.first()?;
    let nal_ref_idc = (header >> 5) & 3;
    let idr = header & 0x1f == 5;
    let mut r = Reader::new(&rbsp);
    r.pos = 8;
    r.ue()?; // first_mb_in_slice
    let slice_type = r.ue()? % 5; // 0 P, 1 B, 2 I, 3 SP, 4 SI
    let pps_id = r.ue()?;
    let pp = pps.iter().find(|p| p.id == pps_id)?;
    let sp = sps.iter().find(|s| s.id == pp.sps_id)?;
    if !sp.frame_mbs_only {
        return None;
    }
    if sp.separate_colour_plane {
        r.bits(2)?;
    }
    let frame_num = r.bits(sp.log2_max_frame_num)?;
    if idr {
        r.ue()?;
    }
    if sp.poc_type == 0 {
        r.bits(sp.log2_max_poc_lsb)?;
        if pp.bottom_field_pic_order {
            r.se()?;
        }
    } else if sp.poc_type == 1 && !sp.delta_pic_order_always_zero {
        r.se()?;
        if pp.bottom_field_pic_order {
            r.se()?;
        }
    }
    if pp.redundant_pic_cnt {
        r.ue()?;
    }
    if slice_type == 1 {
        r.bit()?;
    }
    let (mut l0, mut l1) = (pp.num_ref_idx_l0, pp.num_ref_idx_l1);
    if matches!(slice_type, 0 | 1 | 3) && r.bit()? == 1 {
        l0 = r.ue()? + 1;
        if slice_type == 1 {
            l1 = r.ue()? + 1;
        }
    }
    let lists = match slice_type {
        1 => 2,
        2 | 4 => 0,
        _ => 1,
    };
    for _ in 0..lists {
        if r.bit()? == 1 {
            loop {
                match r.ue()? {
                    0..=2 => {
                        r.ue()?;
                    }
                    3 => break,
                    _ => return None,
                }
            }
        }
    }
    if (pp.weighted_pred && matches!(slice_type, 0 | 3))
        || (pp.weighted_bipred_idc == 1 && slice_type == 1)
    {
        r.ue()?;
        if sp.chroma_array_type != 0 {
            r.ue()?;
        }
        let lists = if slice_type == 1 { 2 } else { 1 };
        for list in 0..lists {
            let n = if list == 0 { l0 } else { l1 };
            for _ in 0..n {
                if r.bit()? == 1 {
                    r.se()?;
                    r.se()?;
                }
                if sp.chroma_array_type != 0 && r.bit()? == 1 {
                    for _ in 0..4 {
                        r.se()?;
                    }
                }
            }
        }
    }
    let max_frame_num = 1u32 << sp.log2_max_frame_num;
    if !idr {
        // A frame_num gap (the clip's first keyframe, or reference B-frames left out before
        // it): FFmpeg, and so Chromium, fills it with up to max_num_ref_frames "missing"
        // reference frames; the stream's own MMCOs then unreference some of them.
        let max = max_frame_num as i64;
        let f = frame_num as i64;
        let mut prev = dpb.prev_frame_num as i64;
        if f != prev && f != (prev + 1) % max {
            if prev > f {
                prev -= max;
            }
            if f - prev > sp.max_num_ref_frames as i64 {
                prev = f - sp.max_num_ref_frames as i64 - 1;
            }
            while prev + 1 < f {
                prev += 1;
                if dpb.refs.len() >= sp.max_num_ref_frames {
                    dpb.refs.remove(0);
                }
                dpb.refs.push(prev.rem_euclid(max) as u32);
            }
        }
    }
    dpb.prev_frame_num = frame_num;
    if nal_ref_idc == 0 {
        return Some(None);
    }
    if idr {
        dpb.refs.clear();
        dpb.refs.push(frame_num);
        return Some(None);
    }
    let flag_pos = r.pos;
    if r.bit()? == 0 {
        // Sliding window.
        if !dpb.refs.contains(&frame_num) {
            if dpb.refs.len() >= sp.max_num_ref_frames {
                dpb.refs.remove(0);
            }
            dpb.refs.push(frame_num);
        }
        return Some(None);
    }
    let mut kept: Vec<(u32, Vec<u32>)> = Vec::new();
    let mut dropped = 0;
    loop {
        let op = r.ue()?;
        let args: Vec<u32> = match op {
            0 => break,
            1 | 2 | 3 | 6 => vec![r.ue()?],
            4 => vec![r.ue()?],
            5 => vec![],
            _ => return None,
        };
        if op == 3 {
            r.ue().map(|a| kept.push((op, vec![args[0], a])))?;
            continue;
        }
        if op == 1 {
            let target =
                (frame_num + max_frame_num * 2 - (args[0] + 1) % max_frame_num) % max_frame_num;
            match dpb.refs.iter().position(|&f| f == target) {
                Some(i) => {
                    dpb.refs.remove(i);
                }
                None => {
                    dropped += 1;
                    continue;
                }
            }
        }
        if op == 5 {
            dpb.refs.clear();
        }
        kept.push((op, args));
    }
    if !dpb.refs.contains(&frame_num) {
        // A valid stream's MMCOs keep the list within max_num_ref_frames; a hostile one must
        // not grow it without bound.
        if dpb.refs.len() >= sp.max_num_ref_frames {
            dpb.refs.remove(0);
        }
        dpb.refs.push(frame_num);
    }
    if dropped == 0 {
        return Some(None);
    }
    // Rest of the header, to find where the slice data starts.
    let marking_end = r.pos;
    let mut tail: Vec<(bool, i64)> = Vec::new(); // (signed, value)
    if pp.cabac && !matches!(slice_type, 2 | 4) {
        tail.push((false, r.ue()? as i64));
    }
    tail.push((true, r.se()? as i64));
    if matches!(slice_type, 3 | 4) {
        return None;
    }
    if pp.deblocking_control {
        let idc = r.ue()?;
        tail.push((false, idc as i64));
        if idc != 1 {
            tail.push((true, r.se()? as i64));
            tail.push((true, r.se()? as i64));
        }
    }
    let _ = marking_end;
    let header_end = r.pos;
    let mut w = Writer::default();
    copy_bits(&mut w, &rbsp, 0, flag_pos);
    w.bit(1);
    for (op, args) in &kept {
        w.ue(*op);
        for a in args {
            w.ue(*a);
        }
    }
    w.ue(0);
    for (signed, v) in tail {
        if signed {
            w.ue(if v > 0 {
                (2 * v - 1) as u32
            } else {
                (-2 * v) as u32
            });
        } else {
            w.ue(v as u32);
        }
    }
    // The RBSP stop bit: the last 1 bit of the NAL.
    let last = rbsp.iter().rposition(|&b| b != 0)?;
    let stop = last * 8 + 7 - rbsp[last].trailing_zeros() as usize;
    if pp.cabac {
        let mut rr = Reader {
            d: &rbsp,
            pos: header_end,
        };
        while rr.pos % 8 != 0 {
            if rr.bit()? != 1 {
                return None;
            }
        }
        while w.nbits % 8 != 0 {
            w.bit(1);
        }
        w.out.extend_from_slice(&rbsp[rr.pos / 8..]);
    } else {
        copy_bits(&mut w, &rbsp, header_end, stop);
        w.bit(1);
    }
    Some(Some(escape(&w.out)))
}

/// Remove MMCO operations on pictures the clip does not contain from the packets of a clip
/// whose first packet is a keyframe. Returns how many packets were rewritten. AVCC H.264 only;
/// other codecs and anything unexpected are left unchanged.
pub fn drop_missing_ref_mmcos(extradata: &[u8], packets: &mut [Packet]) -> usize {
    let Some((len_size, sps, pps)) = parse_avcc(extradata) else {
        return 0;
    };
    let mut dpb = Dpb {
        refs: Vec::new(),
        prev_frame_num: 0,
    };
    let mut rewritten = 0;
    for pkt in packets.iter_mut() {
        let Some(data) = pkt.data() else { continue };
        let mut out = Vec::with_capacity(data.len());
        let mut changed = false;
        let mut p = 0;
        let mut ok = true;
        while p + len_size <= data.len() {
            let l = data[p..p + len_size]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | b as usize);
            let Some(nal) = data.get(p + len_size..p + len_size + l) else {
                ok = false;
                break;
            };
            p += len_size + l;
            let new = match nal.first().map(|h| h & 0x1f) {
                Some(1 | 5) => match fix_slice(nal, &sps, &pps, &mut dpb) {
                    Some(n) => n,
                    None => return rewritten, // unsupported: stop touching this clip
                },
                _ => None,
            };
            let nal = match &new {
                Some(n) => {
                    changed = true;
                    n.as_slice()
                }
                None => nal,
            };
            let l = nal.len();
            if len_size < 4 && l >= 1 << (8 * len_size) {
                return rewritten;
            }
            for i in (0..len_size).rev() {
                out.push((l >> (8 * i)) as u8);
            }
            out.extend_from_slice(nal);
        }
        if !ok || !changed {
            continue;
        }
        let mut q = Packet::copy(&out);
        q.set_pts(pkt.pts());
        q.set_dts(pkt.dts());
        q.set_duration(pkt.duration());
        q.set_flags(pkt.flags());
        q.set_stream(pkt.stream());
        *pkt = q;
        rewritten += 1;
    }
    rewritten
}

/// Fuzzing entry (`fuzz/`): the first two bytes give the avcC length, the avcC follows, the
/// rest is 2-byte-length-prefixed slice NALs run through the rewriter with those parameter
/// sets. Anything may be refused; nothing may panic or allocate without bound.
#[doc(hidden)]
pub fn fuzz_entry(data: &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let n = (u16::from_be_bytes(*len) as usize).min(rest.len());
    let (extra, mut nals) = rest.split_at(n);
    let Some((_, sps, pps)) = parse_avcc(extra) else {
        return;
    };
    let mut dpb = Dpb {
        refs: Vec::new(),
        prev_frame_num: 0,
    };
    while let Some((l, tail)) = nals.split_first_chunk::<2>() {
        let l = (u16::from_be_bytes(*l) as usize).min(tail.len());
        let (nal, next) = tail.split_at(l);
        nals = next;
        if nal.first().is_some_and(|h| matches!(h & 0x1f, 1 | 5)) {
            let _ = fix_slice(nal, &sps, &pps, &mut dpb);
        }
        let bound = sps.iter().map(|s| s.max_num_ref_frames).max().unwrap_or(1);
        assert!(
            dpb.refs.len() <= bound.max(1),
            "reference list grew past the SPS bound"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A baseline SPS (header byte included) with the given frame_num size and reference count.
    fn sps(log2_max_frame_num_minus4: u32, max_num_ref_frames: u32) -> Vec<u8> {
        let mut w = Writer::default();
        w.bits(0x67, 8);
        w.bits(66, 8); // profile: baseline
        w.bits(0, 16);
        w.ue(0); // id
        w.ue(log2_max_frame_num_minus4);
        w.ue(2); // poc type 2
        w.ue(max_num_ref_frames);
        w.bit(0);
        w.ue(79); // width in MBs - 1
        w.ue(44);
        w.bit(1); // frame_mbs_only
        w.bit(1); // rbsp stop bit
        w.out
    }

    fn avcc(sps: &[&[u8]], pps: &[&[u8]]) -> Vec<u8> {
        let mut v = vec![1, 66, 0, 30, 0xff, 0xe0 | sps.len() as u8];
        for s in sps {
            v.extend_from_slice(&(s.len() as u16).to_be_bytes());
            v.extend_from_slice(s);
        }
        v.push(pps.len() as u8);
        for p in pps {
            v.extend_from_slice(&(p.len() as u16).to_be_bytes());
            v.extend_from_slice(p);
        }
        v
    }

    #[test]
    fn a_valid_sps_parses() {
        let s = parse_sps(&sps(4, 4)).expect("valid SPS");
        assert_eq!((s.log2_max_frame_num, s.max_num_ref_frames), (8, 4));
    }

    #[test]
    fn zero_length_parameter_sets_are_refused_not_a_panic() {
        // Regression: `&rbsp[1..]` on an empty SPS/PPS entry panicked the camera thread.
        assert!(parse_avcc(&avcc(&[&[]], &[])).is_none());
        assert!(parse_avcc(&avcc(&[&sps(4, 4)], &[&[]])).is_none());
        assert!(parse_sps(&[]).is_none() && parse_pps(&[]).is_none());
    }

    #[test]
    fn out_of_range_sps_values_are_refused() {
        // log2_max_frame_num beyond 16 overflowed `1 << n`; a huge max_num_ref_frames with a
        // large frame_num gap made the reference-filling loop allocate without bound.
        assert!(parse_sps(&sps(13, 4)).is_none());
        assert!(parse_sps(&sps(1_000_000, 4)).is_none());
        assert!(parse_sps(&sps(12, 17)).is_none());
        assert!(parse_sps(&sps(12, 1_000_000)).is_none());
        assert!(parse_sps(&sps(12, 16)).is_some());
    }

    /// Inputs `cargo fuzz` found (fuzz/), kept as regression tests.
    #[test]
    fn fuzz_regressions() {
        // A scaling-list delta far outside -128..=127 overflowed `last + delta` (found by
        // h264_avcc_slices in its first minute).
        let scaling_overflow = [
        "11010129000000fa002e288a0600ff0106000100dd92ffffff0900000000ffffff00c4c4c4c4c4c4090129000001002e",
        "28a48a063d000901290000f128a48a063d27c4c4c4c4c4c4c4c400ffff19ffffffffffc40016df2c00ffffffffffffff",
        "ffffffff04ffff0106000100fd00ff680000000c0c0141012900ef000068007272410000ff0097",
        ]
        .concat();
        fuzz_entry(&hex::decode(scaling_overflow).expect("hex"));
    }

    #[test]
    fn hostile_slices_never_panic() {
        // Random slice NALs against valid parameter sets: every path returns, none panics,
        // and the reference list stays within the SPS's bound.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let sps_list = vec![parse_sps(&sps(12, 16)).expect("sps")];
        let pps_list = vec![Pps {
            id: 0,
            sps_id: 0,
            cabac: false,
            bottom_field_pic_order: false,
            num_ref_idx_l0: 1,
            num_ref_idx_l1: 1,
            weighted_pred: false,
            weighted_bipred_idc: 0,
            deblocking_control: false,
            redundant_pic_cnt: false,
        }];
        let mut dpb = Dpb {
            refs: Vec::new(),
            prev_frame_num: 0,
        };
        for _ in 0..20_000 {
            let n = rng.gen_range(1..24);
            let mut nal: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
            nal[0] = (nal[0] & 0x60) | if rng.gen() { 1 } else { 5 };
            let _ = fix_slice(&nal, &sps_list, &pps_list, &mut dpb);
            assert!(dpb.refs.len() <= 16, "{}", dpb.refs.len());
        }
        for _ in 0..20_000 {
            let n = rng.gen_range(0..40);
            let mut extra: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
            if let Some(b) = extra.first_mut() {
                *b = 1;
            }
            let _ = parse_avcc(&extra);
        }
    }
}
