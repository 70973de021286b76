//! Layout pieces shared by the charts: fonts and text widths, the tick
//! axis, the legend at the right and the band of step labels on top.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::labels::{backend_color, spread, truncate_chars};
use super::{BAND_GAP, FAMILY, HEIGHT, LABEL_GAP, LEGEND_FONT, MARKER, Res, STEP_FONT, TITLE_H, WIDTH};

/// An f64 axis with the ticks given (plotters' `WithKeyPoints` has no label
/// formatter for f64).
pub(crate) struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

pub(crate) fn ticked(range: Range<f64>, ticks: Vec<f64>) -> Ticked {
    Ticked {
        inner: range.into(),
        ticks,
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(v, limit)
    }
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }
    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

pub(crate) fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).color(&BLACK)
}

/// Width in pixels of `text` at `size` (0 if the font is missing).
pub(crate) fn text_width(text: &str, size: f64) -> i32 {
    (FAMILY, size)
        .into_font()
        .box_size(text)
        .map_or(0, |b| b.0 as i32)
}

/// `text`, cut with `…` to fit `max` pixels.
pub(crate) fn fit(text: &str, size: f64, max: i32) -> String {
    let mut t = text.to_string();
    let mut n = t.chars().count();
    while n > 1 && text_width(&t, size) > max {
        n -= 1;
        t = truncate_chars(text, n);
    }
    t
}

/// What a legend line shows.
pub(crate) enum Key {
    Line(RGBColor),
    Dashed(RGBColor),
    /// Dashes in the first backends' colours: "each backend's own".
    DashedMany,
    Bar(RGBColor),
    /// A filled dot (a point of a scatter chart).
    Point(RGBColor),
}

pub(crate) struct Entry {
    key: Key,
    label: String,
}

pub(crate) fn entry(key: Key, label: &str) -> Entry {
    Entry {
        key,
        label: label.to_string(),
    }
}

/// Height of a legend line.
const ROW_H: i32 = 22;

/// Legend lines in one column.
pub(crate) const LEGEND_ROWS: usize = ((HEIGHT as i32 - TITLE_H - 30) / ROW_H) as usize;

/// The widest legend text (px) unless a chart asks for another.
const LEGEND_TEXT: i32 = 150;

/// (columns, rows, column width) of a legend: up to 3 columns at the right,
/// texts cut to `max_text` pixels.
fn legend_layout(entries: &[Entry], max_text: i32) -> (i32, i32, i32) {
    let rows = (HEIGHT as i32 - TITLE_H - 30) / ROW_H;
    let cols = ((entries.len() as i32 + rows - 1) / rows).clamp(1, 3);
    let text_w = entries
        .iter()
        .map(|e| text_width(&e.label, LEGEND_FONT))
        .max()
        .unwrap_or(0);
    (cols, rows, text_w.min(max_text) + 40)
}

pub(crate) fn legend_width(entries: &[Entry]) -> i32 {
    legend_width_max(entries, LEGEND_TEXT)
}

/// [`legend_width`] with texts up to `max_text` pixels wide.
pub(crate) fn legend_width_max(entries: &[Entry], max_text: i32) -> i32 {
    let (cols, _, w) = legend_layout(entries, max_text);
    cols * w
}

/// Step labels, vertical, above the plot; spread apart where they would
/// overlap and tied to their marker by a short leader.
pub(super) fn draw_band<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    labels: &[(i32, String)],
    top: i32,
    band_h: i32,
) -> Res<()>
where
    DB::ErrorType: 'static,
{
    let xs: Vec<f64> = labels.iter().map(|l| l.0 as f64).collect();
    let placed = spread(&xs, LABEL_GAP);
    let base = top - BAND_GAP;
    let style = font(STEP_FONT)
        .transform(FontTransform::Rotate270)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for ((x, text), lx) in labels.iter().zip(placed) {
        let lx = lx.round() as i32;
        root.draw(&PathElement::new(
            vec![(lx, base), (*x, top)],
            MARKER.stroke_width(1),
        ))?;
        let text = fit(text, STEP_FONT, band_h - BAND_GAP - 10);
        // +2: the glyphs sit left of the anchor's centre
        root.draw(&Text::new(text, (lx + 2, base - 3), style.clone()))?;
    }
    Ok(())
}

pub(crate) fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    width: i32,
) -> Res<()>
where
    DB::ErrorType: 'static,
{
    draw_legend_max(root, entries, width, LEGEND_TEXT)
}

/// [`draw_legend`] with texts up to `max_text` pixels wide.
pub(crate) fn draw_legend_max<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    width: i32,
    max_text: i32,
) -> Res<()>
where
    DB::ErrorType: 'static,
{
    let (cols, rows, col_w) = legend_layout(entries, max_text);
    let x0 = WIDTH as i32 - width - 6;
    let y0 = TITLE_H + 14;
    let cap = (cols * rows) as usize;
    let style = font(LEGEND_FONT).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, e) in entries.iter().enumerate().take(cap) {
        let (x, y) = (x0 + (i as i32 / rows) * col_w, y0 + (i as i32 % rows) * ROW_H);
        let mut label = fit(&e.label, LEGEND_FONT, col_w - 40);
        if i + 1 == cap && entries.len() > cap {
            label = format!("… {} more", entries.len() - cap + 1);
        } else {
            match e.key {
                Key::Line(c) => root.draw(&PathElement::new(vec![(x, y), (x + 28, y)], c.stroke_width(3)))?,
                Key::Dashed(_) | Key::DashedMany => {
                    for k in 0..3 {
                        let c = if let Key::Dashed(c) = e.key {
                            c
                        } else {
                            backend_color(k as usize)
                        };
                        let a = x + k * 11;
                        root.draw(&PathElement::new(vec![(a, y), (a + 7, y)], c.stroke_width(2)))?;
                    }
                }
                Key::Bar(c) => root.draw(&Rectangle::new([(x + 4, y - 7), (x + 24, y + 7)], c.filled()))?,
                Key::Point(c) => root.draw(&Circle::new((x + 14, y), 6, c.filled()))?,
            }
        }
        root.draw(&Text::new(label, (x + 34, y), style.clone()))?;
    }
    Ok(())
}
