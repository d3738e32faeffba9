//! router-io: AF_XDP ports, pinned worker threads and the in-memory port used by tests.
