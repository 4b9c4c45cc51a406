//! Test support: an in-memory [`Storage`](crate::Storage) that can crash, and
//! a scripted [`Transport`](crate::Transport), so the producer can be driven
//! end to end without I/O. Enabled by the `test-support` feature (needs an
//! allocator).

mod mem_storage;
mod scripted;

pub use mem_storage::{MemError, MemStorage};
pub use scripted::{Delivered, ScriptedTransport};

mod drive;
pub use drive::{TestProducer, drive, open_mem};
