//! Transports for steadfast (filled in by the transport issues).
