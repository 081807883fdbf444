//! H.264 (libx264, yuv420p; by default preset veryfast, CRF 23, ~2 s GOP) into MP4 through
//! ffmpeg-next; falls back to piping raw frames into the `ffmpeg` CLI when the library route
//! cannot open.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ffmpeg::{codec, encoder, format, frame, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

use super::SynthError;

/// BT.601 limited-range luma of an RGB pixel.
#[inline]
pub fn y_of(r: u8, g: u8, b: u8) -> u8 {
    let y = 16.0 + (65.481 * r as f32 + 128.553 * g as f32 + 24.966 * b as f32) / 255.0;
    // `as` saturates; +0.5 rounds the (non-negative) value like `round`.
    (y + 0.5) as u8
}

#[inline]
fn uv_of(r: f32, g: f32, b: f32) -> (u8, u8) {
    let u = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0;
    let v = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0;
    ((u + 0.5).max(0.0) as u8, (v + 0.5).max(0.0) as u8)
}

/// Convert packed RGB24 to planar yuv420p (chroma from 2×2 means).
pub fn rgb_to_yuv420(rgb: &[u8], w: usize, h: usize, y: &mut [u8], u: &mut [u8], v: &mut [u8]) {
    for j in 0..h {
        for i in 0..w {
            let o = (j * w + i) * 3;
            y[j * w + i] = y_of(rgb[o], rgb[o + 1], rgb[o + 2]);
        }
    }
    let (cw, ch) = (w / 2, h / 2);
    for j in 0..ch {
        for i in 0..cw {
            let mut s = [0.0f32; 3];
            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let o = ((2 * j + dy) * w + 2 * i + dx) * 3;
                for c in 0..3 {
                    s[c] += rgb[o + c] as f32;
                }
            }
            let (uu, vv) = uv_of(s[0] / 4.0, s[1] / 4.0, s[2] / 4.0);
            u[j * cw + i] = uu;
            v[j * cw + i] = vv;
        }
    }
}

fn fps_rational(fps: f64) -> Rational {
    let num = (fps * 1000.0).round() as i32;
    let g = gcd(num, 1000);
    Rational::new(num / g, 1000 / g)
}

fn gcd(a: i32, b: i32) -> i32 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

/// Encoder settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeParams {
    pub crf: u32,
    pub preset: String,
    /// Keyframe interval in frames.
    pub gop: u32,
}

impl EncodeParams {
    /// veryfast, CRF 23, 2 s GOP.
    pub fn standard(fps: f64) -> EncodeParams {
        EncodeParams {
            crf: 23,
            preset: "veryfast".into(),
            gop: (2.0 * fps).round().max(1.0) as u32,
        }
    }
}

struct LibWriter {
    octx: format::context::Output,
    enc: encoder::Video,
    frame: frame::Video,
    enc_tb: Rational,
    ost_tb: Rational,
    next_pts: i64,
}

impl LibWriter {
    fn open(
        path: &Path,
        w: u32,
        h: u32,
        fps: f64,
        p: &EncodeParams,
    ) -> Result<LibWriter, ffmpeg::Error> {
        // Process-wide FFmpeg set-up (quiet logging, so x264's banner and stats stay out of
        // test and CLI output) lives in one place.
        crate::ingest::init();
        let mut octx = format::output(&path)?;
        let global = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
        let codec = encoder::find_by_name("libx264")
            .or_else(|| encoder::find(codec::Id::H264))
            .ok_or(ffmpeg::Error::EncoderNotFound)?;
        let rate = fps_rational(fps);
        let enc_tb = rate.invert();
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()?;
        enc.set_width(w);
        enc.set_height(h);
        enc.set_format(format::Pixel::YUV420P);
        enc.set_frame_rate(Some(rate));
        enc.set_time_base(enc_tb);
        enc.set_gop(p.gop.max(1));
        enc.set_colorspace(ffmpeg::color::Space::BT470BG);
        enc.set_color_range(ffmpeg::color::Range::MPEG);
        // Closed GOPs: every keyframe an IDR, as IP cameras send. (FFmpeg's libx264 wrapper
        // turns x264's open GOPs on unless asked; a clip cut at an open-GOP I-frame does not
        // start decoding in browsers.)
        let mut flags = codec::Flags::CLOSED_GOP;
        if global {
            flags |= codec::Flags::GLOBAL_HEADER;
        }
        enc.set_flags(flags);
        let mut opts = Dictionary::new();
        opts.set("preset", &p.preset);
        opts.set("crf", &p.crf.to_string());
        let enc = enc.open_with(opts)?;
        {
            let mut ost = octx.add_stream(codec)?;
            ost.set_parameters(&enc);
            ost.set_time_base(enc_tb);
            ost.set_avg_frame_rate(rate);
            ost.set_rate(rate);
        }
        octx.write_header()?;
        let ost_tb = octx
            .stream(0)
            .map(|s| s.time_base())
            .ok_or(ffmpeg::Error::StreamNotFound)?;
        Ok(LibWriter {
            octx,
            enc,
            frame: frame::Video::new(format::Pixel::YUV420P, w, h),
            enc_tb,
            ost_tb,
            next_pts: 0,
        })
    }

    fn write(&mut self, rgb: &[u8], w: usize, h: usize) -> Result<(), ffmpeg::Error> {
        let mut y = vec![0u8; w * h];
        let mut u = vec![0u8; w * h / 4];
        let mut v = vec![0u8; w * h / 4];
        rgb_to_yuv420(rgb, w, h, &mut y, &mut u, &mut v);
        for (plane, data, pw, ph) in [(0, &y, w, h), (1, &u, w / 2, h / 2), (2, &v, w / 2, h / 2)] {
            let stride = self.frame.stride(plane);
            let dst = self.frame.data_mut(plane);
            for row in 0..ph {
                dst[row * stride..row * stride + pw]
                    .copy_from_slice(&data[row * pw..(row + 1) * pw]);
            }
        }
        self.frame.set_pts(Some(self.next_pts));
        self.next_pts += 1;
        self.enc.send_frame(&self.frame)?;
        self.drain()
    }

    fn drain(&mut self) -> Result<(), ffmpeg::Error> {
        let mut pkt = Packet::empty();
        while self.enc.receive_packet(&mut pkt).is_ok() {
            pkt.set_stream(0);
            pkt.rescale_ts(self.enc_tb, self.ost_tb);
            pkt.write_interleaved(&mut self.octx)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), ffmpeg::Error> {
        self.enc.send_eof()?;
        self.drain()?;
        self.octx.write_trailer()
    }
}

enum Sink {
    Lib(Box<LibWriter>),
    Cli(Child),
}

/// Writes RGB24 frames of a fixed size as an H.264 MP4.
pub struct VideoWriter {
    sink: Sink,
    path: PathBuf,
    w: usize,
    h: usize,
}

impl VideoWriter {
    pub fn create(path: &Path, w: u32, h: u32, fps: f64) -> Result<VideoWriter, SynthError> {
        VideoWriter::create_with(path, w, h, fps, &EncodeParams::standard(fps))
    }

    pub fn create_with(
        path: &Path,
        w: u32,
        h: u32,
        fps: f64,
        p: &EncodeParams,
    ) -> Result<VideoWriter, SynthError> {
        let sink = match LibWriter::open(path, w, h, fps, p) {
            Ok(l) => Sink::Lib(Box::new(l)),
            Err(e) => {
                tracing::warn!(error = %e, "libx264 through ffmpeg-next failed; using the ffmpeg CLI");
                Sink::Cli(spawn_cli(path, w, h, fps, p)?)
            }
        };
        Ok(VideoWriter {
            sink,
            path: path.to_path_buf(),
            w: w as usize,
            h: h as usize,
        })
    }

    fn err(&self, message: String) -> SynthError {
        SynthError::Encode {
            path: self.path.clone(),
            message,
        }
    }

    pub fn write_rgb(&mut self, rgb: &[u8]) -> Result<(), SynthError> {
        if rgb.len() != self.w * self.h * 3 {
            return Err(self.err(format!(
                "frame has {} bytes, expected {}",
                rgb.len(),
                self.w * self.h * 3
            )));
        }
        let (w, h) = (self.w, self.h);
        let r = match &mut self.sink {
            Sink::Lib(l) => l.write(rgb, w, h).map_err(|e| e.to_string()),
            Sink::Cli(c) => match c.stdin.as_mut() {
                Some(s) => s.write_all(rgb).map_err(|e| e.to_string()),
                None => Err("ffmpeg stdin closed".into()),
            },
        };
        r.map_err(|m| self.err(m))
    }

    pub fn finish(self) -> Result<(), SynthError> {
        let path = self.path.clone();
        let err = |message: String| SynthError::Encode {
            path: path.clone(),
            message,
        };
        match self.sink {
            Sink::Lib(l) => l.finish().map_err(|e| err(e.to_string())),
            Sink::Cli(mut c) => {
                drop(c.stdin.take());
                let out = c.wait_with_output().map_err(|e| err(e.to_string()))?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(err(String::from_utf8_lossy(&out.stderr)
                        .chars()
                        .take(2000)
                        .collect()))
                }
            }
        }
    }
}

fn spawn_cli(path: &Path, w: u32, h: u32, fps: f64, p: &EncodeParams) -> Result<Child, SynthError> {
    let gop = format!("{}", p.gop.max(1));
    let crf = p.crf.to_string();
    Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
        ])
        .args([
            "-s",
            &format!("{w}x{h}"),
            "-r",
            &format!("{fps}"),
            "-i",
            "-",
        ])
        .args([
            "-c:v", "libx264", "-preset", &p.preset, "-crf", &crf, "-g", &gop, "-flags", "+cgop",
        ])
        .args(["-pix_fmt", "yuv420p"])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SynthError::Encode {
            path: path.to_path_buf(),
            message: format!("cannot start ffmpeg: {e}"),
        })
}
