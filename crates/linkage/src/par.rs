//! Data parallelism on scoped threads (no thread pool, no extra dependency).

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many threads to use.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `f` on chunks of `0..n` (about `chunk` items each) on all cores and returns the results
/// in chunk order. Chunks are handed out dynamically, so uneven work stays balanced.
pub(crate) fn map_chunks<T: Send, F>(n: usize, chunk: usize, f: F) -> Vec<T>
where
    F: Fn(std::ops::Range<usize>) -> T + Sync,
{
    let chunk = chunk.max(1);
    let chunks = n.div_ceil(chunk);
    let next = AtomicUsize::new(0);
    let workers = threads().min(chunks.max(1));
    let mut results: Vec<(usize, T)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let c = next.fetch_add(1, Ordering::Relaxed);
                        if c >= chunks {
                            break;
                        }
                        let r = c * chunk..((c + 1) * chunk).min(n);
                        out.push((c, f(r)));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    results.sort_by_key(|(c, _)| *c);
    results.into_iter().map(|(_, t)| t).collect()
}
