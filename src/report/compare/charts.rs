//! The two charts of the comparison: imbalance over time per pair, and
//! users moved against final imbalance. 1200×700, PNG and SVG, drawn like
//! the run charts (bundled font, legend at the right, pair `i` in
//! `backend_color(i)`).

use std::io;
use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Spread, metric_index, short_num, spread};
use crate::compare::stats::Estimate;
use crate::compare::{RunMetrics, Study};
use crate::report::charts::labels::{count_label, time_label, time_ticks};
use crate::report::charts::layout::{
    Entry, Key, LEGEND_ROWS, draw_legend_max, entry, fit, font, legend_width_max, text_width, ticked,
};
use crate::report::charts::{
    DESC_FONT, GRID, MEAN, Res, TICK_FONT, TITLE_FONT, TITLE_H, WIDTH, backend_color, m4, register_font,
};

/// Labels next to the points of the moved chart.
const POINT_FONT: f64 = 15.0;
const LABEL_H: i32 = 18;
const BAND_KEY: RGBColor = RGBColor(205, 205, 205);
const LEADER: RGBColor = RGBColor(160, 160, 160);
const TEXT: RGBColor = RGBColor(34, 34, 34);

/// Beyond this many pairs the min–max bands would cover each other (and
/// the lines): only the means are drawn.
pub(super) const MAX_BANDS: usize = 10;

/// One chart of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fig {
    /// Imbalance over simulated time, per pair.
    Imbalance,
    /// Users moved against final imbalance, per pair.
    Moved,
}

impl Fig {
    pub(super) const ALL: [Fig; 2] = [Fig::Imbalance, Fig::Moved];

    /// The file stem, also the figure's id in `compare.html`.
    pub(super) fn stem(self) -> &'static str {
        match self {
            Fig::Imbalance => "compare-imbalance",
            Fig::Moved => "compare-moved",
        }
    }

    /// (PNG file, SVG file).
    pub(super) fn files(self) -> (&'static str, &'static str) {
        match self {
            Fig::Imbalance => ("compare-imbalance.png", "compare-imbalance.svg"),
            Fig::Moved => ("compare-moved.png", "compare-moved.svg"),
        }
    }
}

/// Points (x, y) in chart coordinates.
type Polyline = Vec<(f64, f64)>;

/// A pair's means and 95% half-widths (0 when unknown).
#[derive(Clone, Copy, Debug)]
struct Point {
    x: f64,
    xci: f64,
    y: f64,
    yci: f64,
}

fn half(e: &Estimate) -> f64 {
    if e.ci95.is_finite() { e.ci95 } else { 0.0 }
}

/// The study, ready to draw.
pub(super) struct Figures<'a> {
    name: &'a str,
    labels: Vec<String>,
    limit: f64,
    replications: u32,
    /// Per pair: the mean imbalance over time, thinned.
    lines: Vec<Polyline>,
    /// Per pair: the min–max band as a polygon (empty when it has no width).
    bands: Vec<Polyline>,
    end_s: f64,
    imbalance_y: Range<f64>,
    /// Per pair: means of users moved and final imbalance.
    points: Vec<Option<Point>>,
    /// Per pair: (users moved, final imbalance) of each run.
    dots: Vec<Vec<(f64, f64)>>,
}

/// Thins a spread to about `2 * buckets` steps: the mean keeps each
/// bucket's first, lowest, highest and last value, the band its extremes.
fn thin(s: &Spread, buckets: usize) -> (Polyline, Polyline) {
    let per = s.t.len().div_ceil(buckets * 2).max(1);
    let line = m4(s.t.iter().copied().zip(s.mean.iter().copied()).collect(), per);
    let wide = s.lo.iter().zip(&s.hi).any(|(l, h)| h - l > 1e-9);
    if !wide || s.t.len() < 2 {
        return (line, Vec::new());
    }
    let (mut upper, mut lower) = (Vec::new(), Vec::new());
    for (k, ts) in s.t.chunks(per).enumerate() {
        let r = k * per..k * per + ts.len();
        let lo = s.lo[r.clone()].iter().copied().fold(f64::INFINITY, f64::min);
        let hi = s.hi[r].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (first, last) = (ts[0], ts[ts.len() - 1]);
        upper.push((first, hi));
        lower.push((first, lo));
        if last > first {
            upper.push((last, hi));
            lower.push((last, lo));
        }
    }
    upper.extend(lower.into_iter().rev());
    (line, upper)
}

impl<'a> Figures<'a> {
    pub(super) fn new(
        name: &'a str,
        study: &Study,
        runs: &[RunMetrics],
        sum: &[Vec<(Estimate, usize)>],
    ) -> Self {
        register_font();
        let n = study.pairs.len();
        let mut by_pair: Vec<Vec<&RunMetrics>> = vec![Vec::new(); n];
        for r in runs.iter().filter(|r| r.pair < n) {
            by_pair[r.pair].push(r);
        }
        let buckets = (40_000 / (4 * n.max(2))).clamp(100, 450);
        let (lines, mut bands): (Vec<_>, Vec<_>) =
            by_pair.iter().map(|rs| thin(&spread(rs), buckets)).unzip();
        if n > MAX_BANDS {
            bands.iter_mut().for_each(Vec::clear);
        }
        let end_s = runs
            .iter()
            .flat_map(|r| r.series.last())
            .map(|p| p.0)
            .filter(|t| t.is_finite())
            .fold(1.0, f64::max);
        let limit = 1.0 + study.tolerance;
        let ys = || {
            lines
                .iter()
                .chain(&bands)
                .flatten()
                .map(|p| p.1)
                .filter(|v| v.is_finite())
        };
        let hi = ys().fold(limit.max(1.0), f64::max);
        let lo = ys().fold(1.0, f64::min);
        let pad = ((hi - lo) * 0.06).max(0.03);
        let (moved, fin) = (metric_index("users_moved"), metric_index("final_imbalance"));
        let points = (0..n)
            .map(|p| {
                let m = sum.get(p)?;
                let (x, y) = (&m.get(moved)?.0, &m.get(fin)?.0);
                (x.n > 0 && y.n > 0 && x.mean.is_finite() && y.mean.is_finite()).then(|| Point {
                    x: x.mean,
                    xci: half(x),
                    y: y.mean,
                    yci: half(y),
                })
            })
            .collect();
        let dots = by_pair
            .iter()
            .map(|rs| {
                let v = rs.iter().map(|r| (r.users_moved as f64, r.final_imbalance));
                v.filter(|d| d.1.is_finite()).collect()
            })
            .collect();
        Figures {
            name,
            labels: study.pairs.iter().map(|p| p.label()).collect(),
            limit,
            replications: study.replications,
            lines,
            bands,
            end_s,
            imbalance_y: (lo - pad).max(0.0)..hi + pad,
            points,
            dots,
        }
    }

    /// Every chart as (chart, PNG, SVG), each drawn on its own thread.
    pub(super) fn render_all(&self) -> io::Result<Vec<(Fig, Vec<u8>, String)>> {
        std::thread::scope(|scope| {
            let jobs: Vec<_> = Fig::ALL
                .iter()
                .map(|&f| {
                    (
                        f,
                        scope.spawn(move || self.png(f)),
                        scope.spawn(move || self.svg(f)),
                    )
                })
                .collect();
            fn join<T>(h: std::thread::ScopedJoinHandle<'_, io::Result<T>>) -> io::Result<T> {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("chart drawing panicked")))
            }
            jobs.into_iter()
                .map(|(f, png, svg)| Ok((f, join(png)?, join(svg)?)))
                .collect()
        })
    }

    fn png(&self, fig: Fig) -> io::Result<Vec<u8>> {
        crate::report::charts::render_png(|root| self.draw(fig, root))
    }

    fn svg(&self, fig: Fig) -> io::Result<String> {
        crate::report::charts::render_svg(|root| self.draw(fig, root))
    }

    fn draw<DB: DrawingBackend>(&self, fig: Fig, root: &DrawingArea<DB, Shift>) -> Res<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let runs = match self.replications {
            1 => "1 run per pair".to_string(),
            r => format!("{r} runs per pair"),
        };
        let title = match fig {
            Fig::Imbalance => format!("{}: imbalance over time ({runs})", self.name),
            Fig::Moved => format!("{}: users moved vs final imbalance", self.name),
        };
        let w = text_width(&title, TITLE_FONT).max(1);
        let room = WIDTH as i32 - 40;
        let size = if w > room {
            TITLE_FONT * room as f64 / w as f64
        } else {
            TITLE_FONT
        };
        let style = font(size.max(12.0)).pos(Pos::new(HPos::Center, VPos::Center));
        let title = fit(&title, size.max(12.0), room);
        root.draw(&Text::new(title, (WIDTH as i32 / 2, TITLE_H / 2 + 2), style))?;
        match fig {
            Fig::Imbalance => self.imbalance(root),
            Fig::Moved => self.moved(root),
        }
    }

    fn pair_entries(&self, key: impl Fn(RGBColor) -> Key) -> Vec<Entry> {
        self.labels
            .iter()
            .enumerate()
            .map(|(p, l)| entry(key(backend_color(p)), l))
            .collect()
    }

    /// Pair labels are the point of the legend: wider than the run charts'
    /// unless it needs several columns.
    fn legend_text(legend: &[Entry]) -> i32 {
        if legend.len() > LEGEND_ROWS { 120 } else { 280 }
    }

    fn limit_entry(&self) -> Entry {
        entry(
            Key::Dashed(MEAN),
            &format!("balanced (≤ {})", short_num(self.limit)),
        )
    }

    fn imbalance<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Res<()>
    where
        DB::ErrorType: 'static,
    {
        let mut legend = self.pair_entries(Key::Line);
        if self.bands.iter().any(|b| !b.is_empty()) {
            legend.push(entry(Key::Bar(BAND_KEY), "min–max of the runs"));
        }
        legend.push(self.limit_entry());
        let legend_w = legend_width_max(&legend, Self::legend_text(&legend));
        let (ticks, step) = time_ticks(self.end_s);
        let x_desc = if self.end_s > 86_400.0 {
            "simulated time (days hh:mm)"
        } else {
            "simulated time (hh:mm)"
        };
        let y = self.imbalance_y.clone();
        let y_fmt = imbalance_format(&y);
        let mut chart = ChartBuilder::on(root)
            .margin_top(TITLE_H + 10)
            .margin_right(legend_w + 12)
            .margin_left(10)
            .margin_bottom(8)
            .x_label_area_size(56)
            .y_label_area_size(78)
            .build_cartesian_2d(ticked(0.0..self.end_s, ticks), y)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| time_label(x.round() as u64, step))
            .y_label_formatter(&y_fmt)
            .x_desc(x_desc)
            .y_desc("imbalance (max users ÷ fair share)")
            .axis_desc_style(font(DESC_FONT))
            .label_style(font(TICK_FONT))
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .draw()?;
        let n = self.labels.len().max(1) as f64;
        let alpha = (0.6 / n).clamp(0.08, 0.2);
        for (p, band) in self.bands.iter().enumerate() {
            if !band.is_empty() {
                let fill = backend_color(p).mix(alpha).filled();
                chart.draw_series([Polygon::new(band.clone(), fill)])?;
            }
        }
        let limit = [(0.0, self.limit), (self.end_s, self.limit)];
        chart.draw_series(DashedLineSeries::new(limit, 8, 5, MEAN.stroke_width(1)))?;
        // Earlier pairs wider, so lines that coincide still show.
        let n = self.labels.len();
        let width = |p: usize| match n {
            0..=1 => 2,
            2..=10 => 2 + ((n - 1 - p) * 3).div_ceil(n - 1) as u32,
            11..=20 => 2,
            _ => 1,
        };
        for (p, line) in self.lines.iter().enumerate() {
            let style = backend_color(p).stroke_width(width(p));
            chart.draw_series(LineSeries::new(line.iter().copied(), style))?;
        }
        draw_legend_max(root, &legend, legend_w, Self::legend_text(&legend))
    }

    fn moved<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Res<()>
    where
        DB::ErrorType: 'static,
    {
        let mut legend = self.pair_entries(Key::Point);
        legend.push(self.limit_entry());
        let legend_w = legend_width_max(&legend, Self::legend_text(&legend));
        let pts = self.points.iter().flatten();
        let dots = self.dots.iter().flatten();
        let x_hi = pts
            .clone()
            .map(|p| p.x + p.xci)
            .chain(dots.clone().map(|d| d.0))
            .fold(0.0, f64::max);
        let x_lo = pts
            .clone()
            .map(|p| p.x - p.xci)
            .chain(dots.clone().map(|d| d.0))
            .fold(0.0, f64::min);
        let x_pad = ((x_hi - x_lo) * 0.06).max(1.0);
        let y_hi = pts
            .clone()
            .map(|p| p.y + p.yci)
            .chain(dots.clone().map(|d| d.1))
            .fold(self.limit, f64::max);
        let y_lo = pts
            .map(|p| p.y - p.yci)
            .chain(dots.map(|d| d.1))
            .fold(1.0, f64::min);
        let y_pad = ((y_hi - y_lo) * 0.08).max(0.03);
        let (x, y) = (
            x_lo.min(0.0)..(x_hi + x_pad).max(10.0),
            (y_lo - y_pad).max(0.0)..y_hi + y_pad,
        );
        let y_fmt = imbalance_format(&y);
        let mut chart = ChartBuilder::on(root)
            .margin_top(TITLE_H + 10)
            .margin_right(legend_w + 12)
            .margin_left(10)
            .margin_bottom(8)
            .x_label_area_size(56)
            .y_label_area_size(78)
            .build_cartesian_2d(x.clone(), y)?;
        chart
            .configure_mesh()
            .x_labels(10)
            .y_labels(10)
            .x_label_formatter(&count_label)
            .y_label_formatter(&y_fmt)
            .x_desc("users moved (per run; mean and 95% interval per pair)")
            .y_desc("final imbalance (max users ÷ fair share)")
            .axis_desc_style(font(DESC_FONT))
            .label_style(font(TICK_FONT))
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .draw()?;
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let limit = [(x.start, self.limit), (x.end, self.limit)];
        chart.draw_series(DashedLineSeries::new(limit, 8, 5, MEAN.stroke_width(1)))?;
        // Each run, faint; one dot per pixel and pair is enough.
        let mut seen: Vec<(usize, (i32, i32))> = Vec::new();
        for (p, ds) in self.dots.iter().enumerate() {
            for d in ds {
                seen.push((p, chart.backend_coord(d)));
            }
        }
        seen.sort_unstable();
        seen.dedup();
        for &(p, at) in &seen {
            root.draw(&Circle::new(at, 3, backend_color(p).mix(0.35).filled()))?;
        }
        let mut marks: Vec<(usize, (i32, i32))> = Vec::new();
        let mut bars: Vec<Rect> = Vec::new();
        for (p, pt) in self.points.iter().enumerate() {
            let Some(pt) = pt else { continue };
            let c = backend_color(p);
            let (cx, cy) = chart.backend_coord(&(pt.x, pt.y));
            let (x0, x1) = (
                chart.backend_coord(&(pt.x - pt.xci, pt.y)).0,
                chart.backend_coord(&(pt.x + pt.xci, pt.y)).0,
            );
            let (y0, y1) = (
                chart.backend_coord(&(pt.x, pt.y - pt.yci)).1,
                chart.backend_coord(&(pt.x, pt.y + pt.yci)).1,
            );
            let bar = c.stroke_width(2);
            if x1 - x0 >= 2 {
                bars.push(Rect {
                    x0,
                    y0: cy - 6,
                    x1,
                    y1: cy + 6,
                });
                root.draw(&PathElement::new([(x0, cy), (x1, cy)], bar))?;
                for x in [x0, x1] {
                    root.draw(&PathElement::new([(x, cy - 6), (x, cy + 6)], bar))?;
                }
            }
            if y0 - y1 >= 2 {
                bars.push(Rect {
                    x0: cx - 6,
                    y0: y1,
                    x1: cx + 6,
                    y1: y0,
                });
                root.draw(&PathElement::new([(cx, y0), (cx, y1)], bar))?;
                for y in [y0, y1] {
                    root.draw(&PathElement::new([(cx - 6, y), (cx + 6, y)], bar))?;
                }
            }
            marks.push((p, (cx, cy)));
        }
        for &(p, at) in &marks {
            root.draw(&Circle::new(at, 6, backend_color(p).filled()))?;
            root.draw(&Circle::new(at, 6, BLACK.mix(0.6).stroke_width(1)))?;
        }
        let area = Rect {
            x0: xr.start + 2,
            y0: yr.start + 2,
            x1: xr.end - 2,
            y1: yr.end - 2,
        };
        let texts: Vec<String> = marks
            .iter()
            .map(|&(p, _)| fit(&self.labels[p], POINT_FONT, 300))
            .collect();
        let at: Vec<(i32, i32)> = marks.iter().map(|m| m.1).collect();
        let style = font(POINT_FONT)
            .color(&TEXT)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (k, placed) in place_labels(&at, &texts, &bars, area).into_iter().enumerate() {
            let Some((r, leader)) = placed else { continue };
            let (px, py) = at[k];
            let mid = (r.y0 + r.y1) / 2;
            if leader {
                let x = if r.x0 > px { r.x0 } else { r.x1 };
                root.draw(&PathElement::new([(px, py), (x, mid)], LEADER.stroke_width(1)))?;
            }
            root.draw(&Rectangle::new(
                [(r.x0, r.y0 + 1), (r.x1, r.y1 - 1)],
                WHITE.mix(0.75).filled(),
            ))?;
            root.draw(&Text::new(texts[k].clone(), (r.x0 + 2, mid), style.clone()))?;
        }
        draw_legend_max(root, &legend, legend_w, Self::legend_text(&legend))
    }
}

/// Tick labels with enough decimals to tell ticks of `y` apart.
fn imbalance_format(y: &Range<f64>) -> impl Fn(&f64) -> String + use<> {
    let d = if y.end - y.start < 0.06 { 3 } else { 2 };
    move |v: &f64| format!("{v:.d$}")
}

/// A rectangle in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rect {
    x0: i32,
    y0: i32,
    x1: i32,
    y1: i32,
}

impl Rect {
    fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    fn inside(&self, o: &Rect) -> bool {
        self.x0 >= o.x0 && self.x1 <= o.x1 && self.y0 >= o.y0 && self.y1 <= o.y1
    }
}

/// Where each point's label goes: beside it, else stacked above or below
/// (then with a leader line), clear of the other labels, the points and
/// the error bars (`bars`: their boxes) and inside `area`; `None` where
/// there is no room.
fn place_labels(at: &[(i32, i32)], texts: &[String], bars: &[Rect], area: Rect) -> Vec<Option<(Rect, bool)>> {
    let mut taken: Vec<Rect> = at
        .iter()
        .map(|&(x, y)| Rect {
            x0: x - 8,
            y0: y - 8,
            x1: x + 8,
            y1: y + 8,
        })
        .collect();
    taken.extend_from_slice(bars);
    let mut out = Vec::with_capacity(at.len());
    for (&(px, py), text) in at.iter().zip(texts) {
        let w = text_width(text, POINT_FONT) + 4;
        let mut found = None;
        'search: for k in 0..10 {
            let shifts: &[i32] = if k == 0 { &[0] } else { &[-k, k] };
            for &s in shifts {
                let y0 = py - LABEL_H / 2 + s * LABEL_H;
                for x0 in [px + 10, px - 10 - w] {
                    let r = Rect {
                        x0,
                        y0,
                        x1: x0 + w,
                        y1: y0 + LABEL_H,
                    };
                    if r.inside(&area) && !taken.iter().any(|t| t.overlaps(&r)) {
                        found = Some((r, k != 0));
                        break 'search;
                    }
                }
            }
        }
        if let Some((r, _)) = found {
            taken.push(r);
        }
        out.push(found);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_avoid_each_other() {
        register_font();
        let area = Rect {
            x0: 0,
            y0: 0,
            x1: 1000,
            y1: 600,
        };
        let at = [(100, 100), (100, 100), (100, 100), (990, 300)];
        let texts: Vec<String> = ["a", "bb", "ccc", "right edge"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let placed = place_labels(&at, &texts, &[], area);
        let rects: Vec<Rect> = placed.iter().map(|p| p.expect("room").0).collect();
        for i in 0..rects.len() {
            for j in 0..i {
                assert!(!rects[i].overlaps(&rects[j]), "{i} and {j} overlap");
            }
        }
        assert!(!placed[0].unwrap().1 && placed[1].unwrap().0.x1 <= 92);
        assert!(rects[3].x1 < 990, "the label at the edge goes left");
    }

    #[test]
    fn thinning_keeps_the_envelope() {
        let t: Vec<f64> = (0..1000).map(f64::from).collect();
        let s = Spread {
            mean: t.iter().map(|v| (v / 7.0).sin()).collect(),
            lo: t.iter().map(|v| (v / 7.0).sin() - 0.5).collect(),
            hi: t
                .iter()
                .map(|v| (v / 7.0).sin() + 0.5 + if *v == 500.0 { 3.0 } else { 0.0 })
                .collect(),
            t,
        };
        let (line, band) = thin(&s, 100);
        assert!(line.len() < 500 && band.len() < 900);
        assert!(band.iter().any(|p| p.1 > 3.4), "the spike stays");
        let flat = Spread {
            t: vec![0.0, 1.0],
            mean: vec![1.0; 2],
            lo: vec![1.0; 2],
            hi: vec![1.0; 2],
        };
        assert!(thin(&flat, 100).1.is_empty());
    }
}
