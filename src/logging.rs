//! Structured logs: JSON lines by default, each carrying the request span (and its request id).

use tracing_subscriber::EnvFilter;

/// The logger that writes statements with their parameters, held at info.
const NEVER_LOGGED_PARAMETERS: &str = "tokio_postgres::query=info";

pub fn init(format: &str) {
    let mut filter =
        EnvFilter::try_from_env("FINGERTIP_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // tokio-postgres logs every statement's parameters at debug: phone numbers, codes, sealed
    // ID numbers. Whatever level is asked for, those lines are never written. (The directive
    // is a constant; a unit test checks that it parses.)
    if let Ok(cap) = NEVER_LOGGED_PARAMETERS.parse() {
        filter = filter.add_directive(cap);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = if format == "pretty" {
        builder.try_init()
    } else {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .try_init()
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_parameter_cap_is_a_valid_directive() {
        assert!(
            super::NEVER_LOGGED_PARAMETERS
                .parse::<tracing_subscriber::filter::Directive>()
                .is_ok()
        );
    }
}
