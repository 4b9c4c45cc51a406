//! A caller-driven producer, as a program without threads runs it (WASI
//! preview 1): open, send, and deliver from its own `poll` loop.
//!
//! ```text
//! RUSTFLAGS="-C link-arg=-zstack-size=8388608" \
//!   cargo build --release -p steadfast --no-default-features --example wasi_poll --target wasm32-wasip1
//! mkdir -p /tmp/wasi-demo
//! wasmtime run --dir /tmp/wasi-demo::/data target/wasm32-wasip1/release/examples/wasi_poll.wasm
//! ```
//!
//! The bigger stack is needed because the core keeps its indexes inline
//! (no allocator) and opening a journal moves a few hundred kilobytes on
//! the stack; native targets open it on a helper thread with a big stack,
//! WASI preview 1 has no threads and wasm-ld's default stack is 1 MiB.
//! Expect two durability notes there: no file locks, no directory fsync.
//!
//! It journals 1000 messages in `/data/journal` and delivers them to the
//! file transport's `/data/delivered.jsonl`; run it again and it continues
//! from the same journal.

#![allow(clippy::print_stdout)]

use std::time::Duration;

use steadfast::{FileTransport, OwnedMessage, Producer, SyncPolicy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/data".into());
    let producer = Producer::builder(format!("{dir}/journal"))
        .sync(SyncPolicy::Always)
        .open(FileTransport::open(format!("{dir}/delivered.jsonl"))?)
        .map_err(|failed| failed.error)?;
    println!("recovery: {}", producer.recovery_report());
    for note in producer.durability_notes() {
        println!("note: {note}");
    }
    for i in 0..1000u32 {
        producer.send(OwnedMessage::new("wasi", format!("message {i}")))?;
        if i % 100 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    while !producer.poll(Duration::from_millis(50)).idle {}
    let stats = producer.stats();
    println!(
        "sent {}, confirmed {}, fsyncs {} (mean {:?})",
        stats.sent,
        stats.confirmed,
        stats.fsync.count,
        stats.fsync.mean()
    );
    producer.close(Duration::from_secs(1))?;
    Ok(())
}
