//! Every session command as a typed call. Each sends one `command` message and waits for its
//! reply; a refusal is [`ClientError::Refused`] carrying the server's stable code.

use std::collections::BTreeMap;

use caucus_proto::signal::{BreakoutCommand, BreakoutUpdate, ClientBody, PeerCommand, ReplyData};
use caucus_proto::{
    BreakoutId, BreakoutOptions, ChatTarget, HelpId, Location, PeerId, RequestId, RoleName, Source,
    TrackId, UserId,
};

use crate::client::Client;
use crate::error::{ClientError, Result};

impl Client {
    /// Sends any command; the reply's data, if it carries some.
    pub async fn command(&self, command: PeerCommand) -> Result<Option<ReplyData>> {
        self.signal.request(ClientBody::Command { command }).await
    }

    /// Sends a command whose reply carries nothing of interest.
    async fn run(&self, command: PeerCommand) -> Result<()> {
        self.command(command).await.map(drop)
    }

    /// Leaves the session for good (the connection stays open until dropped or closed).
    pub async fn leave(&self) -> Result<()> {
        self.run(PeerCommand::Leave).await
    }

    pub async fn update_self(
        &self,
        name: Option<String>,
        metadata: Option<serde_json::Value>,
    ) -> Result<()> {
        self.run(PeerCommand::UpdateSelf { name, metadata }).await
    }

    /// Raises or lowers this peer's hand.
    pub async fn set_hand(&self, raised: bool) -> Result<()> {
        self.run(PeerCommand::SetHand {
            peer_id: None,
            raised,
        })
        .await
    }

    /// Lowers (or raises) another peer's hand (`mute_others`).
    pub async fn set_hand_of(&self, peer_id: PeerId, raised: bool) -> Result<()> {
        self.run(PeerCommand::SetHand {
            peer_id: Some(peer_id),
            raised,
        })
        .await
    }

    /// Unpublishes a track by id. (To stop a synthetic source, use [`Client::stop`].)
    pub async fn unpublish(&self, track_id: TrackId) -> Result<()> {
        self.run(PeerCommand::Unpublish { track_id }).await
    }

    /// Marks a track muted or not on the server. (To also stop sending, use [`Client::mute`].)
    pub async fn set_muted(&self, track_id: TrackId, muted: bool) -> Result<()> {
        self.run(PeerCommand::SetMuted { track_id, muted }).await
    }

    /// Mutes another peer's `source`, or all its tracks.
    pub async fn mute_peer(&self, peer_id: PeerId, source: Option<Source>) -> Result<()> {
        self.run(PeerCommand::MutePeer { peer_id, source }).await
    }

    /// Asks a peer to unmute; it answers with [`respond_request`](Client::respond_request).
    pub async fn ask_unmute(&self, peer_id: PeerId, source: Source) -> Result<RequestId> {
        let reply = self
            .command(PeerCommand::AskUnmute { peer_id, source })
            .await?;
        request_id(reply, "ask_unmute")?.ok_or_else(|| missing("ask_unmute", "a request id"))
    }

    /// Changes a peer's role: at once when `force`, else as a request (its id is returned).
    pub async fn change_role(
        &self,
        peer_id: PeerId,
        role: impl Into<RoleName>,
        force: bool,
    ) -> Result<Option<RequestId>> {
        let reply = self
            .command(PeerCommand::ChangeRole {
                peer_id,
                role: role.into(),
                force,
            })
            .await?;
        request_id(reply, "change_role")
    }

    /// Gives every peer holding one of `from_roles` the role `to_role` (forced).
    pub async fn change_roles(
        &self,
        from_roles: &[&str],
        to_role: impl Into<RoleName>,
    ) -> Result<()> {
        self.run(PeerCommand::ChangeRoles {
            from_roles: from_roles.iter().map(|r| RoleName::from(*r)).collect(),
            to_role: to_role.into(),
        })
        .await
    }

    /// Moves a peer: at once when `force`, else as a request (its id is returned).
    pub async fn move_peer(
        &self,
        peer_id: PeerId,
        to: Location,
        force: bool,
    ) -> Result<Option<RequestId>> {
        let reply = self
            .command(PeerCommand::MovePeer { peer_id, to, force })
            .await?;
        request_id(reply, "move_peer")
    }

    pub async fn respond_request(&self, request_id: RequestId, accept: bool) -> Result<()> {
        self.run(PeerCommand::RespondRequest { request_id, accept })
            .await
    }

    pub async fn remove_peer(&self, peer_id: PeerId, reason: Option<String>) -> Result<()> {
        self.run(PeerCommand::RemovePeer { peer_id, reason }).await
    }

    pub async fn end_session(&self, reason: Option<String>, lock: bool) -> Result<()> {
        self.run(PeerCommand::EndSession { reason, lock }).await
    }

    pub async fn set_locked(&self, locked: bool) -> Result<()> {
        self.run(PeerCommand::SetLocked { locked }).await
    }

    pub async fn chat(&self, to: ChatTarget, text: impl Into<String>) -> Result<()> {
        self.run(PeerCommand::Chat {
            to,
            text: text.into(),
        })
        .await
    }

    pub async fn set_broadcasting(&self, on: bool) -> Result<()> {
        self.run(PeerCommand::SetBroadcasting { on }).await
    }

    /// Listens in to a breakout (`None`: stop listening).
    pub async fn listen_in(&self, breakout_id: Option<BreakoutId>) -> Result<()> {
        self.run(PeerCommand::ListenIn { breakout_id }).await
    }

    pub async fn join_breakout(
        &self,
        breakout_id: BreakoutId,
        password: Option<String>,
    ) -> Result<()> {
        self.run(PeerCommand::JoinBreakout {
            breakout_id,
            password,
        })
        .await
    }

    pub async fn return_to_main(&self) -> Result<()> {
        self.run(PeerCommand::ReturnToMain).await
    }

    pub async fn request_help(&self) -> Result<HelpId> {
        match self.command(PeerCommand::RequestHelp).await? {
            Some(ReplyData::HelpRequested { help_id }) => Ok(help_id),
            other => Err(unexpected("request_help", &other)),
        }
    }

    // ── breakouts ─────────────────────────────────────────────────────────────────────────

    /// Any breakout operation; `version` guards against concurrent edits (`stale_version`).
    pub async fn breakouts(
        &self,
        version: Option<u64>,
        op: BreakoutCommand,
    ) -> Result<Option<ReplyData>> {
        self.command(PeerCommand::Breakouts { version, op }).await
    }

    async fn breakout_op(&self, op: BreakoutCommand) -> Result<()> {
        self.breakouts(None, op).await.map(drop)
    }

    /// Creates `count` rooms; returns their ids.
    pub async fn create_breakouts(
        &self,
        count: u32,
        capacity: Option<u32>,
    ) -> Result<Vec<BreakoutId>> {
        self.create(BreakoutCommand::Create {
            count: Some(count),
            names: Vec::new(),
            capacity,
        })
        .await
    }

    /// Creates one room per name; returns their ids in the same order.
    pub async fn create_named_breakouts(&self, names: &[&str]) -> Result<Vec<BreakoutId>> {
        self.create(BreakoutCommand::Create {
            count: None,
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            capacity: None,
        })
        .await
    }

    async fn create(&self, op: BreakoutCommand) -> Result<Vec<BreakoutId>> {
        match self.breakouts(None, op).await? {
            Some(ReplyData::BreakoutsCreated { rooms }) => Ok(rooms),
            other => Err(unexpected("breakouts create", &other)),
        }
    }

    pub async fn update_breakout(
        &self,
        breakout_id: BreakoutId,
        update: BreakoutUpdate,
    ) -> Result<()> {
        self.breakout_op(BreakoutCommand::Update {
            breakout_id,
            update,
        })
        .await
    }

    pub async fn remove_breakout(&self, breakout_id: BreakoutId) -> Result<()> {
        self.breakout_op(BreakoutCommand::Remove { breakout_id })
            .await
    }

    pub async fn set_breakout_options(&self, options: BreakoutOptions) -> Result<()> {
        self.breakout_op(BreakoutCommand::SetOptions { options })
            .await
    }

    /// Assigns peers to locations.
    pub async fn assign(&self, assignments: &[(PeerId, Location)]) -> Result<()> {
        let assignments = assignments
            .iter()
            .map(|(peer, to)| (peer.to_string(), *to))
            .collect();
        self.breakout_op(BreakoutCommand::Assign { assignments })
            .await
    }

    /// Assigns by raw key: peer ids (`"p3"`) or user ids of people who may not have joined.
    pub async fn assign_keys(&self, assignments: BTreeMap<String, Location>) -> Result<()> {
        self.breakout_op(BreakoutCommand::Assign { assignments })
            .await
    }

    /// Spreads peers evenly at random (seeded), optionally leaving roles out.
    pub async fn auto_assign(
        &self,
        seed: Option<u64>,
        exclude_roles: Option<Vec<RoleName>>,
        keep_previous: bool,
    ) -> Result<()> {
        self.breakout_op(BreakoutCommand::Auto {
            exclude_roles,
            seed,
            keep_previous,
        })
        .await
    }

    /// Pre-assigns by user id; values are breakout ids or names.
    pub async fn preassign(&self, by_user_id: BTreeMap<UserId, String>) -> Result<()> {
        self.breakout_op(BreakoutCommand::Preassign { by_user_id })
            .await
    }

    pub async fn open_breakouts(&self, duration_s: Option<u32>) -> Result<()> {
        self.breakout_op(BreakoutCommand::Open { duration_s }).await
    }

    /// Closes one room (`breakout_id`) or all, with a countdown.
    pub async fn close_breakouts(
        &self,
        countdown_s: Option<u32>,
        breakout_id: Option<BreakoutId>,
    ) -> Result<()> {
        self.breakout_op(BreakoutCommand::Close {
            countdown_s,
            breakout_id,
        })
        .await
    }

    pub async fn extend_breakouts(&self, seconds: u32) -> Result<()> {
        self.breakout_op(BreakoutCommand::Extend { seconds }).await
    }

    /// Sends a text to every breakout room.
    pub async fn broadcast_text(&self, text: impl Into<String>) -> Result<()> {
        self.breakout_op(BreakoutCommand::Broadcast { text: text.into() })
            .await
    }

    pub async fn claim_help(&self, help_id: HelpId) -> Result<()> {
        self.breakout_op(BreakoutCommand::ClaimHelp { help_id })
            .await
    }

    pub async fn dismiss_help(&self, help_id: HelpId) -> Result<()> {
        self.breakout_op(BreakoutCommand::DismissHelp { help_id })
            .await
    }
}

/// A request id if the reply carries one; nothing if the command was carried out at once.
fn request_id(reply: Option<ReplyData>, what: &str) -> Result<Option<RequestId>> {
    match reply {
        Some(ReplyData::RequestSent { request_id }) => Ok(Some(request_id)),
        None => Ok(None),
        other => Err(unexpected(what, &other)),
    }
}

fn unexpected(what: &str, reply: &Option<ReplyData>) -> ClientError {
    ClientError::Protocol(format!("{what} was answered with {reply:?}"))
}

fn missing(what: &str, expected: &str) -> ClientError {
    ClientError::Protocol(format!("{what} was answered without {expected}"))
}
