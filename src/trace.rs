//! Timestamps of a command's phases and requests on stderr, for profiling:
//! `PANGEO_RENDER_TRACE=1 pangeo-render diff …` prints `trace:   12.3 ms  what` lines, the time
//! since the process started. Lines name phases, kinds and object names, never a value.

use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Option<Instant>> = OnceLock::new();

/// Starts the clock when `PANGEO_RENDER_TRACE` is set (anything but empty or `0`); call first.
pub fn start() {
    START.get_or_init(|| {
        std::env::var_os("PANGEO_RENDER_TRACE").filter(|v| !v.is_empty() && v != "0").map(|_| Instant::now())
    });
}

/// Whether tracing is on.
pub fn enabled() -> bool {
    matches!(START.get(), Some(Some(_)))
}

/// Prints one trace line (only when tracing is on; `what` is only built then).
pub fn mark(what: impl FnOnce() -> String) {
    if let Some(Some(start)) = START.get() {
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        eprintln!("trace: {ms:7.1} ms  {}", what());
    }
}
