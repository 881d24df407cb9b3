//! Log output: human text (coloured only when written to a terminal, so that journald and
//! files get no escape codes) or JSON, one object per line, for log collectors. The level
//! filter is `CAUCUS_LOG` (`info` by default; e.g. `CAUCUS_LOG=info,caucus::access=warn`
//! silences the access log).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Install the process's subscriber; a second call (a test starting two servers) is a no-op.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("CAUCUS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}
