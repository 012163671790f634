//! The file layout every JSON-saved detector shares: `{"kind": "...", "model": {...}}`,
//! so a loader can tell what a file holds before reading it.

use crate::{DetectError, Result};
use std::path::Path;

pub(crate) fn persist_err(path: &Path, reason: impl ToString) -> DetectError {
    DetectError::Persist {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn read_doc(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| persist_err(path, e))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| persist_err(path, format!("not a saved detector: invalid JSON ({e})")))?;
    if !doc.is_object() {
        return Err(persist_err(
            path,
            "not a saved detector: the file is JSON but not an object with a \"kind\" field",
        ));
    }
    Ok(doc)
}

/// Whether `name` is a plain file name: no directory part, not `.`, `..` or empty. A saved
/// file names the files it points to this way, beside itself; anything else is untrusted
/// input reaching elsewhere and is refused.
pub fn is_plain_file_name(name: &str) -> bool {
    Path::new(name).file_name() == Some(std::ffi::OsStr::new(name))
}

/// Write `value` as a model of `kind`.
pub fn save_json<T: serde::Serialize>(path: &Path, kind: &str, value: &T) -> Result<()> {
    let doc = serde_json::json!({ "kind": kind, "model": value });
    let text = serde_json::to_string(&doc).map_err(|e| persist_err(path, e))?;
    std::fs::write(path, text).map_err(|e| persist_err(path, e))
}

/// Read a model of `kind` written by [`save_json`]; another kind is an error naming both.
pub fn load_json<T: serde::de::DeserializeOwned>(path: &Path, kind: &str) -> Result<T> {
    let mut doc = read_doc(path)?;
    let Some(found) = doc.get("kind").and_then(|k| k.as_str()) else {
        return Err(persist_err(
            path,
            format!(
                "not a saved detector: no \"kind\" field (expected a {kind:?} model written by \
                 `Detector::save`: `apt-llm evaluate --save-models` or `hunt --save-models`)"
            ),
        ));
    };
    if found != kind {
        return Err(persist_err(
            path,
            format!("holds a {found:?} model, expected {kind:?}"),
        ));
    }
    let Some(model) = doc.get_mut("model").map(serde_json::Value::take) else {
        return Err(persist_err(
            path,
            format!("{kind} model: no \"model\" field"),
        ));
    };
    serde_json::from_value(model)
        .map_err(|e| persist_err(path, format!("malformed {kind} model: {e}")))
}

/// The `kind` tag of a saved model, to dispatch loading ([`crate::Registry::load`]); a
/// file without one is not a saved detector.
pub fn saved_kind(path: &Path) -> Result<String> {
    match read_doc(path)?.get("kind").and_then(|k| k.as_str()) {
        Some(kind) => Ok(kind.to_string()),
        None => Err(persist_err(
            path,
            "not a saved detector: no \"kind\" field (expected a model written by \
             `Detector::save`: `apt-llm evaluate --save-models` or `hunt --save-models`)",
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_file_names() {
        for ok in ["model.json", "a.b.inner", "..x"] {
            assert!(super::is_plain_file_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "../x", "./x", "a/b", "/etc/passwd", "x/"] {
            assert!(!super::is_plain_file_name(bad), "{bad}");
        }
    }
}
