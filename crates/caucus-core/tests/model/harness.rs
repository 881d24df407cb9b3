//! The harness: the session under test beside the reference model, and what a run
//! visited.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use caucus_core::{Actor, Session, SessionConfig, Template, Time};
use caucus_proto::event::BreakoutsView;
use caucus_proto::{BreakoutId, PeerId, RequestId, RoleName, TrackKey};

use crate::compare::stripped;
use crate::ops::{Bop, NO_PEER, Op};
use crate::reference::{Asked, Model};

pub(crate) struct Harness {
    pub(crate) session: Session,
    pub(crate) now: Time,
    pub(crate) config: SessionConfig,
    /// No role has a `max_peers`: then placements that fit a room must succeed.
    pub(crate) unlimited: bool,
    pub(crate) roles: Vec<RoleName>,
    /// The last complete set each peer was given by `Effect::Subscriptions`.
    pub(crate) subs: BTreeMap<PeerId, BTreeSet<TrackKey>>,
    /// The last breakouts view each peer was sent (`joined` or `breakouts`), as `public_part`.
    pub(crate) told: BTreeMap<PeerId, Arc<BreakoutsView>>,
    pub(crate) model: Model,
    pub(crate) disconnected_at: BTreeMap<PeerId, Time>,
    /// What each peer was told so far (invariant 9).
    pub(crate) knowledge: caucus_core::knowledge::Knowledge,
    pub(crate) requests: BTreeMap<RequestId, (Time, PeerId, Asked)>,
    pub(crate) empty_since: Option<Time>,
    pub(crate) ended_by_command: bool,
    pub(crate) last_version: u64,
    pub(crate) last_view: BreakoutsView,
    pub(crate) peers_ever: Vec<PeerId>,
    pub(crate) rooms_ever: Vec<BreakoutId>,
    pub(crate) effect_errors: Vec<String>,
    /// The last breakout plan handed over to be written (invariant 10).
    pub(crate) written_plan: caucus_core::SavedPlan,
    pub(crate) trace: Vec<String>,
    pub(crate) stats: Stats,
}

/// How much of the state space a run visited (for the coverage report).
#[derive(Debug, Default, Clone)]
pub(crate) struct Stats {
    pub(crate) ok: BTreeMap<&'static str, u32>,
    pub(crate) refused: BTreeMap<String, u32>,
    pub(crate) steps_open_with_peers_inside: u32,
    pub(crate) steps_listening: u32,
    pub(crate) steps_broadcasting: u32,
    pub(crate) steps_main_stage_route: u32,
    pub(crate) steps_closing: u32,
    pub(crate) timer_steps: u32,
    pub(crate) steps: u32,
}

pub(crate) fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Join { .. } => "join",
        Op::Rejoin { .. } => "rejoin",
        Op::Leave { .. } => "leave",
        Op::Disconnect { .. } => "disconnect",
        Op::Publish { .. } => "publish",
        Op::Unpublish { .. } => "unpublish",
        Op::SetMuted { .. } => "set_muted",
        Op::MutePeer { .. } => "mute_peer",
        Op::AskUnmute { .. } => "ask_unmute",
        Op::ChangeRole { force: true, .. } => "change_role(force)",
        Op::ChangeRole { .. } => "change_role(request)",
        Op::ChangeRoles { .. } => "change_roles",
        Op::Move { force: true, .. } => "move(force)",
        Op::Move { .. } => "move(request)",
        Op::Respond { .. } => "respond",
        Op::Breakouts { op, .. } => match op {
            Bop::Create { .. } => "b.create",
            Bop::Update { .. } => "b.update",
            Bop::Remove { .. } => "b.remove",
            Bop::Options { .. } => "b.options",
            Bop::Assign { .. } => "b.assign",
            Bop::AutoAssign { .. } => "b.auto_assign",
            Bop::Preassign { .. } => "b.preassign",
            Bop::Open { .. } => "b.open",
            Bop::Close { room: None, .. } => "b.close(all)",
            Bop::Close { .. } => "b.close(one)",
            Bop::Extend { .. } => "b.extend",
            Bop::Text => "b.text",
            Bop::Help { .. } => "b.help",
        },
        Op::JoinBreakout { .. } => "join_breakout",
        Op::ReturnToMain { .. } => "return_to_main",
        Op::ListenIn { .. } => "listen_in",
        Op::Broadcasting { .. } => "broadcasting",
        Op::RequestHelp { .. } => "request_help",
        Op::SetLocked { .. } => "set_locked",
        Op::End { .. } => "end",
        Op::Advance { .. } => "advance",
        Op::Crowd { .. } => "crowd",
    }
}

impl Harness {
    pub(crate) fn new(template: Arc<Template>) -> Self {
        let config = SessionConfig::default();
        let now = Time::from_secs(1_000);
        let unlimited = template.roles().all(|(_, r)| r.max_peers() == 0);
        let roles = template.roles().map(|(_, r)| r.name().clone()).collect();
        // The compiled subscribe lists agree with the documents the model reads.
        for (_, s) in template.roles() {
            for (p_idx, p) in template.roles() {
                assert_eq!(
                    s.subscribes_to(p_idx),
                    s.spec().subscribe.roles.contains(p.name())
                );
            }
        }
        let session = Session::new(now, template, config.clone());
        let view = session.breakouts_view(now);
        let mut harness = Self {
            session,
            now,
            config,
            unlimited,
            roles,
            subs: BTreeMap::new(),
            told: BTreeMap::new(),
            model: Model::default(),
            disconnected_at: BTreeMap::new(),
            knowledge: caucus_core::knowledge::Knowledge::new(),
            requests: BTreeMap::new(),
            empty_since: Some(now),
            ended_by_command: false,
            last_version: view.version,
            last_view: stripped(&view),
            peers_ever: Vec::new(),
            rooms_ever: Vec::new(),
            effect_errors: Vec::new(),
            written_plan: caucus_core::SavedPlan::default(),
            trace: Vec::new(),
            stats: Stats::default(),
        };
        harness.drain();
        harness
    }
}

pub(crate) fn actor_id(actor: Actor) -> PeerId {
    match actor {
        Actor::Peer(id) => id,
        Actor::Server => NO_PEER,
    }
}
