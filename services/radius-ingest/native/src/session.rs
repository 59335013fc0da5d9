//! Attribute decoding (as `AttributeDecoder`), the session event (as `domain.accounting.interpret` for Start,
//! Interim-Update and Stop) and its Kafka record (as `adapters.records.encode_accounting`).

use std::collections::HashMap;
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use md5::{Digest, Md5};
use sha1::Sha1;

use crate::json::{iso_seconds, push_string};
use crate::packet::{Client, Request};

/// The attributes the domain reads, by the dictionary name Python's domain uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    StatusType,
    SessionId,
    UserName,
    NasIp,
    NasIpv6,
    NasIdentifier,
    NasPort,
    NasPortId,
    NasPortType,
    FramedIp,
    FramedIpv6Prefix,
    DelegatedIpv6Prefix,
    CallingStation,
    CalledStation,
    EventTimestamp,
    DelayTime,
    SessionTime,
    InputOctets,
    InputGigawords,
    OutputOctets,
    OutputGigawords,
    InputPackets,
    OutputPackets,
    TerminateCause,
}
const ROLES: usize = 24;

fn role_of(name: &str) -> Option<Role> {
    use Role::*;
    Some(match name {
        "Acct-Status-Type" => StatusType,
        "Acct-Session-Id" => SessionId,
        "User-Name" => UserName,
        "NAS-IP-Address" => NasIp,
        "NAS-IPv6-Address" => NasIpv6,
        "NAS-Identifier" => NasIdentifier,
        "NAS-Port" => NasPort,
        "NAS-Port-Id" => NasPortId,
        "NAS-Port-Type" => NasPortType,
        "Framed-IP-Address" => FramedIp,
        "Framed-IPv6-Prefix" => FramedIpv6Prefix,
        "Delegated-IPv6-Prefix" => DelegatedIpv6Prefix,
        "Calling-Station-Id" => CallingStation,
        "Called-Station-Id" => CalledStation,
        "Event-Timestamp" => EventTimestamp,
        "Acct-Delay-Time" => DelayTime,
        "Acct-Session-Time" => SessionTime,
        "Acct-Input-Octets" => InputOctets,
        "Acct-Input-Gigawords" => InputGigawords,
        "Acct-Output-Octets" => OutputOctets,
        "Acct-Output-Gigawords" => OutputGigawords,
        "Acct-Input-Packets" => InputPackets,
        "Acct-Output-Packets" => OutputPackets,
        "Acct-Terminate-Cause" => TerminateCause,
        _ => return None,
    })
}

/// FreeRADIUS data types, as the dictionary names them (anything else decodes as octets, like Python).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Integer64,
    Text,
    Ipv4,
    Ipv6,
    Ipv6Prefix,
    Octets,
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Int(u64),
    Text(String),
}

impl Value {
    fn truthy(&self) -> bool {
        match self {
            Value::Int(v) => *v != 0,
            Value::Text(t) => !t.is_empty(),
        }
    }
    fn text(&self) -> String {
        match self {
            Value::Int(v) => v.to_string(),
            Value::Text(t) => t.clone(),
        }
    }
    fn int(&self) -> Option<u64> {
        match self {
            Value::Int(v) => Some(*v),
            Value::Text(_) => None,
        }
    }
}

pub struct Dictionary {
    by_code: [Option<(Role, Kind)>; 256],
    known: [bool; 256],
    port_types: HashMap<u32, String>,
    statuses: HashMap<u32, String>,
    causes: HashMap<u32, String>,
}

impl Dictionary {
    pub fn new(
        attributes: Vec<(u8, String, String)>,
        known: Vec<u8>,
        mut values: HashMap<String, HashMap<u32, String>>,
    ) -> Result<Self, String> {
        let mut by_code = [None; 256];
        let mut seen = 0;
        for (code, name, kind) in attributes {
            let role = role_of(&name).ok_or(format!("the native path does not read {name}"))?;
            let kind = match kind.as_str() {
                "integer" | "date" => Kind::Integer,
                "integer64" => Kind::Integer64,
                "string" => Kind::Text,
                "ipaddr" => Kind::Ipv4,
                "ipv6addr" => Kind::Ipv6,
                "ipv6prefix" => Kind::Ipv6Prefix,
                _ => Kind::Octets,
            };
            use Role::*;
            let numeric = matches!(
                role,
                StatusType
                    | NasPortType
                    | EventTimestamp
                    | DelayTime
                    | SessionTime
                    | InputOctets
                    | InputGigawords
                    | OutputOctets
                    | OutputGigawords
                    | InputPackets
                    | OutputPackets
                    | TerminateCause
            );
            if numeric && !matches!(kind, Kind::Integer | Kind::Integer64) {
                return Err(format!(
                    "{name} has dictionary type {kind_name}, which the native path does not expect",
                    kind_name = kind_label(kind)
                ));
            }
            by_code[code as usize] = Some((role, kind));
            seen += 1;
        }
        if seen != ROLES {
            return Err(format!(
                "the native path reads {ROLES} attributes, Python handed over {seen}"
            ));
        }
        let mut known_codes = [false; 256];
        for code in known {
            known_codes[code as usize] = true;
        }
        let mut take = |name: &str| {
            values
                .remove(name)
                .ok_or(format!("no value names for {name}"))
        };
        Ok(Dictionary {
            by_code,
            known: known_codes,
            port_types: take("NAS-Port-Type")?,
            statuses: take("Acct-Status-Type")?,
            causes: take("Acct-Terminate-Cause")?,
        })
    }
}

fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Integer => "integer",
        Kind::Integer64 => "integer64",
        Kind::Text => "string",
        Kind::Ipv4 => "ipaddr",
        Kind::Ipv6 => "ipv6addr",
        Kind::Ipv6Prefix => "ipv6prefix",
        Kind::Octets => "octets",
    }
}

pub struct EventModel {
    pub event_type: String,
    pub schema_version: i64,
    pub topic: String,
    pub fields: Vec<String>,
}

#[derive(Clone)]
pub struct Outcome {
    pub identifier: u8,
    pub authenticator: [u8; 16],
    pub reply: [u8; 20],
    pub event_id: String,
    pub status: &'static str,
    pub key: String,
    pub value: Vec<u8>,
    pub header_time: String,
    pub skipped: u32,
}

/// Decoded attributes by role; None when Python must decide (text that is not UTF-8, IPv6 forms whose text
/// the two libraries might write differently).
fn decode(request: &Request, dictionary: &Dictionary) -> Option<([Option<Value>; ROLES], u32)> {
    let mut out: [Option<Value>; ROLES] = Default::default();
    let mut skipped = request.vendor_specific;
    for code in 0..256 {
        let Some(value) = request.attribute(code) else {
            continue;
        };
        let Some((role, kind)) = dictionary.by_code[code] else {
            if !dictionary.known[code] {
                skipped += 1;
            }
            continue;
        };
        let decoded = match kind {
            Kind::Integer => (value.len() == 4)
                .then(|| Value::Int(u32::from_be_bytes(value[..4].try_into().unwrap()) as u64)),
            Kind::Integer64 => (value.len() == 8)
                .then(|| Value::Int(u64::from_be_bytes(value[..8].try_into().unwrap()))),
            Kind::Text => Some(Value::Text(String::from_utf8(value.to_vec()).ok()?)),
            Kind::Ipv4 => (value.len() == 4).then(|| {
                Value::Text(Ipv4Addr::new(value[0], value[1], value[2], value[3]).to_string())
            }),
            Kind::Ipv6 => {
                if value.len() == 16 {
                    Some(Value::Text(ipv6_text(value)?))
                } else {
                    None
                }
            }
            Kind::Ipv6Prefix => {
                if value.len() < 2 || value.len() > 18 || value[1] > 128 {
                    None
                } else {
                    let mut padded = [0u8; 16];
                    padded[..value.len() - 2].copy_from_slice(&value[2..]);
                    Some(Value::Text(format!("{}/{}", ipv6_text(&padded)?, value[1])))
                }
            }
            Kind::Octets => Some(Value::Text(format!("0x{}", hex(value)))),
        };
        match decoded {
            Some(v) => out[role as usize] = Some(v),
            None => skipped += 1,
        }
    }
    Some((out, skipped))
}

/// inet_ntop's text of an IPv6 address; None for the forms with an embedded IPv4 address (the first 80 bits
/// zero), where C libraries and Rust may differ.
fn ipv6_text(bytes: &[u8]) -> Option<String> {
    if bytes[..10].iter().all(|b| *b == 0) {
        return None;
    }
    let octets: [u8; 16] = bytes.try_into().ok()?;
    Some(Ipv6Addr::from(octets).to_string())
}

const WORD: u64 = 1 << 32;
/// The status types served natively (the keys of the models Python hands over).
pub const STATUSES: [&str; 3] = ["Start", "Interim-Update", "Stop"];

#[allow(clippy::too_many_arguments)]
pub fn build(
    request: &Request,
    client: &Client,
    source_ip: &str,
    now: f64,
    dictionary: &Dictionary,
    models: &HashMap<String, EventModel>,
    source: &str,
    namespace: &[u8; 16],
) -> Option<Outcome> {
    use Role::*;
    let (a, skipped) = decode(request, dictionary)?;
    let get = |role: Role| a[role as usize].as_ref();
    let int = |role: Role| get(role).and_then(Value::int);
    let status = dictionary.statuses.get(&(int(StatusType)? as u32))?;
    let model = models.get(status.as_str())?; // Start, Interim-Update, Stop; the rest is Python's
    let nas_ip = [get(NasIp), get(NasIpv6)]
        .into_iter()
        .flatten()
        .find(|v| v.truthy())
        .cloned()
        .unwrap_or_else(|| Value::Text(source_ip.to_string()));
    let when: i64 = match int(EventTimestamp) {
        Some(stamp) => i64::try_from(stamp).ok()?,
        None => now.trunc() as i64 - i64::try_from(int(DelayTime).unwrap_or(0)).ok()?,
    };
    let username = match get(UserName) {
        Some(v) => v.text(),
        None => String::new(),
    };
    let session_id = match get(SessionId) {
        Some(v) => v.text(),
        None => String::new(),
    };
    let port = match (get(NasPortId), get(NasPort)) {
        (Some(id), _) => id.text(),
        (None, Some(port)) => port.text(),
        (None, None) => String::new(),
    };
    // MD5 over "tenant,nas_id,nas_ip,username,acct_session_id,port", fed piece by piece (no string built)
    let nas_ip_text = nas_ip.text();
    let mut md5 = Md5::new();
    for (i, part) in [
        &client.tenant_id,
        &client.nas_id,
        &nas_ip_text,
        &username,
        &session_id,
        &port,
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            md5.update(b",");
        }
        md5.update(part.as_bytes());
    }
    let key = hex(&md5.finalize());
    let session_time = int(SessionTime).unwrap_or(0);
    // u64 like the wire's 32-bit halves; Python's integers do not overflow, so an overflow is Python's case
    let input = int(InputGigawords)
        .unwrap_or(0)
        .checked_mul(WORD)?
        .checked_add(int(InputOctets).unwrap_or(0))?;
    let output = int(OutputGigawords)
        .unwrap_or(0)
        .checked_mul(WORD)?
        .checked_add(int(OutputOctets).unwrap_or(0))?;
    let input_packets = int(InputPackets).unwrap_or(0);
    let output_packets = int(OutputPackets).unwrap_or(0);
    let start = when.checked_sub(i64::try_from(session_time).ok()?)?;
    let event_time_text = iso_seconds(when)?;
    let start_text = iso_seconds(start)?;
    let port_type = int(NasPortType).map(|code| dictionary.port_types.get(&(code as u32)).cloned());
    let cause = if status == "Stop" {
        int(TerminateCause).map(|code| {
            dictionary
                .causes
                .get(&(code as u32))
                .cloned()
                .unwrap_or(code.to_string())
        })
    } else {
        None
    };

    let mut data = String::with_capacity(900);
    data.push('{');
    for (i, field) in model.fields.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        data.push('"');
        data.push_str(field);
        data.push_str("\":");
        let text = |data: &mut String, value: Option<&String>| match value {
            Some(v) => push_string(data, v),
            None => data.push_str("null"),
        };
        let value = |data: &mut String, value: Option<&Value>| match value {
            Some(Value::Int(v)) => push_u64(data, *v),
            Some(Value::Text(t)) => push_string(data, t),
            None => data.push_str("null"),
        };
        let number = |data: &mut String, v: u64| push_u64(data, v);
        match field.as_str() {
            "session_key" => push_string(&mut data, &key),
            "acct_session_id" => value(
                &mut data,
                Some(
                    &get(SessionId)
                        .cloned()
                        .unwrap_or(Value::Text(String::new())),
                ),
            ),
            "username" => value(
                &mut data,
                Some(&get(UserName).cloned().unwrap_or(Value::Text(String::new()))),
            ),
            "nas_id" => push_string(&mut data, &client.nas_id),
            "nas_ip_address" => value(&mut data, Some(&nas_ip)),
            "nas_identifier" => value(&mut data, get(NasIdentifier)),
            "nas_port" => value(&mut data, get(NasPort)),
            "nas_port_id" => value(&mut data, get(NasPortId)),
            "nas_port_type" => text(&mut data, port_type.as_ref().and_then(|v| v.as_ref())),
            "framed_ip_address" => value(&mut data, get(FramedIp)),
            "framed_ipv6_prefix" => value(&mut data, get(FramedIpv6Prefix)),
            "delegated_ipv6_prefix" => value(&mut data, get(DelegatedIpv6Prefix)),
            "calling_station_id" => value(&mut data, get(CallingStation)),
            "called_station_id" => value(&mut data, get(CalledStation)),
            "event_time" => {
                data.push('"');
                data.push_str(&event_time_text);
                data.push('"');
            }
            "session_start_time" => {
                data.push('"');
                data.push_str(&start_text);
                data.push('"');
            }
            "session_time_seconds" => number(&mut data, session_time),
            "input_octets" => number(&mut data, input),
            "output_octets" => number(&mut data, output),
            "input_packets" => number(&mut data, input_packets),
            "output_packets" => number(&mut data, output_packets),
            "terminate_cause" => text(&mut data, cause.as_ref()),
            _ => data.push_str("null"), // a field this event does not set (Python: data.get(name) is None)
        }
    }
    data.push('}');

    // uuid5 over "tenant|session key|status|session time|in|out|in packets|out packets"
    let mut identity = String::with_capacity(160);
    identity.push_str(&client.tenant_id);
    identity.push('|');
    identity.push_str(&key);
    identity.push('|');
    identity.push_str(status);
    for number in [session_time, input, output, input_packets, output_packets] {
        identity.push('|');
        push_u64(&mut identity, number);
    }
    let event_id = uuid5(namespace, identity.as_bytes());
    let mut value = String::with_capacity(data.len() + 512);
    value.push_str("{\"specversion\":\"1.0\",\"id\":\"");
    value.push_str(&event_id);
    value.push_str("\",\"source\":");
    push_string(&mut value, source);
    value.push_str(",\"type\":\"");
    value.push_str(&model.event_type);
    value.push_str("\",\"time\":\"");
    value.push_str(&event_time_text);
    value.push_str("\",\"subject\":");
    push_string(&mut value, &username);
    value.push_str(",\"datacontenttype\":\"application/json\",\"schema_version\":");
    let _ = write!(value, "{}", model.schema_version);
    value.push_str(",\"tenant_id\":");
    push_string(&mut value, &client.tenant_id);
    value.push_str(",\"correlation_id\":\"");
    value.push_str(&event_id);
    value.push_str("\",\"causation_id\":null,\"data\":");
    value.push_str(&data);
    value.push('}');
    let mut header_time = String::with_capacity(25);
    header_time.push_str(&event_time_text[..event_time_text.len() - 1]);
    header_time.push_str("+00:00");
    Some(Outcome {
        identifier: request.identifier,
        authenticator: request.authenticator,
        reply: request.reply,
        event_id,
        status: STATUSES
            .iter()
            .find(|s| **s == status.as_str())
            .copied()
            .unwrap_or("Start"),
        key: username,
        value: value.into_bytes(),
        header_time,
        skipped,
    })
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(DIGITS[(b >> 4) as usize] as char);
        text.push(DIGITS[(b & 15) as usize] as char);
    }
    text
}

fn push_u64(out: &mut String, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or("0"));
}

/// uuid5(namespace, name) as text (RFC 4122 §4.3), the way `domain.accounting.event_uuid` writes it.
fn uuid5(namespace: &[u8; 16], name: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(namespace);
    sha.update(name);
    let h = hex(&sha.finalize());
    let variant = b"89ab"[(u8::from_str_radix(&h[16..17], 16).unwrap_or(0) & 0x3) as usize] as char;
    format!(
        "{}-{}-5{}-{}{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        variant,
        &h[17..20],
        &h[20..32]
    )
}
