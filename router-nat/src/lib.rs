//! router-nat: SNAT/un-NAT, port pools, RFC 1624 checksum deltas, ICMP error translation and NPTv6.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
