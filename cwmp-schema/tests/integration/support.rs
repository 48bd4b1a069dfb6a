use std::path::{Path, PathBuf};

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Every `*.xml` below `dir`, sorted.
pub fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "xml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Fixtures that must decode (everything outside `invalid/`).
pub fn valid_fixtures() -> Vec<PathBuf> {
    let invalid = data_dir().join("invalid");
    xml_files(&data_dir()).into_iter().filter(|p| !p.starts_with(&invalid)).collect()
}

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(rel)).unwrap()
}

/// A minimal valid envelope around `body`.
pub fn wrap(body: &str) -> String {
    format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:cwmp=\"urn:dslforum-org:cwmp-1-2\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
         <soap:Header><cwmp:ID soap:mustUnderstand=\"1\">t</cwmp:ID></soap:Header>\
         <soap:Body>{body}</soap:Body></soap:Envelope>"
    )
}
