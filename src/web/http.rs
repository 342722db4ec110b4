//! The HTTP side of the web listener, sans-IO: reading one request head
//! (parsed by `httparse`) within limits, and deciding what answers it.
//!
//! A connection carries one request. It is either a page (answered, then
//! closed: `Connection: close`) or a WebSocket upgrade (RFC 6455 section
//! 4.2), after which the connection speaks WebSocket. A request body is not
//! read (no route takes one).

use std::net::IpAddr;

use crate::web::assets::{self, Asset};

/// Most bytes of a request head (request line and headers).
pub const MAX_HEAD: usize = 8 * 1024;

/// Most header lines in a request.
pub const MAX_HEADERS: usize = 32;

/// Why a request head could not be read; each maps to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// Not HTTP/1.x or malformed.
    #[error("malformed request")]
    BadRequest,
    /// The head grew past [`MAX_HEAD`] bytes or [`MAX_HEADERS`] lines.
    #[error("request header fields too large")]
    HeadersTooLarge,
}

impl HttpError {
    /// The status code that answers this error.
    pub fn status(self) -> u16 {
        match self {
            HttpError::BadRequest => 400,
            HttpError::HeadersTooLarge => 431,
        }
    }
}

/// A parsed request head: what routing needs of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// Method, e.g. `GET`.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// `Host` header.
    pub host: Option<String>,
    /// `Origin` header.
    pub origin: Option<String>,
    /// `Upgrade` header contains the token `websocket`.
    pub upgrade_websocket: bool,
    /// `Connection` header contains the token `upgrade`.
    pub connection_upgrade: bool,
    /// `Sec-WebSocket-Key`.
    pub ws_key: Option<String>,
    /// `Sec-WebSocket-Version`.
    pub ws_version: Option<String>,
}

/// Collects a request head from pieces as they arrive.
#[derive(Debug, Default)]
pub struct HeadReader {
    buf: Vec<u8>,
}

impl HeadReader {
    /// A reader with nothing read.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes. `Ok(Some((request, rest)))` once the head is complete
    /// (`rest`: bytes that followed it), `Ok(None)` while incomplete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Option<(Request, Vec<u8>)>, HttpError> {
        let room = MAX_HEAD.saturating_sub(self.buf.len());
        let take = bytes.len().min(room);
        self.buf.extend_from_slice(&bytes[..take]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&self.buf) {
            Ok(httparse::Status::Complete(len)) => {
                let request = to_request(&req)?;
                let mut rest = self.buf.split_off(len);
                rest.extend_from_slice(&bytes[take..]);
                self.buf = Vec::new();
                Ok(Some((request, rest)))
            }
            Ok(httparse::Status::Partial) if self.buf.len() >= MAX_HEAD => {
                Err(HttpError::HeadersTooLarge)
            }
            Ok(httparse::Status::Partial) => Ok(None),
            Err(httparse::Error::TooManyHeaders) => Err(HttpError::HeadersTooLarge),
            Err(_) => Err(HttpError::BadRequest),
        }
    }

    /// Bytes held so far.
    pub fn held(&self) -> usize {
        self.buf.capacity()
    }
}

fn to_request(req: &httparse::Request<'_, '_>) -> Result<Request, HttpError> {
    let (Some(method), Some(target)) = (req.method, req.path) else {
        return Err(HttpError::BadRequest);
    };
    let path = target.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') {
        return Err(HttpError::BadRequest);
    }
    let mut out = Request {
        method: method.to_string(),
        path: path.to_string(),
        ..Request::default()
    };
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value).map_err(|_| HttpError::BadRequest)?;
        let value = value.trim();
        let name = h.name;
        let has_token = |t: &str| value.split(',').any(|v| v.trim().eq_ignore_ascii_case(t));
        if name.eq_ignore_ascii_case("host") {
            out.host = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("origin") {
            out.origin = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("upgrade") {
            out.upgrade_websocket |= has_token("websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            out.connection_upgrade |= has_token("upgrade");
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            out.ws_key = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            out.ws_version = Some(value.to_string());
        }
    }
    if req.version == Some(1) && out.host.is_none() {
        // RFC 9112 section 3.2: a 1.1 request without Host is a bad request.
        return Err(HttpError::BadRequest);
    }
    Ok(out)
}

/// Which WebSocket service an upgrade is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The chat protocol (`/ws`).
    Chat,
    /// The admin channel (`/admin/ws`).
    Admin,
}

/// What the server does about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Serve an embedded file (`head`: HEAD request, no body).
    Asset {
        /// The file.
        asset: &'static Asset,
        /// A HEAD request: headers only.
        head: bool,
    },
    /// Switch to WebSocket for `service`; `accept` is the
    /// `Sec-WebSocket-Accept` value.
    Upgrade {
        /// The service asked for.
        service: Service,
        /// The accept key.
        accept: String,
    },
    /// Answer with an error status and a one-line reason.
    Status(u16, &'static str),
}

/// What routing needs to know besides the request.
#[derive(Debug, Clone, Copy)]
pub struct RouteContext {
    /// The peer's address.
    pub peer: IpAddr,
    /// The admin channel is available.
    pub admin_on: bool,
    /// The admin channel asks for a token (otherwise only loopback peers
    /// may use it, as the admin port is only loopback without a token).
    pub admin_token: bool,
}

/// Decides what answers `req`.
pub fn route(req: &Request, ctx: RouteContext) -> Route {
    let service = match req.path.as_str() {
        "/ws" => Some(Service::Chat),
        "/admin/ws" => Some(Service::Admin),
        _ => None,
    };
    let head = req.method == "HEAD";
    if req.method != "GET" && !head {
        return Route::Status(405, "only GET and HEAD are served");
    }
    let Some(service) = service else {
        if req.upgrade_websocket {
            return Route::Status(
                404,
                "no WebSocket service at this path (try /ws or /admin/ws)",
            );
        }
        return match assets::find(&req.path) {
            Some(asset) => Route::Asset { asset, head },
            None => Route::Status(404, "not found"),
        };
    };
    if head {
        return Route::Status(405, "a WebSocket upgrade is a GET");
    }
    if !req.upgrade_websocket || !req.connection_upgrade {
        return Route::Status(426, "this path speaks WebSocket only");
    }
    if req.ws_version.as_deref() != Some("13") {
        return Route::Status(426, "WebSocket version 13 only");
    }
    let Some(key) = req.ws_key.as_deref().filter(|k| valid_key(k)) else {
        return Route::Status(400, "missing or invalid Sec-WebSocket-Key");
    };
    if service == Service::Admin {
        if !ctx.admin_on {
            return Route::Status(404, "the admin channel is off on this server");
        }
        if !ctx.admin_token && !ctx.peer.is_loopback() {
            return Route::Status(
                403,
                "the admin channel has no token: only loopback clients may use it",
            );
        }
        if !same_origin(req) {
            return Route::Status(403, "the operator page must be loaded from this server");
        }
    }
    Route::Upgrade {
        service,
        accept: tungstenite::handshake::derive_accept_key(key.as_bytes()),
    }
}

/// A `Sec-WebSocket-Key`: base64 of 16 bytes (24 characters, `==` at the end).
fn valid_key(key: &str) -> bool {
    key.len() == 24
        && key.ends_with("==")
        && key[..22]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Whether a browser's `Origin` (if it sent one) is this server: a page of
/// another site must not drive the admin channel from an operator's browser.
fn same_origin(req: &Request) -> bool {
    let Some(origin) = req.origin.as_deref() else {
        return true; // not a browser
    };
    let Some(host) = req.host.as_deref() else {
        return false;
    };
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    origin_host.eq_ignore_ascii_case(host)
}

/// Reason phrase of a status code.
fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Headers sent with every page.
const PAGE_HEADERS: &str = "Cache-Control: no-cache\r\n\
X-Content-Type-Options: nosniff\r\n\
Referrer-Policy: no-referrer\r\n\
Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'\r\n";

/// The head of a 200 answer for `asset` (its body follows separately).
pub fn asset_head(asset: &Asset) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n{PAGE_HEADERS}Connection: close\r\n\r\n",
        asset.content_type,
        asset.body.len()
    )
    .into_bytes()
}

/// A whole error answer with a plain-text body.
pub fn status_response(status: u16, detail: &str) -> Vec<u8> {
    let body = format!("{status} {}: {detail}\n", reason(status));
    let mut extra = String::new();
    match status {
        405 => extra.push_str("Allow: GET, HEAD\r\n"),
        426 => extra.push_str("Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"),
        _ => {}
    }
    format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    )
    .into_bytes()
}

/// The 101 answer that switches to WebSocket.
pub fn upgrade_response(accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: RouteContext = RouteContext {
        peer: IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        admin_on: true,
        admin_token: false,
    };

    fn parse(text: &str) -> Result<Option<Request>, HttpError> {
        HeadReader::new()
            .feed(text.as_bytes())
            .map(|r| r.map(|(req, _)| req))
    }

    fn upgrade(path: &str) -> String {
        format!(
            "GET {path} HTTP/1.1\r\nHost: h:1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
    }

    #[test]
    fn a_head_split_anywhere_is_read_once_complete() {
        let text = upgrade("/ws?x=1");
        for split in 1..text.len() {
            let mut r = HeadReader::new();
            assert_eq!(r.feed(&text.as_bytes()[..split]).unwrap(), None);
            let (req, rest) = r.feed(&text.as_bytes()[split..]).unwrap().unwrap();
            assert_eq!(req.path, "/ws");
            assert!(rest.is_empty());
        }
        let mut r = HeadReader::new();
        let (_, rest) = r.feed(format!("{text}extra").as_bytes()).unwrap().unwrap();
        assert_eq!(rest, b"extra");
    }

    #[test]
    fn the_rfc_sample_key_is_accepted() {
        let req = parse(&upgrade("/ws")).unwrap().unwrap();
        assert_eq!(
            route(&req, CTX),
            Route::Upgrade {
                service: Service::Chat,
                accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into()
            }
        );
    }

    #[test]
    fn bad_heads_get_400_or_431() {
        assert_eq!(
            parse("\x16\x03\x01garbage\r\n\r\n"),
            Err(HttpError::BadRequest)
        );
        assert_eq!(parse("GET / HTTP/1.1\r\n\r\n"), Err(HttpError::BadRequest));
        assert_eq!(
            parse("GET nope HTTP/1.1\r\nHost: h\r\n\r\n"),
            Err(HttpError::BadRequest)
        );
        let many: String = (0..40).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(
            parse(&format!("GET / HTTP/1.1\r\nHost: h\r\n{many}\r\n")),
            Err(HttpError::HeadersTooLarge)
        );
        let big = format!(
            "GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD)
        );
        assert_eq!(parse(&big), Err(HttpError::HeadersTooLarge));
        assert_eq!(HttpError::HeadersTooLarge.status(), 431);
    }

    #[test]
    fn routes() {
        let get = |p: &str| {
            parse(&format!("GET {p} HTTP/1.1\r\nHost: h\r\n\r\n"))
                .unwrap()
                .unwrap()
        };
        assert!(matches!(
            route(&get("/"), CTX),
            Route::Asset { head: false, .. }
        ));
        assert!(matches!(route(&get("/admin"), CTX), Route::Asset { .. }));
        assert_eq!(route(&get("/nope"), CTX), Route::Status(404, "not found"));
        assert!(matches!(route(&get("/ws"), CTX), Route::Status(426, _)));
        let post = parse("POST / HTTP/1.1\r\nHost: h\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(matches!(route(&post, CTX), Route::Status(405, _)));
        let head = parse("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(matches!(route(&head, CTX), Route::Asset { head: true, .. }));
        let unknown = parse(&upgrade("/chat")).unwrap().unwrap();
        assert!(matches!(route(&unknown, CTX), Route::Status(404, _)));
        let v8 = parse(&upgrade("/ws").replace("Version: 13", "Version: 8"))
            .unwrap()
            .unwrap();
        assert!(matches!(route(&v8, CTX), Route::Status(426, _)));
        let badkey = parse(&upgrade("/ws").replace("dGhl", "!!!!"))
            .unwrap()
            .unwrap();
        assert!(matches!(route(&badkey, CTX), Route::Status(400, _)));
    }

    #[test]
    fn admin_upgrades_follow_the_admin_ports_rules() {
        let req = parse(&upgrade("/admin/ws")).unwrap().unwrap();
        assert!(matches!(
            route(&req, CTX),
            Route::Upgrade {
                service: Service::Admin,
                ..
            }
        ));
        let remote = RouteContext {
            peer: "192.0.2.7".parse().unwrap(),
            ..CTX
        };
        assert!(matches!(route(&req, remote), Route::Status(403, _)));
        let with_token = RouteContext {
            admin_token: true,
            ..remote
        };
        assert!(matches!(route(&req, with_token), Route::Upgrade { .. }));
        let off = RouteContext {
            admin_on: false,
            ..CTX
        };
        assert!(matches!(route(&req, off), Route::Status(404, _)));
        let same = parse(
            &upgrade("/admin/ws").replace("Host: h:1\r\n", "Host: h:1\r\nOrigin: http://h:1\r\n"),
        )
        .unwrap()
        .unwrap();
        assert!(matches!(route(&same, CTX), Route::Upgrade { .. }));
        let evil = parse(&upgrade("/admin/ws").replace(
            "Host: h:1\r\n",
            "Host: h:1\r\nOrigin: http://evil.example\r\n",
        ))
        .unwrap()
        .unwrap();
        assert!(matches!(route(&evil, CTX), Route::Status(403, _)));
    }

    #[test]
    fn responses_are_well_formed() {
        let r = String::from_utf8(status_response(405, "x")).unwrap();
        assert!(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(r.contains("Allow: GET, HEAD\r\n"));
        let body = r.split("\r\n\r\n").nth(1).unwrap();
        assert!(r.contains(&format!("Content-Length: {}\r\n", body.len())));
        let u = String::from_utf8(upgrade_response("abc")).unwrap();
        assert!(u.ends_with("Sec-WebSocket-Accept: abc\r\n\r\n"));
    }
}
