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
fn committed_fuzz_inputs_pass_every_check() {
    for (target, check) in TARGETS {
        let seeds = files(&fuzz_dir().join("corpus").join(target), "seed-");
        assert!(!seeds.is_empty(), "no seed files for {target}");
        replay(check, &seeds);
        replay(
            check,
            &files(&fuzz_dir().join("regressions").join(target), ""),
        );
    }
}

/// The seeds are raw streams; this drives the target's "built" mode (valid
/// frames, damaged, then edited) through the same checks, and makes sure
/// it reaches good frames and every error kind.
#[test]
fn built_streams_reach_every_event_kind() {
    use fuzz_support::frame_check::check_stream;
    use fuzz_support::frame_input::{
        BuiltFrame, BuiltStream, FrameDamage, PayloadSpec, StreamEdit,
    };
    use stxchat::codec::FrameError;

    let frame = |payload, damage| BuiltFrame { payload, damage };
    let near = |delta| PayloadSpec::NearMax { delta, fill: 0x55 };
    let spec = BuiltStream {
        frames: vec![
            frame(PayloadSpec::Bytes(b"\x08"), None),
            frame(
                PayloadSpec::Bytes(b"\x07"),
                Some(FrameDamage::ReplaceEtx(0x03)),
            ),
            frame(PayloadSpec::Bytes(b""), None),
            frame(
                PayloadSpec::Bytes(b"\x01\x03"),
                Some(FrameDamage::SetLen(0xffff)),
            ),
            frame(PayloadSpec::Bytes(b"\x04x"), Some(FrameDamage::ZeroLen)),
            frame(
                PayloadSpec::Filled {
                    len: 40,
                    fill: 0x41,
                },
                Some(FrameDamage::Cut { keep: 30 }),
            ),
            frame(
                PayloadSpec::Bytes(b"\x08"),
                Some(FrameDamage::FlipByte { at: 3, mask: 1 }),
            ),
            // Near-max frames last: resynchronising inside a bad one may wait
            // for bytes past the end of the stream and so hide what follows.
            frame(near(0), None),
            frame(near(1), None),
            frame(near(-1), Some(FrameDamage::FlipCrc { index: 2, mask: 0 })),
            frame(PayloadSpec::Bytes(b"\x08"), None),
        ],
        edits: vec![
            StreamEdit::Insert {
                at: 0,
                bytes: b"junk",
            },
            StreamEdit::Duplicate {
                from: 4,
                len: 9,
                to: 4,
            },
            StreamEdit::Remove { at: 200, len: 0 },
        ],
    };
    for max_payload in [1, 2, 16, 512, 4096, 65535] {
        let stream = spec.build(max_payload);
        check_stream(&stream, max_payload, &[1, 0, 7]);
        check_stream(&stream, max_payload, &[255]);
        let kinds: Vec<Result<usize, FrameError>> = check_stream(&stream, max_payload, &[])
            .into_iter()
            .map(|r| r.event.map(|p| p.len()))
            .collect();
        assert!(kinds.contains(&Ok(1)), "max {max_payload}: BYE frames");
        for kind in [
            FrameError::Garbage,
            FrameError::Empty,
            FrameError::TooLarge,
            FrameError::MissingEtx,
            FrameError::BadChecksum,
        ] {
            if kind == FrameError::TooLarge && max_payload == 65535 {
                continue; // no LEN exceeds 65535
            }
            assert!(kinds.contains(&Err(kind)), "max {max_payload}: no {kind}");
        }
        if max_payload > 1 {
            assert!(
                kinds.contains(&Ok(max_payload)),
                "max {max_payload}: the frame right at max_payload"
            );
        }
    }
}

/// The cluster record decoder's fuzz check (`fuzz/src/envelope_check.rs`)
/// on its committed seeds and fixed crash inputs.
#[test]
fn committed_envelope_inputs_pass_the_record_check() {
    let check = fuzz_support::envelope_check::check_record;
    let seeds = files(&fuzz_dir().join("corpus").join("envelope_decode"), "seed-");
    assert_eq!(seeds.len(), 7, "one seed per record kind");
    replay(check, &seeds);
    replay(
        check,
        &files(&fuzz_dir().join("regressions").join("envelope_decode"), ""),
    );
    for data in [
        &b""[..],
        b"STXR",
        b"STXR\x01",
        b"STXR\x01\x04",
        b"junk junk junk",
    ] {
        check(data);
    }
}
