//! Closes removed segments off the caller's thread.
//!
//! Unlinking a segment file is quick, but the kernel frees its page-cache
//! pages (up to a whole segment, 64 MiB by default) and its blocks when the
//! last handle to it closes, and unmapping a mapped segment tears down its
//! page tables: together tens of milliseconds, which the producer's lock
//! would otherwise be held for while senders wait. So a removed segment's
//! file and mapping are handed to one background thread that drops them.
//! The removal itself (unlink, directory fsync) is done, and durable, before
//! `Storage::remove` returns; only the freeing comes later. Where no thread
//! can be started (WebAssembly without threads) they are dropped at once.

use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, OnceLock};

/// What the reaper thread is asked to do.
enum Job {
    /// Drop this.
    Drop(Box<dyn Send>),
    /// Say when every earlier job is done.
    Barrier(Sender<()>),
}

/// The reaper thread's queue; `None` where no thread could be started.
fn reaper() -> &'static Option<Mutex<Sender<Job>>> {
    static REAPER: OnceLock<Option<Mutex<Sender<Job>>>> = OnceLock::new();
    REAPER.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name("steadfast-reaper".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Job::Drop(item) => drop(item),
                        Job::Barrier(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            })
            .ok()
            .map(|_| Mutex::new(tx))
    })
}

/// Hands `job` to the reaper; gives it back if there is none.
fn submit(job: Job) -> Option<Job> {
    match reaper() {
        Some(tx) => match tx.lock() {
            Ok(tx) => tx.send(job).err().map(|e| e.0),
            Err(_) => Some(job),
        },
        None => Some(job),
    }
}

/// Drops `item` on the reaper thread (or here, if there is none).
pub(super) fn release(item: impl Send + 'static) {
    drop(submit(Job::Drop(Box::new(item))));
}

/// Waits until everything released so far is dropped (a journal that is
/// closed has given back its disk space).
pub(super) fn wait_idle() {
    let (tx, rx) = channel();
    if submit(Job::Barrier(tx)).is_none() {
        let _ = rx.recv();
    }
}
