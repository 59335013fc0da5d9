//! Framing and authenticators of an Accounting-Request (as `protocol/packet.py` and
//! `protocol/authenticators.py`). Anything these would discard returns None: Python then discards it itself,
//! with its counters and log lines.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};

pub const ACCOUNTING_REQUEST: u8 = 4;
const ACCOUNTING_RESPONSE: u8 = 5;
const HEADER: usize = 20;
const MAX_LENGTH: usize = 4096;
const VENDOR_SPECIFIC: u8 = 26;
const MESSAGE_AUTHENTICATOR: u8 = 80;

pub struct Client {
    pub tenant_id: String,
    pub nas_id: String,
    pub secret: Vec<u8>,
}

impl Request<'_> {
    /// The value of the first attribute of this type, if the packet has one.
    pub fn attribute(&self, code: usize) -> Option<&[u8]> {
        let (start, end) = self.spans[code];
        (start != 0).then(|| &self.raw[start as usize..end as usize])
    }
}

pub struct Request<'a> {
    pub identifier: u8,
    pub authenticator: [u8; 16],
    /// First occurrence of each attribute type (by code): (start, end) of its value in `raw`; (0, 0) if absent.
    pub spans: [(u16, u16); 256],
    pub raw: &'a [u8],
    pub vendor_specific: u32,
    pub reply: [u8; 20],
}

/// "a.b.c.d/n" -> (network, prefix length); None for anything else (IPv6 networks).
pub fn parse_ipv4_network(text: &str) -> Option<(u32, u32)> {
    let (address, prefix) = text.split_once('/').unwrap_or((text, "32"));
    let ip: std::net::Ipv4Addr = address.parse().ok()?;
    let prefix: u32 = prefix.parse().ok()?;
    (prefix <= 32).then_some((u32::from(ip), prefix))
}

fn same(a: &[u8], b: &[u8]) -> bool {
    // constant time for equal lengths, like hmac.compare_digest
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn parse_accounting_request<'a>(datagram: &'a [u8], secret: &[u8]) -> Option<Request<'a>> {
    if datagram.len() < HEADER || datagram[0] != ACCOUNTING_REQUEST {
        return None;
    }
    let length = u16::from_be_bytes([datagram[2], datagram[3]]) as usize;
    if !(HEADER..=MAX_LENGTH).contains(&length) || datagram.len() < length {
        return None;
    }
    let raw = &datagram[..length];
    let mut spans = [(0u16, 0u16); 256];
    let mut vendor_specific = 0;
    let mut message_authenticator: Option<usize> = None;
    let mut position = HEADER;
    while position < length {
        if position + 2 > length {
            return None;
        }
        let (kind, size) = (raw[position], raw[position + 1] as usize);
        if size < 2 || position + size > length {
            return None;
        }
        if kind == VENDOR_SPECIFIC {
            vendor_specific += 1;
        } else if spans[kind as usize].0 == 0 {
            spans[kind as usize] = ((position + 2) as u16, (position + size) as u16);
            if kind == MESSAGE_AUTHENTICATOR {
                if size != 18 {
                    return None; // odd: Python's reference decides
                }
                message_authenticator = Some(position + 2);
            }
        }
        position += size;
    }
    let zero = [0u8; 16];
    let mut md5 = Md5::new();
    md5.update(&raw[..4]);
    md5.update(zero);
    md5.update(&raw[HEADER..]);
    md5.update(secret);
    if !same(&md5.finalize(), &raw[4..HEADER]) {
        return None;
    }
    if let Some(offset) = message_authenticator {
        let mut mac = Hmac::<Md5>::new_from_slice(secret).ok()?;
        mac.update(&raw[..4]);
        mac.update(&zero); // the Request Authenticator counts as zeros in accounting (RFC 3579 §3.2)
        mac.update(&raw[HEADER..offset]);
        mac.update(&zero);
        mac.update(&raw[offset + 16..]);
        if !same(&mac.finalize().into_bytes(), &raw[offset..offset + 16]) {
            return None;
        }
    }
    let mut authenticator = [0u8; 16];
    authenticator.copy_from_slice(&raw[4..HEADER]);
    // Accounting-Response without attributes: MD5(Code + Identifier + Length + Request Authenticator + Secret)
    let header = [ACCOUNTING_RESPONSE, raw[1], 0, 20];
    let mut md5 = Md5::new();
    md5.update(header);
    md5.update(authenticator);
    md5.update(secret);
    let mut reply = [0u8; 20];
    reply[..4].copy_from_slice(&header);
    reply[4..].copy_from_slice(&md5.finalize());
    Some(Request {
        identifier: raw[1],
        authenticator,
        spans,
        raw,
        vendor_specific,
        reply,
    })
}
