//! The one place that answers "may this actor do that?".
//!
//! Every permission question of the session goes through [`authorize`]. It looks only at the
//! actor's acting role, never at state: whether a breakout is open or full is the session's
//! business, whether *this role may* move people is the policy's. A refusal is a [`Denial`]
//! with a stable code.

use caucus_proto::{ErrorCode, Permission, Source};

use crate::denial::Denial;
use crate::template::Role;

/// Something a peer may or may not be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Publish(Source),
    EndSession,
    RemovePeer,
    MutePeer,
    AskUnmute,
    ChangeRole,
    ManageBreakouts,
    MovePeer,
    SelfSelectBreakout,
    StartBroadcast,
    Record,
    SeePeerList,
    LockRoom,
    Chat(ChatScope),
}

/// How far a chat message reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatScope {
    /// The sender's own location.
    OwnLocation,
    /// A location the sender does not stand in.
    OtherLocation,
    Role,
    Peer,
    Everyone,
}

impl Action {
    /// Every action, for exhaustive tests and documentation.
    pub const ALL: &'static [Action] = &[
        Action::Publish(Source::Audio),
        Action::Publish(Source::Video),
        Action::Publish(Source::Screen),
        Action::Publish(Source::ScreenAudio),
        Action::EndSession,
        Action::RemovePeer,
        Action::MutePeer,
        Action::AskUnmute,
        Action::ChangeRole,
        Action::ManageBreakouts,
        Action::MovePeer,
        Action::SelfSelectBreakout,
        Action::StartBroadcast,
        Action::Record,
        Action::SeePeerList,
        Action::LockRoom,
        Action::Chat(ChatScope::OwnLocation),
        Action::Chat(ChatScope::OtherLocation),
        Action::Chat(ChatScope::Role),
        Action::Chat(ChatScope::Peer),
        Action::Chat(ChatScope::Everyone),
    ];
}

/// Whether a peer holding `role` enters a breakout room whatever its capacity, and takes no
/// place in it: the people who run the rooms (`manage_breakouts` or `move_peers`). A room's
/// capacity is for its participants; a teacher who comes to help is neither kept out nor
/// counted.
pub fn exempt_from_capacity(role: &Role) -> bool {
    role.has(Permission::ManageBreakouts) || role.has(Permission::MovePeers)
}

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub enum Principal<'a> {
    /// The server's own API (a management token): may do everything.
    Server,
    /// A peer, judged by the role it acts as where it stands.
    Peer(&'a Role),
}

/// May `principal` perform `action`?
pub fn authorize(principal: Principal<'_>, action: Action) -> Result<(), Denial> {
    let Principal::Peer(role) = principal else {
        return Ok(());
    };
    if let Action::Publish(source) = action {
        return if role.may_publish(source) {
            Ok(())
        } else {
            Err(Denial::new(
                ErrorCode::PublishNotAllowed,
                format!("role {} may not publish {source}", role.name()),
            )
            .with_field("source"))
        };
    }
    let needed: &[Permission] = match action {
        Action::Publish(_) => &[],
        Action::EndSession => &[Permission::EndRoom],
        Action::RemovePeer => &[Permission::RemovePeers],
        Action::MutePeer => &[Permission::MuteOthers],
        Action::AskUnmute => &[Permission::AskUnmute],
        Action::ChangeRole => &[Permission::ChangeRole],
        Action::ManageBreakouts => &[Permission::ManageBreakouts],
        Action::MovePeer => &[Permission::MovePeers],
        Action::SelfSelectBreakout => &[Permission::SelfSelectBreakout],
        Action::StartBroadcast => &[Permission::Broadcast],
        Action::Record => &[Permission::Record],
        Action::SeePeerList => &[Permission::SeePeerList],
        Action::LockRoom => &[Permission::LockRoom],
        Action::Chat(ChatScope::OwnLocation | ChatScope::Role | ChatScope::Peer) => {
            &[Permission::SendChat]
        }
        Action::Chat(ChatScope::OtherLocation | ChatScope::Everyone) => {
            &[Permission::SendChat, Permission::Broadcast]
        }
    };
    match needed.iter().find(|p| !role.has(**p)) {
        None => Ok(()),
        Some(missing) => Err(Denial::new(
            ErrorCode::NotPermitted,
            format!(
                "role {} lacks the {} permission",
                role.name(),
                missing.as_str()
            ),
        )),
    }
}
