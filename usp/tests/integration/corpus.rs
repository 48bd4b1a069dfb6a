//! Replays the committed `usp_record` fuzz corpus through the decoder and the typed view: no
//! input may panic, and decoded Records re-encode to the same value.

use std::path::Path;

use usp::codec::{classify, decode_record, encode_record};

#[test]
fn fuzz_corpus_replays_without_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/usp_record");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        replayed += 1;
        let Ok(record) = decode_record(&bytes) else { continue };
        assert_eq!(decode_record(&encode_record(&record)).unwrap(), record);
        if let Ok(msg) = record.msg() {
            let _ = classify(msg);
        }
    }
    assert!(replayed >= 10, "only {replayed} corpus files in {}", dir.display());
}
