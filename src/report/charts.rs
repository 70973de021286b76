//! Charts of a run (design.md "Charts"): users and connections per backend
//! over time, the per-step tables as grouped bars, imbalance, and cumulative
//! moves, each as PNG and SVG (1200×700). Text is drawn with the bundled
//! DejaVu Sans through plotters' ab_glyph support, so no system font is
//! needed and the output depends only on the [`RunResult`].

pub(crate) mod labels;
pub(crate) mod layout;

use std::error::Error;
use std::io::{self, Write};
use std::ops::Range;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::sim::metrics::{BackendRow, max_over_mean};
use crate::sim::{RunResult, Sample};

pub use labels::{backend_color, short_command, short_names};
use labels::{count_label, time_label, time_ticks};
use layout::{Entry, Key, Ticked, draw_band, draw_legend, entry, font, legend_width, text_width, ticked};

/// Chart size in pixels.
pub const WIDTH: u32 = 1200;
/// Chart size in pixels.
pub const HEIGHT: u32 = 700;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();
const FAMILY: &str = "sans-serif";
pub(crate) const TITLE_H: i32 = 48;
const BAND_MAX: i32 = 160;
const BAND_GAP: i32 = 14;
const LABEL_GAP: f64 = 19.0;
/// Font sizes (px): title, axis descriptions, tick labels, legend, step labels.
pub(crate) const TITLE_FONT: f64 = 26.0;
pub(crate) const DESC_FONT: f64 = 18.0;
pub(crate) const TICK_FONT: f64 = 16.0;
pub(crate) const LEGEND_FONT: f64 = 16.0;
const STEP_FONT: f64 = 15.0;
pub(crate) const GRID: RGBColor = RGBColor(222, 222, 222);
const MARKER: RGBColor = RGBColor(150, 150, 150);
pub(crate) const MEAN: RGBColor = RGBColor(90, 90, 90);

pub(crate) type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Draws into a WIDTH×HEIGHT SVG document.
pub(crate) fn render_svg(
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Res<()>,
) -> io::Result<String> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root).map_err(io::Error::other)?;
        root.present().map_err(io::Error::other)?;
    }
    Ok(s)
}

/// Draws into a WIDTH×HEIGHT RGB buffer and encodes it as PNG in memory
/// (plotters can only save PNGs to a path; report writers never open files).
pub(crate) fn render_png(
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Res<()>,
) -> io::Result<Vec<u8>> {
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root).map_err(io::Error::other)?;
        root.present().map_err(io::Error::other)?;
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut w = enc.write_header().map_err(io::Error::other)?;
    w.write_image_data(&rgb).map_err(io::Error::other)?;
    w.finish().map_err(io::Error::other)?;
    Ok(out)
}
/// Polylines (a series broken where it has no value).
type Lines = Vec<Vec<(f64, f64)>>;
/// (backend, bar corners, fair share).
type Bar = (usize, [(f64, f64); 2], f64);
type TimeChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, RangedCoordf64>>;

/// One chart of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chart {
    /// Users (records) per backend over time.
    Users,
    /// Open connections per backend over time.
    Connections,
    /// Users per backend after each step, as grouped bars.
    Steps,
    /// Imbalance over time.
    Imbalance,
    /// Cumulative users moved and connections kicked.
    Moves,
}

impl Chart {
    /// Every chart, in report order.
    pub const ALL: [Chart; 5] = [
        Chart::Users,
        Chart::Connections,
        Chart::Steps,
        Chart::Imbalance,
        Chart::Moves,
    ];

    /// The file stem (`users` → `users.png`, `users.svg`).
    pub fn name(self) -> &'static str {
        match self {
            Chart::Users => "users",
            Chart::Connections => "connections",
            Chart::Steps => "steps",
            Chart::Imbalance => "imbalance",
            Chart::Moves => "moves",
        }
    }

    /// What the chart shows (its title after the scenario name).
    pub fn title(self) -> &'static str {
        match self {
            Chart::Users => "users per backend",
            Chart::Connections => "open connections per backend",
            Chart::Steps => "users per backend after each step",
            Chart::Imbalance => "imbalance",
            Chart::Moves => "users moved and connections kicked",
        }
    }
}

/// Registers the bundled font under [`FAMILY`] (once per process).
pub(crate) fn register_font() {
    REGISTER.call_once(|| {
        // A failure shows as a FontUnavailable error when drawing.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Backend `b`'s row in `s` unless it is removed (or not added yet).
fn row(s: &Sample, b: usize) -> Option<&BackendRow> {
    let r = s.rows.get(b).filter(|r| r.backend == b);
    r.or_else(|| s.rows.iter().find(|r| r.backend == b))
        .filter(|r| !r.removed)
}

/// Thins a polyline to first/min/max/last per `per` points (keeps spikes).
pub(crate) fn m4(pts: Vec<(f64, f64)>, per: usize) -> Vec<(f64, f64)> {
    if per <= 1 {
        return pts;
    }
    let mut out = Vec::with_capacity(pts.len() * 4 / per + 4);
    for c in pts.chunks(per) {
        let (mut lo, mut hi) = (0, 0);
        for (i, p) in c.iter().enumerate() {
            if p.1 < c[lo].1 {
                lo = i;
            }
            if p.1 > c[hi].1 {
                hi = i;
            }
        }
        let mut idx = [0, lo, hi, c.len() - 1];
        idx.sort_unstable();
        for (k, &i) in idx.iter().enumerate() {
            if k == 0 || idx[k - 1] != i {
                out.push(c[i]);
            }
        }
    }
    out
}

/// A run, ready to draw: names, colours, markers, thinning.
pub struct Charts<'a> {
    r: &'a RunResult,
    /// Backends that are in the director at some sample or step.
    shown: Vec<usize>,
    /// (step time in s, short command) of every step after the start.
    markers: Vec<(f64, String)>,
    /// Short command of every step, the start included.
    step_labels: Vec<String>,
    /// Height of the band of step labels above the plot.
    band_h: i32,
    /// Samples per thinning bucket.
    per: usize,
    /// Backends in the director at each sample.
    live: Vec<usize>,
    end_s: f64,
}

impl<'a> Charts<'a> {
    /// Prepares `r` for drawing.
    pub fn new(r: &'a RunResult) -> Self {
        register_font();
        let n = r.backends.len();
        let mut live = vec![false; n];
        let rows = r
            .samples
            .iter()
            .flat_map(|s| &s.rows)
            .chain(r.steps.iter().flat_map(|s| &s.rows));
        for row in rows.filter(|row| !row.removed) {
            live[row.backend] = true;
        }
        let shown: Vec<usize> = (0..n).filter(|&i| live[i]).collect();
        let names: Vec<&str> = r.backends.iter().map(|b| b.name.as_str()).collect();
        let short = short_names(&names);
        let lookup = |w: &str| {
            let i = r.backends.iter().position(|b| b.name == w || b.ip == w)?;
            Some(short[i].clone())
        };
        let step_labels: Vec<String> = r
            .steps
            .iter()
            .map(|s| {
                if s.index == 0 {
                    "start".to_string()
                } else {
                    short_command(&s.command, lookup)
                }
            })
            .collect();
        let markers = r
            .steps
            .iter()
            .zip(&step_labels)
            .filter(|(s, _)| s.index > 0)
            .map(|(s, l)| (s.at_ms as f64 / 1000.0, l.clone()))
            .collect();
        let longest = step_labels
            .iter()
            .map(|l| text_width(l, STEP_FONT))
            .max()
            .unwrap_or(0);
        let band_h = (longest + BAND_GAP + 14).min(BAND_MAX);
        let buckets = (40_000 / (4 * shown.len().max(2))).clamp(150, 450);
        let per = r.samples.len().div_ceil(buckets * 2).max(1);
        let last = r.samples.last().map_or(0, |s| s.t_ms);
        let end_s = (r.duration_ms.max(last) as f64 / 1000.0).max(1.0);
        let live = r
            .samples
            .iter()
            .map(|s| s.rows.iter().filter(|r| !r.removed).count())
            .collect();
        Charts {
            r,
            live,
            shown,
            markers,
            step_labels,
            band_h,
            per,
            end_s,
        }
    }

    /// The chart as a PNG file.
    pub fn png(&self, chart: Chart) -> io::Result<Vec<u8>> {
        render_png(|root| self.draw(chart, root))
    }

    /// The chart as an SVG document.
    pub fn svg(&self, chart: Chart) -> io::Result<String> {
        render_svg(|root| self.draw(chart, root))
    }

    fn draw<DB: DrawingBackend>(&self, chart: Chart, root: &DrawingArea<DB, Shift>) -> Res<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let title = format!("{}: {}", self.r.name, chart.title());
        let w = text_width(&title, TITLE_FONT).max(1);
        let size = if w > WIDTH as i32 - 40 {
            TITLE_FONT * (WIDTH as i32 - 40) as f64 / w as f64
        } else {
            TITLE_FONT
        };
        let style = font(size.max(12.0)).pos(Pos::new(HPos::Center, VPos::Center));
        root.draw(&Text::new(title, (WIDTH as i32 / 2, TITLE_H / 2 + 2), style))?;
        match chart {
            Chart::Users => self.per_backend(
                root,
                "users (records per backend)",
                |r| r.users,
                |s| s.total_users,
            ),
            Chart::Connections => self.per_backend(
                root,
                "open connections per backend",
                |r| r.connections,
                |s| s.total_connections,
            ),
            Chart::Steps => self.steps(root),
            Chart::Imbalance => self.imbalance(root),
            Chart::Moves => self.moves(root),
        }
    }

    /// One value per sample, broken where it is `None`, thinned.
    fn segments(&self, f: impl Fn(usize, &Sample) -> Option<f64>) -> Lines {
        let mut out = Vec::new();
        let mut run: Vec<(f64, f64)> = Vec::new();
        for (i, s) in self.r.samples.iter().enumerate() {
            match f(i, s) {
                Some(v) => run.push((s.t_ms as f64 / 1000.0, v)),
                None if !run.is_empty() => out.push(m4(std::mem::take(&mut run), self.per)),
                None => {}
            }
        }
        if !run.is_empty() {
            out.push(m4(run, self.per));
        }
        out
    }

    /// Users or connections per backend, with the mean and each backend's
    /// fair share where it differs from the mean.
    fn per_backend<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        y_desc: &str,
        value: impl Fn(&BackendRow) -> u32,
        total: impl Fn(&Sample) -> u64,
    ) -> Res<()>
    where
        DB::ErrorType: 'static,
    {
        let mean = |i: usize, s: &Sample| (self.live[i] > 0).then(|| total(s) as f64 / self.live[i] as f64);
        let fair_segments = |b: usize| {
            self.segments(|i, s| {
                let (r, m) = (row(s, b)?, mean(i, s)?);
                let fair = total(s) as f64 * r.capacity_share;
                ((fair - m).abs() > 1e-6 * m.max(1.0)).then_some(fair)
            })
        };
        let lines: Vec<(usize, Lines)> = self
            .shown
            .iter()
            .map(|&b| (b, self.segments(|_, s| row(s, b).map(|r| value(r) as f64))))
            .collect();
        let fair: Vec<(usize, Lines)> = self.shown.iter().map(|&b| (b, fair_segments(b))).collect();
        let means = self.segments(mean);
        let all = lines.iter().chain(&fair).flat_map(|(_, s)| s.iter().flatten());
        let y_max = all.map(|p| p.1).fold(1.0, f64::max) * 1.08;
        let mut legend = vec![entry(Key::Dashed(MEAN), "mean")];
        if fair.iter().any(|(_, s)| !s.is_empty()) {
            legend.push(entry(Key::DashedMany, "fair share"));
        }
        legend.extend(self.backend_entries(Key::Line));
        let mut chart = self.time_chart(root, 0.0..y_max, y_desc, &legend, count_label)?;
        let thin = if self.shown.len() > 20 { 1 } else { 2 };
        for seg in &means {
            chart.draw_series(DashedLineSeries::new(
                seg.iter().copied(),
                8,
                5,
                MEAN.stroke_width(1),
            ))?;
        }
        for (b, segs) in &fair {
            for seg in segs {
                let style = backend_color(*b).stroke_width(thin);
                chart.draw_series(DashedLineSeries::new(seg.iter().copied(), 9, 6, style))?;
            }
        }
        for (b, segs) in &lines {
            for seg in segs {
                chart.draw_series(LineSeries::new(
                    seg.iter().copied(),
                    backend_color(*b).stroke_width(thin),
                ))?;
            }
        }
        Ok(())
    }

    fn imbalance<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Res<()>
    where
        DB::ErrorType: 'static,
    {
        let (c1, c2) = (RGBColor(200, 30, 30), RGBColor(31, 119, 180));
        let vhost = self.segments(|_, s| Some(s.imbalance));
        let mom = self.segments(|_, s| Some(max_over_mean(&s.rows)));
        let pts = || vhost.iter().chain(&mom).flatten().map(|p| p.1);
        let hi = pts().fold(1.0, f64::max);
        let lo = pts().fold(1.0, f64::min);
        let pad = ((hi - lo) * 0.08).max(0.05);
        let legend = [
            entry(Key::Line(c1), "max users ÷ fair share"),
            entry(Key::Line(c2), "max ÷ mean users"),
            entry(Key::Dashed(MEAN), "balanced (1.0)"),
        ];
        let y = (lo - pad).max(0.0)..hi + pad;
        let mut chart = self.time_chart(root, y, "imbalance (×)", &legend, |v| format!("{v:.2}"))?;
        let one = [(0.0, 1.0), (self.end_s, 1.0)];
        chart.draw_series(DashedLineSeries::new(one, 8, 5, MEAN.stroke_width(1)))?;
        // wider underneath, so it shows where the two coincide
        for (segs, c, w) in [(&mom, c2, 5), (&vhost, c1, 2)] {
            for seg in segs {
                chart.draw_series(LineSeries::new(seg.iter().copied(), c.stroke_width(w)))?;
            }
        }
        Ok(())
    }

    fn moves<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Res<()>
    where
        DB::ErrorType: 'static,
    {
        let (c1, c2) = (RGBColor(31, 119, 180), RGBColor(255, 127, 14));
        let moved = self.segments(|_, s| Some(s.moved as f64));
        let kicked = self.segments(|_, s| Some(s.kicked as f64));
        let y_max = moved
            .iter()
            .chain(&kicked)
            .flatten()
            .map(|p| p.1)
            .fold(1.0, f64::max)
            * 1.08;
        let legend = [
            entry(Key::Line(c1), "users moved"),
            entry(Key::Line(c2), "connections kicked"),
        ];
        let desc = "count (cumulative since t=0)";
        let mut chart = self.time_chart(root, 0.0..y_max, desc, &legend, count_label)?;
        for (segs, c) in [(&moved, c1), (&kicked, c2)] {
            for seg in segs {
                chart.draw_series(LineSeries::new(seg.iter().copied(), c.stroke_width(2)))?;
            }
        }
        Ok(())
    }

    /// The per-step tables: one group per step, one bar per backend, a black
    /// tick at each backend's fair share.
    fn steps<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Res<()>
    where
        DB::ErrorType: 'static,
    {
        let steps = &self.r.steps;
        let n = steps.len().max(1);
        let mut bars: Vec<Bar> = Vec::new();
        let width = 0.8 / self.shown.len().max(1) as f64;
        for (g, s) in steps.iter().enumerate() {
            let total: u64 = s.rows.iter().map(|r| r.users as u64).sum();
            for (k, &b) in self.shown.iter().enumerate() {
                let Some(r) = s.rows.iter().find(|r| r.backend == b && !r.removed) else {
                    continue;
                };
                let x0 = g as f64 + 0.1 + k as f64 * width;
                let fair = total as f64 * r.capacity_share;
                bars.push((b, [(x0, 0.0), (x0 + width, r.users as f64)], fair));
            }
        }
        let y_max = bars.iter().map(|b| b.1[1].1.max(b.2)).fold(1.0, f64::max) * 1.08;
        let mut legend = vec![entry(Key::Line(BLACK), "fair share")];
        legend.extend(self.backend_entries(Key::Bar));
        let legend_w = legend_width(&legend);
        let keys: Vec<f64> = (0..n).map(|g| g as f64 + 0.5).collect();
        let mut chart = ChartBuilder::on(root)
            .margin_top(TITLE_H + self.band_h)
            .margin_right(legend_w + 12)
            .margin_left(10)
            .margin_bottom(8)
            .x_label_area_size(56)
            .y_label_area_size(78)
            .build_cartesian_2d(ticked(0.0..n as f64, keys), 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| format!("{}", *x as usize))
            .y_label_formatter(&count_label)
            .x_desc("step (number; its command above)")
            .y_desc("users (records per backend)")
            .axis_desc_style(font(DESC_FONT))
            .label_style(font(TICK_FONT))
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .disable_x_mesh()
            .draw()?;
        for (b, rect, _) in &bars {
            chart.draw_series([Rectangle::new(*rect, backend_color(*b).filled())])?;
        }
        for (_, rect, fair) in &bars {
            let line = vec![(rect[0].0, *fair), (rect[1].0, *fair)];
            chart.draw_series([PathElement::new(line, BLACK.stroke_width(2))])?;
        }
        let labels: Vec<(i32, String)> = (0..steps.len())
            .map(|g| {
                (
                    chart.backend_coord(&(g as f64 + 0.5, 0.0)).0,
                    self.step_labels[g].clone(),
                )
            })
            .collect();
        let plot_top = chart.backend_coord(&(0.0, y_max)).1;
        draw_band(root, &labels, plot_top, self.band_h)?;
        draw_legend(root, &legend, legend_w)
    }

    fn backend_entries(&self, key: impl Fn(RGBColor) -> Key) -> Vec<Entry> {
        let e = |&b: &usize| entry(key(backend_color(b)), &self.r.backends[b].name);
        self.shown.iter().map(e).collect()
    }

    /// Title band, legend, axes and step markers of a chart over time.
    fn time_chart<'b, DB: DrawingBackend>(
        &self,
        root: &'b DrawingArea<DB, Shift>,
        y: Range<f64>,
        y_desc: &str,
        legend: &[Entry],
        y_fmt: fn(&f64) -> String,
    ) -> Res<TimeChart<'b, DB>>
    where
        DB::ErrorType: 'static,
    {
        let legend_w = legend_width(legend);
        let band = if self.markers.is_empty() { 0 } else { self.band_h };
        let (ticks, step) = time_ticks(self.end_s);
        let x_desc = if self.end_s > 86_400.0 {
            "simulated time (days hh:mm)"
        } else {
            "simulated time (hh:mm)"
        };
        let (y0, y1) = (y.start, y.end);
        let mut chart = ChartBuilder::on(root)
            .margin_top(TITLE_H + band)
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
            .y_desc(y_desc)
            .axis_desc_style(font(DESC_FONT))
            .label_style(font(TICK_FONT))
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .draw()?;
        for (t, _) in &self.markers {
            chart.draw_series(LineSeries::new([(*t, y0), (*t, y1)], MARKER.stroke_width(1)))?;
        }
        let labels: Vec<(i32, String)> = self
            .markers
            .iter()
            .map(|(t, l)| (chart.backend_coord(&(*t, y0)).0, l.clone()))
            .collect();
        let plot_top = chart.backend_coord(&(0.0, y1)).1;
        draw_band(root, &labels, plot_top, self.band_h)?;
        draw_legend(root, legend, legend_w)?;
        Ok(chart)
    }
}

/// Every chart as (chart, PNG, SVG), drawn on a few threads (each chart
/// alone, so the bytes do not depend on the scheduling).
pub fn render_all(r: &RunResult) -> io::Result<Vec<(Chart, Vec<u8>, String)>> {
    let charts = Charts::new(r);
    std::thread::scope(|scope| {
        let jobs: Vec<_> = Chart::ALL
            .iter()
            .map(|&c| {
                let charts = &charts;
                let png = scope.spawn(move || charts.png(c));
                (c, png, scope.spawn(move || charts.svg(c)))
            })
            .collect();
        fn join<T>(h: std::thread::ScopedJoinHandle<'_, io::Result<T>>) -> io::Result<T> {
            h.join()
                .unwrap_or_else(|_| Err(io::Error::other("chart drawing panicked")))
        }
        jobs.into_iter()
            .map(|(c, png, svg)| Ok((c, join(png)?, join(svg)?)))
            .collect()
    })
}

/// Writes one chart as PNG.
pub fn write_png(r: &RunResult, chart: Chart, out: &mut impl Write) -> io::Result<()> {
    out.write_all(&Charts::new(r).png(chart)?)
}

/// Writes one chart as SVG.
pub fn write_svg(r: &RunResult, chart: Chart, out: &mut impl Write) -> io::Result<()> {
    out.write_all(Charts::new(r).svg(chart)?.as_bytes())
}
