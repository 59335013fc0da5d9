//! The accounting hot path of radius-ingest, natively: read datagrams in batches (recvmmsg), find the NAS
//! client, parse, verify the authenticators, decode the attributes the domain reads, build the session event
//! (deterministic id, envelope JSON, Kafka headers) and the Accounting-Response, and send replies in batches
//! (sendmmsg).
//!
//! It is a faster copy of the Python reference (`radius_ingest.protocol`, `domain.accounting`,
//! `adapters.records`), held byte-equal to it by the differential tests. Attribute codes and types, value
//! names, the event models' field order, types and topics are all handed over from Python at start-up; this
//! crate names only the attributes the domain reads. Whatever is not an ordinary Start / Interim-Update /
//! Stop from a known NAS with a good authenticator is handed back untouched, and Python decides (discards,
//! Accounting-On/Off, Status-Server, odd values).

mod json;
mod kafka;
mod packet;
mod session;
mod socket;

use std::collections::HashMap;

use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::packet::Client;
use crate::session::{Dictionary, EventModel, Outcome};

/// The native path of one worker process.
#[pyclass(module = "radius_ingest_native")]
struct FastPath {
    dictionary: Dictionary,
    models: HashMap<String, EventModel>,
    source: String,
    namespace: [u8; 16],
    hosts: HashMap<u32, usize>,
    blocks: Vec<(u32, u32, usize)>, // (network, mask, client), longest prefix first
    clients: Vec<Client>,
    buffers: socket::Buffers,
    cached: Cached,
    addresses: HashMap<(u32, u16), Py<PyTuple>>,
    producer: Option<kafka::Producer>,
    topic_prefix: String,
    topics: HashMap<&'static str, String>, // status -> the full (prefixed) topic name
    records: Vec<Record>, // the last `receive` batch's records, while a native producer is started
}

/// A record built by `receive`, kept here until Python decides to publish it (`produce`).
struct Record {
    client: usize,
    outcome: Outcome,
}

/// Python objects every record of a kind shares: made once, not per packet.
struct Cached {
    content_type: Py<PyTuple>,
    spec_version: Py<PyTuple>,
    source: Py<PyTuple>,
    by_status: HashMap<&'static str, (Py<PyString>, Py<PyTuple>)>, // topic, ("ce_type", event type)
    tenants: Vec<Py<PyTuple>>, // ("tenant_id", tenant) per client
}

const ADDRESS_CACHE: usize = 65_536;

fn header<'py>(py: Python<'py>, name: &str, value: &str) -> PyResult<Py<PyTuple>> {
    Ok((name, PyBytes::new(py, value.as_bytes()))
        .into_pyobject(py)?
        .unbind())
}

#[pymethods]
impl FastPath {
    /// attributes: [(code, name, type)] of the attributes the domain reads; known: every code the dictionary
    /// has; values: {attribute name: {value: value name}}; models: {status name: (event type, schema version,
    /// topic, field names)}; namespace: the 16 bytes of the event id namespace (uuid5).
    #[new]
    fn new(
        py: Python<'_>,
        attributes: Vec<(u8, String, String)>,
        known: Vec<u8>,
        values: HashMap<String, HashMap<u32, String>>,
        models: HashMap<String, (String, i64, String, Vec<String>)>,
        source: String,
        namespace: Vec<u8>,
    ) -> PyResult<Self> {
        let dictionary =
            Dictionary::new(attributes, known, values).map_err(PyValueError::new_err)?;
        let namespace: [u8; 16] = namespace
            .try_into()
            .map_err(|_| PyValueError::new_err("the event id namespace is 16 bytes"))?;
        let models: HashMap<String, EventModel> = models
            .into_iter()
            .map(|(status, (event_type, schema_version, topic, fields))| {
                (
                    status,
                    EventModel {
                        event_type,
                        schema_version,
                        topic,
                        fields,
                    },
                )
            })
            .collect();
        let mut by_status = HashMap::new();
        for status in session::STATUSES {
            let model = models
                .get(status)
                .ok_or_else(|| PyValueError::new_err(format!("no model for {status}")))?;
            let topic = PyString::new(py, &model.topic).unbind();
            by_status.insert(status, (topic, header(py, "ce_type", &model.event_type)?));
        }
        let cached = Cached {
            content_type: header(py, "content-type", "application/cloudevents+json")?,
            spec_version: header(py, "ce_specversion", "1.0")?,
            source: header(py, "ce_source", &source)?,
            by_status,
            tenants: Vec::new(),
        };
        Ok(FastPath {
            cached,
            addresses: HashMap::new(),
            producer: None,
            topic_prefix: String::new(),
            topics: HashMap::new(),
            records: Vec::new(),
            dictionary,
            models,
            source,
            namespace,
            hosts: HashMap::new(),
            blocks: Vec::new(),
            clients: Vec::new(),
            buffers: socket::Buffers::new(),
        })
    }

    /// The NAS clients, as (canonical network "a.b.c.d/n", tenant id, nas id, secret). IPv6 networks are
    /// ignored: this path serves IPv4 sockets.
    fn set_clients(
        &mut self,
        py: Python<'_>,
        clients: Vec<(String, String, String, Vec<u8>)>,
    ) -> PyResult<()> {
        let mut hosts = HashMap::new();
        let mut blocks = Vec::new();
        let mut list = Vec::new();
        let mut tenants = Vec::new();
        for (address, tenant_id, nas_id, secret) in clients {
            let Some((network, prefix)) = packet::parse_ipv4_network(&address) else {
                continue;
            };
            let index = list.len();
            tenants.push(header(py, "tenant_id", &tenant_id)?);
            list.push(Client {
                tenant_id,
                nas_id,
                secret,
            });
            if prefix == 32 {
                hosts.insert(network, index);
            } else {
                let mask = if prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - prefix)
                };
                blocks.push((network & mask, mask, index));
            }
        }
        blocks.sort_by_key(|block| std::cmp::Reverse(block.1)); // longest prefix (widest mask) first
        self.hosts = hosts;
        self.blocks = blocks;
        self.clients = list;
        self.cached.tenants = tenants;
        Ok(())
    }

    /// One datagram from (host, port) at `now` (epoch seconds): the fast-path tuple, or None when Python
    /// must handle it. What `receive` does per datagram; the differential tests call it directly.
    fn process<'py>(
        &self,
        py: Python<'py>,
        data: &[u8],
        host: &str,
        port: u16,
        now: f64,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let Ok(ip) = host.parse::<std::net::Ipv4Addr>() else {
            return Ok(None);
        };
        let addr = (host, port).into_pyobject(py)?;
        match self.outcome(data, u32::from(ip), host, now) {
            Some((outcome, client)) => Ok(Some(self.outcome_tuple(py, addr, outcome, client)?)),
            None => Ok(None),
        }
    }

    /// Reads up to `limit` datagrams waiting on the (non-blocking, IPv4 UDP) socket `fd`. Returns a list of
    /// ((host, port), identifier, request authenticator, reply, event id, topic, key, value, headers,
    /// attributes skipped) for the requests to publish, and ((host, port), datagram) for the rest.
    fn receive<'py>(
        &mut self,
        py: Python<'py>,
        fd: i32,
        now: f64,
        limit: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        self.records.clear();
        let mut taken = 0;
        while taken < limit {
            let received = self.buffers.receive(fd)?;
            for i in 0..received {
                let (_, ip, port) = self.buffers.datagram(i);
                let addr = self.address(py, ip, port)?;
                let (data, _, _) = self.buffers.datagram(i);
                let host = std::net::Ipv4Addr::from(ip).to_string();
                let item = match self.outcome(data, ip, &host, now) {
                    Some((outcome, client)) if self.producer.is_some() => {
                        self.keep(py, addr, outcome, client)?
                    }
                    Some((outcome, client)) => self.outcome_tuple(py, addr, outcome, client)?,
                    None => {
                        (addr, PyBytes::new(py, self.buffers.datagram(i).0)).into_pyobject(py)?
                    }
                };
                out.append(item)?;
            }
            taken += received;
            if received < socket::BATCH {
                break;
            }
        }
        Ok(out)
    }

    /// Sends [(datagram, (host, port))] on `fd` with sendmmsg; returns how many went out (the rest would
    /// have blocked: the caller decides).
    fn send(&mut self, fd: i32, replies: Vec<(Vec<u8>, (String, u16))>) -> PyResult<usize> {
        let mut messages = Vec::with_capacity(replies.len());
        for (data, (host, port)) in replies {
            let ip: std::net::Ipv4Addr = host
                .parse()
                .map_err(|_| PyValueError::new_err(format!("not an IPv4 address: {host}")))?;
            messages.push((data, u32::from(ip), port));
        }
        Ok(socket::send_all(fd, &messages)?)
    }

    /// Produces to Kafka from here, with the librdkafka at `library` (confluent-kafka's own) and `config`
    /// (librdkafka properties as text). ValueError if that library's `rd_kafka_version()` is not
    /// `expected_version` (confluent_kafka.libversion()[1]) or not a version this code's declarations follow. From then on `receive` keeps each request's record and hands
    /// Python a handle instead of its bytes (value = the handle; topic, key and headers None), for `produce`.
    fn start_producer(
        &mut self,
        library: &str,
        expected_version: i32,
        config: Vec<(String, String)>,
        topic_prefix: String,
    ) -> PyResult<()> {
        self.producer = Some(
            kafka::Producer::new(library, expected_version, &config)
                .map_err(PyValueError::new_err)?,
        );
        self.topics = session::STATUSES
            .iter()
            .map(|status| {
                (
                    *status,
                    format!("{topic_prefix}{}", self.models[*status].topic),
                )
            })
            .collect();
        self.topic_prefix = topic_prefix;
        Ok(())
    }

    /// Queues the record of `handle` (from the last `receive`); BufferError when librdkafka refuses it.
    fn produce(&mut self, handle: usize, token: String) -> PyResult<()> {
        let record = self
            .records
            .get(handle)
            .ok_or_else(|| PyValueError::new_err("no such record"))?;
        let o = &record.outcome;
        let model = &self.models[o.status];
        let topic = &self.topics[o.status];
        let tenant = &self.clients[record.client].tenant_id;
        let headers: [kafka::Header; 9] = [
            (c"content-type", b"application/cloudevents+json"),
            (c"ce_specversion", b"1.0"),
            (c"ce_id", o.event_id.as_bytes()),
            (c"ce_type", model.event_type.as_bytes()),
            (c"ce_source", self.source.as_bytes()),
            (c"ce_subject", o.key.as_bytes()),
            (c"ce_time", o.header_time.as_bytes()),
            (c"tenant_id", tenant.as_bytes()),
            (c"correlation_id", o.event_id.as_bytes()),
        ];
        let producer = self
            .producer
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("no producer started"))?;
        producer
            .produce(topic, o.key.as_bytes(), &o.value, &headers, token)
            .map_err(|(_, text)| PyBufferError::new_err(text))
    }

    /// Queues a record the Python path encoded (topic without the prefix); BufferError when refused.
    fn produce_record(
        &mut self,
        topic: &str,
        key: &[u8],
        value: &[u8],
        headers: Vec<(String, Vec<u8>)>,
        token: String,
    ) -> PyResult<()> {
        let names: Vec<std::ffi::CString> = headers
            .iter()
            .map(|(name, _)| std::ffi::CString::new(name.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let pairs: Vec<kafka::Header> = names
            .iter()
            .zip(&headers)
            .map(|(name, (_, value))| (name.as_c_str(), value.as_slice()))
            .collect();
        let topic = format!("{}{}", self.topic_prefix, topic);
        let producer = self
            .producer
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("no producer started"))?;
        producer
            .produce(&topic, key, value, &pairs, token)
            .map_err(|(_, text)| PyBufferError::new_err(text))
    }

    /// Delivery reports since the last call: [(token, None if acknowledged else the error's text)].
    fn poll_kafka(&mut self) -> Vec<(String, Option<String>)> {
        self.producer
            .as_mut()
            .map(|p| p.poll(0))
            .unwrap_or_default()
    }

    /// Records the producer has not had acknowledged (or failed) yet.
    fn kafka_in_queue(&self) -> i32 {
        self.producer.as_ref().map(|p| p.in_queue()).unwrap_or(0)
    }

    /// Waits up to `timeout_ms` for records in flight; their reports come from the next `poll_kafka`.
    fn flush_kafka(&mut self, py: Python<'_>, timeout_ms: i32) {
        if let Some(p) = self.producer.as_mut() {
            let _ = py; // the producer is not shared across threads: keep the GIL
            p.flush(timeout_ms);
        }
    }

    /// The record of `handle` as Python sees records: (topic, key, value, headers) — for tests.
    fn record<'py>(&self, py: Python<'py>, handle: usize) -> PyResult<Bound<'py, PyTuple>> {
        let record = self
            .records
            .get(handle)
            .ok_or_else(|| PyValueError::new_err("no such record"))?;
        let addr = ("", 0).into_pyobject(py)?;
        let item = self.outcome_tuple(py, addr, record.outcome.clone(), record.client)?;
        (
            item.get_item(5)?,
            item.get_item(6)?,
            item.get_item(7)?,
            item.get_item(8)?,
        )
            .into_pyobject(py)
    }
}

impl FastPath {
    fn client_index(&self, ip: u32) -> Option<usize> {
        if let Some(&index) = self.hosts.get(&ip) {
            return Some(index);
        }
        self.blocks
            .iter()
            .find(|(network, mask, _)| ip & mask == *network)
            .map(|b| b.2)
    }

    fn outcome(&self, data: &[u8], ip: u32, host: &str, now: f64) -> Option<(Outcome, usize)> {
        let index = self.client_index(ip)?;
        let client = &self.clients[index];
        let request = packet::parse_accounting_request(data, &client.secret)?;
        let outcome = session::build(
            &request,
            client,
            host,
            now,
            &self.dictionary,
            &self.models,
            &self.source,
            &self.namespace,
        )?;
        Some((outcome, index))
    }

    /// The (host, port) tuple of a source, the same object for every datagram from it (bounded).
    fn address<'py>(
        &mut self,
        py: Python<'py>,
        ip: u32,
        port: u16,
    ) -> PyResult<Bound<'py, PyTuple>> {
        if let Some(addr) = self.addresses.get(&(ip, port)) {
            return Ok(addr.bind(py).clone());
        }
        if self.addresses.len() >= ADDRESS_CACHE {
            self.addresses.clear();
        }
        let addr = (std::net::Ipv4Addr::from(ip).to_string(), port).into_pyobject(py)?;
        self.addresses.insert((ip, port), addr.clone().unbind());
        Ok(addr)
    }

    /// The tuple for a request whose record stays here: value = its handle for `produce`.
    fn keep<'py>(
        &mut self,
        py: Python<'py>,
        addr: Bound<'py, PyTuple>,
        o: Outcome,
        client: usize,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let handle = self.records.len();
        let items: [Bound<'py, PyAny>; 10] = [
            addr.into_any(),
            o.identifier.into_pyobject(py)?.into_any(),
            PyBytes::new(py, &o.authenticator).into_any(),
            PyBytes::new(py, &o.reply).into_any(),
            PyString::new(py, &o.event_id).into_any(),
            py.None().into_bound(py),
            py.None().into_bound(py),
            handle.into_pyobject(py)?.into_any(),
            py.None().into_bound(py),
            o.skipped.into_pyobject(py)?.into_any(),
        ];
        self.records.push(Record { client, outcome: o });
        PyTuple::new(py, items)
    }

    fn outcome_tuple<'py>(
        &self,
        py: Python<'py>,
        addr: Bound<'py, PyTuple>,
        o: Outcome,
        client: usize,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let c = &self.cached;
        let (topic, event_type) = &c.by_status[o.status];
        let event_id = PyBytes::new(py, o.event_id.as_bytes());
        let headers = PyList::new(
            py,
            [
                c.content_type.bind(py).clone(),
                c.spec_version.bind(py).clone(),
                ("ce_id", &event_id).into_pyobject(py)?,
                event_type.bind(py).clone(),
                c.source.bind(py).clone(),
                ("ce_subject", PyBytes::new(py, o.key.as_bytes())).into_pyobject(py)?,
                ("ce_time", PyBytes::new(py, o.header_time.as_bytes())).into_pyobject(py)?,
                c.tenants[client].bind(py).clone(),
                ("correlation_id", &event_id).into_pyobject(py)?,
            ],
        )?;
        let items: [Bound<'py, PyAny>; 10] = [
            addr.into_any(),
            o.identifier.into_pyobject(py)?.into_any(),
            PyBytes::new(py, &o.authenticator).into_any(),
            PyBytes::new(py, &o.reply).into_any(),
            PyString::new(py, &o.event_id).into_any(),
            topic.bind(py).clone().into_any(),
            PyBytes::new(py, o.key.as_bytes()).into_any(),
            PyBytes::new(py, &o.value).into_any(),
            headers.into_any(),
            o.skipped.into_pyobject(py)?.into_any(),
        ];
        PyTuple::new(py, items)
    }
}

/// Why `start_producer` would refuse a librdkafka whose `rd_kafka_version()` is `loaded` when confluent-kafka
/// reports `expected`; None when it would load it.
#[pyfunction]
fn librdkafka_refused(loaded: i32, expected: i32) -> Option<String> {
    kafka::check_version(loaded, expected).err()
}

#[pymodule]
fn radius_ingest_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FastPath>()?;
    m.add_function(wrap_pyfunction!(librdkafka_refused, m)?)?;
    m.add("BATCH", socket::BATCH)?;
    Ok(())
}
