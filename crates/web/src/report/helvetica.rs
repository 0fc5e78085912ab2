//! The two standard PDF fonts the report uses, Helvetica and Helvetica-Bold, with
//! WinAnsiEncoding: text is written as WinAnsi bytes (a character outside it becomes `?`), and
//! measured with the fonts' advance widths (Adobe's AFM metrics, in thousandths of the font
//! size) so that columns can be sized, numbers right-aligned and long text wrapped.

/// Which of the two fonts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    Regular,
    Bold,
}

/// Advance widths of WinAnsi codes 0x20..=0xFF in Helvetica (AFM `WX`).
#[rustfmt::skip]
const REGULAR: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 584, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// The same for Helvetica-Bold.
#[rustfmt::skip]
const BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 584, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

/// The characters WinAnsi places in 0x80..=0x9F (where Latin-1 has control codes).
const HIGH: [(char, u8); 27] = [
    ('\u{20ac}', 0x80),
    ('\u{201a}', 0x82),
    ('\u{0192}', 0x83),
    ('\u{201e}', 0x84),
    ('\u{2026}', 0x85),
    ('\u{2020}', 0x86),
    ('\u{2021}', 0x87),
    ('\u{02c6}', 0x88),
    ('\u{2030}', 0x89),
    ('\u{0160}', 0x8A),
    ('\u{2039}', 0x8B),
    ('\u{0152}', 0x8C),
    ('\u{017d}', 0x8E),
    ('\u{2018}', 0x91),
    ('\u{2019}', 0x92),
    ('\u{201c}', 0x93),
    ('\u{201d}', 0x94),
    ('\u{2022}', 0x95),
    ('\u{2013}', 0x96),
    ('\u{2014}', 0x97),
    ('\u{02dc}', 0x98),
    ('\u{2122}', 0x99),
    ('\u{0161}', 0x9A),
    ('\u{203a}', 0x9B),
    ('\u{0153}', 0x9C),
    ('\u{017e}', 0x9E),
    ('\u{0178}', 0x9F),
];

/// The WinAnsi byte of a character; `?` when WinAnsi has none. Narrow and figure spaces (the
/// French digit grouping) become a no-break space; other white space a plain space.
pub fn winansi(c: char) -> u8 {
    match c {
        ' '..='~' => c as u8,
        '\u{a0}' | '\u{202f}' | '\u{2007}' => 0xA0,
        '\u{a1}'..='\u{ff}' => c as u8,
        c if c.is_whitespace() => b' ',
        c => HIGH.iter().find(|(h, _)| *h == c).map_or(b'?', |(_, b)| *b),
    }
}

/// A string as WinAnsi bytes.
pub fn encode(s: &str) -> Vec<u8> {
    s.chars().map(winansi).collect()
}

/// The advance width of one WinAnsi byte, in thousandths of the font size.
fn advance(b: u8, font: Font) -> u16 {
    let table = match font {
        Font::Regular => &REGULAR,
        Font::Bold => &BOLD,
    };
    match b {
        0x20..=0xFF => table[(b - 0x20) as usize],
        _ => 0,
    }
}

/// The width of `s` in points, set in `font` at `size` points (no kerning, as written).
pub fn width(s: &str, font: Font, size: f32) -> f32 {
    let units: u32 = s.chars().map(|c| advance(winansi(c), font) as u32).sum();
    units as f32 * size / 1000.0
}

/// `s` broken into lines no wider than `max` points: at spaces, and inside a word only when
/// the word alone is wider than a line (nothing is ever cut off). Always at least one line.
pub fn wrap(s: &str, font: Font, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
        if width(&candidate, font, size) <= max {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // The word alone: split it where it must be.
        for c in word.chars() {
            line.push(c);
            if width(&line, font, size) > max && line.chars().count() > 1 {
                line.pop();
                lines.push(std::mem::replace(&mut line, c.to_string()));
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winansi_maps_latin_text_and_marks_the_rest() {
        assert_eq!(encode("Año é ü ç"), b"A\xf1o \xe9 \xfc \xe7");
        // The 0x80..0x9F block differs from Latin-1.
        assert_eq!(encode("—–€…’"), vec![0x97, 0x96, 0x80, 0x85, 0x92]);
        assert_eq!(winansi('×'), 0xD7);
        // Outside WinAnsi: a question mark, one per character.
        assert_eq!(encode("≥ Ł 中"), b"? ? ?");
        // French digit grouping (narrow no-break space) stays a space that does not break.
        assert_eq!(encode("1\u{202f}234"), b"1\xa0234");
        assert_eq!(encode("a\tb"), b"a b");
    }

    #[test]
    fn widths_follow_the_helvetica_metrics() {
        // AFM: H 722, e 556, l 222, o 556 (Helvetica); the same in bold: 722, 556, 278, 611.
        assert!((width("Hello", Font::Regular, 1000.0) - (722.0 + 556.0 + 222.0 * 2.0 + 556.0)).abs() < 1e-3);
        assert!((width("Hello", Font::Bold, 1000.0) - (722.0 + 556.0 + 278.0 * 2.0 + 611.0)).abs() < 1e-3);
        // Scales with the size; every digit is as wide as every other (tabular figures).
        assert!((width("10", Font::Regular, 10.0) - 11.12).abs() < 1e-3);
        assert_eq!(width("111", Font::Bold, 8.0), width("987", Font::Bold, 8.0));
        assert!((width("—", Font::Regular, 10.0) - 10.0).abs() < 1e-3);
        assert!((width("'`", Font::Regular, 1000.0) - (191.0 + 333.0)).abs() < 1e-3);
        assert!((width("@", Font::Regular, 1000.0) - 1015.0).abs() < 1e-3);
        assert_eq!(width("", Font::Regular, 12.0), 0.0);
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_splits_only_words_too_long() {
        let lines = wrap("Cases opened by where they stand", Font::Regular, 10.0, 80.0);
        assert!(lines.len() > 1, "{lines:?}");
        assert_eq!(lines.join(" "), "Cases opened by where they stand");
        for l in &lines {
            assert!(width(l, Font::Regular, 10.0) <= 80.0, "{l}");
        }
        let long = wrap("Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Font::Bold, 10.0, 40.0);
        assert!(long.len() > 1 && long.concat() == "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "{long:?}");
        assert!(long.iter().all(|l| width(l, Font::Bold, 10.0) <= 40.0));
        assert_eq!(wrap("", Font::Regular, 10.0, 40.0), vec![String::new()]);
    }
}
