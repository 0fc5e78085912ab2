//! The text of the library's documents, for its search: a PDF's through `pdf-extract`, a Word
//! document's from its `word/document.xml` (a ZIP entry of XML). These parsers read files from
//! anyone: each runs on a blocking thread, a panic in it is caught, a run that takes too long
//! is given up, a Word document's XML is read up to a bound (no ZIP bomb fills the memory);
//! whatever goes wrong, the file is still kept and marked unparseable, never searched.

use std::io::{Cursor, Read};
use std::sync::Arc;
use std::time::Duration;

use enlace_domain::network::{FileKind, TextStatus, keep_text};

/// How long one document's text may take to extract.
const EXTRACT_TIMEOUT: Duration = Duration::from_secs(20);
/// Most bytes of a Word document's XML read (a 10 MiB upload of compressed XML may open to
/// far more; the text kept is bounded anyway).
const DOCX_XML_MAX: u64 = 64 * 1024 * 1024;
const DOCX_BODY: &str = "word/document.xml";

/// The text of a document and whether it is searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Extracted {
    pub status: TextStatus,
    /// Why it could not be read.
    pub note: Option<String>,
    pub text: String,
}

/// Whether `bytes` (a ZIP archive) is a Word document: it holds the document's body.
pub(crate) fn check_docx(bytes: &[u8]) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("the file says it is a Word document but it cannot be opened: {e}"))?;
    zip.by_name(DOCX_BODY).map(|_| ()).map_err(|_| {
        "the file says it is a Word document but it is a ZIP archive without a document body".to_string()
    })
}

fn docx_text(bytes: &[u8]) -> Result<String, String> {
    use quick_xml::events::Event;
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut xml = String::new();
    zip.by_name(DOCX_BODY)
        .map_err(|e| e.to_string())?
        .take(DOCX_XML_MAX)
        .read_to_string(&mut xml)
        .map_err(|e| format!("{DOCX_BODY}: {e}"))?;
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut out = String::new();
    // Text runs (`w:t`) hold the words; a paragraph's end, a tab or a break separates them.
    let mut in_text = false;
    loop {
        match reader.read_event().map_err(|e| format!("{DOCX_BODY}: {e}"))? {
            Event::Start(e) if e.local_name().as_ref() == "t" => in_text = true,
            Event::End(e) if e.local_name().as_ref() == "t" => in_text = false,
            Event::End(e) if e.local_name().as_ref() == "p" => out.push('\n'),
            Event::Empty(e) if matches!(e.local_name().as_ref(), "tab" | "br" | "cr") => out.push(' '),
            Event::Text(t) if in_text => out.push_str(&t.xml10_content()),
            Event::CData(t) if in_text => out.push_str(&t),
            Event::GeneralRef(r) if in_text => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    out.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    out.push_str(s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        if out.len() > 2 * enlace_domain::network::LIBRARY_TEXT_MAX_BYTES {
            break;
        }
    }
    Ok(out)
}

fn pdf_text(bytes: &[u8]) -> Result<String, String> {
    pdf_extract::extract_text_from_mem(bytes).map_err(|e| e.to_string())
}

/// Reads a document's text: images hold none; a document whose text cannot be read (broken,
/// encrypted, a parser's panic, too slow) is unparseable, with why.
pub(crate) async fn extract(kind: FileKind, bytes: Arc<Vec<u8>>) -> Extracted {
    if !kind.has_text() {
        return Extracted { status: TextStatus::NoText, note: None, text: String::new() };
    }
    let job = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(|| match kind {
            FileKind::Pdf => pdf_text(&bytes),
            _ => docx_text(&bytes),
        })
    });
    let unparseable =
        |why: String| Extracted { status: TextStatus::Unparseable, note: Some(why), text: String::new() };
    match tokio::time::timeout(EXTRACT_TIMEOUT, job).await {
        Err(_) => unparseable(format!("reading its text took longer than {} s", EXTRACT_TIMEOUT.as_secs())),
        Ok(Err(_)) | Ok(Ok(Err(_))) => {
            unparseable("its text could not be read (the reader failed on it)".into())
        }
        Ok(Ok(Ok(Err(e)))) => unparseable(e.chars().take(300).collect()),
        Ok(Ok(Ok(Ok(raw)))) => {
            let text = keep_text(&raw);
            if text.is_empty() {
                // A scanned document: pages of images.
                Extracted { status: TextStatus::NoText, note: None, text }
            } else {
                Extracted { status: TextStatus::Indexed, note: None, text }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A Word document with the given paragraphs (the few parts Word itself needs).
    pub(crate) fn docx(paragraphs: &[&str]) -> Vec<u8> {
        let body: String = paragraphs
            .iter()
            .map(|p| format!("<w:p><w:r><w:t xml:space=\"preserve\">{p}</w:t></w:r></w:p>"))
            .collect();
        docx_of(&format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
        ))
    }

    /// A Word document whose body is `xml`.
    fn docx_of(xml: &str) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("[Content_Types].xml", opts).unwrap();
        zip.write_all(br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#)
            .unwrap();
        zip.start_file(DOCX_BODY, opts).unwrap();
        zip.write_all(xml.as_bytes()).unwrap();
        zip.finish().unwrap().into_inner()
    }

    #[tokio::test]
    async fn a_word_documents_text_is_read() {
        let d = docx(&["Protección consular de la niñez", "Paso 1: entrevista &amp; registro", "&#241;"]);
        assert_eq!(check_docx(&d), Ok(()));
        let x = extract(FileKind::Docx, Arc::new(d)).await;
        assert_eq!(x.status, TextStatus::Indexed);
        assert_eq!(x.text, "Protección consular de la niñez Paso 1: entrevista & registro ñ");
    }

    #[tokio::test]
    async fn a_broken_document_is_unparseable_not_a_crash() {
        // A ZIP that is not a Word document.
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("hola.txt", zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(b"hola").unwrap();
        let z = zip.finish().unwrap().into_inner();
        assert!(check_docx(&z).unwrap_err().contains("without a document body"));
        assert!(check_docx(b"PK\x03\x04 truncated").is_err());
        // Broken XML inside.
        let d = docx_of("<w:document><w:body><w:p><w:t>cut</w:p></w:document>");
        let x = extract(FileKind::Docx, Arc::new(d)).await;
        assert_eq!(x.status, TextStatus::Unparseable);
        // A PDF that is only a header, and one cut in the middle.
        for bytes in
            [b"%PDF-1.4\n%%EOF".to_vec(), b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R".to_vec()]
        {
            let x = extract(FileKind::Pdf, Arc::new(bytes)).await;
            assert_eq!(x.status, TextStatus::Unparseable, "{x:?}");
            assert!(x.note.is_some() && x.text.is_empty());
        }
        // Images hold no text.
        let x = extract(FileKind::Png, Arc::new(b"\x89PNG\r\n\x1a\n".to_vec())).await;
        assert_eq!(x.status, TextStatus::NoText);
    }
}
