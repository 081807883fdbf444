//! One pass over a file or stream: demux, decode, convert to analysis frames, feed the ring.

use std::os::raw::c_int;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ff::format::Pixel;
use ff::software::scaling;
use ff::{codec, decoder, format, media, Packet, Rational};
use ffmpeg_next as ff;

use super::counters::Counters;
use super::ring::PacketRing;
use super::IngestError;
use crate::clock::Clock;
use crate::frame::Frame;

/// How a source is read and converted.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// Analysis size; `None` = coded size.
    pub analysis_size: Option<(u32, u32)>,
    /// Also fill `Frame.rgb` (RGB24 at the analysis size).
    pub want_rgb: bool,
    /// `false` = decode only, `Frame.gray` left empty (decode benchmarks).
    pub convert: bool,
    /// Pace a file at its PTS so wall time follows media time.
    pub realtime: bool,
    /// Network connect/read timeout.
    pub io_timeout_s: f64,
    /// Decoder threads; 0 = ffmpeg's automatic choice.
    pub decode_threads: usize,
    /// Seconds of compressed packets kept for clips.
    pub ring_s: f64,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            analysis_size: None,
            want_rgb: false,
            convert: true,
            realtime: false,
            io_timeout_s: 5.0,
            decode_threads: 0,
            ring_s: 30.0,
        }
    }
}

#[derive(Clone, Debug)]
pub struct StreamInfo {
    pub width: u32,
    pub height: u32,
    pub analysis_width: u32,
    pub analysis_height: u32,
    pub fps: f64,
    pub codec: String,
    pub duration_s: Option<f64>,
}

/// Cumulative time spent per ingest stage.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageTimes {
    pub demux: Duration,
    pub decode: Duration,
    pub convert: Duration,
}

/// A cached swscale context with its output frame.
struct Scaler {
    ctx: scaling::Context,
    out: ff::frame::Video,
}

// SAFETY: an SwsContext has no thread affinity; it is only ever used by its owner, one thread at
// a time (the wrapper is not Sync).
unsafe impl Send for Scaler {}

impl Scaler {
    fn matches(&self, src: &ff::frame::Video, dst: Pixel, w: u32, h: u32) -> bool {
        let i = self.ctx.input();
        let o = self.ctx.output();
        i.format == src.format()
            && i.width == src.width()
            && i.height == src.height()
            && o.format == dst
            && o.width == w
            && o.height == h
    }

    fn new(src: &ff::frame::Video, dst: Pixel, w: u32, h: u32) -> Result<Self, ff::Error> {
        // Area averaging keeps small objects visible when shrinking; bilinear when growing.
        let flags = if w < src.width() || h < src.height() {
            scaling::Flags::AREA
        } else {
            scaling::Flags::BILINEAR
        };
        let mut ctx =
            scaling::Context::get(src.format(), src.width(), src.height(), dst, w, h, flags)?;
        if dst == Pixel::GRAY8 {
            keep_luma_range(&mut ctx);
        }
        Ok(Scaler {
            ctx,
            out: ff::frame::Video::new(dst, w, h),
        })
    }
}

/// swscale treats GRAY8 as full range and would stretch limited-range luma; keep the source
/// range so the scaled grey equals the directly copied Y plane.
fn keep_luma_range(ctx: &mut scaling::Context) {
    // SAFETY: plain getter/setter on a valid SwsContext; the tables returned by the getter are
    // owned by the context and passed straight back.
    unsafe {
        let ptr = ctx.as_mut_ptr();
        let mut inv_table: *mut c_int = std::ptr::null_mut();
        let mut table: *mut c_int = std::ptr::null_mut();
        let (mut src_range, mut dst_range) = (0, 0);
        let (mut b, mut c, mut s) = (0, 0, 0);
        let r = ff::ffi::sws_getColorspaceDetails(
            ptr,
            &mut inv_table,
            &mut src_range,
            &mut table,
            &mut dst_range,
            &mut b,
            &mut c,
            &mut s,
        );
        if r >= 0 && src_range != dst_range {
            ff::ffi::sws_setColorspaceDetails(ptr, inv_table, src_range, table, src_range, b, c, s);
        }
    }
}

/// Milliseconds on a process-wide monotonic clock (for the interrupt deadline).
fn mono_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// Shared with ffmpeg's interrupt callback: abort blocking I/O on stop or past the deadline.
#[derive(Clone, Default)]
struct Interrupt {
    /// `mono_ms()` after which I/O is aborted; 0 = no deadline.
    deadline_ms: Arc<AtomicU64>,
    stop: Option<Arc<AtomicBool>>,
}

impl Interrupt {
    fn should_abort(&self) -> bool {
        if self
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            return true;
        }
        let d = self.deadline_ms.load(Ordering::Relaxed);
        d != 0 && mono_ms() > d
    }

    fn arm(&self, seconds: f64) {
        let ms = (seconds.max(0.05) * 1000.0) as u64;
        self.deadline_ms.store(mono_ms() + ms, Ordering::Relaxed);
    }

    fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }
}

/// Why an open failed, in words.
fn open_reason(e: ff::Error, timeout_s: f64) -> String {
    match e {
        ff::Error::InvalidData => {
            "not a recognised media file, or truncated before its index (invalid data)".into()
        }
        ff::Error::Exit => format!("timed out after {timeout_s:.1} s"),
        other => other.to_string(),
    }
}

/// `url` as it may be shown in logs, errors and the API: no user name, password, query or
/// fragment (cameras and NVRs put credentials and tokens there). File paths stay as they are.
pub fn redact_url(url: &str) -> String {
    if !is_network_url(url) {
        return url.to_string();
    }
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        // Not parseable as a URL: keep the scheme and host only, without anything before '@'.
        Err(_) => {
            let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}")
        }
    }
}

/// Whether `url` names a network stream (as opposed to a local file).
pub fn is_network_url(url: &str) -> bool {
    match url.split_once("://") {
        Some((scheme, _)) => !scheme.eq_ignore_ascii_case("file"),
        None => false,
    }
}

/// Pixel formats whose plane 0 is 8-bit luma at full resolution.
fn y_plane_is_luma8(p: Pixel) -> bool {
    matches!(
        p,
        Pixel::YUV420P
            | Pixel::YUVJ420P
            | Pixel::YUV422P
            | Pixel::YUVJ422P
            | Pixel::YUV444P
            | Pixel::YUVJ444P
            | Pixel::YUV440P
            | Pixel::YUVJ440P
            | Pixel::YUV411P
            | Pixel::YUV410P
            | Pixel::NV12
            | Pixel::NV21
            | Pixel::NV16
            | Pixel::GRAY8
    )
}

/// Copy `rows` rows of `row_bytes` from a strided plane into a packed buffer.
fn copy_plane(data: &[u8], stride: usize, row_bytes: usize, rows: usize) -> Vec<u8> {
    if stride == row_bytes && data.len() >= row_bytes * rows {
        return data[..row_bytes * rows].to_vec();
    }
    let mut out = Vec::with_capacity(row_bytes * rows);
    for r in 0..rows {
        let start = r * stride;
        match data.get(start..start + row_bytes) {
            Some(row) => out.extend_from_slice(row),
            None => out.resize(out.len() + row_bytes, 0),
        }
    }
    out
}

/// Reads one file or stream once.
pub struct MediaSource {
    url: String,
    opts: IngestOptions,
    is_network: bool,
    input: format::context::Input,
    stream_index: usize,
    time_base: Rational,
    decoder: decoder::Video,
    info: StreamInfo,
    ring: PacketRing,
    counters: Arc<Counters>,
    times: StageTimes,
    interrupt: Interrupt,
    decoded: ff::frame::Video,
    gray_scaler: Option<Scaler>,
    rgb_scaler: Option<Scaler>,
    /// Timestamp (stream time base) that maps to media time 0: the first video packet's.
    origin_ts: Option<i64>,
    last_pkt_t: Option<f64>,
    last_pts_s: Option<f64>,
    index: u64,
    time_offset_s: f64,
    /// Added to packet timestamps before they enter the ring (fixed at the first packet), so
    /// ring timestamps follow media time: continuous across the passes of a looping file.
    ring_shift: Option<i64>,
    eof_sent: bool,
    finished: bool,
    bad_reads: u32,
    pace: Option<(Instant, f64)>,
    stall_after: Option<Duration>,
    /// When the last frame came out (stall detection), on `clock`.
    last_progress: Instant,
    clock: Arc<dyn Clock>,
}

impl MediaSource {
    /// Open a file path or URL (rtsp://, http://, …) and its best video stream.
    pub fn open(
        url: &str,
        opts: &IngestOptions,
        counters: Arc<Counters>,
    ) -> Result<Self, IngestError> {
        Self::open_with_stop(url, opts, counters, None)
    }

    /// Like [`MediaSource::open`], with a flag that aborts blocking opens and reads
    /// (`IngestError::Stopped`).
    pub fn open_with_stop(
        url: &str,
        opts: &IngestOptions,
        counters: Arc<Counters>,
        stop: Option<Arc<AtomicBool>>,
    ) -> Result<Self, IngestError> {
        super::init();
        // What logs and errors show: never the credentials.
        let name = redact_url(url);
        let open_err = |reason: String| IngestError::Open {
            source_name: name.clone(),
            reason,
        };
        if let Some((w, h)) = opts.analysis_size {
            if w == 0 || h == 0 || w > 16384 || h > 16384 {
                return Err(open_err(format!("invalid analysis size {w}x{h}")));
            }
        }
        let is_network = is_network_url(url);
        if !is_network {
            let p = Path::new(url.strip_prefix("file://").unwrap_or(url));
            match std::fs::metadata(p) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(open_err("no such file".into()))
                }
                Err(e) => return Err(open_err(e.to_string())),
                Ok(m) if m.is_dir() => return Err(open_err("is a directory".into())),
                Ok(m) if m.len() == 0 => return Err(open_err("file is empty".into())),
                Ok(_) => {}
            }
        }

        let interrupt = Interrupt {
            deadline_ms: Arc::new(AtomicU64::new(0)),
            stop,
        };
        let mut dict = ff::Dictionary::new();
        let io_us = ((opts.io_timeout_s.max(0.1)) * 1e6) as i64;
        if is_network {
            let lower = url.to_ascii_lowercase();
            if lower.starts_with("rtsp://") || lower.starts_with("rtsps://") {
                // TCP: no lost packets behind NAT/firewalls, and a dead server is noticed.
                dict.set("rtsp_transport", "tcp");
            }
            dict.set("timeout", &io_us.to_string());
            // Probing should not take much longer than the I/O timeout.
            interrupt.arm(opts.io_timeout_s * 2.0 + 1.0);
        }
        let cb = interrupt.clone();
        let opened =
            format::input_with_interrupt_and_dictionary(&url, move || cb.should_abort(), dict);
        let input = match opened {
            Ok(i) => i,
            Err(_) if interrupt.stopped() => {
                return Err(IngestError::Stopped { source_name: name })
            }
            Err(e) => return Err(open_err(open_reason(e, opts.io_timeout_s * 2.0 + 1.0))),
        };
        interrupt.deadline_ms.store(0, Ordering::Relaxed);

        let (stream_index, time_base, params, stream_fps, stream_dur) =
            {
                let stream = input.streams().best(media::Type::Video).ok_or_else(|| {
                    IngestError::NoVideo {
                        source_name: name.clone(),
                    }
                })?;
                let fps = [stream.avg_frame_rate(), stream.rate()]
                    .into_iter()
                    .map(f64::from)
                    .find(|f| f.is_finite() && *f > 0.5 && *f < 1000.0);
                let tb = stream.time_base();
                let dur = (stream.duration() > 0 && tb.denominator() != 0)
                    .then(|| stream.duration() as f64 * f64::from(tb));
                (stream.index(), tb, stream.parameters(), fps, dur)
            };
        let codec_id = params.id();
        let codec_err = |reason: String| IngestError::Codec {
            source_name: name.clone(),
            reason,
        };
        if decoder::find(codec_id).is_none() {
            return Err(codec_err(format!("no decoder for {codec_id:?}")));
        }
        let mut ctx = codec::Context::from_parameters(params.clone())
            .map_err(|e| codec_err(format!("{codec_id:?}: {e}")))?;
        // SAFETY: setting plain fields on a codec context that is not opened yet.
        unsafe {
            let p = ctx.as_mut_ptr();
            (*p).thread_count = opts.decode_threads as c_int;
            (*p).pkt_timebase = time_base.into();
        }
        let decoder = ctx
            .decoder()
            .video()
            .map_err(|e| codec_err(format!("{codec_id:?}: cannot open decoder: {e}")))?;

        let duration_s = stream_dur.or_else(|| {
            let d = input.duration();
            (d > 0).then(|| d as f64 / f64::from(ff::ffi::AV_TIME_BASE))
        });
        let (width, height) = (decoder.width(), decoder.height());
        let (aw, ah) = opts.analysis_size.unwrap_or((width, height));
        let info = StreamInfo {
            width,
            height,
            analysis_width: aw,
            analysis_height: ah,
            fps: stream_fps.unwrap_or(25.0),
            codec: format!("{codec_id:?}").to_ascii_lowercase(),
            duration_s,
        };
        tracing::debug!(source = %name, ?info, "opened");
        let ring = PacketRing::new(&params, time_base, opts.ring_s);
        Ok(MediaSource {
            url: name,
            opts: opts.clone(),
            is_network,
            input,
            stream_index,
            time_base,
            decoder,
            info,
            ring,
            counters,
            times: StageTimes::default(),
            interrupt,
            decoded: ff::frame::Video::empty(),
            gray_scaler: None,
            rgb_scaler: None,
            origin_ts: None,
            last_pkt_t: None,
            last_pts_s: None,
            index: 0,
            time_offset_s: 0.0,
            ring_shift: None,
            eof_sent: false,
            finished: false,
            bad_reads: 0,
            pace: None,
            stall_after: None,
            last_progress: Instant::now(),
            clock: crate::clock::system(),
        })
    }

    pub fn info(&self) -> &StreamInfo {
        &self.info
    }

    pub fn ring(&self) -> &PacketRing {
        &self.ring
    }

    pub fn times(&self) -> StageTimes {
        self.times
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn is_network(&self) -> bool {
        self.is_network
    }

    /// Shift all media times (frames and ring) by `offset_s`; set before the first read.
    /// Used by `LiveSource` to keep time monotonic across reconnects and loops. The packets in
    /// the ring get timestamps on the same clock (`offset_s` + time since the first packet, in
    /// the stream's time base).
    pub fn set_time_offset(&mut self, offset_s: f64) {
        self.time_offset_s = offset_s;
    }

    /// The ring, for the next pass of a looping file ([`MediaSource::continue_ring`]).
    pub fn into_ring(self) -> PacketRing {
        self.ring
    }

    /// Keep filling `ring` (from the previous pass over the same file) instead of a fresh one,
    /// so a clip around the loop point has its pre-roll from the end of the previous pass and its
    /// post-roll from the start of this one. Call before the first read, after
    /// [`MediaSource::set_time_offset`] (which must continue after the previous pass). Returns
    /// false, keeping the fresh ring, when the stream's parameters differ (e.g. the file was
    /// replaced with a different SPS/PPS or size): such packets cannot share one MP4 without
    /// re-encoding.
    pub fn continue_ring(&mut self, ring: PacketRing) -> bool {
        if self.ring_shift.is_some() || !self.ring.is_empty() {
            return false;
        }
        let (params, tb) = match self.input.stream(self.stream_index) {
            Some(st) => (st.parameters(), st.time_base()),
            None => return false,
        };
        if !ring.can_continue_with(&params, tb) {
            tracing::info!(source = %self.url, "stream parameters changed; evidence ring restarts");
            return false;
        }
        self.ring = ring;
        true
    }

    /// Fail with `IngestError::Stalled` when no frame was produced for this long (also bounds
    /// blocking network reads). `None` = never.
    pub fn set_stall_timeout(&mut self, seconds: Option<f64>) {
        self.stall_after = seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64);
        self.last_progress = self.clock.now();
    }

    /// Measure stall time on `clock` (tests use a simulated one). Restarts the stall timer.
    pub fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.last_progress = clock.now();
        self.clock = clock;
    }

    fn since_progress(&self) -> Duration {
        self.clock
            .now()
            .saturating_duration_since(self.last_progress)
    }

    fn stalled(&self) -> Option<IngestError> {
        let st = self.stall_after?;
        let quiet = self.since_progress();
        (quiet > st).then(|| IngestError::Stalled {
            source_name: self.url.clone(),
            seconds: quiet.as_secs_f64(),
        })
    }

    fn ts_to_s(&self, ts: i64) -> f64 {
        let origin = self.origin_ts.unwrap_or(ts);
        (ts - origin) as f64 * f64::from(self.time_base) + self.time_offset_s
    }

    fn frame_dur(&self) -> f64 {
        1.0 / self.info.fps.max(1.0)
    }

    /// Next decoded frame; `Ok(None)` at the end of the stream (decoder drained). Corrupt
    /// packets bump `decode_errors` and are skipped. A truncated file ends with the frames it had.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, IngestError> {
        loop {
            if self.finished {
                return Ok(None);
            }
            let t0 = Instant::now();
            let got = self.decoder.receive_frame(&mut self.decoded);
            self.times.decode += t0.elapsed();
            match got {
                Ok(()) => {
                    if let Some(f) = self.emit()? {
                        return Ok(Some(f));
                    }
                    continue;
                }
                Err(ff::Error::Other { errno }) if errno == ff::error::EAGAIN => {}
                Err(ff::Error::Eof) => {
                    self.finished = true;
                    return Ok(None);
                }
                Err(e) => {
                    self.counters.decode_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(source = %self.url, error = %e, "decode error");
                    if !self.eof_sent {
                        continue;
                    }
                }
            }
            if self.eof_sent {
                self.finished = true;
                return Ok(None);
            }
            if let Some(e) = self.stalled() {
                return Err(e);
            }
            self.read_packet()?;
        }
    }

    /// Read one packet and feed it to the decoder and the ring (or signal end of input).
    fn read_packet(&mut self) -> Result<(), IngestError> {
        if self.is_network {
            let mut secs = self.opts.io_timeout_s;
            if let Some(st) = self.stall_after {
                let left = st.saturating_sub(self.since_progress());
                secs = secs.min(left.as_secs_f64() + 0.05);
            }
            self.interrupt.arm(secs);
        }
        let mut pkt = Packet::empty();
        let t1 = Instant::now();
        let r = pkt.read(&mut self.input);
        self.times.demux += t1.elapsed();
        match r {
            Ok(()) => {
                self.bad_reads = 0;
                if pkt.stream() != self.stream_index {
                    return Ok(());
                }
                self.counters.frames_in.fetch_add(1, Ordering::Relaxed);
                let t = self.packet_time(&pkt);
                let t2 = Instant::now();
                if let Err(e) = self.decoder.send_packet(&pkt) {
                    self.counters.decode_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(source = %self.url, error = %e, "corrupt packet skipped");
                }
                self.times.decode += t2.elapsed();
                self.shift_for_ring(&mut pkt);
                self.ring.push(pkt, t);
                Ok(())
            }
            Err(ff::Error::Eof) => {
                self.end_input();
                Ok(())
            }
            Err(ff::Error::InvalidData) => {
                // The demuxer resyncs past a bad packet; give up only on endless garbage.
                self.counters.decode_errors.fetch_add(1, Ordering::Relaxed);
                self.bad_reads += 1;
                if self.bad_reads > 1000 {
                    tracing::warn!(source = %self.url, "too many unreadable packets; ending");
                    self.end_input();
                }
                Ok(())
            }
            Err(ff::Error::Exit) => {
                if self.interrupt.stopped() {
                    Err(IngestError::Stopped {
                        source_name: self.url.clone(),
                    })
                } else if let Some(e) = self.stalled() {
                    Err(e)
                } else {
                    Err(IngestError::Read {
                        source_name: self.url.clone(),
                        reason: format!("no data for {:.1} s (timed out)", self.opts.io_timeout_s),
                    })
                }
            }
            Err(e) if self.is_network => Err(IngestError::Read {
                source_name: self.url.clone(),
                reason: e.to_string(),
            }),
            Err(e) => {
                tracing::warn!(source = %self.url, error = %e, "read error; ending the file here (truncated?)");
                self.end_input();
                Ok(())
            }
        }
    }

    /// Put a packet's timestamps on the media clock (see `ring_shift`). Packets of a new pass
    /// must also decode after the ring's newest packet: a file whose first packet is not its
    /// earliest could otherwise step back, so the shift is raised until dts increases.
    fn shift_for_ring(&mut self, pkt: &mut Packet) {
        let shift = match self.ring_shift {
            Some(s) => s,
            None => {
                let tb = f64::from(self.time_base);
                let offset = if tb > 0.0 {
                    (self.time_offset_s / tb).round() as i64
                } else {
                    0
                };
                let mut s = offset - self.origin_ts.unwrap_or(0);
                if let (Some(last), Some(d)) = (self.ring.last_dts(), pkt.dts().or(pkt.pts())) {
                    if d + s <= last {
                        let step = pkt.duration().max(1);
                        s = last + step - d;
                    }
                }
                self.ring_shift = Some(s);
                s
            }
        };
        if let Some(p) = pkt.pts() {
            pkt.set_pts(Some(p + shift));
        }
        if let Some(d) = pkt.dts() {
            pkt.set_dts(Some(d + shift));
        }
    }

    fn end_input(&mut self) {
        self.eof_sent = true;
        // Errors here only mean the decoder was already draining.
        let _ = self.decoder.send_eof();
    }

    fn packet_time(&mut self, pkt: &Packet) -> f64 {
        let t = match pkt.pts().or(pkt.dts()) {
            Some(ts) => {
                if self.origin_ts.is_none() {
                    self.origin_ts = Some(ts);
                }
                self.ts_to_s(ts)
            }
            None => self
                .last_pkt_t
                .map_or(self.time_offset_s, |t| t + self.frame_dur()),
        };
        self.last_pkt_t = Some(t);
        t
    }

    /// Turn the decoded frame into a `Frame`; `None` if it must be dropped.
    fn emit(&mut self) -> Result<Option<Frame>, IngestError> {
        // SAFETY: reading plain fields of a frame the decoder just filled.
        let (err_flags, corrupt) = unsafe {
            let p = self.decoded.as_ptr();
            (
                (*p).decode_error_flags,
                (*p).flags & ff::ffi::AV_FRAME_FLAG_CORRUPT as c_int,
            )
        };
        if err_flags != 0 || corrupt != 0 {
            self.counters.decode_errors.fetch_add(1, Ordering::Relaxed);
        }
        let (fw, fh) = (self.decoded.width(), self.decoded.height());
        if fw == 0 || fh == 0 {
            return Ok(None);
        }
        if (fw, fh) != (self.info.width, self.info.height) {
            tracing::info!(source = %self.url, width = fw, height = fh, "video size changed");
            self.info.width = fw;
            self.info.height = fh;
            if self.opts.analysis_size.is_none() {
                self.info.analysis_width = fw;
                self.info.analysis_height = fh;
            }
        }
        let dur = self.frame_dur();
        let mut pts_s = match self.decoded.timestamp().or(self.decoded.pts()) {
            Some(ts) => {
                if self.origin_ts.is_none() {
                    self.origin_ts = Some(ts);
                }
                self.ts_to_s(ts)
            }
            None => self
                .last_pts_s
                .map_or(self.time_offset_s, |last| last + dur),
        };
        if let Some(last) = self.last_pts_s {
            if pts_s <= last {
                // Broken or repeated timestamps: keep time moving forward.
                pts_s = last + dur;
            }
        }
        self.last_pts_s = Some(pts_s);

        let t = Instant::now();
        let (gray, rgb) = if self.opts.convert {
            self.convert()?
        } else {
            (Vec::new(), None)
        };
        self.times.convert += t.elapsed();

        let frame = Frame {
            index: self.index,
            pts_s,
            width: self.info.analysis_width,
            height: self.info.analysis_height,
            gray,
            rgb,
        };
        self.index += 1;
        self.counters.mark_frame();
        self.last_progress = self.clock.now();
        if self.opts.realtime && !self.is_network {
            self.pace(pts_s)?;
        }
        Ok(Some(frame))
    }

    /// Sleep so wall time follows media time (files only), waking to honour `stop`.
    fn pace(&mut self, pts_s: f64) -> Result<(), IngestError> {
        let now = Instant::now();
        let (start, media0) = *self.pace.get_or_insert((now, pts_s));
        let ahead = pts_s - media0 - now.duration_since(start).as_secs_f64();
        if ahead < -1.0 {
            // Fell far behind (slow consumer): restart the clock rather than burst.
            self.pace = Some((now, pts_s));
            return Ok(());
        }
        let target = now + Duration::from_secs_f64(ahead.max(0.0));
        while Instant::now() < target {
            if self.interrupt.stopped() {
                return Err(IngestError::Stopped {
                    source_name: self.url.clone(),
                });
            }
            let left = target.saturating_duration_since(Instant::now());
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
        Ok(())
    }

    fn convert(&mut self) -> Result<(Vec<u8>, Option<Vec<u8>>), IngestError> {
        let (aw, ah) = (self.info.analysis_width, self.info.analysis_height);
        let src = &self.decoded;
        let gray = if (aw, ah) == (src.width(), src.height()) && y_plane_is_luma8(src.format()) {
            copy_plane(src.data(0), src.stride(0), aw as usize, ah as usize)
        } else {
            let s = scale(&mut self.gray_scaler, src, Pixel::GRAY8, aw, ah)
                .map_err(|e| convert_err(&self.url, src, e))?;
            copy_plane(s.data(0), s.stride(0), aw as usize, ah as usize)
        };
        let rgb = if self.opts.want_rgb {
            let s = scale(&mut self.rgb_scaler, src, Pixel::RGB24, aw, ah)
                .map_err(|e| convert_err(&self.url, src, e))?;
            Some(copy_plane(
                s.data(0),
                s.stride(0),
                aw as usize * 3,
                ah as usize,
            ))
        } else {
            None
        };
        Ok((gray, rgb))
    }
}

fn convert_err(url: &str, src: &ff::frame::Video, e: ff::Error) -> IngestError {
    IngestError::Codec {
        source_name: url.to_string(),
        reason: format!(
            "cannot convert {:?} {}x{} to the analysis size: {e}",
            src.format(),
            src.width(),
            src.height()
        ),
    }
}

/// Run (creating or rebuilding on format change) the cached scaler; returns its output.
fn scale<'a>(
    slot: &'a mut Option<Scaler>,
    src: &ff::frame::Video,
    dst: Pixel,
    w: u32,
    h: u32,
) -> Result<&'a ff::frame::Video, ff::Error> {
    if !slot.as_ref().is_some_and(|s| s.matches(src, dst, w, h)) {
        *slot = Some(Scaler::new(src, dst, w, h)?);
    }
    match slot {
        Some(s) => {
            s.ctx.run(src, &mut s.out)?;
            Ok(&s.out)
        }
        None => Err(ff::Error::Bug),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials() {
        assert_eq!(
            redact_url("rtsp://admin:s3cret@192.0.2.7:554/Streaming/Channels/101?token=abc"),
            "rtsp://192.0.2.7:554/Streaming/Channels/101"
        );
        assert_eq!(
            redact_url("http://user:pw@10.0.0.9:8080/relay/1?key=abc#x"),
            "http://10.0.0.9:8080/relay/1"
        );
        assert_eq!(redact_url("/data/clips/a?.mp4"), "/data/clips/a?.mp4");
        assert!(!redact_url("rtsp://u:p@[bad/x").contains("p@"));
    }

    #[test]
    fn network_urls() {
        assert!(is_network_url("rtsp://cam/1"));
        assert!(is_network_url("HTTP://x"));
        assert!(!is_network_url("file:///tmp/a.mp4"));
        assert!(!is_network_url("/tmp/a.mp4"));
    }

    #[test]
    fn copy_plane_strips_stride() {
        let data: Vec<u8> = (0..12).collect();
        assert_eq!(copy_plane(&data, 4, 3, 3), vec![0, 1, 2, 4, 5, 6, 8, 9, 10]);
        assert_eq!(copy_plane(&data, 3, 3, 4), data);
    }

    fn assert_send<T: Send>() {}

    #[test]
    fn media_source_is_send() {
        assert_send::<MediaSource>();
    }
}
