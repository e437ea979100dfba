//! What every dashboard page shares: escaping, the colours of the modes, how figures are
//! written, and the page around the content (styles for screen, phone and print).

use crate::modes::Mode;

use super::charts::Series;

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Query-string text (for links built from names, IFIs and IRIs).
pub fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub fn colour(mode: &str) -> &'static str {
    match mode {
        "directed" => "#1f5f99",
        "guided" => "#4d9de0",
        "self_planned" => "#e1a036",
        "self_directed" => "#d1495b",
        _ => "#9a9a9a",
    }
}

/// The modes as chart series, most to least directed (the order bars stack in).
pub fn mode_series() -> Vec<Series> {
    Mode::EVERY
        .iter()
        .map(|m| Series {
            label: m.as_str().replace('_', "-"),
            colour: colour(m.as_str()).to_string(),
        })
        .collect()
}

/// Colours for series that are not modes (teams), told apart in print too.
pub const PALETTE: [&str; 10] = [
    "#1f5f99", "#d1495b", "#e1a036", "#2e8b57", "#6a4c93", "#4d9de0", "#8c564b", "#c71585",
    "#7f7f7f", "#17becf",
];

pub fn percent(v: Option<f64>) -> String {
    v.map(|v| format!("{:.0} %", v * 100.0))
        .unwrap_or_else(|| "–".into())
}

pub fn hours(seconds: f64) -> String {
    format!("{:.1}", seconds / 3600.0)
}

/// A whole page: title, the signed-in line, the pages' navigation, then `body`.
pub fn page(title: &str, signed_in: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Commonplace · {title}</title><style>{STYLE}</style></head><body>\
         {signed_in}<nav class=\"pages\"><a href=\"/dashboard\">Dashboard</a> \
         <a href=\"/dashboard/concierge\">Concierge</a></nav>{body}</body></html>",
        title = escape(title),
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem;color:#222;overflow-wrap:anywhere}\
h1{font-size:1.4rem}h2{font-size:1.2rem}section{margin-bottom:2.5rem}\
nav.pages a{margin-right:1rem}\
figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.3rem}\
svg{display:block;width:100%;height:auto;max-width:720px}\
.tick{font-size:11px;fill:#444}.axis-title{font-size:12px;fill:#222;font-weight:600}\
.point-label,.row-label{font-size:12px;fill:#222}.row-label a,a .row-label{fill:#1a4f8a;text-decoration:underline}\
.empty{font-size:13px;fill:#777}circle.mark{fill:#1f5f99;stroke:#fff}.leader{stroke:#999}.grid{stroke:#e3e3e3}.axis-line{stroke:#666}\
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3rem 1rem;font-size:.85rem}\
.swatch{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px;border:1px solid #0003}\
.swatch.hatched{background:repeating-linear-gradient(45deg,#555 0 2px,#fff 2px 5px)}\
.multiples{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:1rem}\
.multiples figure{margin:0}.multiples svg{max-width:none}\
.links{font-size:.85rem}.links a{margin-right:1rem}\
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;font-size:.9rem;overflow-wrap:normal}\
caption{text-align:left;font-size:.85rem;color:#555;padding:.2rem 0}\
th,td{padding:.3rem .5rem;border-bottom:1px solid #ddd;text-align:right}\
th:first-child,td:first-child,.list th,.list td{text-align:left}thead th{white-space:nowrap}\
.note{color:#555;font-size:.85rem}\
.controls{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin-bottom:1.5rem}\
.controls label{display:flex;flex-direction:column;font-size:.85rem;max-width:100%;min-width:0}\
select,input{max-width:100%}\
@media (max-width:600px){body{padding:.5rem}table{font-size:.75rem}\
.tick{font-size:13px}.axis-title{font-size:14px}.point-label,.row-label{font-size:14px}}\
@media print{nav.pages,.controls,form{display:none}body{max-width:none;padding:0}\
section,figure{break-inside:avoid}.scroll{overflow:visible}svg{max-width:16cm}\
a{color:inherit;text-decoration:none}}";
