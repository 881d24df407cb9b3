//! What the server measures as it goes, for `/metrics`: latency histograms of joins, moves
//! and HTTP requests, the process (CPU, memory, descriptors, threads) and the build.
//!
//! One recorder per server (not a process-wide one, so that several servers in one process —
//! the tests — each report their own), shared by the tasks that observe: the connections
//! (joins), the room tasks (moves) and the HTTP middleware (requests, also the access log).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics::{describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Bucket bounds of every latency histogram, in seconds: a join or a move is expected in
/// milliseconds; seconds mean trouble.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Linux reports CPU time in clock ticks of this many per second to every user program.
const USER_HZ: f64 = 100.0;

/// The server's recorder and the exporter's view of it.
pub struct Telemetry {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    started_unix_s: f64,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

/// How a join ended, as a label.
#[derive(Debug, Clone, Copy)]
pub enum JoinOutcome {
    Joined,
    Refused,
}

impl Telemetry {
    pub fn new() -> Arc<Telemetry> {
        let builder = PrometheusBuilder::new();
        // The bounds are constant and non-empty: setting them cannot fail.
        let builder = builder
            .set_buckets(LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let started_unix_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let telemetry = Arc::new(Telemetry {
            recorder,
            handle,
            started_unix_s,
        });
        telemetry.with(describe);
        telemetry
    }

    /// Run `f` with this server's recorder as the one the `metrics` macros write to.
    pub fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// The Prometheus text of everything recorded.
    pub fn render(&self) -> String {
        self.with(|| record_process(self.started_unix_s));
        self.handle.render()
    }

    /// A join, from its message to the reply.
    pub fn join(&self, outcome: JoinOutcome, took: Duration) {
        let outcome = match outcome {
            JoinOutcome::Joined => "joined",
            JoinOutcome::Refused => "refused",
        };
        self.with(|| {
            histogram!("caucus_join_duration_seconds", "outcome" => outcome)
                .record(took.as_secs_f64());
        });
    }

    /// A move (into a breakout, back to main, a peer moved), from its message to the routing
    /// change handed to the media engine.
    pub fn moved(&self, took: Duration) {
        self.with(|| histogram!("caucus_move_duration_seconds").record(took.as_secs_f64()));
    }

    /// An HTTP request, from its head to its response head.
    pub fn http(&self, method: &str, route: &str, status: u16, took: Duration) {
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ];
        self.with(|| {
            histogram!("caucus_http_request_duration_seconds", &labels).record(took.as_secs_f64());
        });
    }
}

fn describe() {
    describe_histogram!(
        "caucus_join_duration_seconds",
        metrics::Unit::Seconds,
        "Joins, from the join message to its reply (outcome: joined, refused)."
    );
    describe_histogram!(
        "caucus_move_duration_seconds",
        metrics::Unit::Seconds,
        "Moves between locations, from the message to the routing change."
    );
    describe_histogram!(
        "caucus_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP requests by method, route (the path pattern) and status."
    );
    describe_gauge!(
        "caucus_build_info",
        "Always 1; the labels say which build runs."
    );
    describe_gauge!(
        "process_cpu_seconds_total",
        "CPU time of the process, user and system."
    );
    describe_gauge!("process_resident_memory_bytes", "Resident memory.");
    describe_gauge!("process_open_fds", "Open file descriptors.");
    describe_gauge!("process_max_fds", "The file-descriptor soft limit.");
    describe_gauge!("process_threads", "Threads of the process.");
    describe_gauge!(
        "process_start_time_seconds",
        "When the server started, in seconds since the Unix epoch."
    );
}

/// The process, read from `/proc` at scrape time (absent where there is none).
#[allow(clippy::cast_precision_loss)] // gauges are f64; these stay far below 2^53
fn record_process(started_unix_s: f64) {
    gauge!(
        "caucus_build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "profile" => if cfg!(debug_assertions) { "debug" } else { "release" },
    )
    .set(1.0);
    gauge!("process_start_time_seconds").set(started_unix_s);
    if let Some(cpu) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .as_deref()
        .and_then(cpu_ticks)
    {
        gauge!("process_cpu_seconds_total").set(cpu as f64 / USER_HZ);
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(kib) = status_field(&status, "VmRSS:") {
            gauge!("process_resident_memory_bytes").set((kib * 1024) as f64);
        }
        if let Some(threads) = status_field(&status, "Threads:") {
            gauge!("process_threads").set(threads as f64);
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        gauge!("process_open_fds").set(fds.count() as f64);
    }
    if let Ok((soft, _)) = rlimit::Resource::NOFILE.get() {
        gauge!("process_max_fds").set(soft as f64);
    }
}

/// User plus system clock ticks from `/proc/self/stat` (fields 14 and 15; the command name,
/// field 2, is in parentheses and may hold spaces, so count from its closing one).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // After the name: state is field 3, so utime (14) is the 12th from here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The number after `key` in `/proc/self/status` (`VmRSS:  1234 kB`).
fn status_field(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_past_a_name_with_spaces() {
        let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 730 120 0 0 20 0";
        assert_eq!(cpu_ticks(stat), Some(850));
    }

    #[test]
    fn status_fields_are_numbers_after_their_key() {
        let status = "Name:\tcaucus\nVmRSS:\t  20480 kB\nThreads:\t7\n";
        assert_eq!(status_field(status, "VmRSS:"), Some(20_480));
        assert_eq!(status_field(status, "Threads:"), Some(7));
        assert_eq!(status_field(status, "VmSwap:"), None);
    }

    #[test]
    fn histograms_render_with_buckets() {
        let telemetry = Telemetry::new();
        telemetry.join(JoinOutcome::Joined, Duration::from_millis(3));
        telemetry.http("GET", "/v1/rooms", 200, Duration::from_millis(1));
        let text = telemetry.render();
        assert!(
            text.contains("caucus_join_duration_seconds_bucket{outcome=\"joined\",le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("caucus_http_request_duration_seconds_count{"),
            "{text}"
        );
        assert!(text.contains("caucus_build_info{"), "{text}");
        assert!(text.contains("process_open_fds"), "{text}");
    }
}
