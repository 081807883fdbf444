//! Drawing helpers for evidence pictures: lines, polylines, boxes, circles and ASCII labels
//! (built-in 5×7 bitmap font, so pictures need no font files).

use image::{Rgb, RgbImage};

pub const RED: Rgb<u8> = Rgb([230, 40, 40]);
pub const GREEN: Rgb<u8> = Rgb([40, 210, 60]);
pub const YELLOW: Rgb<u8> = Rgb([250, 220, 40]);
pub const CYAN: Rgb<u8> = Rgb([40, 220, 230]);
pub const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
pub const BLACK: Rgb<u8> = Rgb([0, 0, 0]);

#[inline]
fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, c);
    }
}

/// Filled square of side `t` centred on (x, y): the pen for thick lines.
fn dab(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>, t: u32) {
    let t = t.max(1) as i64;
    let lo = -(t - 1) / 2;
    for dy in lo..lo + t {
        for dx in lo..lo + t {
            put(img, x + dx, y + dy, c);
        }
    }
}

/// Line from `a` to `b` (Bresenham), `thickness` pixels wide. Off-image parts are clipped.
pub fn draw_line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), c: Rgb<u8>, thickness: u32) {
    if !(a.0.is_finite() && a.1.is_finite() && b.0.is_finite() && b.1.is_finite()) {
        return;
    }
    // Clamp far-away endpoints so a wild extrapolation cannot loop for long.
    let lim = 4.0 * (img.width().max(img.height()) as f64 + 16.0);
    let cl = |v: f64| v.clamp(-lim, lim);
    let (mut x0, mut y0) = (cl(a.0).round() as i64, cl(a.1).round() as i64);
    let (x1, y1) = (cl(b.0).round() as i64, cl(b.1).round() as i64);
    let dx = (x1 - x0).abs();
    let dy = -(y1 - y0).abs();
    let sx = if x0 < x1 { 1 } else { -1 };
    let sy = if y0 < y1 { 1 } else { -1 };
    let mut err = dx + dy;
    loop {
        dab(img, x0, y0, c, thickness);
        if x0 == x1 && y0 == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x0 += sx;
        }
        if e2 <= dx {
            err += dx;
            y0 += sy;
        }
    }
}

pub fn draw_polyline(img: &mut RgbImage, pts: &[(f64, f64)], c: Rgb<u8>, thickness: u32) {
    for w in pts.windows(2) {
        draw_line(img, w[0], w[1], c, thickness);
    }
}

/// Rectangle outline from (x1, y1) to (x2, y2).
pub fn draw_rect(
    img: &mut RgbImage,
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
    c: Rgb<u8>,
    thickness: u32,
) {
    draw_polyline(
        img,
        &[(x1, y1), (x2, y1), (x2, y2), (x1, y2), (x1, y1)],
        c,
        thickness,
    );
}

/// Circle outline (filled when `fill`).
pub fn draw_circle(img: &mut RgbImage, cx: f64, cy: f64, r: f64, c: Rgb<u8>, fill: bool) {
    if !(cx.is_finite() && cy.is_finite() && r.is_finite()) || r <= 0.0 {
        return;
    }
    let r = r.min(4096.0);
    let (x0, x1) = ((cx - r).floor() as i64, (cx + r).ceil() as i64);
    let (y0, y1) = ((cy - r).floor() as i64, (cy + r).ceil() as i64);
    for y in y0..=y1 {
        for x in x0..=x1 {
            let d = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt();
            if (fill && d <= r) || (!fill && (d - r).abs() <= 0.6) {
                put(img, x, y, c);
            }
        }
    }
}

/// Filled rectangle, alpha-blended (`alpha` 0..1) — a backdrop that keeps labels readable.
pub fn fill_rect_blend(img: &mut RgbImage, x: i64, y: i64, w: u32, h: u32, c: Rgb<u8>, alpha: f32) {
    for yy in y.max(0)..(y + h as i64).min(img.height() as i64) {
        for xx in x.max(0)..(x + w as i64).min(img.width() as i64) {
            let p = img.get_pixel_mut(xx as u32, yy as u32);
            for k in 0..3 {
                p.0[k] = (p.0[k] as f32 * (1.0 - alpha) + c.0[k] as f32 * alpha).round() as u8;
            }
        }
    }
}

/// Every pixel whose centre lies inside `poly` (even-odd rule), row by row; clipped to a
/// `width` × `height` image.
fn scan_polygon(width: u32, height: u32, poly: &[(f64, f64)], mut f: impl FnMut(u32, u32)) {
    if poly.len() < 3 || poly.iter().any(|p| !(p.0.is_finite() && p.1.is_finite())) {
        return;
    }
    let lo = poly.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = poly.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let y0 = lo.floor().max(0.0) as i64;
    let y1 = (hi.ceil() as i64).min(height as i64 - 1);
    let n = poly.len();
    let mut xs: Vec<f64> = Vec::with_capacity(8);
    for y in y0..=y1 {
        let yc = y as f64;
        xs.clear();
        for i in 0..n {
            let (a, b) = (poly[i], poly[(i + 1) % n]);
            if (a.1 > yc) != (b.1 > yc) {
                xs.push(a.0 + (yc - a.1) * (b.0 - a.0) / (b.1 - a.1));
            }
        }
        xs.sort_by(|a, b| a.total_cmp(b));
        for pair in xs.chunks_exact(2) {
            let xa = pair[0].ceil().max(0.0) as i64;
            let xb = (pair[1].floor() as i64).min(width as i64 - 1);
            for x in xa..=xb {
                f(x as u32, y as u32);
            }
        }
    }
}

/// Filled polygon, alpha-blended (`alpha` 0..1).
pub fn fill_polygon_blend(img: &mut RgbImage, poly: &[(f64, f64)], c: Rgb<u8>, alpha: f32) {
    let (w, h) = (img.width(), img.height());
    scan_polygon(w, h, poly, |x, y| {
        let p = img.get_pixel_mut(x, y);
        for k in 0..3 {
            p.0[k] = (p.0[k] as f32 * (1.0 - alpha) + c.0[k] as f32 * alpha).round() as u8;
        }
    });
}

/// Diagonal hatching (lines 2 px wide, `spacing` px apart) inside a polygon.
pub fn hatch_polygon(img: &mut RgbImage, poly: &[(f64, f64)], c: Rgb<u8>, spacing: u32) {
    let (w, h) = (img.width(), img.height());
    let s = spacing.max(3);
    scan_polygon(w, h, poly, |x, y| {
        if (x + y) % s < 2 {
            img.put_pixel(x, y, c);
        }
    });
}

/// Closed polygon outline.
pub fn draw_polygon(img: &mut RgbImage, poly: &[(f64, f64)], c: Rgb<u8>, thickness: u32) {
    if let Some(&first) = poly.first() {
        let mut pts = poly.to_vec();
        pts.push(first);
        draw_polyline(img, &pts, c, thickness);
    }
}

/// Size in pixels of `text` drawn at `scale`.
pub fn text_size(text: &str, scale: u32) -> (u32, u32) {
    let s = scale.max(1);
    (text.chars().count() as u32 * 6 * s, 7 * s)
}

/// ASCII text with its top-left corner at (x, y); other characters draw as '?'.
pub fn draw_text(img: &mut RgbImage, x: i64, y: i64, text: &str, c: Rgb<u8>, scale: u32) {
    let s = scale.max(1) as i64;
    let mut cx = x;
    for ch in text.chars() {
        let g = glyph(ch);
        for (row, bits) in g.iter().enumerate() {
            for col in 0..5 {
                if bits & (1 << (4 - col)) != 0 {
                    for dy in 0..s {
                        for dx in 0..s {
                            put(img, cx + col * s + dx, y + row as i64 * s + dy, c);
                        }
                    }
                }
            }
        }
        cx += 6 * s;
    }
}

/// Text on a dark translucent backdrop, clamped inside the image.
pub fn draw_label(img: &mut RgbImage, x: i64, y: i64, text: &str, c: Rgb<u8>, scale: u32) {
    let (w, h) = text_size(text, scale);
    let pad = 2 * scale.max(1) as i64;
    let x = x.clamp(0, (img.width() as i64 - w as i64 - 2 * pad).max(0));
    let y = y.clamp(0, (img.height() as i64 - h as i64 - 2 * pad).max(0));
    fill_rect_blend(
        img,
        x,
        y,
        w + 2 * pad as u32,
        h + 2 * pad as u32,
        BLACK,
        0.6,
    );
    draw_text(img, x + pad, y + pad, text, c, scale);
}

/// 5×7 glyphs, one byte per row, low 5 bits used (bit 4 = leftmost column).
fn glyph(ch: char) -> [u8; 7] {
    let ch = ch.to_ascii_uppercase();
    match ch {
        ' ' => [0, 0, 0, 0, 0, 0, 0],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '+' => [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        '_' => [0, 0, 0, 0, 0, 0, 0x1F],
        '/' => [0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        '[' => [0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E],
        ']' => [0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E],
        '<' => [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02],
        '>' => [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08],
        '\'' => [0x04, 0x04, 0x08, 0, 0, 0, 0],
        '!' => [0x04, 0x04, 0x04, 0x04, 0x04, 0, 0x04],
        _ => [0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04],
    }
}

/// Encode and write a picture; the extension (`.jpg`/`.jpeg` or `.png`) picks the format. With
/// `seal` (evidence encryption on) the file is sealed with that key.
pub fn save_picture(
    path: &std::path::Path,
    img: &RgbImage,
    seal: Option<&std::sync::Arc<super::crypt::EvidenceKey>>,
) -> Result<u64, super::EvidenceError> {
    let err = |reason: String| super::EvidenceError::Encode {
        path: path.to_path_buf(),
        reason,
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let mut buf = Vec::new();
    match ext.as_str() {
        "jpg" | "jpeg" => {
            let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 88);
            enc.encode_image(img).map_err(|e| err(e.to_string()))?;
        }
        "png" => {
            img.write_to(&mut std::io::Cursor::new(&mut buf), image::ImageFormat::Png)
                .map_err(|e| err(e.to_string()))?;
        }
        other => return Err(err(format!("unsupported picture type '{other}'"))),
    }
    // Sealed when evidence encryption is on (`[evidence] encrypt = "sm4"`).
    let buf = match seal {
        Some(key) => super::crypt::seal_for(key, &super::crypt::context_of(path), &buf),
        None => buf,
    };
    super::write_atomic(path, &buf)?;
    Ok(buf.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_text_touch_expected_pixels() {
        let mut img = RgbImage::new(40, 20);
        draw_line(&mut img, (0.0, 0.0), (39.0, 19.0), RED, 1);
        assert_eq!(*img.get_pixel(0, 0), RED);
        assert_eq!(*img.get_pixel(39, 19), RED);
        draw_text(&mut img, 1, 10, "1", WHITE, 1);
        // '1' has its stem in column 2 of the glyph.
        assert_eq!(*img.get_pixel(3, 12), WHITE);
        // Far off-image lines are clipped, not a panic.
        draw_line(&mut img, (-1e9, 5.0), (1e9, 5.0), GREEN, 3);
        assert_eq!(*img.get_pixel(20, 5), GREEN);
    }

    #[test]
    fn polygons_fill_inside_only() {
        let mut img = RgbImage::new(40, 40);
        let tri = [(5.0, 5.0), (35.0, 5.0), (5.0, 35.0)];
        fill_polygon_blend(&mut img, &tri, RED, 1.0);
        assert_eq!(*img.get_pixel(8, 8), RED);
        assert_eq!(*img.get_pixel(33, 33), BLACK, "outside the hypotenuse");
        assert_eq!(*img.get_pixel(2, 2), BLACK);
        let mut img = RgbImage::new(40, 40);
        hatch_polygon(
            &mut img,
            &[(0.0, 0.0), (39.0, 0.0), (39.0, 39.0), (0.0, 39.0)],
            WHITE,
            6,
        );
        let n = img.pixels().filter(|p| **p == WHITE).count();
        // 2 of every 6 diagonals.
        assert!((400..700).contains(&n), "{n}");
        // Off-image polygons are clipped, not a panic.
        fill_polygon_blend(
            &mut img,
            &[(-1e6, -5.0), (1e6, -5.0), (0.0, 1e6)],
            GREEN,
            0.5,
        );
    }
}
