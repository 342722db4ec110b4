//! `stxchat cert --name NAME --out DIR`: a self-signed certificate and its
//! key (PEM, made with `rcgen`), valid for a year, for trying TLS out.
//! Clients trust it with `--ca DIR/cert.pem`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags of `stxchat cert`.
#[derive(clap::Args, Debug, Clone)]
pub struct CertArgs {
    /// Host names (or IP addresses) the certificate is for; repeatable.
    #[arg(long = "name", default_value = "localhost", num_args = 1)]
    pub names: Vec<String>,
    /// Directory to write cert.pem and key.pem into (created if missing).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Days the certificate is valid.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

/// Why `stxchat cert` failed.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen refused the names or failed.
    #[error("cannot make the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// Writing failed (or a file exists without `--force`).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// A self-signed certificate for `names`, valid from a day ago for `days`
/// days: `(certificate PEM, private key PEM)`.
pub fn self_signed(
    names: &[String],
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
) -> Result<(String, String), rcgen::Error> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    params.not_before = not_before;
    params.not_after = not_after;
    if let Some(first) = names.first() {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, first.clone());
    }
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Runs `stxchat cert`: exit 0 with the paths printed, 1 with a message.
pub fn run(args: CertArgs) -> ExitCode {
    match write(&args) {
        Ok((cert, key)) => {
            println!("wrote {} and {}", cert.display(), key.display());
            println!(
                "serve:   stxchat server --tls-bind 0.0.0.0:7443 --tls-cert {} --tls-key {}",
                cert.display(),
                key.display()
            );
            println!(
                "connect: stxchat client --tls --ca {} --server-name {} <host>:7443 <nick>",
                cert.display(),
                args.names.first().map_or("localhost", String::as_str)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stxchat cert: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write(args: &CertArgs) -> Result<(PathBuf, PathBuf), CertError> {
    let now = time::OffsetDateTime::now_utc();
    let (cert_pem, key_pem) = self_signed(
        &args.names,
        now - time::Duration::days(1),
        now + time::Duration::days(i64::from(args.days)),
    )?;
    std::fs::create_dir_all(&args.out).map_err(|source| CertError::Io {
        path: args.out.clone(),
        source,
    })?;
    let cert = args.out.join("cert.pem");
    let key = args.out.join("key.pem");
    write_file(&key, key_pem.as_bytes(), 0o600, args.force)?;
    write_file(&cert, cert_pem.as_bytes(), 0o644, args.force)?;
    Ok((cert, key))
}

fn write_file(path: &Path, bytes: &[u8], mode: u32, force: bool) -> Result<(), CertError> {
    let io = |source| CertError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).mode(mode);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(bytes).map_err(io)
}
