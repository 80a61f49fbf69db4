//! Link layer: TODO (owned by the wire L2-L4 work).

/// Link types we decode; see [`LinkType::from_dlt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    Ethernet,
}
