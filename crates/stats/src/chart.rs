//! Charts drawn on the server as SVG (no JavaScript; the same markup goes into pages and
//! reports). Presentation attributes only, no `style` (the pages' CSP allows no inline style).

use std::fmt::Write;

/// Escapes text for SVG/XML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One bar: its label, and its count (`None`: suppressed).
pub struct Bar {
    pub label: String,
    pub value: Option<u64>,
}

/// A horizontal bar chart. `title` names it for assistive technology; `hidden` is the text
/// shown instead of a suppressed count; `format` writes a count in the reader's locale.
pub fn bars_svg(title: &str, bars: &[Bar], hidden: &str, format: &dyn Fn(u64) -> String) -> String {
    const ROW: u32 = 22;
    const LABEL_W: u32 = 200;
    const BAR_W: u32 = 320;
    const VALUE_W: u32 = 90;
    let width = LABEL_W + BAR_W + VALUE_W;
    let height = ROW * bars.len().max(1) as u32 + 8;
    let max = bars.iter().filter_map(|b| b.value).max().unwrap_or(0).max(1);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" aria-label="{t}"><title>{t}</title>"#,
        t = esc(title)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 4 + ROW * i as u32;
        let mid = y + ROW / 2 + 4;
        let label: String = b.label.chars().take(30).collect();
        let _ = write!(
            s,
            r##"<text x="{x}" y="{mid}" text-anchor="end" font-size="12" fill="#1f2937">{l}</text>"##,
            x = LABEL_W - 6,
            l = esc(&label)
        );
        match b.value {
            Some(v) => {
                let w = ((v as f64 / max as f64) * BAR_W as f64).round() as u32;
                let _ = write!(
                    s,
                    r##"<rect x="{LABEL_W}" y="{y}" width="{w}" height="{h}" fill="#0b4f9c"/><text x="{x}" y="{mid}" font-size="12" fill="#1f2937">{v}</text>"##,
                    h = ROW - 6,
                    x = LABEL_W + w + 4,
                    v = esc(&format(v))
                );
            }
            None => {
                let _ = write!(
                    s,
                    r##"<rect x="{LABEL_W}" y="{y}" width="{BAR_W}" height="{h}" fill="none" stroke="#9ca3af" stroke-dasharray="4 3"/><text x="{x}" y="{mid}" font-size="12" fill="#4b5563">{t}</text>"##,
                    h = ROW - 6,
                    x = LABEL_W + 6,
                    t = esc(hidden)
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_escape_their_text() {
        let bars = vec![
            Bar { label: "Migración".into(), value: Some(40) },
            Bar { label: "<script>".into(), value: Some(10) },
            Bar { label: "Laboral".into(), value: None },
        ];
        let svg = bars_svg("Casos & más", &bars, "suprimido", &|v| v.to_string());
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title>Casos &amp; más</title>"));
        assert!(svg.contains(r##"width="320" height="16" fill="#0b4f9c""##), "{svg}");
        assert!(svg.contains(r#"width="80" height="16""#), "a quarter of the widest: {svg}");
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"));
        assert!(svg.contains("suprimido") && svg.contains("stroke-dasharray"));
        assert!(!svg.contains("style="), "no inline style (CSP)");
    }
}
