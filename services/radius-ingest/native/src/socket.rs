//! Batched UDP I/O on the worker's IPv4 socket: recvmmsg and sendmmsg, one system call per batch instead of
//! one per datagram.

use std::io;
use std::mem::zeroed;

pub const BATCH: usize = 64;
const SIZE: usize = 4096; // RADIUS packets are at most 4096 bytes; anything longer is padding (RFC 2865 §3)

pub struct Buffers {
    data: Vec<[u8; SIZE]>,
    names: Vec<libc::sockaddr_in>,
    lengths: Vec<usize>,
}

impl Buffers {
    pub fn new() -> Self {
        Buffers {
            data: vec![[0u8; SIZE]; BATCH],
            names: vec![unsafe { zeroed() }; BATCH],
            lengths: vec![0; BATCH],
        }
    }

    /// Reads up to BATCH datagrams without blocking; how many arrived (0 when none was waiting).
    pub fn receive(&mut self, fd: i32) -> io::Result<usize> {
        let mut iovecs: Vec<libc::iovec> = self
            .data
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: SIZE,
            })
            .collect();
        let mut headers: Vec<libc::mmsghdr> = (0..BATCH)
            .map(|i| {
                let mut h: libc::mmsghdr = unsafe { zeroed() };
                h.msg_hdr.msg_name = (&mut self.names[i] as *mut libc::sockaddr_in).cast();
                h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
                h.msg_hdr.msg_iov = &mut iovecs[i];
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        let received = unsafe {
            libc::recvmmsg(
                fd,
                headers.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if received < 0 {
            let error = io::Error::last_os_error();
            return match error.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(error),
            };
        }
        let received = received as usize;
        for (i, header) in headers.iter().take(received).enumerate() {
            self.lengths[i] = (header.msg_len as usize).min(SIZE);
        }
        Ok(received)
    }

    /// Datagram `i` of the last `receive`: its bytes, source IPv4 address and port.
    pub fn datagram(&self, i: usize) -> (&[u8], u32, u16) {
        let name = &self.names[i];
        (
            &self.data[i][..self.lengths[i]],
            u32::from_be(name.sin_addr.s_addr),
            u16::from_be(name.sin_port),
        )
    }
}

/// Sends every (datagram, IPv4 address, port); returns how many went out before the socket would block.
pub fn send_all(fd: i32, messages: &[(Vec<u8>, u32, u16)]) -> io::Result<usize> {
    let mut names: Vec<libc::sockaddr_in> = messages
        .iter()
        .map(|(_, ip, port)| {
            let mut name: libc::sockaddr_in = unsafe { zeroed() };
            name.sin_family = libc::AF_INET as libc::sa_family_t;
            name.sin_port = port.to_be();
            name.sin_addr.s_addr = ip.to_be();
            name
        })
        .collect();
    let mut iovecs: Vec<libc::iovec> = messages
        .iter()
        .map(|(data, _, _)| libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        })
        .collect();
    let mut headers: Vec<libc::mmsghdr> = (0..messages.len())
        .map(|i| {
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_in).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_hdr.msg_iov = &mut iovecs[i];
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();
    let mut sent = 0;
    while sent < headers.len() {
        let count = (headers.len() - sent).min(1024) as u32;
        let result =
            unsafe { libc::sendmmsg(fd, headers[sent..].as_mut_ptr(), count, libc::MSG_DONTWAIT) };
        if result < 0 {
            let error = io::Error::last_os_error();
            return match error.kind() {
                io::ErrorKind::WouldBlock => Ok(sent),
                io::ErrorKind::Interrupted => continue,
                _ => Err(error),
            };
        }
        sent += result as usize;
    }
    Ok(sent)
}
