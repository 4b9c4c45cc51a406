//! A Kafka REST proxy for tests: real HTTP on 127.0.0.1, speaking like
//! Confluent REST Proxy (v3 and v2), Karapace (v2) or Redpanda's
//! pandaproxy (v2), quirks included, and misbehaving on request.
//!
//! None of those proxies can be installed on the project's machines, so
//! this server reproduces their documented behaviour (the project's
//! `REST-PROXY.md`): streamed v3 answers with per-record `error_code`s,
//! v2 `offsets[]` one per record (Confluent, Karapace) or one per partition
//! (Redpanda), Karapace's 1 MiB body cap, its 422 on a `headers` field and
//! on partial failure, Confluent's 50002/50003, Redpanda's Kafka codes, the
//! media-type checks (v3 answers 400 to a `charset` parameter, v2 415/406),
//! basic auth (401 with `WWW-Authenticate`, 403).
//!
//! It keeps what it accepted, per topic and partition in offset order
//! ([`RestProxy::records`]), so a test can compare what a client was told
//! with what was written. A test arms [`Fault`]s at run time to make it
//! hang, reset, fail, throttle, slow down, forget topics or answer garbage.
//!
//! ```no_run
//! use steadfast_sim::rest_proxy::{Fault, Flavor, ProxyConfig, RestProxy, Times};
//!
//! let proxy = RestProxy::start(ProxyConfig::new(Flavor::KarapaceV2).topic("events", 3))?;
//! proxy.arm(Fault::Status(503), Times::Next(1));
//! // ... point a client at proxy.base_url() ...
//! let written = proxy.records("events");
//! # Ok::<(), std::io::Error>(())
//! ```

mod config;
mod http;
mod inspect;
mod produce;
mod route;
mod state;
mod v2;
mod v3;
mod wire;

use core::net::SocketAddr;
use core::time::Duration;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

pub use config::{Fault, Flavor, ProxyConfig, Times};
pub use state::{SeenRequest, StoredRecord};

use state::Shared;

/// A running test server; stops when dropped.
#[derive(Debug)]
pub struct RestProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl RestProxy {
    /// Starts serving on an ephemeral port of 127.0.0.1.
    pub fn start(config: ProxyConfig) -> io::Result<RestProxy> {
        Self::start_on(config, 0)
    }

    /// Starts serving on `127.0.0.1:port` (0: any free port).
    pub fn start_on(config: ProxyConfig, port: u16) -> io::Result<RestProxy> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("rest-proxy-accept".into())
                .spawn(move || wire::accept_loop(listener, shared))?
        };
        Ok(RestProxy {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` plus the prefix: what a client is given.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.shared.config.prefix)
    }

    /// The flavor served.
    pub fn flavor(&self) -> Flavor {
        self.shared.config.flavor
    }

    /// The v3 cluster id served.
    pub fn cluster_id(&self) -> &str {
        &self.shared.config.cluster_id
    }

    /// Creates a topic (no-op if it exists).
    pub fn create_topic(&self, name: &str, partitions: i32) {
        self.shared.create_topic(name, partitions);
    }

    /// Arms a fault.
    pub fn arm(&self, fault: Fault, times: Times) {
        self.shared.arm(fault, times);
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// Every record `topic` holds, partition by partition, in offset order.
    pub fn records(&self, topic: &str) -> Vec<StoredRecord> {
        self.shared.log(topic)
    }

    /// Every request seen so far, in arrival order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.requests()
    }

    /// Stops serving: hung requests are released and connections closed.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop();
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Drop for RestProxy {
    fn drop(&mut self) {
        if self.accept.is_some() {
            self.shutdown();
        }
    }
}
