//! Replays the committed fuzz corpus through the decoder: no input may panic.
use std::path::Path;

#[test]
fn fuzz_corpus_replays_without_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut replayed = 0;
    for target in ["cwmp_decode", "cwmp_roundtrip"] {
        let dir = root.join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            assert_ne!(target, "cwmp_decode", "missing corpus {}", dir.display());
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                if let Ok(d) = cwmp_schema::decode(&bytes) {
                    let again = cwmp_schema::encode(&d.envelope, d.version);
                    let _ = cwmp_schema::decode(&again);
                }
                replayed += 1;
            }
        }
    }
    assert!(replayed >= 25, "only {replayed} corpus files");
}
