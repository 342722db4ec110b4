//! TLS with rustls (the `ring` provider): loading and checking a server's
//! certificate and key, the client's trust roots, and `stxchat cert`, which
//! makes a self-signed certificate for trying TLS out. The per-connection
//! TLS state machine of the server is in
//! [`crate::server::transport::tls`].

pub mod cert;
pub mod client;
pub mod server;

use std::sync::Arc;

/// The crypto provider every TLS configuration here uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
