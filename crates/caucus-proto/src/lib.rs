//! Caucus wire types: the vocabulary every other crate speaks.
//!
//! What it is: plain data with `serde` — ids, the template/role document, the values of the
//! session model (sources, locations, breakout phases), the events peers are sent and the
//! stable error codes every refusal carries.
//!
//! What it is not: logic. Validation, policy and state machines live in `caucus-core`; this crate
//! only names things and fixes how they look on the wire, so the core, the server and the client
//! SDK agree byte for byte.

pub mod error;
pub mod event;
pub mod ids;
pub mod model;
mod names;
pub mod signal;
pub mod template;

pub use error::{ErrorBody, ErrorCode, ErrorEnvelope};
pub use event::{IceServer, LifecycleEvent, ServerEvent};
pub use ids::{
    BreakoutId, HelpId, InvalidId, PeerId, RecordingId, RequestId, RoleName, RoomId, TemplateId,
    TrackId, UserId,
};
pub use model::{BreakoutOptions, ChatTarget, Location, Phase, Source, TrackKey, Visibility};
pub use template::{
    Permission, Permissions, PublishSpec, RoleInfo, RoleSpec, SourceCaps, SubscribeSpec,
    TemplateSpec, ViewCaps,
};
