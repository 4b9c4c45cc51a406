//! WASI only: each request leaves in one write.
//!
//! ureq writes a request's head and its body with separate writes. Natively
//! it sets `TCP_NODELAY`, so each goes out at once. A WASI guest cannot:
//! `wasi:sockets` has no such option (the `set_nodelay` call succeeds and
//! does nothing), so Nagle's algorithm holds the body back until the server
//! acknowledges the head, and servers delay that acknowledgement (40 ms on
//! Linux). Measured under wasmtime against the test proxy: every request
//! took 43 ms instead of well under one.
//!
//! [`CoalesceConnector`], last in ureq's connector chain, wraps the
//! connection in a [`Coalesce`] transport that keeps what ureq transmits in
//! a buffer of its own and writes it out when ureq starts waiting for the
//! answer (or when [`HOLD`] bytes have gathered), so a request goes out as
//! one write. Nothing else changes: the same socket, timeouts and pool. A
//! failed write now surfaces while awaiting the answer, still as an error
//! after the connection was made, which `http` already treats as
//! "outcome unknown".
//!
//! Built on ureq's `unversioned` transport API, which ureq exempts from
//! semver: a ureq upgrade may need this file adjusted.

use core::fmt;

use ureq::Error;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};

/// Bytes gathered before they are written without waiting for the answer.
const HOLD: usize = 256 * 1024;

/// Room offered to ureq for each write (its own default output buffer).
const ROOM: usize = 128 * 1024;

/// Input buffer: ureq's default.
const INPUT: usize = 128 * 1024;

/// Wraps every connection the chain before it made in a [`Coalesce`].
#[derive(Debug)]
pub(crate) struct CoalesceConnector;

impl<In: Transport> Connector<In> for CoalesceConnector {
    type Out = Coalesce<In>;

    fn connect(&self, _: &ConnectionDetails, chained: Option<In>) -> Result<Option<Self::Out>, Error> {
        Ok(chained.map(|inner| Coalesce {
            inner,
            held: Held {
                out: Vec::new(),
                len: 0,
                // Only its input side is used (the output size must be > 0).
                input: LazyBuffers::new(INPUT, 1),
            },
        }))
    }
}

/// A connection whose writes are held until the answer is awaited.
pub(crate) struct Coalesce<T> {
    inner: T,
    held: Held,
}

/// The buffers ureq sees: output gathers behind what is held; input is
/// copied over from the inner connection.
struct Held {
    out: Vec<u8>,
    /// Bytes of `out` transmitted by ureq but not yet written.
    len: usize,
    input: LazyBuffers,
}

impl<T> fmt::Debug for Coalesce<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coalesce")
            .field("held", &self.held.len)
            .finish_non_exhaustive()
    }
}

impl Held {
    fn room(&mut self) -> &mut [u8] {
        if self.out.len() < self.len + ROOM {
            self.out.resize(self.len + ROOM, 0);
        }
        &mut self.out[self.len..]
    }
}

impl Buffers for Held {
    fn output(&mut self) -> &mut [u8] {
        self.room()
    }

    fn input(&self) -> &[u8] {
        self.input.input()
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.input.input_append_buf()
    }

    fn input_appended(&mut self, amount: usize) {
        self.input.input_appended(amount);
    }

    fn input_consume(&mut self, amount: usize) {
        self.input.input_consume(amount);
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        if self.out.len() < self.len + ROOM {
            self.out.resize(self.len + ROOM, 0);
        }
        let (tmp, _) = self.input.tmp_and_output();
        (tmp, &mut self.out[self.len..])
    }

    fn can_use_input(&self) -> bool {
        self.input.can_use_input()
    }
}

impl<T: Transport> Coalesce<T> {
    /// Writes everything held, through the inner connection's buffer.
    fn flush(&mut self, timeout: NextTimeout) -> Result<(), Error> {
        let mut done = 0;
        while done < self.held.len {
            let out = self.inner.buffers().output();
            let n = out.len().min(self.held.len - done);
            out[..n].copy_from_slice(&self.held.out[done..done + n]);
            done += n;
            if let Err(e) = self.inner.transmit_output(n, timeout) {
                self.held.len = 0;
                return Err(e);
            }
        }
        self.held.len = 0;
        Ok(())
    }
}

impl<T: Transport> Transport for Coalesce<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.held
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.held.len += amount;
        if self.held.len >= HOLD {
            self.flush(timeout)?;
        }
        Ok(())
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.flush(timeout)?;
        if self.held.can_use_input() {
            return Ok(true);
        }
        self.await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.flush(timeout)?;
        if self.inner.buffers().input().is_empty() && !self.inner.await_input(timeout)? {
            return Ok(false);
        }
        let from = self.inner.buffers().input();
        let to = self.held.input.input_append_buf();
        let n = from.len().min(to.len());
        to[..n].copy_from_slice(&from[..n]);
        self.held.input.input_appended(n);
        self.inner.buffers().input_consume(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}
