//! Ring of compressed video packets, the source of evidence clips.
//!
//! The ring is fed with exactly the packets the decoder sees, so a clip cut at detection time
//! shows what the analytics saw. It is trimmed by whole GOPs and always starts on a keyframe,
//! so any cut can be decoded without re-encoding.

use std::collections::VecDeque;

use ffmpeg_next::codec::Parameters;
use ffmpeg_next::{Packet, Rational};

struct Entry {
    seq: u64,
    /// Media time (same clock as `Frame::pts_s`).
    t: f64,
    key: bool,
    /// A keyframe a decoder can start at with no earlier state: for H.264/H.265 an IDR (or
    /// BLA) picture, not an open-GOP recovery point; for other codecs any keyframe.
    clean: bool,
    pkt: Packet,
}

impl Entry {
    /// Presentation timestamp (stream time base), falling back to the decode timestamp.
    fn pts(&self) -> Option<i64> {
        self.pkt.pts().or(self.pkt.dts())
    }
}

/// The compressed video packets of roughly the last `ring_s` seconds, plus the stream's codec
/// parameters and time base.
pub struct PacketRing {
    params: Parameters,
    time_base: Rational,
    ring_s: f64,
    entries: VecDeque<Entry>,
    /// Sequence numbers of the keyframes in `entries`, oldest first (front is `entries[0]`).
    keys: VecDeque<u64>,
    next_seq: u64,
    max_t: f64,
    max_packets: usize,
    /// Payload bytes held, and the most allowed: a camera sending huge packets (broken or
    /// hostile) cannot grow the ring past this, whatever its timestamps say.
    bytes: usize,
    max_bytes: usize,
}

/// Bitrate the byte cap allows for (32 Mbit/s: beyond 4K H.264 from an IP camera).
const RING_BYTES_PER_S: f64 = 4_000_000.0;

/// Packets cut from the ring: decodable on their own (start on a keyframe).
pub struct ClipPackets {
    pub params: Parameters,
    pub time_base: Rational,
    pub packets: Vec<Packet>,
    /// Media time of the first packet (a keyframe).
    pub start_s: f64,
    /// Media time where the last included frame ends.
    pub end_s: f64,
}

impl PacketRing {
    /// `params` are copied, so the ring does not depend on the demuxer staying open.
    pub fn new(params: &Parameters, time_base: Rational, ring_s: f64) -> Self {
        let ring_s = if ring_s.is_finite() && ring_s > 0.0 {
            ring_s
        } else {
            30.0
        };
        PacketRing {
            params: params.clone(),
            time_base,
            ring_s,
            entries: VecDeque::new(),
            keys: VecDeque::new(),
            next_seq: 0,
            max_t: f64::NEG_INFINITY,
            // Guards memory when timestamps are broken and time-based trimming never triggers.
            max_packets: ((ring_s * 240.0) as usize).max(2000),
            bytes: 0,
            max_bytes: ((ring_s * RING_BYTES_PER_S) as usize).clamp(16 << 20, 512 << 20),
        }
    }

    /// The same ring with another byte cap (tests; memory-tight nodes).
    pub fn with_byte_cap(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes.max(1);
        self
    }

    pub fn time_base(&self) -> Rational {
        self.time_base
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total payload bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Drop everything (after a reconnect the old packets belong to another session).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.keys.clear();
        self.bytes = 0;
        self.max_t = f64::NEG_INFINITY;
    }

    /// Append a packet with its media time `t`. Packets before the first keyframe are dropped
    /// so the ring always starts decodable.
    pub fn push(&mut self, pkt: Packet, t: f64) {
        let key = pkt.is_key();
        if self.entries.is_empty() && !key {
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if key {
            self.keys.push_back(seq);
        }
        if t > self.max_t {
            self.max_t = t;
        }
        let clean = key && is_clean_key(&self.params, &pkt);
        self.bytes += pkt.size();
        self.entries.push_back(Entry {
            seq,
            t,
            key,
            clean,
            pkt,
        });
        self.trim(t);
    }

    fn trim(&mut self, now: f64) {
        // Drop the oldest GOP while the remainder still covers ring_s.
        while self.keys.len() >= 2 {
            let Some(front) = self.entries.front() else {
                break;
            };
            let idx = (self.keys[1] - front.seq) as usize;
            let second_key_t = self.entries.get(idx).map_or(f64::NAN, |e| e.t);
            let over_time = now - second_key_t >= self.ring_s;
            let over_count = self.entries.len() > self.max_packets;
            let over_bytes = self.bytes > self.max_bytes;
            if !(over_time || over_count || over_bytes) {
                break;
            }
            let dropped: usize = self.entries.drain(..idx).map(|e| e.pkt.size()).sum();
            self.bytes -= dropped;
            self.keys.pop_front();
        }
        if self.entries.len() > self.max_packets || self.bytes > self.max_bytes {
            // A single GOP longer than the cap: nothing decodable can be kept.
            tracing::warn!(
                packets = self.entries.len(),
                bytes = self.bytes,
                "packet ring overflow inside one GOP; clearing until the next keyframe"
            );
            self.clear();
        }
    }

    /// Whether packets of a stream with `params` and `time_base` can follow this ring's packets
    /// in one clip without re-encoding: same codec, coded size, pixel format, time base and
    /// extradata (H.264/H.265 SPS/PPS in avcC/hvcC form).
    pub fn can_continue_with(&self, params: &Parameters, time_base: Rational) -> bool {
        if time_base != self.time_base {
            return false;
        }
        // SAFETY: reading plain fields of two valid AVCodecParameters.
        let same = unsafe {
            let (a, b) = (&*self.params.as_ptr(), &*params.as_ptr());
            a.codec_id == b.codec_id
                && a.width == b.width
                && a.height == b.height
                && a.format == b.format
        };
        same && extradata(&self.params) == extradata(params)
    }

    /// Decode timestamp (or pts) of the newest packet, in the ring's time base.
    pub fn last_dts(&self) -> Option<i64> {
        self.entries
            .back()
            .and_then(|e| e.pkt.dts().or(e.pkt.pts()))
    }

    /// Media seconds covered (first keyframe .. newest packet).
    pub fn span(&self) -> Option<(f64, f64)> {
        let first = self.entries.front()?;
        Some((first.t, self.max_t.max(first.t)))
    }

    /// Packets from the keyframe at or before `from_s` (or the oldest keyframe if `from_s`
    /// predates the ring) through the last packet with pts <= `to_s`. `None` if nothing fits.
    ///
    /// Open-GOP leading pictures are left out: packets after the start keyframe (in decode
    /// order) that are shown before it (pts < the keyframe's) may reference the previous GOP,
    /// which the clip does not have. Left in, they made the clip start with an undecodable
    /// B-frame that ffmpeg conceals but browsers (Chromium) reject. Leading pictures of later
    /// keyframes in the clip are kept (they are shown after the start keyframe and their
    /// references are in the clip).
    pub fn cut(&self, from_s: f64, to_s: f64) -> Option<ClipPackets> {
        self.entries.front()?;
        let n = self.entries.len();
        // Decode order: everything up to the last packet shown by to_s is needed, including
        // later-shown references that precede it.
        let last = (0..n).rev().find(|&i| self.entries[i].t <= to_s)?;
        // Start on the clean keyframe (IDR) nearest to from_s: the last one at or before it,
        // unless the first one after it is nearer (a looping file has one IDR per pass, so a
        // clip whose pre-roll reaches back over the loop point starts at the loop's IDR rather
        // than a whole pass earlier); losing a little pre-roll beats a clip browsers cannot
        // play. Without any clean keyframe, the last keyframe at or before from_s as before.
        // An open-GOP keyframe (x264's non-IDR I with a recovery point, e.g. every GOP of a
        // file but its first) makes decoders invent the pictures its frame_num skips: ffmpeg
        // conceals that, Chromium stalls at t=0 with readyState 1 (or, seeking into such a
        // file, fails with PIPELINE_ERROR_DECODE), whatever the MMCO and timestamp fix-ups.
        let key_at_or_before = |clean: bool| {
            (0..=last).rev().find(|&i| {
                let e = &self.entries[i];
                e.key && (!clean || e.clean) && e.t <= from_s
            })
        };
        let before = key_at_or_before(true);
        let after = (0..=last).find(|&i| self.entries[i].clean && self.entries[i].t > from_s);
        let start = match (before, after) {
            (Some(b), Some(a)) if self.entries[a].t - from_s < from_s - self.entries[b].t => {
                Some(a)
            }
            (Some(b), _) => Some(b),
            (None, a) => a,
        }
        .or_else(|| key_at_or_before(false))
        .unwrap_or(0);
        let end = (start..n).rev().find(|&i| self.entries[i].t <= to_s)?;
        let tb = f64::from(self.time_base);
        let key_pts = self.entries[start].pts();
        let mut end_s = f64::NEG_INFINITY;
        let mut packets = Vec::with_capacity(end - start + 1);
        for (i, e) in self.entries.range(start..=end).enumerate() {
            // Later GOPs' leading pictures are shown after this keyframe, so they stay.
            let leading = matches!((e.pts(), key_pts), (Some(p), Some(k)) if p < k);
            if i > 0 && leading {
                continue;
            }
            let dur = e.pkt.duration().max(0) as f64 * tb;
            end_s = end_s.max(e.t + dur);
            packets.push(e.pkt.clone());
        }
        Some(ClipPackets {
            params: self.params.clone(),
            time_base: self.time_base,
            packets,
            start_s: self.entries[start].t,
            end_s,
        })
    }

    /// Whether the packet at the front is a keyframe (always true when non-empty).
    pub fn starts_on_key(&self) -> bool {
        self.entries.front().map_or(true, |e| e.key)
    }
}

/// Whether decoding can start at keyframe `pkt` with no state from earlier packets. H.264: the
/// access unit holds an IDR slice (NAL type 5). H.265: IDR or BLA (types 16..=20; a CRA, 21, is
/// open-GOP). Packets in AVCC/HVCC (length-prefixed, as extradata says) or Annex B form.
/// The codec's extradata (H.264/H.265 SPS/PPS in avcC/hvcC form); empty when there is none.
/// The one place that reads it from FFmpeg's struct.
pub fn extradata(params: &Parameters) -> &[u8] {
    // SAFETY: `params` wraps a valid AVCodecParameters whose extradata, when non-null, is
    // `extradata_size` bytes owned by it (so it lives as long as the borrow of `params`).
    unsafe {
        let p = &*params.as_ptr();
        if p.extradata.is_null() || p.extradata_size <= 0 {
            &[]
        } else {
            std::slice::from_raw_parts(p.extradata, p.extradata_size as usize)
        }
    }
}

/// Anything unparsable or another codec counts as clean, as before.
pub(crate) fn is_clean_key(params: &Parameters, pkt: &Packet) -> bool {
    use ffmpeg_next::codec::Id;
    let hevc = match params.id() {
        Id::H264 => false,
        Id::HEVC => true,
        _ => return true,
    };
    let Some(data) = pkt.data() else {
        return true;
    };
    let extra = extradata(params);
    let nal_types = nal_unit_types(extra, data, hevc);
    if nal_types.is_empty() {
        return true;
    }
    nal_types
        .iter()
        .any(|&t| if hevc { (16..=20).contains(&t) } else { t == 5 })
}

/// NAL unit types in one access unit: length-prefixed when the extradata is avcC/hvcC
/// (first byte 1), else Annex B start codes.
fn nal_unit_types(extra: &[u8], data: &[u8], hevc: bool) -> Vec<u8> {
    let ty = |b: u8| if hevc { (b >> 1) & 0x3f } else { b & 0x1f };
    let mut out = Vec::new();
    let len_size = match extra.first() {
        Some(1) if !hevc && extra.len() > 4 => Some((extra[4] & 3) as usize + 1),
        Some(1) if hevc && extra.len() > 21 => Some((extra[21] & 3) as usize + 1),
        _ => None,
    };
    if let Some(ls) = len_size {
        let mut pos = 0usize;
        while pos + ls < data.len() {
            let len = data[pos..pos + ls]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | b as usize);
            pos += ls;
            if len == 0 || pos + len > data.len() {
                break;
            }
            out.push(ty(data[pos]));
            pos += len;
        }
    } else {
        let mut i = 0usize;
        while i + 3 < data.len() {
            if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
                out.push(ty(data[i + 3]));
                i += 3;
            } else {
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ffmpeg_next::codec::packet::Flags;

    fn pkt(key: bool, pts: i64) -> Packet {
        let mut p = Packet::copy(&[0, 0, 0, 1, 0x65]);
        if key {
            p.set_flags(Flags::KEY);
        }
        p.set_pts(Some(pts));
        p.set_dts(Some(pts));
        p.set_duration(1);
        p
    }

    fn ring_with(n: i64, gop: i64, ring_s: f64) -> PacketRing {
        crate::ingest::init();
        let mut r = PacketRing::new(&Parameters::new(), Rational(1, 10), ring_s);
        for i in 0..n {
            r.push(pkt(i % gop == 0, i), i as f64 / 10.0);
        }
        r
    }

    #[test]
    fn drops_leading_non_keys_and_trims_by_gop() {
        crate::ingest::init();
        let mut r = PacketRing::new(&Parameters::new(), Rational(1, 10), 2.0);
        r.push(pkt(false, 0), 0.0);
        assert!(r.is_empty());
        for i in 1..=100 {
            r.push(pkt(i % 10 == 0, i), i as f64 / 10.0);
        }
        assert!(r.starts_on_key());
        let (a, b) = r.span().unwrap();
        assert!((b - 10.0).abs() < 1e-9);
        // Trimmed by whole GOPs of 1 s: keeps at least 2 s, less than 3 s.
        assert!(b - a >= 2.0 && b - a < 3.0, "span {a}..{b}");
    }

    #[test]
    fn the_ring_is_capped_by_bytes_too() {
        crate::ingest::init();
        // 100 kB packets with sane timestamps: time alone would keep 100 s of them (10 MB).
        let mut r =
            PacketRing::new(&Parameters::new(), Rational(1, 10), 100.0).with_byte_cap(1_000_000);
        for i in 0..100 {
            let mut p = Packet::copy(&vec![0u8; 100_000]);
            if i % 5 == 0 {
                p.set_flags(Flags::KEY);
            }
            p.set_pts(Some(i));
            r.push(p, i as f64 / 10.0);
            assert!(r.bytes() <= 1_000_000, "{} bytes held", r.bytes());
            assert_eq!(
                r.bytes(),
                r.entries.iter().map(|e| e.pkt.size()).sum::<usize>()
            );
        }
        assert!(r.starts_on_key() && r.len() >= 5, "{} packets", r.len());
    }

    #[test]
    fn cut_starts_on_keyframe_before_from() {
        let r = ring_with(100, 10, 100.0);
        let c = r.cut(3.45, 5.0).unwrap();
        assert!((c.start_s - 3.0).abs() < 1e-9);
        assert!(c.packets[0].is_key());
        assert_eq!(c.packets.len(), 21); // 3.0 ..= 5.0
        assert!((c.end_s - 5.1).abs() < 1e-9);
        // from before the ring → oldest keyframe; to beyond → last packet.
        let c = r.cut(-5.0, 1e9).unwrap();
        assert_eq!(c.packets.len(), 100);
        assert!(r.cut(0.0, -1.0).is_none());
    }
}
