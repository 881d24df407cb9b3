//! A fuzz body as a bounded property test on stable: every committed corpus entry as it is,
//! then arbitrary bytes, then corpus entries with a few random edits (bytes flipped, inserted,
//! removed, the tail cut, another entry spliced in). A body asserts its properties by
//! panicking, which fails the case; proptest then shrinks it and prints the input.

use std::path::PathBuf;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// The committed corpus of `target` (`fuzz/corpus/<target>/`).
pub fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let entries: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    assert!(!entries.is_empty(), "{} has no corpus", dir.display());
    entries
}

/// Runs `body` over the corpus, `cases` arbitrary inputs and `cases` mutated entries; with
/// `CAUCUS_FUZZ_CORPUS_ONLY` set, over the corpus only.
pub fn check(target: &str, cases: u32, body: fn(&[u8])) {
    let corpus = corpus(target);
    for entry in &corpus {
        body(entry);
    }
    if std::env::var_os("CAUCUS_FUZZ_CORPUS_ONLY").is_some() {
        // A replay of the committed corpus alone: what `scripts/fuzz-coverage` measures.
        return;
    }
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config.clone());
    let outcome = runner.run(&vec(any::<u8>(), 0..600), |bytes| {
        body(&bytes);
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{target}, arbitrary bytes: {e}");
    }
    let n = corpus.len();
    let mutated = (0..n, 0..n, vec((0u8..5, any::<usize>(), any::<u8>()), 1..6))
        .prop_map(move |(i, j, edits)| mutate(&corpus[i], &corpus[j], &edits));
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&mutated, |bytes| {
        body(&bytes);
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{target}, a mutated corpus entry: {e}");
    }
}

fn mutate(entry: &[u8], other: &[u8], edits: &[(u8, usize, u8)]) -> Vec<u8> {
    let mut bytes = entry.to_vec();
    for &(kind, at, byte) in edits {
        let len = bytes.len();
        match kind {
            0 if len > 0 => bytes[at % len] ^= byte | 1,
            1 => bytes.insert(at % (len + 1), byte),
            2 if len > 0 => {
                bytes.remove(at % len);
            }
            3 => bytes.truncate(at % (len + 1)),
            _ => {
                let cut = at % (len + 1);
                let from = usize::from(byte) % (other.len() + 1);
                bytes.truncate(cut);
                bytes.extend_from_slice(&other[from..]);
            }
        }
    }
    bytes
}
