//! The client's TLS settings: which roots it trusts (a given CA file, or
//! the system's), always verifying the server's certificate and name.

use std::path::Path;
use std::sync::Arc;

use crate::tls::server::{TlsSetupError, read_certs};

/// Why the client cannot set up TLS.
#[derive(Debug, thiserror::Error)]
pub enum ClientTlsError {
    /// The CA file is unusable.
    #[error(transparent)]
    Ca(#[from] TlsSetupError),
    /// A CA certificate was refused as a trust anchor.
    #[error("{path}: cannot trust this certificate: {detail}")]
    Anchor {
        /// The CA file.
        path: String,
        /// rustls's reason.
        detail: String,
    },
    /// No system roots were found and no `--ca` was given.
    #[error(
        "no trusted root certificates found on this system (install ca-certificates, or pass --ca FILE)"
    )]
    NoRoots,
}

/// Client settings trusting the certificates in `ca`, or else the
/// system's root certificates.
pub fn client_config(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, ClientTlsError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in read_certs(path)? {
                roots.add(cert).map_err(|e| ClientTlsError::Anchor {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system root rustls cannot parse is skipped, as browsers do.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(ClientTlsError::NoRoots);
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(super::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientTlsError::Anchor {
            path: String::new(),
            detail: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A short, clear sentence for a failed TLS handshake (an invalid
/// certificate above all).
pub fn explain(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let hint = "trust its CA with --ca FILE, or use --server-name if it names another host";
    match e {
        rustls::Error::InvalidCertificate(c) => {
            let why = match c {
                C::UnknownIssuer => {
                    "it is not signed by a certificate authority this client trusts".to_string()
                }
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    format!("it is not valid for the server name this client expected ({c:?})")
                }
                C::Expired | C::ExpiredContext { .. } => "it has expired".to_string(),
                C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_string(),
                C::BadSignature => "it is not signed by a certificate authority this client \
                                    trusts (its signature does not verify)"
                    .to_string(),
                C::BadEncoding => "it is damaged (bad encoding)".to_string(),
                // What webpki reports when a trusted root with the issuer's
                // name has another kind of key: not its issuer either.
                C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                    "it is not signed by a certificate authority this client trusts (no trusted \
                     root's key matches its signature)"
                        .to_string()
                }
                other => format!("{other:?}"),
            };
            format!("the server's certificate was refused: {why} ({hint})")
        }
        rustls::Error::AlertReceived(a) => {
            format!("TLS handshake failed: the server sent the alert {a:?}")
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("TLS handshake failed: the server does not speak TLS here ({e})")
        }
        other => format!("TLS handshake failed: {other}"),
    }
}
