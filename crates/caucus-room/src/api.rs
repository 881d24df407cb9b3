//! REST calls inside the room: the server's API acts on the same live session as
//! signaling, as [`Actor::Server`], so connected peers see a REST move at once.

use caucus_core::{Actor, Command, Outcome, Time};
use caucus_proto::event::{BreakoutsView, PeerInfo};
use caucus_proto::signal::BreakoutCommand;
use caucus_proto::{BreakoutOptions, ErrorBody, ErrorCode, Location, PeerId, RoleName};
use rand::Rng;

use crate::output::AckId;
use crate::room::Room;

/// What the REST API asks of a room.
#[derive(Debug, Clone)]
pub enum ApiRequest {
    /// Every peer of the session.
    Peers,
    Peer(PeerId),
    PatchPeer(PeerPatch),
    /// A session command, carried out as the server.
    Command(Command),
    /// A breakout operation (wire form: keys resolve to peers or user ids in the session).
    Breakouts {
        version: Option<u64>,
        op: BreakoutCommand,
    },
    /// Change the breakout options; absent fields keep their value.
    Options {
        version: Option<u64>,
        patch: OptionsPatch,
    },
    /// The breakout set.
    View,
    /// The durable room's password changed: later joins need the new one (`None`: none).
    SetPassword {
        hash: Option<String>,
    },
    /// Record a location (answered once the recording's metadata is stored).
    StartRecording {
        location: Location,
    },
    /// Stop a recording (answered once its files are finished).
    StopRecording(caucus_proto::RecordingId),
}

/// `PATCH /v1/rooms/{room}/peers/{peer}`.
#[derive(Debug, Clone, Default)]
pub struct PeerPatch {
    pub peer: Option<PeerId>,
    pub role: Option<RoleName>,
    pub name: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub location: Option<Location>,
    pub force: bool,
}

/// `PUT /v1/rooms/{room}/breakouts/options`: absent fields keep their value.
#[derive(Debug, Clone, Default)]
pub struct OptionsPatch {
    pub allow_self_select: Option<bool>,
    pub allow_return_to_main: Option<bool>,
    pub auto_move_on_open: Option<bool>,
    pub countdown_s: Option<u32>,
    pub duration_s: Option<Option<u32>>,
    pub warning_s: Option<u32>,
}

impl OptionsPatch {
    fn apply(&self, current: &BreakoutOptions) -> BreakoutOptions {
        let mut next = current.clone();
        if let Some(v) = self.allow_self_select {
            next.allow_self_select = v;
        }
        if let Some(v) = self.allow_return_to_main {
            next.allow_return_to_main = v;
        }
        if let Some(v) = self.auto_move_on_open {
            next.auto_move_on_open = v;
        }
        if let Some(v) = self.countdown_s {
            next.countdown_s = v;
        }
        if let Some(v) = self.duration_s {
            next.duration_s = v;
        }
        if let Some(v) = self.warning_s {
            next.warning_s = v;
        }
        next
    }
}

/// What a room answers.
#[derive(Debug)]
pub enum ApiAnswer {
    Peers(Vec<PeerInfo>),
    Peer(PeerInfo),
    Done(Outcome),
    Breakouts {
        outcome: Outcome,
        view: BreakoutsView,
    },
    Recording(caucus_proto::event::RecordingInfo),
}

/// The answer, and the acks it waits for: a plan write, a recorder's start or stop. A REST
/// reply goes out once every one of them is resolved, so a `200` means "written".
#[derive(Debug)]
pub struct ApiResult {
    pub result: Result<ApiAnswer, ErrorBody>,
    pub acks: Vec<AckId>,
}

impl Room {
    /// A REST call, carried out as [`Actor::Server`].
    pub fn handle_api(&mut self, now: Time, request: ApiRequest) -> ApiResult {
        let result = self.api(now, request);
        let plan = self.settle();
        let acks = plan
            .into_iter()
            .chain(self.recordings.take_reply_ack())
            .collect();
        ApiResult { result, acks }
    }

    fn api(&mut self, now: Time, request: ApiRequest) -> Result<ApiAnswer, ErrorBody> {
        match request {
            ApiRequest::Peers => {
                let mut peers: Vec<PeerInfo> = self
                    .session
                    .peers()
                    .filter_map(|p| self.session.peer_info(p.id()))
                    .collect();
                peers.sort_by_key(|p| p.id);
                Ok(ApiAnswer::Peers(peers))
            }
            ApiRequest::Peer(peer) => self.peer_answer(peer),
            ApiRequest::PatchPeer(patch) => self.patch_peer(now, patch),
            ApiRequest::Command(command) => self.server_command(now, command).map(ApiAnswer::Done),
            ApiRequest::Breakouts { version, op } => {
                let seed = self.rng.random();
                let command = Command::Breakouts {
                    version,
                    op: self.session.breakout_op_from_wire(op, seed),
                };
                let outcome = self.server_command(now, command)?;
                Ok(ApiAnswer::Breakouts {
                    outcome,
                    view: self.session.breakouts_view(now),
                })
            }
            ApiRequest::Options { version, patch } => {
                let options = patch.apply(self.session.breakouts().options());
                let command = Command::Breakouts {
                    version,
                    op: caucus_core::BreakoutOp::SetOptions(options),
                };
                let outcome = self.server_command(now, command)?;
                Ok(ApiAnswer::Breakouts {
                    outcome,
                    view: self.session.breakouts_view(now),
                })
            }
            ApiRequest::SetPassword { hash } => {
                self.session
                    .set_password(hash.map(caucus_core::RoomPassword::Hash));
                Ok(ApiAnswer::Done(Outcome::Done))
            }
            ApiRequest::View => Ok(ApiAnswer::Breakouts {
                outcome: Outcome::Done,
                view: self.session.breakouts_view(now),
            }),
            ApiRequest::StartRecording { location } => self
                .start_recording(now, location, true)
                .map(ApiAnswer::Recording),
            ApiRequest::StopRecording(id) => self
                .stop_recording(now, id)
                .map(|()| ApiAnswer::Done(Outcome::Done)),
        }
    }

    pub(crate) fn server_command(
        &mut self,
        now: Time,
        command: Command,
    ) -> Result<Outcome, ErrorBody> {
        self.session.handle_command(now, Actor::Server, command)
    }

    fn peer_answer(&self, peer: PeerId) -> Result<ApiAnswer, ErrorBody> {
        self.session
            .peer_info(peer)
            .map(ApiAnswer::Peer)
            .ok_or_else(|| unknown_peer(peer))
    }

    /// One core command for the whole change: carried out whole, or refused (the answer says
    /// which part refused) with nothing changed.
    fn patch_peer(&mut self, now: Time, patch: PeerPatch) -> Result<ApiAnswer, ErrorBody> {
        let Some(peer) = patch.peer else {
            return Err(unknown_peer(PeerId::new(0)));
        };
        if self.session.peer(peer).is_none() {
            return Err(unknown_peer(peer));
        }
        self.server_command(
            now,
            Command::PatchPeer(caucus_core::PeerPatch {
                peer,
                role: patch.role,
                location: patch.location,
                name: patch.name,
                metadata: patch.metadata,
                force: patch.force,
            }),
        )?;
        self.peer_answer(peer)
    }
}

fn unknown_peer(peer: PeerId) -> ErrorBody {
    ErrorBody {
        code: ErrorCode::UnknownPeer,
        message: format!("no peer {peer} in this session"),
        field: None,
    }
}
