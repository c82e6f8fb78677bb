//! Log lines on stderr (stdout stays the command's output): warnings and errors by
//! default, `-v` info, `-vv` debug, `-vvv` trace, `-q` errors only, `-qq` none
//! (clap-verbosity-flag); `SUPPLIERS_LOG`
//! (RUST_LOG syntax) overrides the flags. Text is coloured only on a terminal and never
//! with `NO_COLOR`; `--log-format json` writes one JSON object per line.

use std::io::IsTerminal;

use clap_verbosity_flag::{Verbosity, WarnLevel};
use tracing_subscriber::EnvFilter;

use crate::args::LogFormat;

/// The variable that overrides the flags' level.
pub const FILTER_VARIABLE: &str = "SUPPLIERS_LOG";

/// Installs the subscriber; a malformed `SUPPLIERS_LOG` is a usage error.
pub fn install(verbosity: &Verbosity<WarnLevel>, format: LogFormat) -> Result<(), String> {
    let filter = match std::env::var(FILTER_VARIABLE) {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::builder()
            .parse(directives.trim())
            .map_err(|e| format!("{FILTER_VARIABLE}: {e}"))?,
        _ => EnvFilter::new(verbosity.tracing_level_filter().to_string()),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.with_ansi(colour()).try_init(),
    };
    installed.map_err(|e| format!("logging: {e}"))
}

/// Colour on a terminal, unless `NO_COLOR` is set to anything but the empty string.
fn colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    std::io::stderr().is_terminal() && !no_color
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_pick_the_level() {
        let level = |verbose, quiet| {
            Verbosity::<WarnLevel>::new(verbose, quiet)
                .tracing_level_filter()
                .to_string()
        };
        assert_eq!(level(0, 0), "warn");
        assert_eq!(level(1, 0), "info");
        assert_eq!(level(2, 0), "debug");
        assert_eq!(level(5, 0), "trace");
        assert_eq!(level(0, 1), "error");
        assert_eq!(level(0, 2), "off");
    }
}
