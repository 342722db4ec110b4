//! Client sockets: nonblocking connect, optionally bound to one of several
//! loopback source addresses so that many connections to one server do not
//! run out of ephemeral ports (each source address has its own port space).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Connections planned per source address when spreading is automatic.
/// The ephemeral range here is about 28,000 ports; this leaves room for
/// sockets still in TIME_WAIT from an earlier run.
pub const CONNECTIONS_PER_SOURCE: usize = 10_000;
/// The most 127.0.0.x source addresses used.
pub const MAX_SOURCES: usize = 250;

/// The source addresses to spread `connections` over, for a server at `server`.
///
/// `requested` 0 means automatic: one address (no bind, the kernel chooses)
/// unless the server is on IPv4 loopback and the run needs more than
/// [`CONNECTIONS_PER_SOURCE`] connections; then 127.0.0.1, 127.0.0.2, ...
/// An empty list means "do not bind". Only a loopback server can be reached
/// from several 127.0.0.x sources, so any other server gets an empty list.
pub fn plan_sources(server: SocketAddr, connections: usize, requested: usize) -> Vec<IpAddr> {
    let loopback_v4 = matches!(server.ip(), IpAddr::V4(v4) if v4.is_loopback());
    if !loopback_v4 {
        return Vec::new();
    }
    let n = if requested == 0 {
        connections.div_ceil(CONNECTIONS_PER_SOURCE)
    } else {
        requested
    }
    .min(MAX_SOURCES);
    if n <= 1 && requested == 0 {
        return Vec::new();
    }
    (0..n)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + i as u8)))
        .collect()
}

/// The source address of connection `index` (`None`: let the kernel choose).
pub fn source_for(sources: &[IpAddr], index: usize) -> Option<IpAddr> {
    if sources.is_empty() {
        None
    } else {
        Some(sources[index % sources.len()])
    }
}

/// Starts a nonblocking connect to `server`, from `source` if given, with
/// Nagle off. Completion is signalled by writability (check `take_error`).
pub fn start_connect(
    server: SocketAddr,
    source: Option<IpAddr>,
) -> io::Result<mio::net::TcpStream> {
    let socket = Socket::new(
        Domain::for_address(server),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    if let Some(ip) = source {
        if ip.is_ipv4() {
            bind_address_no_port(&socket);
        }
        socket.bind(&SockAddr::from(SocketAddr::new(ip, 0)))?;
    }
    match socket.connect(&SockAddr::from(server)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(mio::net::TcpStream::from_std(socket.into()))
}

/// Lets the kernel pick the source port at connect time (per destination)
/// rather than at bind time, so bound sockets do not use up the port space
/// faster than unbound ones. Best effort: an old kernel just ignores it.
fn bind_address_no_port(socket: &Socket) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid socket descriptor, an int option value of the right size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lo(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn automatic_spreading_only_when_ports_may_run_out() {
        assert!(plan_sources(lo(7000), 104, 0).is_empty());
        assert!(plan_sources(lo(7000), 10_000, 0).is_empty());
        let s = plan_sources(lo(7000), 19_000, 0);
        assert_eq!(
            s,
            vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2])]
        );
        assert_eq!(plan_sources(lo(7000), 10_000_000, 0).len(), MAX_SOURCES);
    }

    #[test]
    fn explicit_count_and_non_loopback_servers() {
        assert_eq!(plan_sources(lo(7000), 10, 3).len(), 3);
        assert_eq!(
            plan_sources(lo(7000), 10, 1),
            vec![IpAddr::from([127, 0, 0, 1])]
        );
        let remote = SocketAddr::from(([10, 1, 2, 3], 7000));
        assert!(plan_sources(remote, 50_000, 4).is_empty());
        let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 7000));
        assert!(plan_sources(v6, 50_000, 0).is_empty());
    }

    #[test]
    fn round_robin_over_sources() {
        let s = plan_sources(lo(1), 30_000, 0);
        assert_eq!(s.len(), 3);
        let picked: Vec<_> = (0..6).map(|i| source_for(&s, i).unwrap()).collect();
        assert_eq!(picked[0], picked[3]);
        assert_ne!(picked[0], picked[1]);
        assert_eq!(source_for(&[], 5), None);
    }

    #[test]
    fn connects_from_a_second_loopback_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let src = IpAddr::from([127, 0, 0, 2]);
        let s = start_connect(addr, Some(src)).unwrap();
        let (_peer, from) = listener.accept().unwrap();
        assert_eq!(from.ip(), src);
        // the connect completes (loopback): no pending error
        assert!(s.take_error().unwrap().is_none());
    }
}
