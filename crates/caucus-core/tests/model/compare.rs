//! How checks compare views and report failures.

use caucus_core::Time;
use caucus_proto::event::BreakoutsView;

/// The view without its clock-relative numbers and with member lists in a canonical order.
pub(crate) fn stripped(view: &BreakoutsView) -> BreakoutsView {
    let mut view = view.clone();
    view.ends_in_ms = view.ends_in_ms.map(|_| 0);
    view.closes_in_ms = view.closes_in_ms.map(|_| 0);
    for room in &mut view.rooms {
        room.closes_in_ms = room.closes_in_ms.map(|_| 0);
        room.peers.sort();
        room.assigned.sort();
    }
    view
}

/// What every peer (manager or not) is shown of the set.
pub(crate) fn public_part(view: &BreakoutsView) -> BreakoutsView {
    let mut view = stripped(view);
    view.help.clear();
    view.preassignments.clear();
    view
}

pub(crate) fn ms_until(now: Time, at: Time) -> u64 {
    at.as_millis().saturating_sub(now.as_millis())
}

pub(crate) fn fail<T>(message: impl Into<String>) -> Result<T, String> {
    Err(message.into())
}
