//! Hand-written SVG charts for the dashboard pages: stacked bars (with an estimated part
//! drawn hatched), small multiples of them, a scatter with one labelled mark per item,
//! and horizontal bars for ranked lists. No scripts: the figures are in the markup.
//!
//! What the browser tests read (keep it stable):
//! - A chart is `<figure class="chart" data-chart="ID">`: an `<svg role="img"
//!   aria-labelledby="ID-title ID-desc">` holding `<title id="ID-title">` and `<desc
//!   id="ID-desc">`, axes with a title (`.axis-title`) and ticks (`.tick`), then a legend
//!   (`ul.legend`) and the same figures as a table in `details.fallback`.
//! - A mark is the element carrying the figures in `data-` attributes: `<rect>` (or, when
//!   part of it is estimated, a `<g>` holding the reported part and the hatched
//!   `rect.estimate`) in bars, `<circle>` in a scatter. Marks have `class="bar"` in the
//!   weekly and learner charts (as before) and `class="mark"` elsewhere.
//! - Attribute names: `data-week` (its Monday), `data-team`, `data-mode`,
//!   `data-statements`, `data-learners`, `data-seconds` (reported + estimated),
//!   `data-reported-seconds`, `data-estimated-seconds`; sources: `data-kind` (`host` or
//!   `activity`), `data-key`, `data-previous-learners`, `data-previous-seconds`; the
//!   scatter: `data-completion` and `data-self-direction` (shares 0..1 as the API gives
//!   them); goals: `data-goal-setters`, `data-goals`, `data-self-directed-seconds`,
//!   `data-goal-linked-seconds`; sharing: `data-shares`, `data-sharers`, `data-activity`.

mod scatter;

use std::fmt::Write;

pub use scatter::{scatter_svg, Point};

use super::page::escape;

/// One series of a chart (a mode, a team, a kind of time) and its colour.
pub struct Series {
    pub label: String,
    pub colour: String,
}

/// One drawn figure: its value, the part of it that is estimated (drawn hatched), the
/// `data-` attributes it carries, and the tooltip it shows.
pub struct Mark {
    pub value: f64,
    pub estimated: f64,
    pub attributes: Vec<(&'static str, String)>,
    pub tip: String,
}

/// How values are written on an axis: counts as they are, seconds as hours, shares
/// (0..1) as percentages.
#[derive(Clone, Copy, PartialEq)]
pub enum Unit {
    Count,
    Hours,
    Share,
}

impl Unit {
    fn scaled(self, value: f64) -> f64 {
        match self {
            Unit::Count => value,
            Unit::Hours => value / 3600.0,
            Unit::Share => value * 100.0,
        }
    }

    fn unscaled(self, value: f64) -> f64 {
        match self {
            Unit::Count => value,
            Unit::Hours => value * 3600.0,
            Unit::Share => value / 100.0,
        }
    }

    /// Round ticks in this unit (whole hours, not whole seconds): the step and the top
    /// of an axis up to `highest`, in the values' own terms.
    fn ticks(self, highest: f64) -> (f64, f64) {
        let (step, top) = ticks(self.scaled(highest), 4.0);
        (self.unscaled(step), self.unscaled(top))
    }

    /// A value (in statements or seconds) as a label of this unit.
    pub fn label(self, value: f64) -> String {
        let v = self.scaled(value);
        match self {
            Unit::Count => format!("{v:.0}"),
            Unit::Hours if v >= 10.0 || v.fract() == 0.0 => format!("{v:.0} h"),
            Unit::Hours => format!("{v:.1} h"),
            Unit::Share => format!("{v:.0} %"),
        }
    }
}

/// The same figures as a table, for screen readers, copying, and print.
pub struct Table {
    pub caption: String,
    pub headers: Vec<String>,
    /// Cells as HTML (already escaped).
    pub rows: Vec<Vec<String>>,
}

/// The parts every chart shares.
pub struct Frame<'a> {
    /// Unique on the page: the figure's `data-chart` and the base of its element ids.
    pub id: &'a str,
    pub title: String,
    pub desc: String,
    pub x_title: String,
    pub y_title: String,
}

/// Stacked bars: one column per category (a week), one segment per series.
pub struct Stacked<'a> {
    pub frame: Frame<'a>,
    /// `bar` or `mark`.
    pub mark_class: &'a str,
    pub unit: Unit,
    pub series: &'a [Series],
    /// Per column: its axis label and its segments (series index, mark), bottom first.
    pub columns: Vec<(String, Vec<(usize, Mark)>)>,
    /// The top of the value axis when panels share it; else the highest column.
    pub top: Option<f64>,
    /// Whether marks have an estimated part (drawn hatched) to show.
    pub hatched: bool,
}

/// The size of a drawing, in user units: text keeps its size as the drawing scales, so
/// a small panel is a smaller viewBox, not a scaled-down large one.
#[derive(Clone, Copy)]
pub struct Size {
    pub width: f64,
    pub height: f64,
}

pub const WIDE: Size = Size {
    width: 480.0,
    height: 250.0,
};
pub const PANEL: Size = Size {
    width: 300.0,
    height: 190.0,
};

const LEFT: f64 = 52.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 42.0;

fn attributes(list: &[(&'static str, String)]) -> String {
    list.iter()
        .map(|(name, value)| format!(" {name}=\"{}\"", escape(value)))
        .collect()
}

/// A round step giving about `count` ticks up to `highest`, and the axis top it gives.
fn ticks(highest: f64, count: f64) -> (f64, f64) {
    let highest = if highest > 0.0 { highest } else { 1.0 };
    let raw = highest / count;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    (step, (highest / step).ceil() * step)
}

fn svg_open(frame: &Frame, size: Size) -> String {
    format!(
        "<svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\">\
         <title id=\"{id}-title\">{title}</title><desc id=\"{id}-desc\">{desc}</desc>",
        w = size.width,
        h = size.height,
        id = frame.id,
        title = escape(&frame.title),
        desc = escape(&frame.desc),
    )
}

/// Hatching for the estimated part of each series' marks, unique to this drawing.
fn hatches(id: &str, series: &[Series]) -> String {
    let mut out = String::from("<defs>");
    for (i, s) in series.iter().enumerate() {
        let _ = write!(
            out,
            "<pattern id=\"{id}-hatch-{i}\" patternUnits=\"userSpaceOnUse\" width=\"6\" \
             height=\"6\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" \
             fill=\"{c}\" fill-opacity=\"0.25\"/><rect width=\"3\" height=\"6\" fill=\"{c}\"/>\
             </pattern>",
            c = s.colour
        );
    }
    out.push_str("</defs>");
    out
}

/// The value axis on the left (value 0 at `bottom`, `top` at `TOP`) with its ticks and
/// grid lines, and the axis titles.
fn value_axis(frame: &Frame, size: Size, unit: Unit, top: f64, step: f64) -> String {
    let bottom = size.height - BOTTOM;
    let mut out = String::new();
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let y = bottom - v / top * (bottom - TOP);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\"/>\
             <text class=\"tick\" x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text>",
            x2 = size.width - RIGHT,
            tx = LEFT - 4.0,
            ty = y + 4.0,
            label = unit.label(v),
        );
        v += step;
    }
    let _ = write!(
        out,
        "<line class=\"axis-line\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\"/>\
         <line class=\"axis-line\" x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{x2}\" y2=\"{bottom}\"/>\
         <text class=\"axis-title\" transform=\"translate(12 {my:.1}) rotate(-90)\" \
         text-anchor=\"middle\">{y_title}</text>\
         <text class=\"axis-title\" x=\"{mx:.1}\" y=\"{ty}\" text-anchor=\"middle\">{x_title}</text>",
        x2 = size.width - RIGHT,
        my = (TOP + bottom) / 2.0,
        mx = (LEFT + size.width - RIGHT) / 2.0,
        ty = size.height - 4.0,
        y_title = escape(&frame.y_title),
        x_title = escape(&frame.x_title),
    );
    out
}

/// The highest stacked column of a chart.
fn highest(chart: &Stacked) -> f64 {
    chart
        .columns
        .iter()
        .map(|(_, marks)| marks.iter().map(|(_, m)| m.value).sum::<f64>())
        .fold(0.0, f64::max)
}

/// The SVG of stacked bars at `size`.
pub fn stacked_svg(chart: &Stacked, size: Size) -> String {
    let frame = &chart.frame;
    let (step, top) = chart
        .unit
        .ticks(chart.top.unwrap_or_else(|| highest(chart)));
    let mut out = svg_open(frame, size);
    if chart.hatched {
        out.push_str(&hatches(frame.id, chart.series));
    }
    out.push_str(&value_axis(frame, size, chart.unit, top, step));
    let bottom = size.height - BOTTOM;
    let plot = size.width - LEFT - RIGHT;
    let slot = plot / chart.columns.len().max(1) as f64;
    // Label every n-th column so that labels (about 50 units wide at the phone's larger
    // text) never collide.
    let every = (52.0 / slot).ceil().max(1.0) as usize;
    let scale = |v: f64| v / top * (bottom - TOP);
    for (i, (label, marks)) in chart.columns.iter().enumerate() {
        let x = LEFT + i as f64 * slot + slot * 0.15;
        let width = slot * 0.7;
        let mut y = bottom;
        for (series, mark) in marks {
            let colour = &chart.series[*series].colour;
            let height = scale(mark.value);
            y -= height;
            let tip = format!("<title>{}</title>", escape(&mark.tip));
            let attrs = attributes(&mark.attributes);
            if chart.hatched {
                let estimated = scale(mark.estimated.min(mark.value));
                let _ = write!(
                    out,
                    "<g class=\"{class}\"{attrs}>{tip}\
                     <rect x=\"{x:.1}\" y=\"{ry:.1}\" width=\"{width:.1}\" height=\"{rh:.1}\" fill=\"{colour}\"/>\
                     <rect class=\"estimate\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" \
                     height=\"{estimated:.1}\" fill=\"url(#{id}-hatch-{series})\" stroke=\"{colour}\" \
                     stroke-width=\"0.5\"/></g>",
                    class = chart.mark_class,
                    ry = y + estimated,
                    rh = height - estimated,
                    id = frame.id,
                );
            } else {
                let _ = write!(
                    out,
                    "<rect class=\"{class}\"{attrs} x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" \
                     height=\"{height:.1}\" fill=\"{colour}\">{tip}</rect>",
                    class = chart.mark_class,
                );
            }
        }
        if i % every == 0 {
            let _ = write!(
                out,
                "<text class=\"tick\" x=\"{cx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{}</text>",
                escape(label),
                cx = x + width / 2.0,
                ty = bottom + 14.0,
            );
        }
    }
    if chart.columns.is_empty() {
        let _ = write!(
            out,
            "<text class=\"empty\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no Statements \
             in the period</text>",
            LEFT + plot / 2.0,
            (TOP + bottom) / 2.0
        );
    }
    out.push_str("</svg>");
    out
}

/// The legend of a chart's series, with the hatch sample when part of it is estimated.
pub fn legend(series: &[Series], hatched: bool) -> String {
    let mut out = String::from("<ul class=\"legend\">");
    for s in series {
        let _ = write!(
            out,
            "<li><span class=\"swatch\" style=\"background:{}\"></span>{}</li>",
            s.colour,
            escape(&s.label)
        );
    }
    if hatched {
        out.push_str(
            "<li><span class=\"swatch hatched\"></span>estimated time (hatched; the solid \
             part is reported)</li>",
        );
    }
    out.push_str("</ul>");
    out
}

/// A table of figures, scrolling in its own box when wide.
pub fn table(table: &Table) -> String {
    let mut out = format!(
        "<div class=\"scroll\"><table><caption>{}</caption><thead><tr>",
        escape(&table.caption)
    );
    for h in &table.headers {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &table.rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "<th scope=\"row\">{cell}</th>");
            } else {
                let _ = write!(out, "<td>{cell}</td>");
            }
        }
        out.push_str("</tr>");
    }
    if table.rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\">Nothing to show for the period.</td></tr>",
            table.headers.len().max(1)
        );
    }
    out.push_str("</tbody></table></div>");
    out
}

/// A chart as a figure: the drawing, its legend, and its table behind a disclosure.
pub fn figure(id: &str, caption: &str, drawing: &str, legend: &str, fallback: &Table) -> String {
    format!(
        "<figure class=\"chart\" data-chart=\"{id}\"><figcaption>{caption}</figcaption>\
         {drawing}{legend}<details class=\"fallback\"><summary>Table of the figures</summary>\
         {table}</details></figure>",
        caption = escape(caption),
        table = table(fallback),
    )
}

/// One row of horizontal bars: its label (linked when `href` is given), its mark, and
/// what to write after the bar.
pub struct Ranked {
    pub label: String,
    pub href: Option<String>,
    pub mark: Mark,
    pub note: String,
}

/// Horizontal bars for a ranked list: each row's label on its own line above its bar,
/// so long names read at phone width.
pub fn hbars_svg(frame: &Frame, unit: Unit, colour: &str, rows: &[Ranked]) -> String {
    const ROW: f64 = 36.0;
    let size = Size {
        width: 480.0,
        height: TOP + ROW * rows.len().max(1) as f64 + BOTTOM,
    };
    // Shares are drawn against the whole.
    let top_value = match unit {
        Unit::Share => 1.0,
        _ => rows.iter().map(|r| r.mark.value).fold(0.0, f64::max),
    };
    let (step, top) = unit.ticks(top_value);
    // Room for half of the first tick's label.
    let left = 16.0;
    // The bars take half the width so the figures after them always fit.
    let full = (size.width - left - RIGHT) * 0.5;
    let bottom = size.height - BOTTOM;
    let mut out = svg_open(frame, size);
    let palette = [Series {
        label: String::new(),
        colour: colour.to_string(),
    }];
    out.push_str(&hatches(frame.id, &palette));
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let x = left + v / top * full;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/>\
             <text class=\"tick\" x=\"{x:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{label}</text>",
            ty = bottom + 14.0,
            label = unit.label(v),
        );
        v += step;
    }
    let _ = write!(
        out,
        "<line class=\"axis-line\" x1=\"{left}\" y1=\"{bottom:.1}\" x2=\"{x2:.1}\" y2=\"{bottom:.1}\"/>\
         <text class=\"axis-title\" x=\"{left}\" y=\"{ty:.1}\">{x_title}</text>",
        x2 = left + full,
        ty = size.height - 4.0,
        x_title = escape(&frame.x_title),
    );
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let width = row.mark.value / top * full;
        let estimated = row.mark.estimated.min(row.mark.value) / top * full;
        let label = escape(&shorten(&row.label, 64));
        let label = match &row.href {
            Some(href) => format!("<a href=\"{}\">{label}</a>", escape(href)),
            None => label,
        };
        let estimate = if estimated > 0.0 {
            format!(
                "<rect class=\"estimate\" x=\"{ex:.1}\" y=\"{by:.1}\" width=\"{estimated:.1}\" \
                 height=\"14\" fill=\"url(#{id}-hatch-0)\" stroke=\"{colour}\" stroke-width=\"0.5\"/>",
                ex = left + width - estimated,
                by = y + 16.0,
                id = frame.id,
            )
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<text class=\"row-label\" x=\"{left}\" y=\"{ly:.1}\">{label}</text>\
             <g class=\"mark\"{attrs}><title>{tip}</title>\
             <rect x=\"{left}\" y=\"{by:.1}\" width=\"{rw:.1}\" height=\"14\" fill=\"{colour}\"/>\
             {estimate}</g><text class=\"tick\" x=\"{tx:.1}\" y=\"{ty:.1}\">{note}</text>",
            ly = y + 12.0,
            by = y + 16.0,
            rw = width - estimated,
            attrs = attributes(&row.mark.attributes),
            tip = escape(&row.mark.tip),
            tx = left + width + 6.0,
            ty = y + 27.0,
            note = escape(&row.note),
        );
    }
    if rows.is_empty() {
        let _ = write!(
            out,
            "<text class=\"empty\" x=\"{left}\" y=\"{:.1}\">nothing in the period</text>",
            TOP + 20.0
        );
    }
    out.push_str("</svg>");
    out
}

/// `text` cut to `chars` characters, with an ellipsis when cut.
pub fn shorten(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(chars.saturating_sub(1)).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_highest_value() {
        assert_eq!(ticks(0.0, 4.0), (0.25, 1.0));
        assert_eq!(ticks(7.0, 4.0), (2.0, 8.0));
        assert_eq!(ticks(100.0, 4.0), (25.0, 100.0));
        assert_eq!(ticks(12_345.0, 4.0), (5_000.0, 15_000.0));
    }

    #[test]
    fn hours_read_as_hours() {
        assert_eq!(Unit::Hours.label(5400.0), "1.5 h");
        assert_eq!(Unit::Hours.label(36_000.0), "10 h");
        assert_eq!(Unit::Count.label(12.0), "12");
        assert_eq!(Unit::Share.label(0.25), "25 %");
    }

    #[test]
    fn a_mark_carries_its_figures_and_the_estimate_is_hatched() {
        let series = [Series {
            label: "directed".into(),
            colour: "#123456".into(),
        }];
        let chart = Stacked {
            frame: Frame {
                id: "t",
                title: "T".into(),
                desc: "D".into(),
                x_title: "Week".into(),
                y_title: "Hours".into(),
            },
            mark_class: "mark",
            unit: Unit::Hours,
            series: &series,
            columns: vec![(
                "05 Jan".into(),
                vec![(
                    0,
                    Mark {
                        value: 3600.0,
                        estimated: 1800.0,
                        attributes: vec![("data-seconds", "3600".into())],
                        tip: "a <b>".into(),
                    },
                )],
            )],
            top: None,
            hatched: true,
        };
        let svg = stacked_svg(&chart, WIDE);
        assert!(svg.contains("aria-labelledby=\"t-title t-desc\""), "{svg}");
        assert!(
            svg.contains("<g class=\"mark\" data-seconds=\"3600\">"),
            "{svg}"
        );
        assert!(svg.contains("fill=\"url(#t-hatch-0)\""), "{svg}");
        assert!(svg.contains("<title>a &lt;b&gt;</title>"), "{svg}");
        assert!(svg.contains("class=\"axis-title\""), "{svg}");
    }
}
