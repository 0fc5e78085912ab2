//! The GRCM report as PDF (issue 7): A4 pages laid out here, with the standard Helvetica
//! fonts (nothing embedded, WinAnsi text) and vector bar charts. First the state, period and
//! date computed, the art. 36 delays and the method; then each table (split into several
//! blocks of columns when it is too wide for the page, the row labels repeated in each) with
//! its row totals as a bar chart drawn like `enlace_stats::chart::bars_svg`.

use enlace_app::stats::{NodeStats, StatTable};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::document::{Block, Document, TextTable};
use super::helvetica::{Font, encode, width, wrap};
use crate::ui::i18n::{Locale, Tr};
use crate::ui::stats::value_label;

/// A4, in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
/// Left and right margins.
const MARGIN: f32 = 50.0;
/// The top of the text area, and its bottom (the footer goes below).
const TOP: f32 = PAGE_H - 56.0;
const BOTTOM: f32 = 64.0;
const USABLE_W: f32 = PAGE_W - 2.0 * MARGIN;

/// Table text.
const CELL_SIZE: f32 = 8.0;
const CELL_LEADING: f32 = 9.6;
const CELL_PAD: f32 = 3.0;
/// The row-label column takes at most this share of the width.
const LABEL_SHARE: f32 = 0.34;
/// A data column is at least this wide, and its header wraps past this width.
const COL_MIN: f32 = 34.0;
const COL_HEADER_MAX: f32 = 72.0;

/// Chart geometry (points), close to `bars_svg`'s proportions.
const BAR_ROW: f32 = 15.0;
const BAR_H: f32 = 10.0;
const BAR_LABEL_MAX: f32 = 160.0;
const BAR_VALUE_W: f32 = 60.0;

/// Colours of the SVG charts and pages.
const INK: (f32, f32, f32) = (0.122, 0.161, 0.216); // #1f2937
const MUTED: (f32, f32, f32) = (0.294, 0.333, 0.388); // #4b5563
const BAR: (f32, f32, f32) = (0.043, 0.310, 0.612); // #0b4f9c
const OUTLINE: (f32, f32, f32) = (0.612, 0.639, 0.686); // #9ca3af
const RULE: (f32, f32, f32) = (0.820, 0.835, 0.859); // #d1d5db
const HEAD_BG: (f32, f32, f32) = (0.953, 0.957, 0.965); // #f3f4f6

/// The report as a PDF document, in the reader's language.
pub fn grcm_pdf(stats: &NodeStats, locale: Locale) -> Result<Vec<u8>, String> {
    grcm_pdf_of(std::slice::from_ref(stats), locale)
}

/// The report of several states (the hub's regional report): one section per state, each
/// starting on a new page, as [`grcm_pdf`] writes it.
pub fn grcm_pdf_of(all: &[NodeStats], locale: Locale) -> Result<Vec<u8>, String> {
    let tr = Tr::new(locale);
    let doc = lay_out(all, tr);
    let states = match all {
        [one] => tr.country(&one.state),
        _ => all.iter().map(|s| s.state.as_str()).collect::<Vec<_>>().join(", "),
    };
    let period = all.first().map(|s| s.period.label.as_str()).unwrap_or_default();
    let footer = format!("{} · {states} · {period}", tr.t("report-title"));
    let title = format!("{} — {states} — {period}", tr.t("report-title"));
    doc.finish(&footer, &title, locale.code())
}

/// The pages of the report, before the footers.
fn lay_out(all: &[NodeStats], tr: Tr) -> Doc {
    let mut doc = Doc::new();
    for (s, stats) in all.iter().enumerate() {
        if s > 0 {
            doc.new_page();
        }
        front(&mut doc, tr, stats);
        for (i, t) in stats.tables.iter().enumerate() {
            if i == 0 {
                doc.new_page();
            } else {
                // A table does not start at the foot of a page.
                doc.gap(18.0);
                doc.ensure(140.0);
            }
            table(&mut doc, tr, t);
            chart(&mut doc, tr, t);
        }
    }
    doc
}

/// The first section: title, state, period, when computed; art. 36 delays; method and notes.
fn front(doc: &mut Doc, tr: Tr, stats: &NodeStats) {
    doc.paragraph(&tr.t("report-title"), Font::Bold, 18.0, 22.0, INK);
    doc.gap(8.0);
    let state = format!("{} ({})", tr.country(&stats.state), stats.state.as_str());
    let facts = [
        (tr.t("report-col-state"), state),
        (tr.t("report-col-period"), stats.period.label.clone()),
        (tr.t("report-computed"), tr.datetime(&stats.computed_at)),
    ];
    doc.facts(&facts);
    doc.gap(14.0);
    doc.paragraph(&tr.t("stats-art36"), Font::Bold, 12.0, 15.0, INK);
    doc.gap(4.0);
    let a = &stats.art36;
    let or_suppressed = |v: Option<String>| v.unwrap_or_else(|| tr.t("report-suppressed"));
    let delays = [
        (tr.t("report-art36-detentions"), or_suppressed(a.detentions.map(|n| tr.num(n as i64)))),
        (tr.t("report-art36-median-hours"), or_suppressed(a.median_hours.map(|h| format!("{h:.1}")))),
        (tr.t("report-art36-within-24h"), or_suppressed(a.within_24h.map(|s| format!("{:.0} %", s * 100.0)))),
    ];
    doc.facts(&delays);
    doc.gap(14.0);
    doc.paragraph(&tr.t("report-method-title"), Font::Bold, 12.0, 15.0, INK);
    doc.gap(4.0);
    doc.paragraph(&tr.t("stats-method"), Font::Regular, 10.0, 13.0, INK);
    doc.gap(6.0);
    doc.paragraph(&tr.t("stats-note-published"), Font::Regular, 10.0, 13.0, INK);
}

/// A table's title, as on the page and in the workbook.
fn caption(tr: Tr, t: &StatTable) -> String {
    format!(
        "{} — {} × {}",
        tr.label("measure", &t.measure),
        tr.label("dim", &t.row_dim),
        tr.label("dim", &t.col_dim)
    )
}

/// A cell's text: the count in the reader's digits, or "—" where suppressed.
fn cell_text(tr: Tr, v: Option<u64>) -> String {
    v.map_or_else(|| "—".to_string(), |n| tr.num(n as i64))
}

/// One table: a block of columns at a time (all of them when they fit), the header row
/// repeated after a page break, then the note on suppressed cells.
fn table(doc: &mut Doc, tr: Tr, t: &StatTable) {
    let total = tr.t("stats-total");
    let nr = t.rows.len();
    let nc = t.cols.len();
    let mut heads: Vec<String> = t.cols.iter().map(|k| value_label(tr, &t.col_dim, k)).collect();
    heads.push(total.clone());
    let mut labels: Vec<String> = t.rows.iter().map(|k| value_label(tr, &t.row_dim, k)).collect();
    labels.push(total);
    let corner = tr.label("dim", &t.row_dim);
    let cells: Vec<Vec<String>> = (0..=nr)
        .map(|r| (0..=nc).map(|c| cell_text(tr, t.grid[r].get(c).copied().flatten())).collect())
        .collect();

    // The label column: as wide as its longest label, up to a share of the page.
    let label_w = labels
        .iter()
        .chain(std::iter::once(&corner))
        .map(|l| width(l, Font::Bold, CELL_SIZE))
        .fold(0.0, f32::max)
        .min(USABLE_W * LABEL_SHARE - 2.0 * CELL_PAD)
        + 2.0 * CELL_PAD;
    // Each data column: its widest figure or header word, the header kept on one line when
    // it is short; never wider than what is left beside the labels.
    let col_w: Vec<f32> = (0..=nc)
        .map(|c| {
            let figures = cells.iter().map(|row| width(&row[c], Font::Bold, CELL_SIZE)).fold(0.0, f32::max);
            let word =
                heads[c].split_whitespace().map(|w| width(w, Font::Bold, CELL_SIZE)).fold(0.0, f32::max);
            let whole = width(&heads[c], Font::Bold, CELL_SIZE).min(COL_HEADER_MAX);
            (figures.max(word).max(whole) + 2.0 * CELL_PAD).max(COL_MIN).min(USABLE_W - label_w)
        })
        .collect();
    // Blocks of columns that fit beside the labels.
    let mut blocks: Vec<Vec<usize>> = Vec::new();
    let mut used = 0.0;
    for (c, w) in col_w.iter().enumerate() {
        match blocks.last_mut() {
            Some(b) if used + w <= USABLE_W - label_w => b.push(c),
            _ => {
                blocks.push(vec![c]);
                used = 0.0;
            }
        }
        used += w;
    }
    let title = caption(tr, t);
    let n = blocks.len();
    for (i, cols) in blocks.iter().enumerate() {
        let title = if n > 1 { format!("{title} ({}/{n})", i + 1) } else { title.clone() };
        doc.ensure(60.0);
        doc.paragraph(&title, Font::Bold, 11.0, 14.0, INK);
        doc.gap(4.0);
        let widths: Vec<f32> = cols.iter().map(|c| col_w[*c]).collect();
        let header: Vec<String> = cols.iter().map(|c| heads[*c].clone()).collect();
        let total_at = cols.iter().position(|c| *c == nc);
        let grid = Grid { label_w, widths: &widths, total_at };
        grid.header(doc, &corner, &header);
        for (r, label) in labels.iter().enumerate() {
            let figures: Vec<&str> = cols.iter().map(|c| cells[r][*c].as_str()).collect();
            if grid.row(doc, label, &figures, r == nr) {
                grid.header(doc, &corner, &header);
                grid.row(doc, label, &figures, r == nr);
            }
        }
        doc.gap(8.0);
    }
    doc.paragraph(&tr.t("stats-note-published"), Font::Regular, 8.0, 10.0, MUTED);
}

/// The columns of one block of a table.
struct Grid<'a> {
    label_w: f32,
    widths: &'a [f32],
    /// Where the totals column is in this block, if it is in it (set in bold).
    total_at: Option<usize>,
}

impl Grid<'_> {
    /// The header row: the rows' dimension, then the column labels (wrapped), on grey.
    fn header(&self, doc: &mut Doc, corner: &str, heads: &[String]) {
        let corner_lines = wrap(corner, Font::Bold, CELL_SIZE, self.label_w - 2.0 * CELL_PAD);
        let head_lines: Vec<Vec<String>> = heads
            .iter()
            .zip(self.widths)
            .map(|(h, w)| wrap(h, Font::Bold, CELL_SIZE, w - 2.0 * CELL_PAD))
            .collect();
        let lines = head_lines.iter().map(Vec::len).chain([corner_lines.len()]).max().unwrap_or(1);
        let h = lines as f32 * CELL_LEADING + 2.0 * CELL_PAD;
        doc.ensure(h + CELL_LEADING + 2.0 * CELL_PAD);
        let top = doc.y;
        let full: f32 = self.label_w + self.widths.iter().sum::<f32>();
        doc.fill_rect(MARGIN, top - h, full, h, HEAD_BG);
        doc.lines(MARGIN + CELL_PAD, top - CELL_PAD, &corner_lines, Font::Bold, Align::Left);
        let mut x = MARGIN + self.label_w;
        for (ls, w) in head_lines.iter().zip(self.widths) {
            doc.lines(x + w - CELL_PAD, top - CELL_PAD, ls, Font::Bold, Align::Right);
            x += w;
        }
        doc.hline(MARGIN, top - h, full, 0.8, INK);
        doc.y = top - h;
    }

    /// One row; `true` (and nothing drawn) when it had to go to a new page, where the header
    /// is to be repeated first.
    fn row(&self, doc: &mut Doc, label: &str, figures: &[&str], total: bool) -> bool {
        let font = if total { Font::Bold } else { Font::Regular };
        let label_lines = wrap(label, Font::Bold, CELL_SIZE, self.label_w - 2.0 * CELL_PAD);
        let h = label_lines.len() as f32 * CELL_LEADING + 2.0 * CELL_PAD;
        if doc.ensure(h) {
            return true;
        }
        let top = doc.y;
        let full: f32 = self.label_w + self.widths.iter().sum::<f32>();
        if total {
            doc.hline(MARGIN, top, full, 0.8, INK);
        }
        doc.lines(MARGIN + CELL_PAD, top - CELL_PAD, &label_lines, Font::Bold, Align::Left);
        let mut x = MARGIN + self.label_w;
        for (i, (f, w)) in figures.iter().zip(self.widths).enumerate() {
            // The totals column in bold, like the totals row.
            let font = if self.total_at == Some(i) { Font::Bold } else { font };
            doc.lines(x + w - CELL_PAD, top - CELL_PAD, &[f.to_string()], font, Align::Right);
            x += w;
        }
        doc.hline(MARGIN, top - h, full, 0.4, RULE);
        doc.y = top - h;
        false
    }
}

/// The row totals as horizontal bars, like the page's SVG: suppressed totals as a dashed
/// outline with the word for it.
fn chart(doc: &mut Doc, tr: Tr, t: &StatTable) {
    let nc = t.cols.len();
    let bars: Vec<(String, Option<u64>)> = (0..t.rows.len())
        .map(|r| (value_label(tr, &t.row_dim, &t.rows[r]), t.grid[r].get(nc).copied().flatten()))
        .collect();
    if bars.is_empty() {
        return;
    }
    let hidden = tr.t("report-suppressed");
    let max = bars.iter().filter_map(|b| b.1).max().unwrap_or(0).max(1);
    let label_w =
        bars.iter().map(|b| width(&b.0, Font::Regular, CELL_SIZE)).fold(0.0, f32::max).min(BAR_LABEL_MAX)
            + 6.0;
    let bar_w = USABLE_W - label_w - BAR_VALUE_W;
    doc.gap(10.0);
    doc.ensure(14.0 + 2.0 * BAR_ROW);
    let title = format!("{} — {}", tr.label("measure", &t.measure), tr.label("dim", &t.row_dim));
    doc.paragraph(&title, Font::Bold, 9.0, 12.0, INK);
    doc.gap(4.0);
    for (label, value) in &bars {
        let lines = wrap(label, Font::Regular, CELL_SIZE, label_w - 6.0);
        let h = (lines.len() as f32 * CELL_LEADING + 4.0).max(BAR_ROW);
        doc.ensure(h);
        let top = doc.y;
        let bar_top = top - (h - BAR_H) / 2.0;
        let text_top = top - (h - lines.len() as f32 * CELL_LEADING) / 2.0;
        doc.lines(MARGIN + label_w - 6.0, text_top, &lines, Font::Regular, Align::Right);
        let x0 = MARGIN + label_w;
        let base = bar_top - BAR_H / 2.0 - CELL_SIZE * 0.35;
        match value {
            Some(v) => {
                let w = (*v as f32 / max as f32) * bar_w;
                if w > 0.0 {
                    doc.fill_rect(x0, bar_top - BAR_H, w, BAR_H, BAR);
                }
                doc.text_at(x0 + w + 4.0, base, &tr.num(*v as i64), Font::Regular, CELL_SIZE, INK);
            }
            None => {
                doc.dashed_rect(x0, bar_top - BAR_H, bar_w, BAR_H, OUTLINE);
                doc.text_at(x0 + 6.0, base, &hidden, Font::Regular, CELL_SIZE, MUTED);
            }
        }
        doc.y = top - h;
    }
}

/// A [`Document`] on the report's pages: its title and front blocks, then each section
/// (on a page of its own when the document asks for it).
pub(super) fn document_pdf(d: &Document) -> Result<Vec<u8>, String> {
    lay_out_document(d).finish(&d.footer, &d.title, &d.lang)
}

fn lay_out_document(d: &Document) -> Doc {
    let mut doc = Doc::new();
    doc.paragraph(&d.title, Font::Bold, 18.0, 22.0, INK);
    doc.gap(8.0);
    blocks(&mut doc, &d.front);
    for s in &d.sections {
        if d.page_per_section {
            doc.new_page();
        } else {
            doc.gap(10.0);
            doc.ensure(80.0);
        }
        doc.paragraph(&s.heading, Font::Bold, 14.0, 18.0, INK);
        doc.gap(6.0);
        blocks(&mut doc, &s.blocks);
    }
    doc
}

fn blocks(doc: &mut Doc, blocks: &[Block]) {
    for b in blocks {
        match b {
            Block::Facts { title, lines } => {
                if !title.is_empty() {
                    doc.ensure(40.0);
                    doc.paragraph(title, Font::Bold, 11.0, 14.0, INK);
                    doc.gap(3.0);
                }
                doc.facts(lines);
            }
            Block::Text(t) => doc.paragraph(t, Font::Regular, 10.0, 13.0, INK),
            Block::Table(t) => text_table(doc, t),
        }
        doc.gap(10.0);
    }
}

/// A text column is never laid out wider than this, and a word wider than
/// `TEXT_WORD_MAX` may be split to keep the other columns readable.
const TEXT_COL_MAX: f32 = 220.0;
const TEXT_WORD_MAX: f32 = 90.0;
/// A column this narrow (padding included) keeps its width when the table must shrink.
const TEXT_COL_SHORT: f32 = 72.0;

/// The columns' widths: each as wide as its longest cell when the table fits the page;
/// otherwise each keeps its longest word and the rest of the width is shared out in
/// proportion to what each column would have liked.
fn text_widths(t: &TextTable) -> Vec<f32> {
    let n = t.columns.len();
    let words = |s: &str, font: Font| {
        s.split_whitespace().map(|w| width(w, font, CELL_SIZE)).fold(0.0, f32::max).min(TEXT_WORD_MAX)
    };
    let mut natural: Vec<f32> =
        t.columns.iter().map(|h| width(h, Font::Bold, CELL_SIZE).min(TEXT_COL_MAX)).collect();
    let mut floor: Vec<f32> = t.columns.iter().map(|h| words(h, Font::Bold)).collect();
    for row in &t.rows {
        for (c, v) in row.iter().enumerate().take(n) {
            natural[c] = natural[c].max(width(v, Font::Regular, CELL_SIZE).min(TEXT_COL_MAX));
            floor[c] = floor[c].max(words(v, Font::Regular));
        }
    }
    // A point more than the text, so that rounding never wraps a cell that fits.
    let pad = 2.0 * CELL_PAD + 1.0;
    let natural: Vec<f32> = natural.iter().map(|w| w + pad).collect();
    // A short column (a date, a code, a status) is never wrapped; long ones give way.
    let floor: Vec<f32> = floor
        .iter()
        .zip(&natural)
        .map(|(f, w)| if *w <= TEXT_COL_SHORT { *w } else { (f + pad).min(*w) })
        .collect();
    let (sum_natural, sum_floor) = (natural.iter().sum::<f32>(), floor.iter().sum::<f32>());
    if sum_natural <= USABLE_W {
        natural
    } else if sum_floor >= USABLE_W {
        floor.iter().map(|f| f * USABLE_W / sum_floor).collect()
    } else {
        let share = (USABLE_W - sum_floor) / (sum_natural - sum_floor);
        floor.iter().zip(&natural).map(|(f, w)| f + (w - f) * share).collect()
    }
}

/// A table of text: its caption, a grey header row (repeated on each new page), then the
/// rows, wrapped in their columns; a row too long for what is left of a page goes on over
/// the break. An empty table says so in a line.
fn text_table(doc: &mut Doc, t: &TextTable) {
    doc.ensure(60.0);
    if !t.caption.is_empty() {
        doc.paragraph(&t.caption, Font::Bold, 11.0, 14.0, INK);
        doc.gap(4.0);
    }
    if t.rows.is_empty() {
        doc.paragraph(&t.empty, Font::Regular, 9.0, 12.0, MUTED);
        return;
    }
    let widths = text_widths(t);
    let full: f32 = widths.iter().sum();
    let heads: Vec<Vec<String>> = t
        .columns
        .iter()
        .zip(&widths)
        .map(|(h, w)| wrap(h, Font::Bold, CELL_SIZE, w - 2.0 * CELL_PAD))
        .collect();
    let head_h = heads.iter().map(Vec::len).max().unwrap_or(1) as f32 * CELL_LEADING + 2.0 * CELL_PAD;
    let header = |doc: &mut Doc| {
        doc.ensure(head_h + CELL_LEADING + 2.0 * CELL_PAD);
        let top = doc.y;
        doc.fill_rect(MARGIN, top - head_h, full, head_h, HEAD_BG);
        let mut x = MARGIN;
        for (ls, w) in heads.iter().zip(&widths) {
            doc.lines(x + CELL_PAD, top - CELL_PAD, ls, Font::Bold, Align::Left);
            x += w;
        }
        doc.hline(MARGIN, top - head_h, full, 0.8, INK);
        doc.y = top - head_h;
    };
    header(doc);
    for row in &t.rows {
        let cells: Vec<Vec<String>> = row
            .iter()
            .zip(&widths)
            .map(|(v, w)| wrap(v, Font::Regular, CELL_SIZE, w - 2.0 * CELL_PAD))
            .collect();
        let n = cells.iter().map(Vec::len).max().unwrap_or(1);
        let mut from = 0;
        while from < n {
            let room = ((doc.y - BOTTOM - 2.0 * CELL_PAD) / CELL_LEADING).floor().max(0.0) as usize;
            // A row starts where its first lines (or all of a short one) fit.
            if room < (n - from).min(3) {
                doc.new_page();
                header(doc);
                continue;
            }
            let take = (n - from).min(room);
            let top = doc.y;
            let mut x = MARGIN;
            for (ls, w) in cells.iter().zip(&widths) {
                let part: Vec<String> = ls.iter().skip(from).take(take).cloned().collect();
                doc.lines(x + CELL_PAD, top - CELL_PAD, &part, Font::Regular, Align::Left);
                x += w;
            }
            let h = take as f32 * CELL_LEADING + 2.0 * CELL_PAD;
            doc.hline(MARGIN, top - h, full, 0.4, RULE);
            doc.y = top - h;
            from += take;
        }
    }
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// The pages being laid out: a content stream per page, and the cursor (the top of the
/// space left on the last page).
struct Doc {
    pages: Vec<Content>,
    y: f32,
    /// The rightmost point any text or shape reached (checked: nothing past the margin).
    max_x: f32,
    /// Every text drawn, for the tests to read (the streams hold it as WinAnsi hex).
    #[cfg(test)]
    texts: Vec<String>,
    /// Every text drawn with its page (from 0) and baseline, for the layout tests.
    #[cfg(test)]
    placed: Vec<(usize, f32, String)>,
}

impl Doc {
    fn new() -> Doc {
        let mut d = Doc {
            pages: Vec::new(),
            y: TOP,
            max_x: 0.0,
            #[cfg(test)]
            texts: Vec::new(),
            #[cfg(test)]
            placed: Vec::new(),
        };
        d.new_page();
        d
    }

    fn page(&mut self) -> &mut Content {
        if self.pages.is_empty() {
            self.pages.push(Content::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        // A page with nothing on it yet is reused (a table following the front matter).
        if self.pages.is_empty() || self.y < TOP {
            self.pages.push(Content::new());
        }
        self.y = TOP;
    }

    /// Makes room for `h` points, on a new page if needed; `true` when a page was started.
    fn ensure(&mut self, h: f32) -> bool {
        if self.y - h < BOTTOM && self.y < TOP {
            self.new_page();
            return true;
        }
        false
    }

    fn gap(&mut self, h: f32) {
        if self.y < TOP {
            self.y -= h;
        }
    }

    /// Text at a baseline.
    fn text_at(&mut self, x: f32, baseline: f32, s: &str, font: Font, size: f32, color: (f32, f32, f32)) {
        self.max_x = self.max_x.max(x + width(s, font, size));
        #[cfg(test)]
        {
            self.texts.push(s.to_string());
            self.placed.push((self.pages.len().saturating_sub(1), baseline, s.to_string()));
        }
        let name = font_name(font);
        let c = self.page();
        c.set_fill_rgb(color.0, color.1, color.2);
        c.begin_text();
        c.set_font(name, size);
        c.next_line(x, baseline);
        c.show(Str(&encode(s)));
        c.end_text();
    }

    /// Lines of table text (CELL_SIZE) from `top` down, left-aligned at `x` or right-aligned
    /// to it.
    fn lines(&mut self, x: f32, top: f32, lines: &[String], font: Font, align: Align) {
        for (i, l) in lines.iter().enumerate() {
            let baseline = top - CELL_SIZE - i as f32 * CELL_LEADING + 1.0;
            let at = match align {
                Align::Left => x,
                Align::Right => x - width(l, font, CELL_SIZE),
            };
            self.text_at(at, baseline, l, font, CELL_SIZE, INK);
        }
    }

    /// A wrapped paragraph across the full width, breaking pages between lines.
    fn paragraph(&mut self, s: &str, font: Font, size: f32, leading: f32, color: (f32, f32, f32)) {
        for line in wrap(s, font, size, USABLE_W) {
            self.ensure(leading);
            let baseline = self.y - size;
            self.text_at(MARGIN, baseline, &line, font, size, color);
            self.y -= leading;
        }
    }

    /// Label: value lines, the labels in bold in a column of their own; a long value goes on
    /// over the page break.
    fn facts(&mut self, facts: &[(String, String)]) {
        const SIZE: f32 = 10.0;
        const LEADING: f32 = 13.0;
        let label_w =
            facts.iter().map(|(k, _)| width(k, Font::Bold, SIZE)).fold(0.0, f32::max).min(USABLE_W / 2.0)
                + 10.0;
        for (k, v) in facts {
            let keys = wrap(k, Font::Bold, SIZE, label_w - 10.0);
            let values = wrap(v, Font::Regular, SIZE, USABLE_W - label_w);
            // A fact starts on the page where at least its first lines fit.
            self.ensure(keys.len().max(values.len()).min(3) as f32 * LEADING);
            for i in 0..keys.len().max(values.len()) {
                self.ensure(LEADING);
                if let Some(l) = keys.get(i) {
                    self.text_at(MARGIN, self.y - SIZE, l, Font::Bold, SIZE, INK);
                }
                if let Some(l) = values.get(i) {
                    self.text_at(MARGIN + label_w, self.y - SIZE, l, Font::Regular, SIZE, INK);
                }
                self.y -= LEADING;
            }
        }
    }

    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: (f32, f32, f32)) {
        self.max_x = self.max_x.max(x + w);
        let c = self.page();
        c.set_fill_rgb(color.0, color.1, color.2);
        c.rect(x, y, w, h);
        c.fill_nonzero();
    }

    fn dashed_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: (f32, f32, f32)) {
        self.max_x = self.max_x.max(x + w);
        let c = self.page();
        c.save_state();
        c.set_stroke_rgb(color.0, color.1, color.2);
        c.set_line_width(0.75);
        c.set_dash_pattern([3.0, 2.25], 0.0);
        c.rect(x, y, w, h);
        c.stroke();
        c.restore_state();
    }

    fn hline(&mut self, x: f32, y: f32, w: f32, thickness: f32, color: (f32, f32, f32)) {
        self.max_x = self.max_x.max(x + w);
        let c = self.page();
        c.set_stroke_rgb(color.0, color.1, color.2);
        c.set_line_width(thickness);
        c.move_to(x, y);
        c.line_to(x + w, y);
        c.stroke();
    }

    /// Writes the document: page numbers and the footer on every page, the two fonts, the
    /// page streams (deflated), the metadata.
    fn finish(mut self, footer: &str, title: &str, lang: &str) -> Result<Vec<u8>, String> {
        if self.max_x > PAGE_W - MARGIN + 0.5 {
            return Err(format!("the report's layout overflows the page ({:.0} pt wide)", self.max_x));
        }
        let count = self.pages.len();
        let pages = std::mem::take(&mut self.pages);
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let regular = Ref::new(3);
        let bold = Ref::new(4);
        let info = Ref::new(5);
        let first = 6;
        let page_ref = |i: usize| Ref::new((first + 2 * i) as i32);
        let content_ref = |i: usize| Ref::new((first + 2 * i + 1) as i32);
        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(tree).lang(TextStr(lang));
        pdf.pages(tree).kids((0..count).map(page_ref)).count(count as i32);
        pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.document_info(info).title(TextStr(title)).creator(TextStr("Enlace"));
        for (i, mut content) in pages.into_iter().enumerate() {
            // The footer: what this is on the left, the page number on the right.
            let number = format!("{} / {count}", i + 1);
            let y = BOTTOM - 30.0;
            for (x, s) in
                [(MARGIN, footer.to_string()), (PAGE_W - MARGIN - width(&number, Font::Regular, 8.0), number)]
            {
                content.set_fill_rgb(MUTED.0, MUTED.1, MUTED.2);
                content.begin_text();
                content.set_font(font_name(Font::Regular), 8.0);
                content.next_line(x, y);
                content.show(Str(&encode(&s)));
                content.end_text();
            }
            let raw = content.finish();
            let packed = deflate(&raw).map_err(|e| format!("cannot compress a page of the report: {e}"))?;
            let mut page = pdf.page(page_ref(i));
            page.parent(tree).media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H)).contents(content_ref(i));
            page.resources()
                .fonts()
                .pair(font_name(Font::Regular), regular)
                .pair(font_name(Font::Bold), bold);
            page.finish();
            pdf.stream(content_ref(i), &packed).filter(Filter::FlateDecode);
        }
        Ok(pdf.finish())
    }
}

fn font_name(font: Font) -> Name<'static> {
    match font {
        Font::Regular => Name(b"F1"),
        Font::Bold => Name(b"F2"),
    }
}

/// zlib-wrapped deflate, as `FlateDecode` reads it.
fn deflate(data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(data)?;
    z.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use enlace_app::stats::{Art36Delays, Mark, Period};
    use enlace_domain::country::CountryCode;

    /// A table of `rows` × `cols` with the margins, every count `v` (`None`: suppressed).
    fn table_of(
        id: &str,
        row_dim: &str,
        rows: Vec<String>,
        col_dim: &str,
        cols: Vec<String>,
        v: Option<u64>,
    ) -> StatTable {
        let (nr, nc) = (rows.len(), cols.len());
        StatTable {
            id: id.into(),
            measure: "opened".into(),
            row_dim: row_dim.into(),
            col_dim: col_dim.into(),
            rows,
            cols,
            grid: vec![vec![v; nc + 1]; nr + 1],
            marks: vec![vec![Mark::Shown; nc + 1]; nr + 1],
        }
    }

    fn stats(tables: Vec<StatTable>) -> NodeStats {
        let at = chrono::Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
        NodeStats {
            state: CountryCode::parse("HN").unwrap(),
            period: Period::parse("2026-H1", at).unwrap(),
            suppressed: true,
            threshold: 5,
            tables,
            art36: Art36Delays { detentions: None, median_hours: None, within_24h: None },
            computed_at: at,
        }
    }

    /// Every page's content stream, uncompressed, as text (WinAnsi bytes read as Latin-1).
    fn streams(doc: Doc) -> String {
        doc.pages
            .into_iter()
            .flat_map(|c| c.finish().iter().map(|b| *b as char).collect::<Vec<_>>())
            .collect()
    }

    #[test]
    fn a_wide_table_is_split_into_blocks_that_fit_the_page() {
        let posts: Vec<String> =
            (0..40).map(|i| format!("HN-CONSULADO-GENERAL-EN-TAPACHULA-{i:02}")).collect();
        let rows = vec!["HN".to_string(), "GT".to_string()];
        let t = table_of("opened_nationality_post", "nationality", rows, "post", posts, Some(123_456));
        let doc = lay_out(&[stats(vec![t])], Tr::new(Locale::En));
        assert!(doc.max_x <= PAGE_W - MARGIN + 0.01, "drawn up to {} pt", doc.max_x);
        // Every column is somewhere (its header may be wrapped: the words are whole), and the
        // title says which block is which.
        let text = doc.texts.join(" ");
        for i in 0..40 {
            assert!(text.contains(&format!("TAPACHULA-{i:02}")), "column {i} missing: {text}");
        }
        let blocks =
            doc.texts.iter().filter(|t| t.starts_with("Cases opened — Nationality × Post (")).count();
        assert!(blocks > 1, "{:?}", doc.texts);
        assert!(doc.texts.iter().any(|t| t.ends_with(&format!("(1/{blocks})"))), "{:?}", doc.texts);
        assert!(text.contains("Honduras") && text.contains("123,456"));
    }

    #[test]
    fn suppressed_cells_show_a_dash_and_the_chart_a_dashed_outline() {
        let t = table_of(
            "opened_nationality_category",
            "nationality",
            vec!["HN".into()],
            "category",
            vec!["migration".into(), "labour".into()],
            None,
        );
        let pdf = grcm_pdf(&stats(vec![t.clone()]), Locale::Es).expect("pdf");
        assert!(pdf.starts_with(b"%PDF-"));
        let doc = lay_out(&[stats(vec![t])], Tr::new(Locale::Es));
        assert_eq!(doc.texts.iter().filter(|t| *t == "—").count(), 6, "2 rows × 3 columns: {:?}", doc.texts);
        assert!(doc.texts.iter().any(|t| t == "suprimido"), "the word in the chart's dashed bar");
        assert!(streams(doc).contains("] 0 d"), "a dash pattern for the suppressed bar");
    }

    #[test]
    fn an_empty_report_is_still_a_document() {
        let pdf = grcm_pdf(&stats(Vec::new()), Locale::Fr).expect("pdf");
        assert!(pdf.starts_with(b"%PDF-"));
        let regional = grcm_pdf_of(&[stats(Vec::new()), stats(Vec::new())], Locale::En).expect("pdf");
        assert!(regional.len() > pdf.len() / 2);
    }

    fn text_doc(columns: &[&str], rows: Vec<Vec<String>>) -> Document {
        use super::super::document::Section;
        Document {
            title: "Case list".into(),
            footer: "Case list".into(),
            lang: "en".into(),
            front: vec![Block::Facts {
                title: String::new(),
                lines: vec![("Generated".into(), "today".into())],
            }],
            sections: vec![Section {
                heading: "Cases".into(),
                sheet: "Cases".into(),
                blocks: vec![Block::Table(TextTable {
                    caption: "Results".into(),
                    columns: columns.iter().map(|c| c.to_string()).collect(),
                    rows,
                    empty: "No case matches.".into(),
                })],
            }],
            page_per_section: false,
        }
    }

    /// Nothing drawn below the bottom margin or past the right one.
    fn assert_inside(doc: &Doc) {
        assert!(doc.max_x <= PAGE_W - MARGIN + 0.5, "past the right margin: {}", doc.max_x);
        for (page, baseline, text) in &doc.placed {
            assert!(
                *baseline >= BOTTOM - CELL_LEADING,
                "page {page}: {text:?} at {baseline} is below the margin"
            );
        }
    }

    #[test]
    fn a_long_cell_goes_on_over_pages_and_nothing_is_lost() {
        let words: Vec<String> = (0..2500).map(|i| format!("palabra{i}")).collect();
        let doc = lay_out_document(&text_doc(
            &["Number", "Person", "Narrative"],
            vec![
                vec!["HN-2026-000001".into(), "María José Gutiérrez".into(), words.join(" ")],
                vec!["HN-2026-000002".into(), "Pedro Sánchez".into(), "short".into()],
            ],
        ));
        assert_inside(&doc);
        assert!(doc.pages.len() >= 3, "{} pages", doc.pages.len());
        // Every word, in order, once; and the header on every page the table runs over.
        let drawn: Vec<&str> = doc
            .placed
            .iter()
            .flat_map(|(_, _, t)| t.split_whitespace())
            .filter(|w| w.starts_with("palabra"))
            .collect();
        assert_eq!(drawn, words.iter().map(String::as_str).collect::<Vec<_>>());
        for page in 0..doc.pages.len() {
            assert!(
                doc.placed.iter().any(|(p, _, t)| *p == page && t == "Narrative"),
                "no header on page {page}"
            );
        }
        // The second row comes after the long one.
        let pos =
            |s: &str| doc.placed.iter().position(|(_, _, t)| t.split_whitespace().any(|w| w == s)).unwrap();
        assert!(pos("HN-2026-000002") > pos("palabra2499"));
    }

    #[test]
    fn a_long_table_repeats_its_header_and_keeps_its_rows_in_order() {
        let rows: Vec<Vec<String>> =
            (0..400).map(|i| vec![format!("N{i:04}"), format!("Persona {i}"), "Migratorio".into()]).collect();
        let doc = lay_out_document(&text_doc(&["Number", "Person", "Type"], rows));
        assert_inside(&doc);
        let numbers: Vec<&str> = doc
            .placed
            .iter()
            .map(|(_, _, t)| t.as_str())
            .filter(|t| t.starts_with('N') && t.len() == 5)
            .collect();
        assert_eq!(numbers.len(), 400, "{numbers:?}");
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "rows out of order");
        let headers = doc.placed.iter().filter(|(_, _, t)| t == "Number").count();
        assert_eq!(headers, doc.pages.len(), "one header per page");
        assert!(doc.pages.len() > 3);
    }

    #[test]
    fn an_empty_table_says_so_and_a_section_can_start_a_page() {
        let mut d = text_doc(&["Number"], Vec::new());
        let doc = lay_out_document(&d);
        assert!(doc.texts.iter().any(|t| t == "No case matches."));
        assert!(!doc.texts.iter().any(|t| t == "Number"), "no header over no rows");
        assert_eq!(doc.pages.len(), 1);
        d.page_per_section = true;
        assert_eq!(lay_out_document(&d).pages.len(), 2);
        assert!(d.pdf().unwrap().starts_with(b"%PDF-"));
    }
}
