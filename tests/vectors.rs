//! The shared frame-decoder vectors (`tests/data/frames.txt`, or the file
//! named by `STXCHAT_VECTORS`), fed whole, one byte at a time and in random
//! chunkings.

use stxchat::codec::{Event, FrameDecoder};

struct Case {
    name: String,
    max_payload: usize,
    stream: Vec<u8>,
    events: Vec<String>,
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect()
}

fn load() -> Vec<Case> {
    let path = std::env::var("STXCHAT_VECTORS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/frames.txt").into());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let mut cases = Vec::new();
    let mut cur: Option<Case> = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("case:") {
            cases.extend(cur.take());
            cur = Some(Case {
                name: v.trim().into(),
                max_payload: 0,
                stream: Vec::new(),
                events: Vec::new(),
            });
        } else if let Some(v) = line.strip_prefix("max_payload:") {
            cur.as_mut().expect("case").max_payload = v.trim().parse().expect("max_payload");
        } else if let Some(v) = line.strip_prefix("stream:") {
            cur.as_mut().expect("case").stream = hex(v);
        } else if let Some(v) = line.strip_prefix("events:") {
            let v = v.trim();
            cur.as_mut().expect("case").events = if v == "none" {
                Vec::new()
            } else {
                v.split_whitespace().map(str::to_owned).collect()
            };
        }
    }
    cases.extend(cur);
    assert!(!cases.is_empty(), "no cases in {path}");
    cases
}

fn render(e: Event<'_>) -> String {
    match e {
        Event::Frame(p) => format!(
            "Frame({})",
            p.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
        Event::Error(k) => k.name().to_string(),
    }
}

fn run(case: &Case, cuts: &[usize]) -> Vec<String> {
    let mut dec = FrameDecoder::new(case.max_payload);
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&case.stream.len())) {
        let cut = cut.clamp(at, case.stream.len());
        dec.decode_all(&case.stream[at..cut], |e| out.push(render(e)));
        assert!(
            dec.buffered() <= case.max_payload + 8,
            "{}: buffer bound",
            case.name
        );
        at = cut;
    }
    out
}

#[test]
fn every_vector_whole_bytewise_and_chunked() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for case in load() {
        assert_eq!(run(&case, &[]), case.events, "{}: whole", case.name);
        let bytewise: Vec<usize> = (1..case.stream.len()).collect();
        assert_eq!(
            run(&case, &bytewise),
            case.events,
            "{}: bytewise",
            case.name
        );
        for _ in 0..50 {
            let mut cuts: Vec<usize> = (0..(next() % 6))
                .map(|_| (next() as usize) % (case.stream.len() + 1))
                .collect();
            cuts.sort_unstable();
            assert_eq!(
                run(&case, &cuts),
                case.events,
                "{}: chunks {cuts:?}",
                case.name
            );
        }
    }
}
