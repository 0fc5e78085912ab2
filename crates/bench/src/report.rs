//! `enlace-bench grcm`: the GRCM report of one state and period, run as `enlace report grcm`
//! processes, each format several times (issue 7's targets: the figures over 1M cases, a PDF
//! under 3 s). Each run's wall time is the whole report (start, open the database, read and
//! count the cases, write the file); the process itself says how long computing the figures
//! and rendering the file took ("figures X ms, pdf Y ms"), so the rendering from computed
//! figures is timed apart from the rest.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// One run: the whole process, and the two parts it reports.
struct Run {
    wall_ms: f64,
    figures_ms: f64,
    render_ms: f64,
    bytes: u64,
}

/// Reads "(figures 80 ms, pdf 26 ms)" from the report's closing line.
fn parse_timings(stderr: &str, format: &str) -> Option<(f64, f64)> {
    let line = stderr.lines().rev().find(|l| l.contains("(figures "))?;
    let rest = &line[line.find("(figures ")? + 9..];
    let figures: f64 = rest.split_whitespace().next()?.parse().ok()?;
    let tag = format!(", {format} ");
    let rest = &rest[rest.find(&tag)? + tag.len()..];
    let render: f64 = rest.split_whitespace().next()?.parse().ok()?;
    Some((figures, render))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the report `repeat` times per format (after one unmeasured run that warms the page
/// cache) and prints a Markdown table: median and best of each part.
#[allow(clippy::too_many_arguments)]
pub fn grcm(
    enlace: &Path,
    data_dir: &Path,
    state: &str,
    period: &str,
    lang: &str,
    formats: &[String],
    repeat: u32,
) -> Result<()> {
    let out_dir = tempdir()?;
    println!("| format | runs | whole report, median (best) | figures | rendering | file |");
    println!("|---|---|---|---|---|---|");
    for format in formats {
        let output = out_dir.join(format!("grcm.{format}"));
        let mut runs = Vec::new();
        for i in 0..=repeat {
            let started = Instant::now();
            let out = std::process::Command::new(enlace)
                .args(["report", "grcm", "--data-dir"])
                .arg(data_dir)
                .args(["--state", state, "--period", period, "--lang", lang, "--format", format, "--output"])
                .arg(&output)
                .output()
                .with_context(|| format!("cannot run {}", enlace.display()))?;
            let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                bail!("enlace report grcm --format {format} failed: {stderr}");
            }
            let (figures_ms, render_ms) = parse_timings(&stderr, format)
                .with_context(|| format!("no timings in the report's output: {stderr}"))?;
            let bytes = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
            if i > 0 {
                runs.push(Run { wall_ms, figures_ms, render_ms, bytes });
            }
        }
        let col = |f: fn(&Run) -> f64| {
            let mut v: Vec<f64> = runs.iter().map(f).collect();
            let best = v.iter().copied().fold(f64::INFINITY, f64::min);
            format!("{:.0} ms ({:.0})", median(&mut v), best)
        };
        println!(
            "| {format} | {} | {} | {} | {} | {} KB |",
            runs.len(),
            col(|r| r.wall_ms),
            col(|r| r.figures_ms),
            col(|r| r.render_ms),
            runs.last().map_or(0, |r| r.bytes) / 1024
        );
    }
    let _ = std::fs::remove_dir_all(&out_dir);
    Ok(())
}

fn tempdir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("enlace-bench-grcm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_timings_the_report_prints() {
        let s = "GRCM report of MX for 2026: 13 tables (figures 80 ms, pdf 26 ms), written to r.pdf\n";
        assert_eq!(parse_timings(s, "pdf"), Some((80.0, 26.0)));
        assert_eq!(parse_timings(s, "csv"), None);
        assert_eq!(parse_timings("nothing", "pdf"), None);
    }
}
