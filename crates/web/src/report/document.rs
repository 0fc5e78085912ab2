//! Documents of text and tables: what the case-list export and the subject access export are
//! made of. They go through the same writers as the GRCM report: the PDF page layout of
//! [`super::pdf`] and the workbook conventions of the XLSX report (a first sheet with what the
//! document is, then a sheet per section). Everything in a document is already in the
//! reader's language.

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::SHEET_NAME_MAX;

/// A document: a title, what it is about (front blocks), then its sections.
pub struct Document {
    pub title: String,
    /// On every PDF page's foot, before the page number.
    pub footer: String,
    /// The document's language (BCP 47), for the PDF's metadata.
    pub lang: String,
    pub front: Vec<Block>,
    pub sections: Vec<Section>,
    /// Each section starts on a new PDF page (a person's cases, one after the other).
    pub page_per_section: bool,
}

/// A part of a document, with its own sheet in the workbook.
pub struct Section {
    pub heading: String,
    /// The sheet's name (cut to Excel's 31 characters and made unique).
    pub sheet: String,
    pub blocks: Vec<Block>,
}

pub enum Block {
    /// Label: value lines under a title (the title may be empty).
    Facts {
        title: String,
        lines: Vec<(String, String)>,
    },
    /// A paragraph.
    Text(String),
    Table(TextTable),
}

/// A table of text: a header, rows of as many cells, and what to say when it has no rows.
pub struct TextTable {
    /// Above the table (none when empty: the section's heading says it).
    pub caption: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub empty: String,
}

impl Document {
    /// The document as a PDF (A4, the report's fonts and layout).
    pub fn pdf(&self) -> Result<Vec<u8>, String> {
        super::pdf::document_pdf(self)
    }

    /// The document as an XLSX workbook: the title and front blocks on the first sheet, each
    /// section on a sheet of its own, its blocks one under the other.
    pub fn xlsx(&self) -> Result<Vec<u8>, String> {
        let err = |e: XlsxError| e.to_string();
        let mut book = Workbook::new();
        let bold = Format::new().set_bold();
        let mut names: Vec<String> = Vec::new();
        let front = book.add_worksheet();
        front.set_name(unique_sheet_name(&mut names, &self.title)).map_err(err)?;
        front.write_string_with_format(0, 0, &self.title, &bold).map_err(err)?;
        write_blocks(front, &self.front, 2, &bold).map_err(err)?;
        front.set_column_width(0, 32).map_err(err)?;
        for s in &self.sections {
            let sheet = book.add_worksheet();
            sheet.set_name(unique_sheet_name(&mut names, &s.sheet)).map_err(err)?;
            sheet.write_string_with_format(0, 0, &s.heading, &bold).map_err(err)?;
            write_blocks(sheet, &s.blocks, 2, &bold).map_err(err)?;
            sheet.set_column_width(0, 24).map_err(err)?;
        }
        book.save_to_buffer().map_err(err)
    }
}

/// Writes `blocks` from row `row` down, a blank row between them.
fn write_blocks(
    sheet: &mut rust_xlsxwriter::Worksheet,
    blocks: &[Block],
    mut row: u32,
    bold: &Format,
) -> Result<(), XlsxError> {
    for b in blocks {
        match b {
            Block::Facts { title, lines } => {
                if !title.is_empty() {
                    sheet.write_string_with_format(row, 0, title, bold)?;
                    row += 1;
                }
                for (k, v) in lines {
                    sheet.write_string(row, 0, k)?;
                    sheet.write_string(row, 1, v)?;
                    row += 1;
                }
            }
            Block::Text(t) => {
                sheet.write_string(row, 0, t)?;
                row += 1;
            }
            Block::Table(t) => {
                if !t.caption.is_empty() {
                    sheet.write_string_with_format(row, 0, &t.caption, bold)?;
                    row += 1;
                }
                for (c, h) in t.columns.iter().enumerate() {
                    sheet.write_string_with_format(row, c as u16, h, bold)?;
                }
                row += 1;
                if t.rows.is_empty() {
                    sheet.write_string(row, 0, &t.empty)?;
                    row += 1;
                }
                for r in &t.rows {
                    for (c, v) in r.iter().enumerate() {
                        sheet.write_string(row, c as u16, v)?;
                    }
                    row += 1;
                }
            }
        }
        row += 1;
    }
    Ok(())
}

/// A sheet name Excel accepts (no `[]:*?/\`, at most 31 characters, not blank) that no
/// earlier sheet of the book has; the name is remembered in `taken`.
pub(super) fn unique_sheet_name(taken: &mut Vec<String>, wanted: &str) -> String {
    let clean: String = wanted
        .chars()
        .map(|c| if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') { ' ' } else { c })
        .collect();
    let clean = clean.trim().trim_matches('\'').trim();
    let base: String =
        if clean.is_empty() { "Sheet".into() } else { clean.chars().take(SHEET_NAME_MAX).collect() };
    let mut name = base.clone();
    let mut n = 1;
    // Excel compares sheet names without regard to case.
    while taken.iter().any(|t| t.to_lowercase() == name.to_lowercase()) {
        n += 1;
        let suffix = format!(" ({n})");
        let keep = SHEET_NAME_MAX - suffix.chars().count();
        name = base.chars().take(keep).collect::<String>() + &suffix;
    }
    taken.push(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_cleaned_cut_and_unique() {
        let mut taken = Vec::new();
        assert_eq!(unique_sheet_name(&mut taken, "HN/2026:000123"), "HN 2026 000123");
        let long = "Expediente de protección consular número uno";
        let a = unique_sheet_name(&mut taken, long);
        let b = unique_sheet_name(&mut taken, long);
        assert_eq!(a.chars().count(), 31);
        assert_eq!(b.chars().count(), 31);
        assert!(b.ends_with(" (2)"), "{b}");
        assert_eq!(unique_sheet_name(&mut taken, "  []  "), "Sheet");
        assert_eq!(unique_sheet_name(&mut taken, "sheet"), "sheet (2)");
    }
}
