//! Latency percentiles (nearest rank over every recorded sample) and CPU / memory readings
//! from /proc.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

/// Percentiles of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// `micros` need not be sorted.
    pub fn of(micros: &mut [u64]) -> Latency {
        if micros.is_empty() {
            return Latency::default();
        }
        micros.sort_unstable();
        let n = micros.len();
        // Nearest rank: the smallest value with at least q·n values at or below it.
        let at = |q: f64| {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            micros[rank - 1] as f64 / 1000.0
        };
        Latency {
            count: n,
            mean_ms: micros.iter().sum::<u64>() as f64 / n as f64 / 1000.0,
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: micros[n - 1] as f64 / 1000.0,
        }
    }
}

fn clk_tck() -> f64 {
    // Linux reports process times in USER_HZ, 100 on every mainstream configuration.
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// user + system CPU seconds of a process, from /proc/PID/stat: its own, or (`children`)
/// that of its exited and reaped children.
fn stat_cpu_seconds(pid: &str, children: bool) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces; fields count from after it.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14/15 (utime, stime) and 16/17 (cutime, cstime) of proc(5) are at 11..=14
    // after the ")".
    let i = if children { 13 } else { 11 };
    let ticks: f64 = f.get(i)?.parse::<f64>().ok()? + f.get(i + 1)?.parse::<f64>().ok()?;
    Some(ticks / clk_tck())
}

pub fn process_cpu_seconds(pid: &str) -> Option<f64> {
    stat_cpu_seconds(pid, false)
}

/// (busy, total) jiffies of the whole machine, from /proc/stat.
fn machine_jiffies() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let line = s.lines().next()?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// CPU seconds of every process whose command line contains one of `needles` (PostgreSQL
/// names each backend after its database in its process title).
pub fn matching_cpu(needles: &[String], exclude: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    if needles.is_empty() {
        return out;
    }
    let Ok(dir) = std::fs::read_dir("/proc") else { return out };
    for e in dir.flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == exclude {
            continue;
        }
        if std::process::id().to_string() == pid {
            continue;
        }
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        for n in needles {
            // "reaped:" needles take the CPU of the process's exited children (PostgreSQL's
            // postmaster reaps its short-lived parallel query workers).
            let (reaped, n) = match n.strip_prefix("reaped:") {
                Some(rest) => (true, rest),
                None => (false, n.as_str()),
            };
            if cmd.contains(n)
                && let Some(s) = stat_cpu_seconds(&pid, reaped)
            {
                *out.entry(format!("{pid}{}", if reaped { "r" } else { "" })).or_insert(0.0) += s;
            }
        }
    }
    out
}

/// Busy share of the whole machine over `window`, in % of one core.
pub async fn machine_busy(window: std::time::Duration) -> f64 {
    let a = machine_jiffies();
    tokio::time::sleep(window).await;
    let b = machine_jiffies();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    match (a, b) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => (b1 - b0) as f64 / (t1 - t0) as f64 * 100.0 * cores,
        _ => 0.0,
    }
}

/// CPU use over an interval: the machine's, the server's, the database's and this client's.
pub struct CpuMeter {
    start: Instant,
    machine: Option<(u64, u64)>,
    server: Option<f64>,
    client: Option<f64>,
    db: HashMap<String, f64>,
    db_needles: Vec<String>,
    server_pid: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuUse {
    /// Busy share of all cores, in % of one core (200 % = both cores of a 2-core machine).
    pub machine_pct: f64,
    /// The enlace server process, in % of one core.
    pub server_pct: f64,
    /// This load generator, in % of one core.
    pub client_pct: f64,
    /// The database server's processes serving this run (PostgreSQL only), in % of one core.
    pub db_pct: f64,
    /// Everything else on the machine (other work disturbing the run), in % of one core.
    pub other_pct: f64,
}

impl CpuMeter {
    pub fn start(server_pid: &str, db_needles: &[String]) -> CpuMeter {
        CpuMeter {
            start: Instant::now(),
            machine: machine_jiffies(),
            server: process_cpu_seconds(server_pid),
            client: process_cpu_seconds("self"),
            db: matching_cpu(db_needles, server_pid),
            db_needles: db_needles.to_vec(),
            server_pid: server_pid.to_string(),
        }
    }

    pub fn stop(&self) -> CpuUse {
        let secs = self.start.elapsed().as_secs_f64().max(1e-6);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let machine_pct = match (self.machine, machine_jiffies()) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                (b1 - b0) as f64 / (t1 - t0) as f64 * 100.0 * cores
            }
            _ => 0.0,
        };
        let pct = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (b - a) / secs * 100.0,
            _ => 0.0,
        };
        let db_secs: f64 = matching_cpu(&self.db_needles, &self.server_pid)
            .iter()
            .map(|(pid, s)| s - self.db.get(pid).copied().unwrap_or(0.0))
            .sum();
        let server_pct = pct(self.server, process_cpu_seconds(&self.server_pid));
        let client_pct = pct(self.client, process_cpu_seconds("self"));
        // (max: an empty sum is -0.0.)
        let db_pct = (db_secs / secs * 100.0).max(0.0);
        CpuUse {
            machine_pct,
            server_pct,
            client_pct,
            db_pct,
            other_pct: (machine_pct - server_pct - client_pct - db_pct).max(0.0),
        }
    }
}

/// VmRSS and VmHWM (peak) of a process, in KiB.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

pub fn memory(pid: &str) -> Option<Memory> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some(Memory { rss_kib: field("VmRSS:")?, hwm_kib: field("VmHWM:")? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<u64> = (1..=1000).map(|x| x * 1000).collect();
        fastrand::shuffle(&mut v);
        let l = Latency::of(&mut v);
        assert_eq!(l.count, 1000);
        assert_eq!(l.p50_ms, 500.0);
        assert_eq!(l.p99_ms, 990.0);
        assert_eq!(l.p999_ms, 999.0);
        assert_eq!(l.max_ms, 1000.0);
        let mut one = vec![7000];
        assert_eq!(Latency::of(&mut one).p99_ms, 7.0);
    }
}
