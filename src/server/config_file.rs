//! The server's TOML settings file (`--config FILE`), merged into the
//! command line.
//!
//! The file holds the server's flags by their own names (`max-payload =
//! 4096`, `bind = "0.0.0.0:7878"`, `registered-only = true`). Nothing here
//! lists the settings: the keys are looked up in clap's own argument list
//! and every value goes through that argument's value parser, so a flag
//! added to `stxchat server` is a file setting too. Precedence is flag, then
//! environment (`STXCHAT_*`), then file, then default: a file value is used
//! only when [`clap::ArgMatches::value_source`] says the flag came from
//! neither the command line nor the environment, and it is then appended to
//! the command line as `--key=value` and everything is parsed once more.
//! Unknown keys and bad values are errors naming the key and its line.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// Flags that are not settings and so may not appear in the file.
const NOT_IN_FILE: &[&str] = &["config", "check-config", "help", "version"];

/// Why the settings could not be put together.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The command line (or the environment) itself is wrong; clap's own
    /// message, printed as clap prints it.
    #[error("{0}")]
    Cli(#[from] clap::Error),
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{path}: line {line}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A key that is no setting of `stxchat server`.
    #[error("{path}: line {line}: unknown setting `{key}`{hint}")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// 1-based line of the key.
        line: usize,
        /// The key.
        key: String,
        /// A suggestion (the flag name it was probably meant to be), or "".
        hint: String,
    },
    /// A setting with a value its flag refuses.
    #[error("{path}: line {line}: {key}: {message}")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// 1-based line of the value.
        line: usize,
        /// The key.
        key: String,
        /// Why the value is refused.
        message: String,
    },
    /// The file's settings do not go together with the rest (for example a
    /// setting that requires another).
    #[error("{path}: {message}")]
    Combined {
        /// The file.
        path: PathBuf,
        /// clap's message.
        message: String,
    },
}

impl ConfigFileError {
    /// The key this error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigFileError::UnknownKey { key, .. } | ConfigFileError::BadValue { key, .. } => {
                Some(key)
            }
            _ => None,
        }
    }
}

/// Where an effective setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The command line.
    Flag,
    /// A `STXCHAT_*` environment variable.
    Env,
    /// The config file.
    File,
    /// The built-in default (or unset).
    Default,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Env => "environment",
            Source::File => "file",
            Source::Default => "default",
        }
    }
}

/// The command line merged with the config file.
#[derive(Debug)]
pub struct Resolved {
    /// The final matches: flags, environment and file values together.
    pub matches: ArgMatches,
    /// Where each argument (by id) came from.
    pub sources: Vec<(String, Source)>,
    /// The config file used, if any.
    pub file: Option<PathBuf>,
}

/// One `key = value` of the file, turned into command-line words.
#[derive(Debug)]
struct Entry {
    key: String,
    line: usize,
    /// `--key=value` words (none for a `false` switch).
    words: Vec<OsString>,
}

/// Parses `argv` (without the program name) with `cmd`, then merges the
/// file named by `config_id` (if given) under flags and environment.
pub fn resolve(
    cmd: &Command,
    argv: &[OsString],
    config_id: &str,
) -> Result<Resolved, ConfigFileError> {
    let name = OsString::from(cmd.get_name());
    let base: Vec<OsString> = std::iter::once(name).chain(argv.iter().cloned()).collect();
    let first = cmd.clone().try_get_matches_from(&base)?;
    let file = first.get_one::<PathBuf>(config_id).cloned();
    let Some(path) = file else {
        let sources = sources_of(cmd, &first, &[]);
        return Ok(Resolved {
            matches: first,
            sources,
            file: None,
        });
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigFileError::Read {
        path: path.clone(),
        source,
    })?;
    let entries = parse_entries(cmd, &path, &text)?;
    let mut full = base;
    let mut from_file = Vec::new();
    for e in &entries {
        let arg = find_arg(cmd, &e.key).expect("entries hold known keys");
        let id = arg.get_id().as_str();
        if matches!(
            first.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        full.extend(e.words.iter().cloned());
        from_file.push(id.to_string());
    }
    let matches =
        cmd.clone()
            .try_get_matches_from(&full)
            .map_err(|e| ConfigFileError::Combined {
                path: path.clone(),
                message: first_line(&e),
            })?;
    let sources = sources_of(cmd, &matches, &from_file);
    Ok(Resolved {
        matches,
        sources,
        file: Some(path),
    })
}

/// The settings arguments of `cmd` (what the file may hold), in order.
fn settings(cmd: &Command) -> impl Iterator<Item = &Arg> {
    cmd.get_arguments().filter(|a| {
        a.get_long()
            .is_some_and(|l| !NOT_IN_FILE.contains(&l) && !a.is_hide_set())
    })
}

fn find_arg<'a>(cmd: &'a Command, key: &str) -> Option<&'a Arg> {
    settings(cmd).find(|a| a.get_long() == Some(key))
}

fn sources_of(cmd: &Command, m: &ArgMatches, from_file: &[String]) -> Vec<(String, Source)> {
    settings(cmd)
        .map(|a| {
            let id = a.get_id().as_str();
            let src = if from_file.iter().any(|f| f == id) {
                Source::File
            } else {
                match m.value_source(id) {
                    Some(ValueSource::CommandLine) => Source::Flag,
                    Some(ValueSource::EnvVariable) => Source::Env,
                    _ => Source::Default,
                }
            };
            (id.to_string(), src)
        })
        .collect()
}

/// 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// clap's message without its "error: " prefix and usage tail.
fn first_line(e: &clap::Error) -> String {
    let s = e.render().to_string();
    let line = s.lines().next().unwrap_or("");
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

type SpannedMap = std::collections::BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>>;

/// Reads the file's keys and checks every value with its flag's parser.
fn parse_entries(cmd: &Command, path: &Path, text: &str) -> Result<Vec<Entry>, ConfigFileError> {
    let map: SpannedMap = toml::from_str(text).map_err(|e| ConfigFileError::Syntax {
        path: path.to_path_buf(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        message: e.message().trim().to_string(),
    })?;
    let mut entries = Vec::with_capacity(map.len());
    for (key, value) in map {
        let line = line_of(text, key.span().start);
        let key = key.into_inner();
        let bad = |message: String| ConfigFileError::BadValue {
            path: path.to_path_buf(),
            line: line_of(text, value.span().start),
            key: key.clone(),
            message,
        };
        let Some(arg) = find_arg(cmd, &key) else {
            if NOT_IN_FILE.contains(&key.as_str()) {
                return Err(ConfigFileError::UnknownKey {
                    path: path.to_path_buf(),
                    line,
                    hint: " (it is a command-line flag only)".into(),
                    key,
                });
            }
            let alt = key.replace('_', "-");
            let hint = if alt != key && find_arg(cmd, &alt).is_some() {
                format!(" (did you mean `{alt}`? keys are the flags' names)")
            } else {
                String::new()
            };
            return Err(ConfigFileError::UnknownKey {
                path: path.to_path_buf(),
                line,
                key,
                hint,
            });
        };
        let words = words_for(cmd, arg, &key, value.get_ref()).map_err(bad)?;
        entries.push(Entry { key, line, words });
    }
    entries.sort_by_key(|e| e.line);
    Ok(entries)
}

/// The command-line words for `key = value`, each value checked by the
/// argument's own parser.
fn words_for(
    cmd: &Command,
    arg: &Arg,
    key: &str,
    value: &toml::Value,
) -> Result<Vec<OsString>, String> {
    if !arg.get_action().takes_values() {
        return match (arg.get_action(), value) {
            (ArgAction::SetTrue, toml::Value::Boolean(true))
            | (ArgAction::SetFalse, toml::Value::Boolean(false)) => {
                Ok(vec![format!("--{key}").into()])
            }
            (ArgAction::SetTrue | ArgAction::SetFalse, toml::Value::Boolean(_)) => Ok(vec![]),
            _ => Err(format!("expected true or false, got {}", describe(value))),
        };
    }
    let items: Vec<&toml::Value> = match value {
        toml::Value::Array(items) if matches!(arg.get_action(), ArgAction::Append) => {
            items.iter().collect()
        }
        toml::Value::Array(_) => return Err("expected a single value, not a list".into()),
        v => vec![v],
    };
    let mut words = Vec::with_capacity(items.len());
    for item in items {
        let raw = match item {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => return Err(format!("expected a value, got {}", describe(other))),
        };
        let word = OsString::from(format!("--{key}={raw}"));
        check_value(cmd, arg, key, &word)?;
        words.push(word);
    }
    Ok(words)
}

/// Runs `word` through a copy of `arg` alone (its value parser, none of its
/// relations to other flags), as clap would on the command line.
fn check_value(cmd: &Command, arg: &Arg, key: &str, word: &OsString) -> Result<(), String> {
    let alone = Arg::new(arg.get_id().clone())
        .long(key.to_string())
        .action(ArgAction::Set)
        .value_parser(arg.get_value_parser().clone());
    Command::new(cmd.get_name().to_string())
        .no_binary_name(true)
        .arg(alone)
        .try_get_matches_from([word])
        .map(drop)
        .map_err(|e| first_line(&e))
}

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::Table(_) => "a table".into(),
        toml::Value::Array(_) => "a list".into(),
        toml::Value::Datetime(_) => "a date".into(),
        other => format!("{other}"),
    }
}

/// Every setting by its flag name with its raw values (secrets included),
/// for comparing two loads of the settings (see [`crate::server::reload`]).
pub fn values(cmd: &Command, r: &Resolved) -> crate::server::reload::Values {
    settings(cmd)
        .filter_map(|arg| {
            let key = arg.get_long()?;
            let raw: Vec<String> = r
                .matches
                .get_raw(arg.get_id().as_str())
                .map(|vals| vals.map(|v| v.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            Some((key.to_string(), raw))
        })
        .collect()
}

/// The effective settings as a TOML file (itself a valid `--config`), each
/// with where it came from; values of hidden-value flags (passwords,
/// tokens) are not shown.
pub fn render(cmd: &Command, r: &Resolved) -> String {
    let mut out = String::new();
    if let Some(f) = &r.file {
        let _ = writeln!(out, "# config file: {}", f.display());
    }
    for arg in settings(cmd) {
        let id = arg.get_id().as_str();
        let Some(key) = arg.get_long() else { continue };
        let src = r
            .sources
            .iter()
            .find(|(i, _)| i == id)
            .map_or(Source::Default, |(_, s)| *s);
        let raw: Vec<String> = r
            .matches
            .get_raw(id)
            .map(|vals| vals.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let secret = arg.is_hide_env_values_set();
        let value = if raw.is_empty() {
            let _ = writeln!(out, "# {key} is not set");
            continue;
        } else if secret {
            "\"<set>\"".to_string()
        } else if matches!(arg.get_action(), ArgAction::Append) {
            let items: Vec<String> = raw.iter().map(|v| toml_scalar(v)).collect();
            format!("[{}]", items.join(", "))
        } else {
            toml_scalar(&raw[0])
        };
        let _ = writeln!(out, "{key} = {value}  # {}", src.label());
    }
    out
}

/// A raw flag value as a TOML scalar: numbers and booleans bare, the rest quoted.
fn toml_scalar(v: &str) -> String {
    if v == "true" || v == "false" || v.parse::<i64>().is_ok() {
        return v.to_string();
    }
    if v.parse::<f64>().is_ok_and(f64::is_finite) && v.contains('.') {
        return v.to_string();
    }
    toml::Value::String(v.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, FromArgMatches};

    #[derive(clap::Args, Debug)]
    struct T {
        #[arg(long, env = "STXCHAT_TEST_CF_BIND", default_value = "127.0.0.1:1")]
        bind: std::net::SocketAddr,
        #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u16).range(512..))]
        max_payload: u16,
        #[arg(long)]
        rate: Option<f64>,
        #[arg(long)]
        registered_only: bool,
        #[arg(long, hide_env_values = true, env = "STXCHAT_TEST_CF_PASSWORD")]
        password: Option<String>,
        #[arg(long)]
        config: Option<PathBuf>,
    }

    fn cmd() -> Command {
        T::augment_args(Command::new("t"))
    }

    fn with_file(text: &str, args: &[&str]) -> Result<(T, Resolved), ConfigFileError> {
        let dir = std::env::temp_dir().join(format!(
            "stxchat-cf-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(&path, text).unwrap();
        let mut argv: Vec<OsString> = vec!["--config".into(), path.clone().into()];
        argv.extend(args.iter().map(OsString::from));
        let r = resolve(&cmd(), &argv, "config");
        std::fs::remove_dir_all(&dir).unwrap();
        let r = r?;
        Ok((T::from_arg_matches(&r.matches).unwrap(), r))
    }

    #[test]
    fn file_values_fill_in_under_flags() {
        let (t, r) = with_file(
            "max-payload = 1024\nrate = 2.5\nregistered-only = true\nbind = \"127.0.0.1:9\"\n",
            &["--bind", "127.0.0.1:5"],
        )
        .unwrap();
        assert_eq!(t.max_payload, 1024);
        assert_eq!(t.rate, Some(2.5));
        assert!(t.registered_only);
        assert_eq!(t.bind.port(), 5, "the flag wins over the file");
        let src = |id: &str| r.sources.iter().find(|(i, _)| i == id).unwrap().1;
        assert_eq!(src("bind"), Source::Flag);
        assert_eq!(src("max_payload"), Source::File);
        assert_eq!(src("password"), Source::Default);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_key_and_line() {
        let e = with_file("# c\n\nmax_payload = 1024\n", &[]).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("line 3") && s.contains("max_payload"), "{s}");
        assert!(s.contains("did you mean `max-payload`"), "{s}");
        let e = with_file("rate = 1\nmax-payload = 100\n", &[]).unwrap_err();
        let s = e.to_string();
        assert_eq!(e.key(), Some("max-payload"));
        assert!(s.contains("line 2") && s.contains("512"), "{s}");
        let e = with_file("registered-only = \"yes\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("true or false"), "{e}");
        let e = with_file("bind = [1, 2]\n", &[]).unwrap_err();
        assert!(e.to_string().contains("not a list"), "{e}");
        let e = with_file("[admin]\nx = 1\n", &[]).unwrap_err();
        assert!(e.to_string().contains("line 1") && e.key() == Some("admin"));
        let e = with_file("config = \"x\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("command-line flag only"), "{e}");
        let e = with_file("rate = \n", &[]).unwrap_err();
        assert!(matches!(e, ConfigFileError::Syntax { line: 1, .. }), "{e}");
    }

    #[test]
    fn render_hides_secrets_and_is_valid_toml() {
        let (_, r) = with_file("password = \"hunter2\"\nrate = 3.5\n", &[]).unwrap();
        let out = render(&cmd(), &r);
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("password = \"<set>\"  # file"), "{out}");
        assert!(out.contains("max-payload = 4096  # default"), "{out}");
        let _: toml::Table = toml::from_str(&out).unwrap();
    }

    #[test]
    fn line_numbers_count_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
    }
}
