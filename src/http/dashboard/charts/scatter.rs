//! The scatter: one labelled mark per item, labels kept clear of each other.

use std::fmt::Write;

use super::{attributes, shorten, svg_open, Frame, Size, BOTTOM, LEFT, RIGHT, TOP};
use crate::http::dashboard::page::escape;

/// One item of a scatter: its label beside the mark, its shares (0..1), its attributes.
pub struct Point {
    pub label: String,
    pub x: f64,
    pub y: f64,
    pub attributes: Vec<(&'static str, String)>,
    pub tip: String,
}

/// A scatter of shares (both axes 0–100 %), one labelled mark per point.
pub fn scatter_svg(frame: &Frame, points: &[Point]) -> String {
    let size = Size {
        width: 480.0,
        height: 320.0,
    };
    let bottom = size.height - BOTTOM;
    let right = size.width - RIGHT - 70.0;
    let mut out = svg_open(frame, size);
    let x_of = |v: f64| LEFT + v.clamp(0.0, 1.0) * (right - LEFT);
    let y_of = |v: f64| bottom - v.clamp(0.0, 1.0) * (bottom - TOP);
    for tick in 0..=4 {
        let v = tick as f64 * 0.25;
        let (x, y) = (x_of(v), y_of(v));
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{right:.1}\" y2=\"{y:.1}\"/>\
             <line class=\"grid\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/>\
             <text class=\"tick\" x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{p} %</text>\
             <text class=\"tick\" x=\"{x:.1}\" y=\"{by:.1}\" text-anchor=\"middle\">{p} %</text>",
            tx = LEFT - 4.0,
            ty = y + 4.0,
            by = bottom + 14.0,
            p = tick * 25,
        );
    }
    let _ = write!(
        out,
        "<line class=\"axis-line\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\"/>\
         <line class=\"axis-line\" x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{right:.1}\" y2=\"{bottom}\"/>\
         <text class=\"axis-title\" transform=\"translate(12 {my:.1}) rotate(-90)\" \
         text-anchor=\"middle\">{y_title}</text>\
         <text class=\"axis-title\" x=\"{mx:.1}\" y=\"{ty}\" text-anchor=\"middle\">{x_title}</text>",
        my = (TOP + bottom) / 2.0,
        mx = (LEFT + right) / 2.0,
        ty = size.height - 4.0,
        y_title = escape(&frame.y_title),
        x_title = escape(&frame.x_title),
    );
    // Each label goes right of, left of, above or below its mark, the first of those
    // that overlaps no label or mark already drawn; failing all, below the labels in
    // the way, with a line to its mark.
    let centres: Vec<(f64, f64)> = points.iter().map(|p| (x_of(p.x), y_of(p.y))).collect();
    let mut boxes: Vec<Area> = centres
        .iter()
        .map(|(x, y)| Area::around(*x, *y, 7.0))
        .collect();
    let mut labels = String::new();
    for (p, (x, y)) in points.iter().zip(&centres) {
        let label = shorten(&p.label, 18);
        let width = label.chars().count() as f64 * 7.5;
        let candidates = [
            (x + 9.0, y + 4.0, "start"),
            (x - 9.0, y + 4.0, "end"),
            (*x, y - 10.0, "middle"),
            (*x, y + 20.0, "middle"),
        ];
        let free = candidates.iter().find_map(|(lx, ly, anchor)| {
            let b = Area::of_text(*lx, *ly, width, anchor);
            (b.inside(size.width) && !boxes.iter().any(|o| o.overlaps(&b)))
                .then_some((*lx, *ly, *anchor, b))
        });
        let (lx, ly, anchor, b) = free.unwrap_or_else(|| {
            let mut ly = y + 20.0;
            while boxes
                .iter()
                .any(|o| o.overlaps(&Area::of_text(*x, ly, width, "middle")))
            {
                ly += 14.0;
            }
            let _ = write!(
                labels,
                "<line class=\"leader\" x1=\"{x:.1}\" y1=\"{y1:.1}\" x2=\"{x:.1}\" y2=\"{y2:.1}\"/>",
                y1 = y + 6.0,
                y2 = ly - 11.0
            );
            (*x, ly, "middle", Area::of_text(*x, ly, width, "middle"))
        });
        boxes.push(b);
        let _ = write!(
            labels,
            "<text class=\"point-label\" x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"{anchor}\">{}</text>",
            escape(&label)
        );
        let _ = write!(
            out,
            "<circle class=\"mark\"{attrs} cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"6\"><title>{tip}</title></circle>",
            attrs = attributes(&p.attributes),
            tip = escape(&p.tip),
        );
    }
    out.push_str(&labels);
    out.push_str("</svg>");
    out
}

/// The space a label or mark takes, to keep labels apart.
struct Area {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl Area {
    fn around(x: f64, y: f64, r: f64) -> Area {
        Area {
            left: x - r,
            top: y - r,
            right: x + r,
            bottom: y + r,
        }
    }

    /// A line of text of about `width` with its baseline at `y`, anchored at `x`.
    fn of_text(x: f64, y: f64, width: f64, anchor: &str) -> Area {
        let left = match anchor {
            "end" => x - width,
            "middle" => x - width / 2.0,
            _ => x,
        };
        Area {
            left,
            top: y - 12.0,
            right: left + width,
            bottom: y + 3.0,
        }
    }

    fn overlaps(&self, other: &Area) -> bool {
        self.left < other.right
            && other.left < self.right
            && self.top < other.bottom
            && other.top < self.bottom
    }

    fn inside(&self, width: f64) -> bool {
        self.left >= 0.0 && self.right <= width && self.top >= 0.0
    }
}
