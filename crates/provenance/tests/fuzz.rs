//! Property tests: whatever bytes the loaders are fed, they return `Ok` or `Err`, never
//! panic. Cases: `PROPTEST_CASES` (default 64 here, so CI stays fast); the long fuzz run
//! and its result are in `docs/validation.md`.

use apt_llm_provenance::{Aspect, Context, GroundTruth};
use proptest::prelude::*;
use std::path::Path;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// A real context when the data is there (`APT_LLM_FUZZ_SEED` names another file), else
/// a small one in the same shape. Read once.
fn seed_context() -> Vec<u8> {
    static SEED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SEED.get_or_init(read_seed).clone()
}

fn read_seed() -> Vec<u8> {
    if let Some(p) = std::env::var_os("APT_LLM_FUZZ_SEED") {
        return std::fs::read(&p).expect("APT_LLM_FUZZ_SEED names a readable file");
    }
    let real = std::env::var_os("APT_LLM_DATA")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let mut d = std::env::current_dir().ok()?;
            loop {
                let c = d.join("../shared/datasets/adapt-e2");
                if c.is_dir() {
                    return Some(c);
                }
                if !d.pop() {
                    return None;
                }
            }
        })
        .map(|root| root.join("bovia/clearscope/ProcessEvent.csv"));
    real.and_then(|p| std::fs::read(p).ok()).unwrap_or_else(|| {
        b"Object_ID,\"read, file\",write,EVENT_FORK\r\nabc-1,1,0,1\r\nabc-2,0,0,1\r\nABC-3,1,1,0\r\n"
            .to_vec()
    })
}

/// Mutations of a real file: overwrite, insert or delete bytes, with bytes chosen to hit
/// the parser's special characters often.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(b','),
        Just(b'"'),
        Just(b'\r'),
        Just(b'\n'),
        Just(b'0'),
        Just(b'1'),
        Just(0xffu8),
        Just(0xc3u8),
        any::<u8>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), byte()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), prop::collection::vec(byte(), 1..8)).prop_map(|(i, v)| Edit::Insert(i, v)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = bytes.len().max(1);
        match e {
            Edit::Set(i, b) if !bytes.is_empty() => bytes[i % n] = *b,
            Edit::Set(..) => {}
            Edit::Insert(i, v) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, v.iter().copied());
            }
            Edit::Delete(i, len) => {
                let at = i % n;
                let end = (at + len).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
        }
    }
    bytes
}

fn load_both(bytes: &[u8]) {
    let ctx = Context::from_reader(bytes, Aspect::ProcessEvent, Path::new("fuzz.csv"));
    if let Ok(c) = &ctx {
        // What loads is consistent: every attribute index is in range.
        for r in &c.records {
            assert!(
                r.attributes
                    .iter()
                    .all(|&a| (a as usize) < c.attributes.len())
            );
        }
    }
    let mut gt = GroundTruth::default();
    let _ = gt.add_reader(bytes, Path::new("fuzz-gt.csv"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        load_both(&bytes);
    }

    #[test]
    fn mutated_real_contexts_never_panic(edits in prop::collection::vec(edit(), 1..12)) {
        let bytes = apply(seed_context(), &edits);
        load_both(&bytes);
    }
}
