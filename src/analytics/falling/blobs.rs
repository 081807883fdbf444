//! Connected components of the foreground mask (8-connectivity, run-length based).
//!
//! The foreground of a facade camera is sparse, so we label runs, not pixels: rows are
//! skipped eight bytes at a time, runs on adjacent rows are joined with union-find when
//! they touch (diagonals included). Tiny blobs (2 px) survive — a 3 px object at distance
//! is what we are looking for.

#[derive(Clone, Debug, PartialEq)]
pub struct Blob {
    /// Centroid (pixel centres at +0.5).
    pub x: f64,
    pub y: f64,
    pub area: u32,
    /// Inclusive bounding box.
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

#[derive(Clone, Copy)]
struct Run {
    y: u32,
    x0: u32,
    /// Exclusive end.
    x1: u32,
    parent: u32,
}

/// Reusable labeller (keeps its buffers between frames).
#[derive(Default)]
pub struct Labeller {
    runs: Vec<Run>,
}

fn find(runs: &mut [Run], mut i: u32) -> u32 {
    while runs[i as usize].parent != i {
        let p = runs[i as usize].parent;
        runs[i as usize].parent = runs[p as usize].parent;
        i = p;
    }
    i
}

impl Labeller {
    /// Label `fg` (0 / non-zero, `width*height`). Returns `None` when there are more than
    /// `max_runs` runs (a global change; the caller suppresses the frame).
    pub fn label(
        &mut self,
        fg: &[u8],
        width: usize,
        height: usize,
        min_area: u32,
        max_area: u32,
        max_runs: usize,
    ) -> Option<Vec<Blob>> {
        self.runs.clear();
        if fg.len() < width * height || width == 0 {
            return Some(Vec::new());
        }
        let mut prev_start = 0usize; // first run index of the previous row
        let mut prev_end = 0usize;
        for y in 0..height {
            let row = &fg[y * width..(y + 1) * width];
            let row_start = self.runs.len();
            let mut x = 0usize;
            while x < width {
                // Skip empty bytes fast.
                if x + 8 <= width {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(&row[x..x + 8]);
                    if u64::from_ne_bytes(w) == 0 {
                        x += 8;
                        continue;
                    }
                }
                if row[x] == 0 {
                    x += 1;
                    continue;
                }
                let s = x;
                while x < width && row[x] != 0 {
                    x += 1;
                }
                let idx = self.runs.len() as u32;
                self.runs.push(Run {
                    y: y as u32,
                    x0: s as u32,
                    x1: x as u32,
                    parent: idx,
                });
                if self.runs.len() > max_runs {
                    return None;
                }
            }
            let row_end = self.runs.len();
            // Join with touching runs of the previous row (8-connectivity: ±1 column).
            if y > 0 {
                let mut j = prev_start;
                for i in row_start..row_end {
                    let (a0, a1) = (self.runs[i].x0 as i64, self.runs[i].x1 as i64);
                    while j < prev_end && (self.runs[j].x1 as i64) < a0 {
                        j += 1;
                    }
                    let mut k = j;
                    while k < prev_end && (self.runs[k].x0 as i64) <= a1 {
                        let ri = find(&mut self.runs, i as u32);
                        let rk = find(&mut self.runs, k as u32);
                        if ri != rk {
                            let (lo, hi) = if ri < rk { (ri, rk) } else { (rk, ri) };
                            self.runs[hi as usize].parent = lo;
                        }
                        k += 1;
                    }
                }
            }
            prev_start = row_start;
            prev_end = row_end;
        }
        // Accumulate per root.
        #[derive(Clone, Copy)]
        struct Acc {
            area: u64,
            sx: f64,
            sy: f64,
            x0: u32,
            y0: u32,
            x1: u32,
            y1: u32,
        }
        let n = self.runs.len();
        let mut slot = vec![u32::MAX; n];
        let mut accs: Vec<Acc> = Vec::new();
        for i in 0..n {
            let r = find(&mut self.runs, i as u32) as usize;
            if slot[r] == u32::MAX {
                slot[r] = accs.len() as u32;
                accs.push(Acc {
                    area: 0,
                    sx: 0.0,
                    sy: 0.0,
                    x0: u32::MAX,
                    y0: u32::MAX,
                    x1: 0,
                    y1: 0,
                });
            }
            let run = self.runs[i];
            let a = &mut accs[slot[r] as usize];
            let len = (run.x1 - run.x0) as u64;
            a.area += len;
            // Sum of pixel centres x+0.5 over the run.
            a.sx += len as f64 * ((run.x0 + run.x1) as f64 / 2.0);
            a.sy += len as f64 * (run.y as f64 + 0.5);
            a.x0 = a.x0.min(run.x0);
            a.x1 = a.x1.max(run.x1 - 1);
            a.y0 = a.y0.min(run.y);
            a.y1 = a.y1.max(run.y);
        }
        Some(
            accs.into_iter()
                .filter(|a| a.area >= min_area as u64 && a.area <= max_area as u64)
                .map(|a| Blob {
                    x: a.sx / a.area as f64,
                    y: a.sy / a.area as f64,
                    area: a.area as u32,
                    x0: a.x0,
                    y0: a.y0,
                    x1: a.x1,
                    y1: a.y1,
                })
                .collect(),
        )
    }
}

/// Merge blobs whose boxes are within `gap` px of each other (one object that the
/// frame-difference test split into a leading and a trailing part).
pub fn merge_close(mut blobs: Vec<Blob>, gap: u32) -> Vec<Blob> {
    if blobs.len() < 2 || blobs.len() > 3000 {
        return blobs;
    }
    let g = gap as i64;
    let mut changed = true;
    while changed {
        changed = false;
        let mut i = 0;
        while i < blobs.len() {
            let mut j = i + 1;
            while j < blobs.len() {
                let (a, b) = (&blobs[i], &blobs[j]);
                let sep_x = (b.x0 as i64 - a.x1 as i64).max(a.x0 as i64 - b.x1 as i64);
                let sep_y = (b.y0 as i64 - a.y1 as i64).max(a.y0 as i64 - b.y1 as i64);
                if sep_x <= g && sep_y <= g {
                    let (aa, ba) = (a.area as f64, b.area as f64);
                    let m = Blob {
                        x: (a.x * aa + b.x * ba) / (aa + ba),
                        y: (a.y * aa + b.y * ba) / (aa + ba),
                        area: a.area + b.area,
                        x0: a.x0.min(b.x0),
                        y0: a.y0.min(b.y0),
                        x1: a.x1.max(b.x1),
                        y1: a.y1.max(b.y1),
                    };
                    blobs[i] = m;
                    blobs.swap_remove(j);
                    changed = true;
                } else {
                    j += 1;
                }
            }
            i += 1;
        }
    }
    blobs
}
