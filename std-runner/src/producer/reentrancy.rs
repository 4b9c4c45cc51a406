//! A producer called from inside its own delivery callback, and ending the
//! driver thread.
//!
//! The delivery callback runs on the driver (the background thread, or
//! inside `poll`), and the driver goes on only when it returns. So inside
//! the callback anything that waits for the driver would wait for ever:
//! `flush` (it waits for deliveries), a `send` that finds the journal full
//! (room is freed by deliveries), `poll` in caller-driven mode (the round
//! holds the driver), and `close` or dropping the producer, which join the
//! driver thread — the current thread (std panics: "Resource deadlock
//! avoided"). The driver marks the thread while the callback runs
//! ([`enter`]); those calls look at the mark ([`in_callback`]) and return
//! an error, or skip the wait, instead.
//!
//! Marks are per producer (its shared state's address), so a callback may
//! still use *another* producer freely; they nest, for a callback that
//! drives another producer's `poll`.

use std::cell::RefCell;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::clock;

thread_local! {
    /// The producers whose delivery callback is running on this thread,
    /// innermost last.
    static IN_CALLBACK: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Marks the current thread as running `owner`'s delivery callback until
/// the mark is dropped.
pub(crate) struct CallbackMark {
    owner: usize,
}

/// Marks the current thread as running the delivery callback of the
/// producer whose shared state is `owner`.
pub(crate) fn enter<T>(owner: &T) -> CallbackMark {
    let owner = std::ptr::from_ref(owner) as usize;
    IN_CALLBACK.with(|marks| marks.borrow_mut().push(owner));
    CallbackMark { owner }
}

impl Drop for CallbackMark {
    fn drop(&mut self) {
        IN_CALLBACK.with(|marks| {
            let mut marks = marks.borrow_mut();
            if let Some(i) = marks.iter().rposition(|&m| m == self.owner) {
                marks.remove(i);
            }
        });
    }
}

/// True while the current thread runs the delivery callback of the
/// producer whose shared state is `owner`.
pub(crate) fn in_callback<T>(owner: &T) -> bool {
    let owner = std::ptr::from_ref(owner) as usize;
    IN_CALLBACK.with(|marks| marks.borrow().contains(&owner))
}

/// How often [`end_thread`] looks whether the thread has ended.
const JOIN_POLL: Duration = Duration::from_millis(1);

/// How long past the deadline [`end_thread`] still waits: a driver that
/// was told to stop ends within a round (it is woken at once), and joining
/// it means nothing of it runs after `close` returned.
const JOIN_GRACE: Duration = Duration::from_millis(50);

/// Joins the driver thread once it has ended, waiting no later than
/// `deadline` plus [`JOIN_GRACE`] (`None`: as long as it takes), and never
/// from the thread itself (a callback that closes or drops its producer).
/// A thread not joined is left to end on its own: it has been told to stop
/// and does so as soon as its transport call or callback returns. Returns
/// whether it was joined.
pub(crate) fn end_thread(handle: JoinHandle<()>, deadline: Option<Instant>) -> bool {
    if handle.thread().id() == thread::current().id() {
        return false;
    }
    let grace = clock::deadline_after(JOIN_GRACE);
    if let Some(deadline) = deadline.map(|d| grace.map_or(d, |g| d.max(g))) {
        while !handle.is_finished() {
            let left = clock::remaining(deadline);
            if left.is_zero() {
                return false;
            }
            clock::sleep(left.min(JOIN_POLL));
        }
    }
    // The driver catches the callback's panics; any other is a bug that
    // was reported on that thread already.
    let _ = handle.join();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_per_owner_and_nest() {
        let (a, b) = (1u8, 2u8);
        assert!(!in_callback(&a));
        let outer = enter(&a);
        assert!(in_callback(&a) && !in_callback(&b));
        let inner = enter(&b);
        assert!(in_callback(&a) && in_callback(&b));
        drop(inner);
        assert!(in_callback(&a) && !in_callback(&b));
        drop(outer);
        assert!(!in_callback(&a));
        // Other threads are not marked.
        let _mark = enter(&a);
        std::thread::scope(|s| {
            s.spawn(|| assert!(!in_callback(&a)));
        });
    }

    #[test]
    fn a_thread_is_not_joined_from_itself_nor_past_the_deadline() {
        let (tx, rx) = std::sync::mpsc::channel::<JoinHandle<()>>();
        let (joined_tx, joined_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let me = rx.recv().unwrap();
            joined_tx.send(end_thread(me, None)).unwrap();
        });
        tx.send(handle).unwrap();
        assert_eq!(joined_rx.recv_timeout(Duration::from_secs(10)), Ok(false));
        let slow = std::thread::spawn(|| clock::sleep(Duration::from_millis(300)));
        let started = clock::now();
        assert!(!end_thread(
            slow,
            clock::deadline_after(Duration::from_millis(20))
        ));
        assert!(clock::now() - started < Duration::from_millis(250));
        let quick = std::thread::spawn(|| {});
        assert!(end_thread(quick, clock::deadline_after(Duration::from_secs(5))));
    }
}
