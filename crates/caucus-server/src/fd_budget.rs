//! The file-descriptor budget, checked at start: every connection is a descriptor, and so are
//! the database, its journal, the media socket, each recording and each webhook request.
//!
//! The soft limit is raised to the hard one (the default soft limit of 1,024 is far below
//! what a conference server needs and the hard one is usually much higher); connections get
//! what is left after a reserve for everything else, and the server warns when that is less
//! than what was configured.

use tracing::{info, warn};

/// Descriptors kept for everything that is not a client connection.
pub const RESERVE: u64 = 256;
/// Below this many descriptors for connections, the server warns even when the configured
/// limit fits: a room of a few hundred people needs more.
pub const LOW: u64 = 1_024;

/// What the limits allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The soft limit in force after raising it.
    pub soft: u64,
    /// The connections the server will admit at most.
    pub max_connections: u32,
    /// Whether that is less than what was configured.
    pub clipped: bool,
}

/// The budget for `configured` connections under a soft limit of `soft` (a plain function, so
/// that it can be tested without changing the process's limits).
pub fn budget(soft: u64, configured: u32) -> Budget {
    let available = soft.saturating_sub(RESERVE).max(1);
    let max_connections = u64::from(configured).min(available);
    Budget {
        soft,
        max_connections: u32::try_from(max_connections).unwrap_or(u32::MAX),
        clipped: max_connections < u64::from(configured),
    }
}

/// Raise the soft limit as far as allowed, then work out and log the budget.
pub fn check(configured: u32) -> Budget {
    let soft = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => soft,
        Err(e) => {
            warn!(error = %e, "cannot read or raise the file-descriptor limit; assuming 1024");
            1_024
        }
    };
    let budget = budget(soft, configured);
    if budget.clipped {
        warn!(
            soft_limit = soft,
            max_connections = budget.max_connections,
            configured,
            "the file-descriptor limit allows fewer connections than max_connections; \
             raise it (LimitNOFILE= in systemd, ulimit -n) to admit more"
        );
    } else if u64::from(budget.max_connections) < LOW {
        warn!(
            soft_limit = soft,
            max_connections = budget.max_connections,
            "few connections allowed; a large meeting needs more"
        );
    } else {
        info!(
            soft_limit = soft,
            max_connections = budget.max_connections,
            "file-descriptor budget"
        );
    }
    budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_get_what_the_reserve_leaves() {
        let b = budget(1_024, 4_096);
        assert_eq!(b.max_connections, 1_024 - 256);
        assert!(b.clipped);
        let b = budget(65_536, 4_096);
        assert_eq!(b.max_connections, 4_096);
        assert!(!b.clipped);
    }

    #[test]
    fn a_tiny_limit_still_admits_one() {
        let b = budget(100, 4_096);
        assert_eq!(b.max_connections, 1);
        assert!(b.clipped);
    }
}
