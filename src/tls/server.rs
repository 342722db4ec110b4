//! The server's TLS settings: the certificate chain and key read from PEM
//! files and checked (present, readable, parseable, valid now, the key
//! matching the certificate) before the server starts or reloads them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file holds no PEM certificate.
    #[error("{0}: no PEM certificate (\"BEGIN CERTIFICATE\") in the file")]
    NoCert(PathBuf),
    /// The file holds no PEM private key.
    #[error("{0}: no PEM private key in the file")]
    NoKey(PathBuf),
    /// A PEM section is corrupt.
    #[error("{path}: bad PEM: {detail}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// The certificate is not a valid X.509 certificate.
    #[error("{path}: not a valid X.509 certificate: {detail}")]
    BadCert {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// The certificate has expired.
    #[error("{path}: the certificate expired on {not_after}")]
    Expired {
        /// The file.
        path: PathBuf,
        /// Its end of validity.
        not_after: String,
    },
    /// The certificate is not valid yet.
    #[error("{path}: the certificate is not valid before {not_before}")]
    NotYetValid {
        /// The file.
        path: PathBuf,
        /// Its start of validity.
        not_before: String,
    },
    /// The key is not the certificate's, or rustls refuses them.
    #[error("{cert} and {key} do not go together: {detail}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        detail: String,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|source| TlsSetupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The certificates of a PEM file (at least one).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let bytes = read(path)?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
    let certs = certs.map_err(|e| TlsSetupError::Pem {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    if certs.is_empty() {
        return Err(TlsSetupError::NoCert(path.to_path_buf()));
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsSetupError::NoKey(path.to_path_buf()),
        e => TlsSetupError::Pem {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
    })
}

/// Checks that `der` (from `path`) is valid at `now_unix` seconds.
pub fn check_validity(
    path: &Path,
    der: &CertificateDer<'_>,
    now_unix: i64,
) -> Result<(), TlsSetupError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| TlsSetupError::BadCert {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    let v = cert.validity();
    if v.not_after.timestamp() < now_unix {
        return Err(TlsSetupError::Expired {
            path: path.to_path_buf(),
            not_after: v.not_after.to_string(),
        });
    }
    if v.not_before.timestamp() > now_unix {
        return Err(TlsSetupError::NotYetValid {
            path: path.to_path_buf(),
            not_before: v.not_before.to_string(),
        });
    }
    Ok(())
}

/// The rustls server settings for the certificate chain in `cert` and the
/// key in `key`, every check done: files readable, PEM valid, the leaf
/// certificate valid now, the key its own.
pub fn load_server_config(
    cert: &Path,
    key: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
    let certs = read_certs(cert)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    check_validity(cert, &certs[0], now)?;
    let private = read_key(key)?;
    let mismatch = |e: rustls::Error| TlsSetupError::Mismatch {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        detail: e.to_string(),
    };
    let mut config = rustls::ServerConfig::builder_with_provider(super::provider())
        .with_safe_default_protocol_versions()
        .map_err(mismatch)?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(mismatch)?;
    // No session tickets or cache to keep per connection beyond rustls's
    // defaults; ALPN is not used by the chat protocol.
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::cert::self_signed;

    fn tmp(name: &str, text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!(
            "stxchat-tls-{}-{}-{name}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::write(&p, text).unwrap();
        p
    }

    fn pair(from_days: i64, to_days: i64) -> (String, String) {
        let now = time::OffsetDateTime::now_utc();
        self_signed(
            &["localhost".into()],
            now + time::Duration::days(from_days),
            now + time::Duration::days(to_days),
        )
        .unwrap()
    }

    #[test]
    fn a_good_pair_loads_and_every_bad_one_is_named() {
        let (cert, key) = pair(-1, 30);
        let (c, k) = (tmp("c.pem", &cert), tmp("k.pem", &key));
        assert!(load_server_config(&c, &k).is_ok());
        let missing = PathBuf::from("/nonexistent/cert.pem");
        assert!(matches!(
            load_server_config(&missing, &k),
            Err(TlsSetupError::Read { .. })
        ));
        let (old_cert, old_key) = pair(-30, -1);
        let (oc, ok) = (tmp("oc.pem", &old_cert), tmp("ok.pem", &old_key));
        let e = load_server_config(&oc, &ok).unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
        let (new_cert, new_key) = pair(2, 30);
        let (nc, nk) = (tmp("nc.pem", &new_cert), tmp("nk.pem", &new_key));
        assert!(matches!(
            load_server_config(&nc, &nk),
            Err(TlsSetupError::NotYetValid { .. })
        ));
        let e = load_server_config(&c, &nk).unwrap_err();
        assert!(matches!(e, TlsSetupError::Mismatch { .. }), "{e}");
        assert!(matches!(
            load_server_config(&k, &k),
            Err(TlsSetupError::NoCert(_))
        ));
        assert!(matches!(
            load_server_config(&c, &c),
            Err(TlsSetupError::NoKey(_))
        ));
        let junk = tmp(
            "j.pem",
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        );
        assert!(load_server_config(&junk, &k).is_err());
        for p in [c, k, oc, ok, nc, nk, junk] {
            let _ = std::fs::remove_file(p);
        }
    }
}
