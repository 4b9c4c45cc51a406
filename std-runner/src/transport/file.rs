//! [`FileTransport`]: "delivers" records by appending them as JSON lines to
//! a file, confirming each batch only after that file is fsynced.
//!
//! It stands in for a broker in tests, journal-only benchmarks and on a
//! machine with no Kafka yet: the file is exactly what a broker would have
//! received, duplicates included, so a test can check that nothing was lost.
//!
//! One line per record:
//!
//! ```json
//! {"id":"00000000000000ab-0000000000000007","seq":7,"topic":"t","partition":null,
//!  "key":"k","value":"hello","headers":[{"name":"h","value":"v"}],"timestamp":null}
//! ```
//!
//! Bytes that are valid UTF-8 are written as strings (`"key"`, `"value"`);
//! others as base64 under `"key_base64"` / `"value_base64"`. A missing
//! value (a tombstone) is `"value":null`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use steadfast_core::{Failure, FailureClass, Millis, Outcome, OutgoingRecord, Seq, Transport};

use crate::storage::private_file_options;

/// Decides, per record, whether the file "broker" refuses it (for tests of
/// retries and dead letters). `None` accepts it.
pub type RejectFn = dyn FnMut(&OutgoingRecord<'_>) -> Option<Failure> + Send;

/// Appends delivered records to a file as JSON lines. See the module docs.
pub struct FileTransport {
    path: PathBuf,
    file: File,
    len: u64,
    line: Vec<u8>,
    outcomes: VecDeque<(Seq, Outcome)>,
    reject: Option<Box<RejectFn>>,
    /// A write failed part-way: start the next write on a fresh line.
    torn: bool,
    /// The output is not a regular file (`/dev/null`, a pipe, a terminal):
    /// there is nothing to fsync, and fsync fails there with `EINVAL`.
    unsyncable: bool,
}

impl std::fmt::Debug for FileTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileTransport")
            .field("path", &self.path)
            .field("in_flight", &self.outcomes.len())
            .finish_non_exhaustive()
    }
}

impl FileTransport {
    /// Opens (creating, 0600 on unix) the output file for appending. A torn
    /// last line left by a killed process is closed with a newline first.
    pub fn open(path: impl AsRef<Path>) -> io::Result<FileTransport> {
        let path = path.as_ref().to_path_buf();
        let mut file = private_file_options()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let meta = file.metadata()?;
        let unsyncable = !meta.is_file();
        let mut len = if unsyncable { 0 } else { meta.len() };
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
                len += 1;
            }
        }
        Ok(FileTransport {
            path,
            file,
            len,
            line: Vec::with_capacity(64 << 10),
            outcomes: VecDeque::new(),
            reject: None,
            torn: false,
            unsyncable,
        })
    }

    /// Refuses the records for which `reject` returns a failure.
    #[must_use]
    pub fn with_reject(
        mut self,
        reject: impl FnMut(&OutgoingRecord<'_>) -> Option<Failure> + Send + 'static,
    ) -> Self {
        self.reject = Some(Box::new(reject));
        self
    }

    /// The output file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_batch(&mut self) -> io::Result<()> {
        if self.torn {
            self.file.write_all(b"\n")?;
            self.len += 1;
            self.torn = false;
        }
        if let Err(e) = self.file.write_all(&self.line) {
            self.torn = true;
            return Err(e);
        }
        self.len += self.line.len() as u64;
        if self.unsyncable {
            return Ok(());
        }
        match self.file.sync_data() {
            // fsync is not supported by this kind of file: nothing to sync.
            Err(e) if sync_unsupported(&e) && !self.file.metadata().is_ok_and(|m| m.is_file()) => {
                self.unsyncable = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// True for the errors fsync gives on files it cannot sync (`EINVAL` on a
/// character device or a pipe, `ENOTSUP`).
fn sync_unsupported(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported)
}

impl Transport for FileTransport {
    fn submit(&mut self, _now: Millis, records: &[OutgoingRecord<'_>]) {
        self.line.clear();
        let mut accepted = Vec::with_capacity(records.len());
        for record in records {
            if let Some(failure) = self.reject.as_mut().and_then(|r| r(record)) {
                self.outcomes.push_back((record.seq, Outcome::Failed(failure)));
                continue;
            }
            let offset = self.len + self.line.len() as u64;
            encode_line(&mut self.line, record);
            accepted.push((record.seq, record.message.partition, offset));
        }
        if accepted.is_empty() {
            return;
        }
        let result = self.write_batch();
        for (seq, partition, offset) in accepted {
            let outcome = match &result {
                Ok(()) => Outcome::Confirmed {
                    partition: partition.unwrap_or(0),
                    offset: i64::try_from(offset).unwrap_or(-1),
                },
                // Maybe written, maybe not: the core sends it again.
                Err(e) => Outcome::Failed(Failure::new(
                    FailureClass::Unknown,
                    e.raw_os_error().unwrap_or(-1),
                    &format!("writing {}: {e}", self.path.display()),
                )),
            };
            self.outcomes.push_back((seq, outcome));
        }
    }

    fn poll(&mut self, _now: Millis, _timeout: Millis, report: &mut dyn FnMut(Seq, Outcome)) -> usize {
        let n = self.outcomes.len();
        while let Some((seq, outcome)) = self.outcomes.pop_front() {
            report(seq, outcome);
        }
        n
    }

    fn in_flight(&self) -> usize {
        self.outcomes.len()
    }
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn push_bytes(out: &mut Vec<u8>, name: &str, bytes: Option<&[u8]>) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    match bytes.map(std::str::from_utf8) {
        None => out.extend_from_slice(b"\":null"),
        Some(Ok(text)) => {
            out.extend_from_slice(b"\":");
            push_str(out, text);
        }
        Some(Err(_)) => {
            out.extend_from_slice(b"_base64\":\"");
            out.extend_from_slice(BASE64.encode(bytes.unwrap_or_default()).as_bytes());
            out.push(b'"');
        }
    }
}

/// Appends one record's JSON line (with its newline) to `out`.
pub fn encode_line(out: &mut Vec<u8>, record: &OutgoingRecord<'_>) {
    let m = &record.message;
    out.extend_from_slice(b"{\"id\":\"");
    out.extend_from_slice(record.id.to_string().as_bytes());
    out.extend_from_slice(format!("\",\"seq\":{},\"topic\":", record.seq).as_bytes());
    push_str(out, m.topic);
    match m.partition {
        Some(p) => out.extend_from_slice(format!(",\"partition\":{p},").as_bytes()),
        None => out.extend_from_slice(b",\"partition\":null,"),
    }
    push_bytes(out, "key", m.key);
    out.push(b',');
    push_bytes(out, "value", m.value);
    out.extend_from_slice(b",\"headers\":[");
    for (i, h) in m.headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        push_str(out, h.name);
        out.push(b',');
        push_bytes(out, "value", h.value);
        out.push(b'}');
    }
    match m.timestamp {
        Some(t) => out.extend_from_slice(format!("],\"timestamp\":{t}}}\n").as_bytes()),
        None => out.extend_from_slice(b"],\"timestamp\":null}\n"),
    }
}

/// One record read back from a [`FileTransport`] output file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveredRecord {
    /// The message id text (`journal-seq`, hex).
    pub id: String,
    /// Its journal sequence number.
    pub seq: Seq,
    /// Topic.
    pub topic: String,
    /// Partition, if the message named one.
    pub partition: Option<i32>,
    /// Key bytes.
    pub key: Option<Vec<u8>>,
    /// Value bytes (`None`: a tombstone).
    pub value: Option<Vec<u8>>,
}

/// What [`read_delivered`] found in an output file.
#[derive(Clone, Debug, Default)]
pub struct DeliveredFile {
    /// Every complete record line, in file order, duplicates included.
    pub records: Vec<DeliveredRecord>,
    /// Lines that are not a record (a line torn by a killed process).
    pub bad_lines: usize,
}

fn bytes_field(v: &serde_json::Value, name: &str) -> Option<Vec<u8>> {
    if let Some(text) = v.get(name).and_then(|x| x.as_str()) {
        return Some(text.as_bytes().to_vec());
    }
    let b64 = v.get(format!("{name}_base64"))?.as_str()?;
    BASE64.decode(b64).ok()
}

/// Reads a [`FileTransport`] output file back.
pub fn read_delivered(path: impl AsRef<Path>) -> io::Result<DeliveredFile> {
    let mut out = DeliveredFile::default();
    for line in BufReader::new(File::open(path)?).lines() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| {
                Some(DeliveredRecord {
                    id: v.get("id")?.as_str()?.to_string(),
                    seq: v.get("seq")?.as_u64()?,
                    topic: v.get("topic")?.as_str()?.to_string(),
                    partition: v
                        .get("partition")
                        .and_then(serde_json::Value::as_i64)
                        .and_then(|p| i32::try_from(p).ok()),
                    key: bytes_field(&v, "key"),
                    value: bytes_field(&v, "value"),
                })
            });
        match parsed {
            Some(r) => out.records.push(r),
            None => out.bad_lines += 1,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use steadfast_core::{Message, MessageId, Outcome, OutgoingRecord, Transport};

    use super::FileTransport;

    fn deliver(transport: &mut FileTransport) -> Vec<Outcome> {
        let record = OutgoingRecord {
            seq: 1,
            id: MessageId { journal: 9, seq: 1 },
            message: Message::new("t", b"hello"),
        };
        transport.submit(0, &[record]);
        let mut got = Vec::new();
        transport.poll(0, 0, &mut |_, outcome| got.push(outcome));
        got
    }

    #[test]
    fn dev_null_confirms_without_fsync() {
        // fsync on a character device fails with EINVAL: that is "nothing
        // to sync", not a failure to retry for ever.
        let mut transport = FileTransport::open("/dev/null").expect("open /dev/null");
        for _ in 0..3 {
            let got = deliver(&mut transport);
            assert!(matches!(got.as_slice(), [Outcome::Confirmed { .. }]), "{got:?}");
        }
    }

    #[test]
    fn regular_file_is_synced_and_confirmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.jsonl");
        let mut transport = FileTransport::open(&path).expect("open");
        let got = deliver(&mut transport);
        assert!(matches!(got.as_slice(), [Outcome::Confirmed { .. }]), "{got:?}");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("\"value\":\"hello\""), "{text}");
    }
}
