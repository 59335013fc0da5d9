//! A librdkafka producer driven from Rust: the very library confluent-kafka ships and uses, loaded at run
//! time (dlopen) from the path Python finds, so that nothing is compiled here. Records go in with
//! `rd_kafka_produceva`; delivery reports come back through `rd_kafka_poll` as (token, error).
//!
//! Only the C ABI of librdkafka's stable public API (rdkafka.h) is used, and its two structures (`rd_kafka_vu_t`,
//! `rd_kafka_message_t`) and the `rd_kafka_vtype_t` values are declared here by hand. So the library is
//! refused at load time (`check_version`) unless it is (1) the very version confluent-kafka reports (not some
//! other copy found on the path) and (2) of the major version those declarations follow: librdkafka keeps its
//! ABI within a major version, and a new major may change them. The caller then produces through
//! confluent-kafka instead.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr, CString};

const PRODUCER: c_int = 0; // RD_KAFKA_PRODUCER
const CONF_OK: c_int = 0; // RD_KAFKA_CONF_OK
const MSG_F_COPY: u64 = 0x2; // RD_KAFKA_MSG_F_COPY: librdkafka copies the value

// rd_kafka_vtype_t
const VTYPE_END: i32 = 0;
const VTYPE_RKT: i32 = 2;
const VTYPE_VALUE: i32 = 4;
const VTYPE_KEY: i32 = 5;
const VTYPE_OPAQUE: i32 = 6;
const VTYPE_MSGFLAGS: i32 = 7;
const VTYPE_HEADER: i32 = 9;

/// The librdkafka versions the declarations below follow (rdkafka.h of 2.x; `rd_kafka_version()` encoding
/// 0xMMmmrrxx): from 2.0.0 up to, not including, 3.0.0.
pub const SUPPORTED_FROM: i32 = 0x0200_0000;
pub const SUPPORTED_UNTIL: i32 = 0x0300_0000;

/// "2.16.0" from `rd_kafka_version()`'s 0xMMmmrrxx.
pub fn version_text(version: i32) -> String {
    format!(
        "{}.{}.{}",
        (version >> 24) & 0xff,
        (version >> 16) & 0xff,
        (version >> 8) & 0xff
    )
}

/// Ok if the loaded librdkafka (`loaded`, its `rd_kafka_version()`) is the one confluent-kafka reports
/// (`expected`) and within the supported range; else why it is refused.
pub fn check_version(loaded: i32, expected: i32) -> Result<(), String> {
    if loaded != expected {
        return Err(format!(
            "librdkafka version mismatch: the library loaded is {}, confluent-kafka uses {}",
            version_text(loaded),
            version_text(expected)
        ));
    }
    if !(SUPPORTED_FROM..SUPPORTED_UNTIL).contains(&loaded) {
        return Err(format!(
            "librdkafka {} is not supported: the native producer's declarations follow {} up to (not including) {}",
            version_text(loaded),
            version_text(SUPPORTED_FROM),
            version_text(SUPPORTED_UNTIL)
        ));
    }
    Ok(())
}

/// rd_kafka_vu_t: the type, then a union padded to 64 bytes.
#[repr(C)]
#[derive(Clone, Copy)]
struct Vu {
    vtype: i32,
    u: [u64; 8],
}

impl Vu {
    fn new(vtype: i32, words: &[u64]) -> Self {
        let mut u = [0u64; 8];
        u[..words.len()].copy_from_slice(words);
        Vu { vtype, u }
    }
}

/// rd_kafka_message_t, as delivery reports carry it.
#[repr(C)]
struct Message {
    err: i32,
    rkt: *mut c_void,
    partition: i32,
    payload: *mut c_void,
    len: usize,
    key: *mut c_void,
    key_len: usize,
    offset: i64,
    private: *mut c_void,
}

type DrMsgCb = extern "C" fn(*mut c_void, *const Message, *mut c_void);

struct Api {
    conf_new: unsafe extern "C" fn() -> *mut c_void,
    conf_set: unsafe extern "C" fn(
        *mut c_void,
        *const c_char,
        *const c_char,
        *mut c_char,
        usize,
    ) -> c_int,
    conf_set_dr_msg_cb: unsafe extern "C" fn(*mut c_void, DrMsgCb),
    conf_set_opaque: unsafe extern "C" fn(*mut c_void, *mut c_void),
    conf_destroy: unsafe extern "C" fn(*mut c_void),
    new: unsafe extern "C" fn(c_int, *mut c_void, *mut c_char, usize) -> *mut c_void,
    topic_new: unsafe extern "C" fn(*mut c_void, *const c_char, *mut c_void) -> *mut c_void,
    topic_destroy: unsafe extern "C" fn(*mut c_void),
    produceva: unsafe extern "C" fn(*mut c_void, *const Vu, usize) -> *mut c_void,
    error_code: unsafe extern "C" fn(*const c_void) -> i32,
    error_destroy: unsafe extern "C" fn(*mut c_void),
    err2str: unsafe extern "C" fn(i32) -> *const c_char,
    poll: unsafe extern "C" fn(*mut c_void, c_int) -> c_int,
    outq_len: unsafe extern "C" fn(*mut c_void) -> c_int,
    flush: unsafe extern "C" fn(*mut c_void, c_int) -> i32,
    destroy: unsafe extern "C" fn(*mut c_void),
}

impl Api {
    /// Loads the library at `path` if `check_version` accepts it (see the module's comment).
    fn load(path: &str, expected_version: i32) -> Result<Api, String> {
        let cpath = CString::new(path).map_err(|e| e.to_string())?;
        let lib = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if lib.is_null() {
            return Err(format!("cannot load {path}"));
        }
        macro_rules! symbol {
            ($name:literal) => {{
                let name = concat!($name, "\0");
                let found = unsafe { libc::dlsym(lib, name.as_ptr().cast()) };
                if found.is_null() {
                    return Err(format!("{path} has no {}", $name));
                }
                // SAFETY: the symbol is the librdkafka function of that name, with the signature rdkafka.h gives
                #[allow(clippy::missing_transmute_annotations)]
                unsafe { std::mem::transmute::<*mut c_void, _>(found) }
            }};
        }
        let version: unsafe extern "C" fn() -> c_int = symbol!("rd_kafka_version");
        if let Err(refused) = check_version(unsafe { version() }, expected_version) {
            unsafe { libc::dlclose(lib) };
            return Err(format!("{path}: {refused}"));
        }
        Ok(Api {
            conf_new: symbol!("rd_kafka_conf_new"),
            conf_set: symbol!("rd_kafka_conf_set"),
            conf_set_dr_msg_cb: symbol!("rd_kafka_conf_set_dr_msg_cb"),
            conf_set_opaque: symbol!("rd_kafka_conf_set_opaque"),
            conf_destroy: symbol!("rd_kafka_conf_destroy"),
            new: symbol!("rd_kafka_new"),
            topic_new: symbol!("rd_kafka_topic_new"),
            topic_destroy: symbol!("rd_kafka_topic_destroy"),
            produceva: symbol!("rd_kafka_produceva"),
            error_code: symbol!("rd_kafka_error_code"),
            error_destroy: symbol!("rd_kafka_error_destroy"),
            err2str: symbol!("rd_kafka_err2str"),
            poll: symbol!("rd_kafka_poll"),
            outq_len: symbol!("rd_kafka_outq_len"),
            flush: symbol!("rd_kafka_flush"),
            destroy: symbol!("rd_kafka_destroy"),
        })
    }
}

/// Delivery reports collected by the callback during `rd_kafka_poll` (same thread).
type Reports = Vec<(u64, i32)>;

extern "C" fn on_delivery(_rk: *mut c_void, message: *const Message, opaque: *mut c_void) {
    // SAFETY: `opaque` is the producer's boxed report list, alive as long as the producer; the callback
    // runs inside rd_kafka_poll on the thread that polls, while `Producer::poll` holds `&mut self`.
    unsafe {
        let reports = &mut *(opaque as *mut Reports);
        reports.push(((*message).private as u64, (*message).err));
    }
}

pub struct Producer {
    api: Api,
    rk: *mut c_void,
    topics: HashMap<String, *mut c_void>,
    reports: Box<Reports>,
    next_token: u64,
    tokens: HashMap<u64, String>,
}

// librdkafka handles are thread-safe; everything else here changes only through `&mut self`, which PyO3
// grants one caller at a time.
unsafe impl Send for Producer {}
unsafe impl Sync for Producer {}

/// One header: NUL-terminated name, value.
pub type Header<'a> = (&'a CStr, &'a [u8]);

impl Producer {
    pub fn new(
        path: &str,
        expected_version: i32,
        config: &[(String, String)],
    ) -> Result<Producer, String> {
        let api = Api::load(path, expected_version)?;
        let mut errstr = [0 as c_char; 512];
        let mut reports: Box<Reports> = Box::default();
        unsafe {
            let conf = (api.conf_new)();
            for (name, value) in config {
                let (n, v) = (
                    CString::new(name.as_str()).map_err(|e| e.to_string())?,
                    CString::new(value.as_str()).map_err(|e| e.to_string())?,
                );
                if (api.conf_set)(
                    conf,
                    n.as_ptr(),
                    v.as_ptr(),
                    errstr.as_mut_ptr(),
                    errstr.len(),
                ) != CONF_OK
                {
                    (api.conf_destroy)(conf);
                    return Err(CStr::from_ptr(errstr.as_ptr())
                        .to_string_lossy()
                        .into_owned());
                }
            }
            (api.conf_set_dr_msg_cb)(conf, on_delivery);
            (api.conf_set_opaque)(conf, (&mut *reports as *mut Reports).cast());
            let rk = (api.new)(PRODUCER, conf, errstr.as_mut_ptr(), errstr.len()); // takes the conf
            if rk.is_null() {
                (api.conf_destroy)(conf);
                return Err(CStr::from_ptr(errstr.as_ptr())
                    .to_string_lossy()
                    .into_owned());
            }
            Ok(Producer {
                api,
                rk,
                topics: HashMap::new(),
                reports,
                next_token: 1,
                tokens: HashMap::new(),
            })
        }
    }

    fn topic(&mut self, name: &str) -> Result<*mut c_void, String> {
        if let Some(&rkt) = self.topics.get(name) {
            return Ok(rkt);
        }
        let cname = CString::new(name).map_err(|e| e.to_string())?;
        let rkt = unsafe { (self.api.topic_new)(self.rk, cname.as_ptr(), std::ptr::null_mut()) };
        if rkt.is_null() {
            return Err(format!("cannot use topic {name}"));
        }
        self.topics.insert(name.to_string(), rkt);
        Ok(rkt)
    }

    /// Queues one record; Err((code, text)) when librdkafka refuses it (QUEUE_FULL: its queue is full).
    pub fn produce(
        &mut self,
        topic: &str,
        key: &[u8],
        value: &[u8],
        headers: &[Header],
        token: String,
    ) -> Result<(), (i32, String)> {
        let rkt = self.topic(topic).map_err(|e| (0, e))?;
        let id = self.next_token;
        let mut vus: Vec<Vu> = Vec::with_capacity(6 + headers.len());
        vus.push(Vu::new(VTYPE_RKT, &[rkt as u64]));
        vus.push(Vu::new(
            VTYPE_VALUE,
            &[value.as_ptr() as u64, value.len() as u64],
        ));
        vus.push(Vu::new(VTYPE_KEY, &[key.as_ptr() as u64, key.len() as u64]));
        vus.push(Vu::new(VTYPE_OPAQUE, &[id]));
        vus.push(Vu::new(VTYPE_MSGFLAGS, &[MSG_F_COPY]));
        for (name, value) in headers {
            vus.push(Vu::new(
                VTYPE_HEADER,
                &[
                    name.as_ptr() as u64,
                    value.as_ptr() as u64,
                    value.len() as u64,
                ],
            ));
        }
        vus.push(Vu::new(VTYPE_END, &[]));
        let error = unsafe { (self.api.produceva)(self.rk, vus.as_ptr(), vus.len() - 1) };
        if !error.is_null() {
            let code = unsafe { (self.api.error_code)(error) };
            unsafe { (self.api.error_destroy)(error) };
            return Err((code, self.describe(code)));
        }
        self.next_token += 1;
        self.tokens.insert(id, token);
        Ok(())
    }

    pub fn describe(&self, code: i32) -> String {
        unsafe {
            CStr::from_ptr((self.api.err2str)(code))
                .to_string_lossy()
                .into_owned()
        }
    }

    /// Serves delivery reports: (token, None) acknowledged, (token, Some(error text)) failed.
    pub fn poll(&mut self, timeout_ms: i32) -> Vec<(String, Option<String>)> {
        unsafe { (self.api.poll)(self.rk, timeout_ms) };
        let reports = std::mem::take(&mut *self.reports);
        let mut out = Vec::with_capacity(reports.len());
        for (id, err) in reports {
            if let Some(token) = self.tokens.remove(&id) {
                out.push((token, (err != 0).then(|| self.describe(err))));
            }
        }
        out
    }

    /// Records not yet acknowledged (or failed).
    pub fn in_queue(&self) -> i32 {
        unsafe { (self.api.outq_len)(self.rk) }
    }

    pub fn flush(&mut self, timeout_ms: i32) {
        unsafe { (self.api.flush)(self.rk, timeout_ms) };
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        unsafe {
            for (_, rkt) in self.topics.drain() {
                (self.api.topic_destroy)(rkt);
            }
            (self.api.destroy)(self.rk);
        }
    }
}
