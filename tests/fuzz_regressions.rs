//! Replays fuzz inputs through the fuzz targets' own checks under `cargo test`.
//!
//! The fuzz crate's sources are included with `#[path]`, so these tests run
//! exactly the property checks `cargo fuzz run` runs. Replayed:
//!
//! - the committed seed corpus, `fuzz/corpus/<target>/seed-*` (a smoke test
//!   of every check on the vectors);
//! - every fixed crash input, `fuzz/regressions/<target>/*`. A crash the
//!   fuzzer finds is fixed and its input committed there, so it stays fixed.
//!
//! The seed corpus is made from `tests/data/frames.txt`; a test checks the
//! committed files are exactly what the vectors give. After changing the
//! vectors, regenerate them with
//! `STXCHAT_WRITE_SEEDS=1 cargo test --test fuzz_regressions`.

#[path = "../fuzz/src/lib.rs"]
mod fuzz_support;

use fuzz_support::targets::TARGETS;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files in `dir` whose names start with `prefix`, sorted; none if the
/// directory does not exist.
fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    out.sort();
    out
}

/// Runs `check` on every file, naming the file that fails.
fn replay(check: fn(&[u8]), paths: &[PathBuf]) {
    for path in paths {
        let data = std::fs::read(path).expect("readable input");
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            panic!("{} fails its fuzz target's checks", path.display());
        }
    }
}

#[test]
fn seed_corpus_is_made_from_the_vectors() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/frames.txt"),
    )
    .expect("vectors file");
    let seeds = fuzz_support::vectors::seed_files(&text);
    let write = std::env::var_os("STXCHAT_WRITE_SEEDS").is_some_and(|v| v == "1");
    for (target, _) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        let expected: Vec<&(&str, String, Vec<u8>)> =
            seeds.iter().filter(|(t, _, _)| *t == target).collect();
        assert!(!expected.is_empty(), "no seeds for {target}");
        if write {
            std::fs::create_dir_all(&dir).expect("corpus directory");
            for old in files(&dir, "seed-") {
                std::fs::remove_file(old).expect("remove stale seed");
            }
            for (_, name, data) in &expected {
                std::fs::write(dir.join(name), data).expect("write seed");
            }
        }
        let mut committed: Vec<String> = files(&dir, "seed-")
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let mut names: Vec<String> = expected.iter().map(|(_, n, _)| n.clone()).collect();
        committed.sort();
        names.sort();
        assert_eq!(
            committed, names,
            "{target}: seed files differ from the vectors; regenerate with STXCHAT_WRITE_SEEDS=1"
        );
        for (_, name, data) in expected {
            let on_disk = std::fs::read(dir.join(name)).expect("seed file");
            assert_eq!(&on_disk, data, "{target}/{name} is stale");
        }
    }
}

#[test]
fn seed_corpus_passes_every_check() {
    for (target, check) in TARGETS {
        let seeds = files(&fuzz_dir().join("corpus").join(target), "seed-");
        assert!(!seeds.is_empty(), "no seed files for {target}");
        replay(check, &seeds);
    }
}

#[test]
fn fixed_crash_inputs_stay_fixed() {
    for (target, check) in TARGETS {
        replay(
            check,
            &files(&fuzz_dir().join("regressions").join(target), ""),
        );
    }
}
