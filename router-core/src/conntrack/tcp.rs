//! TCP connection tracking states and transitions, as a NAT needs them (RFC 5382 timeouts), not a full
//! window-tracking stateful firewall.

use crate::flow::Direction;

/// TCP flag bits as they sit in the flags byte.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// Where a tracked TCP connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TcpState {
    /// The originator's SYN was seen, no answer yet.
    SynSent,
    /// The responder answered with SYN-ACK.
    SynReceived,
    /// Handshake complete (or data both ways).
    Established,
    /// One side sent FIN.
    FinWait,
    /// Both sides sent FIN.
    TimeWait,
    /// A RST was seen.
    Closed,
}

impl TcpState {
    /// True for the states RFC 5382 calls transitory (everything but established).
    pub fn is_transitory(self) -> bool {
        self != TcpState::Established
    }
}

/// The state after a segment with `flags` travelling in `dir`.
///
/// Deliberately liberal: a NAT must not break connections whose handshake it only partly saw (e.g. after a
/// table flush on another box), so an ACK in the reply direction of an unknown state counts as established.
pub fn next_state(state: TcpState, dir: Direction, f: u8) -> TcpState {
    use TcpState::*;
    if f & flags::RST != 0 {
        return Closed;
    }
    let syn = f & flags::SYN != 0;
    let ack = f & flags::ACK != 0;
    let fin = f & flags::FIN != 0;
    match (state, dir) {
        (SynSent, Direction::Reply) if syn && ack => SynReceived,
        (SynSent, _) => SynSent,
        (SynReceived, Direction::Original) if ack && !syn => {
            if fin {
                FinWait
            } else {
                Established
            }
        }
        (SynReceived, _) => SynReceived,
        (Established, _) if fin => FinWait,
        (Established, _) => Established,
        (FinWait, _) if fin => TimeWait,
        (FinWait, _) => FinWait,
        (TimeWait, _) => TimeWait,
        // A new SYN on a closed connection reopens it (port reuse by the same client).
        (Closed, Direction::Original) if syn && !ack => SynSent,
        (Closed, _) => Closed,
    }
}

#[cfg(test)]
mod tests {
    use super::flags::*;
    use super::TcpState::*;
    use super::*;
    use crate::flow::Direction::{Original as O, Reply as R};

    #[test]
    fn full_handshake_and_orderly_close() {
        let mut s = SynSent;
        for (dir, f, want) in [
            (O, SYN, SynSent),
            (R, SYN | ACK, SynReceived),
            (O, ACK, Established),
            (R, ACK, Established),
            (O, FIN | ACK, FinWait),
            (R, ACK, FinWait),
            (R, FIN | ACK, TimeWait),
            (O, ACK, TimeWait),
        ] {
            s = next_state(s, dir, f);
            assert_eq!(s, want, "after {dir:?} {f:#04x}");
        }
    }

    #[test]
    fn rst_closes_from_any_state_and_syn_reopens() {
        for st in [SynSent, SynReceived, Established, FinWait, TimeWait] {
            assert_eq!(next_state(st, R, RST), Closed);
        }
        assert_eq!(next_state(Closed, O, SYN), SynSent);
        assert_eq!(next_state(Closed, R, ACK), Closed);
    }

    #[test]
    fn retransmitted_syn_keeps_syn_sent_and_forged_synack_from_lan_does_not_advance() {
        assert_eq!(next_state(SynSent, O, SYN), SynSent);
        assert_eq!(next_state(SynSent, O, SYN | ACK), SynSent);
        assert!(SynSent.is_transitory());
        assert!(!Established.is_transitory());
    }
}
