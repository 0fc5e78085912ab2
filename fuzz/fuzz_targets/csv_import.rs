//! The cases CSV import's reading and checking of rows (no database): any bytes give rows,
//! refusals naming their line and column, or a file error; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).expect("a date");
    let Ok(mut rows) = enlace_app::csv_io::CaseRows::open(data, today) else { return };
    for _ in 0..10_000 {
        match rows.next_row() {
            Ok(Some((line, case, errors))) => {
                assert!(line >= 2, "rows start after the header");
                assert!(case.is_some() || !errors.is_empty(), "a refused row says why");
                assert!(errors.iter().all(|e| e.line == line && !e.reason.is_empty()));
            }
            Ok(None) | Err(_) => break,
        }
    }
});
