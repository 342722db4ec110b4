//! The plain transport: chat-protocol frames straight over TCP. Reads are
//! one `read`, writes one `writev` of the offered slices.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;

use crate::server::transport::{ReadOutcome, TransportError};

/// One `read` into `buf` (retried on `EINTR`): every byte is chat stream.
#[inline]
pub fn read(stream: &mut TcpStream, buf: &mut [u8]) -> Result<ReadOutcome, TransportError> {
    loop {
        return match stream.read(buf) {
            Ok(0) => Ok(ReadOutcome::Eof),
            Ok(n) => Ok(ReadOutcome::Read { raw: n, chat: n }),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(ReadOutcome::WouldBlock),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(TransportError::Io(e)),
        };
    }
}

/// One `writev` of `queue` (retried on `EINTR`); 0 if the socket is full.
#[inline]
pub fn write(stream: &mut TcpStream, queue: &[IoSlice<'_>]) -> Result<usize, TransportError> {
    if queue.iter().all(|s| s.is_empty()) {
        return Ok(0);
    }
    loop {
        return match stream.write_vectored(queue) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(TransportError::Io(e)),
        };
    }
}

/// Shuts `how` of the socket; errors (already shut, reset) do not matter.
pub fn shutdown(stream: &mut TcpStream, how: Shutdown) {
    let _ = stream.shutdown(how);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A connected pair: a nonblocking `mio` stream and a blocking std one.
    fn pair() -> (TcpStream, std::net::TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (TcpStream::from_std(server), client)
    }

    /// Reads until something other than `WouldBlock` (bounded wait).
    fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> ReadOutcome {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match read(s, buf).unwrap() {
                ReadOutcome::WouldBlock if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                other => return other,
            }
        }
    }

    #[test]
    fn reads_chat_bytes_then_would_block_then_eof() {
        let (mut s, mut c) = pair();
        let mut buf = [0u8; 64];
        assert_eq!(read(&mut s, &mut buf).unwrap(), ReadOutcome::WouldBlock);
        c.write_all(b"abc").unwrap();
        assert_eq!(
            read_some(&mut s, &mut buf),
            ReadOutcome::Read { raw: 3, chat: 3 }
        );
        assert_eq!(&buf[..3], b"abc");
        drop(c);
        assert_eq!(read_some(&mut s, &mut buf), ReadOutcome::Eof);
    }

    #[test]
    fn writes_the_slices_in_order_with_one_writev() {
        let (mut s, mut c) = pair();
        let queue = [IoSlice::new(b"he"), IoSlice::new(b""), IoSlice::new(b"llo")];
        assert_eq!(write(&mut s, &queue).unwrap(), 5);
        assert_eq!(write(&mut s, &[IoSlice::new(b"")]).unwrap(), 0);
        shutdown(&mut s, Shutdown::Write);
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"hello");
    }

    #[test]
    fn a_full_socket_consumes_less_and_is_not_an_error() {
        let (mut s, _c) = pair();
        let block = vec![7u8; 1 << 20];
        let mut total = 0;
        let mut last = usize::MAX;
        for _ in 0..1000 {
            last = write(&mut s, &[IoSlice::new(&block)]).unwrap();
            total += last;
            if last == 0 {
                break;
            }
        }
        assert_eq!(last, 0, "the peer never reads, so the socket fills");
        assert!(total > 0);
    }
}
