//! Wire names, defined once: every tagged message type gets `NAMES` (each variant's name, in
//! declaration order) and `name()` (this value's name) from one list per type.
//!
//! `name()` matches exhaustively, so a new variant does not compile until it is named, and
//! `NAMES` comes from the same list, so it cannot miss one. Everything else that spells these
//! names — the frame classifier, the webhook configuration check, the protocol fixtures, the
//! browser SDK, the docs — derives from `NAMES` or is checked against it by a test; that each
//! name is the variant's serde tag is checked by serializing a value of every variant (here
//! and by the fixtures under `docs/protocol/`).

/// `wire_names!(Type { Variant => "name", … })`: `Type::NAMES` and `Type::name(&self)`.
macro_rules! wire_names {
    ($ty:ident { $($variant:ident => $name:literal,)* }) => {
        impl $ty {
            /// Every wire name of this type, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($name,)*];

            /// This value's wire name (its serde tag).
            pub const fn name(&self) -> &'static str {
                match self {
                    $($ty::$variant { .. } => $name,)*
                }
            }
        }
    };
}

pub(crate) use wire_names;
