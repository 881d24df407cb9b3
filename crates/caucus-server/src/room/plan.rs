//! The breakout plan between the store's form ([`BreakoutPlan`]: ids and pre-assignments as
//! text, passwords as hashes) and the core's ([`SavedPlan`]).
//!
//! The core keeps a password it saw set in plain text (and compares it itself); the
//! store must only ever see hashes, so [`to_store`] hands the plain ones to the writer, which
//! hashes them off the event loop.

use caucus_core::{RoomPassword, SavedPlan, SavedRoom};
use caucus_proto::BreakoutId;
use caucus_store::{BreakoutPlan, PlannedRoom};
use tracing::warn;

/// What is written: the plan (with the hashes already known) and the plain passwords still
/// to hash, by index into `plan.rooms`.
pub type Captured = (BreakoutPlan, Vec<(usize, String)>);

/// The store's form of `plan`.
pub fn to_store(plan: &SavedPlan) -> Captured {
    let mut plain = Vec::new();
    let rooms = plan
        .rooms
        .iter()
        .enumerate()
        .map(|(i, room)| PlannedRoom {
            id: room.id.to_string(),
            name: room.name.clone(),
            capacity: room.capacity,
            password_hash: match &room.password {
                Some(RoomPassword::Hash(hash)) => Some(hash.clone()),
                Some(RoomPassword::Plain(password)) => {
                    plain.push((i, password.clone()));
                    None
                }
                None => None,
            },
            visibility: room.visibility.clone(),
        })
        .collect();
    let preassignments = plan
        .preassignments
        .iter()
        .map(|(user, b)| (user.clone(), b.to_string()))
        .collect();
    let stored = BreakoutPlan {
        rooms,
        options: plan.options.clone(),
        preassignments,
    };
    (stored, plain)
}

/// The core's form of a saved plan. Rooms without a usable id are logged and left out;
/// pre-assignments name a room by id or, in older plans, by name.
pub fn from_store(plan: &BreakoutPlan) -> SavedPlan {
    let mut rooms = Vec::with_capacity(plan.rooms.len());
    for planned in &plan.rooms {
        let Ok(id) = planned.id.parse::<BreakoutId>() else {
            warn!(room = %planned.id, "a saved breakout room has no usable id; left out");
            continue;
        };
        rooms.push(SavedRoom {
            id,
            name: planned.name.clone(),
            capacity: planned.capacity,
            password: planned.password_hash.clone().map(RoomPassword::Hash),
            visibility: planned.visibility.clone(),
        });
    }
    let preassignments = plan
        .preassignments
        .iter()
        .filter_map(|(user, room)| {
            let by_id = room.parse::<BreakoutId>().ok();
            let by_name = || {
                rooms
                    .iter()
                    .find(|r| r.name.eq_ignore_ascii_case(room))
                    .map(|r| r.id)
            };
            by_id.or_else(by_name).map(|id| (user.clone(), id))
        })
        .collect();
    SavedPlan {
        rooms,
        options: plan.options.clone(),
        preassignments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_survives_the_round_trip_and_plain_passwords_go_to_the_writer() {
        let b1: BreakoutId = "b1".parse().unwrap();
        let b2: BreakoutId = "b2".parse().unwrap();
        let plan = SavedPlan {
            rooms: vec![
                SavedRoom {
                    id: b1,
                    name: "Red".into(),
                    capacity: Some(4),
                    password: Some(RoomPassword::Hash("pbkdf2$…".into())),
                    visibility: Default::default(),
                },
                SavedRoom {
                    id: b2,
                    name: "Blue".into(),
                    capacity: None,
                    password: Some(RoomPassword::Plain("hunter2".into())),
                    visibility: Default::default(),
                },
            ],
            options: Default::default(),
            preassignments: [("ana".into(), b2)].into_iter().collect(),
        };
        let (stored, plain) = to_store(&plan);
        assert_eq!(plain, vec![(1, "hunter2".to_owned())]);
        assert_eq!(stored.rooms[0].password_hash.as_deref(), Some("pbkdf2$…"));
        assert_eq!(stored.rooms[1].password_hash, None, "the writer hashes it");
        let back = from_store(&stored);
        assert_eq!(back.rooms[0], plan.rooms[0]);
        assert_eq!(back.preassignments, plan.preassignments);
    }

    #[test]
    fn older_plans_name_preassigned_rooms_by_name() {
        let stored = BreakoutPlan {
            rooms: vec![PlannedRoom {
                id: "b3".into(),
                name: "Red".into(),
                capacity: None,
                password_hash: None,
                visibility: Default::default(),
            }],
            options: Default::default(),
            preassignments: [("ana".into(), "red".to_owned())].into_iter().collect(),
        };
        let plan = from_store(&stored);
        assert_eq!(
            plan.preassignments.get(&"ana".into()),
            Some(&"b3".parse().unwrap())
        );
    }
}
