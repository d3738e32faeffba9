//! Uplinks: identity, health as an input table, and the choice of an uplink for a new flow.

/// Index of an uplink in the router's uplink table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct UplinkId(pub u8);

/// Most uplinks one router handles.
pub const MAX_UPLINKS: usize = 64;
