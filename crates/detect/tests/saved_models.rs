//! Saved-model files are untrusted input: every reader validates kind, lengths and
//! values, and no file, however broken, panics or recurses without end (issue #14).

use apt_llm_detect::{
    DetectError, Detector, Fit, FittedRarity, FrequencyPrior, Rarity, Registry, TrainSet,
};
use ndarray::array;
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Loads what `evaluate --save-models` writes here, as the CLI does: through a registry.
fn load(path: &Path) -> apt_llm_detect::Result<Box<dyn Detector>> {
    Registry::new().load(path)
}

fn saved_rarity(dir: &Path) -> PathBuf {
    let x = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 0.0]];
    let p = dir.join("rarity.json");
    Rarity
        .fit(&TrainSet::new(x.view()))
        .unwrap()
        .save(&p)
        .unwrap();
    p
}

fn saved_prior(dir: &Path) -> PathBuf {
    let x = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 0.0]];
    let data = TrainSet::new(x.view());
    let inner = Rarity.fit(&data).unwrap();
    let p = dir.join("prior.json");
    FrequencyPrior::new(Arc::new(inner), &data, 0.5)
        .unwrap()
        .save(&p)
        .unwrap();
    p
}

fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}

fn persist_message(e: DetectError, file: &str, reason: &str) {
    assert!(matches!(e, DetectError::Persist { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains(file), "{msg}");
    assert!(msg.contains(reason), "{msg}");
}

#[test]
fn rarity_with_more_rows_than_weights() {
    let dir = tempfile::tempdir().unwrap();
    let p = saved_rarity(dir.path());
    edit_json(&p, |v| {
        v["model"]["rows"]
            .as_array_mut()
            .unwrap()
            .extend([0.5.into(), 0.5.into()])
    });
    persist_message(
        FittedRarity::load(&p).unwrap_err(),
        "rarity.json",
        "field \"rows\" holds 6 values, but 2 weights of width 2 need 4",
    );
}

#[test]
fn rarity_with_an_infinite_row_value() {
    let dir = tempfile::tempdir().unwrap();
    let p = saved_rarity(dir.path());
    // JSON has no NaN; a number beyond f32 reads as infinity.
    let text = std::fs::read_to_string(&p).unwrap();
    let text = text.replacen("\"rows\":[1.0", "\"rows\":[1e300", 1);
    assert!(text.contains("1e300"), "{text}");
    std::fs::write(&p, text).unwrap();
    persist_message(
        FittedRarity::load(&p).unwrap_err(),
        "rarity.json",
        "not finite",
    );
}

#[test]
fn rarity_with_a_negative_weight_zero_width_or_bad_total() {
    let dir = tempfile::tempdir().unwrap();
    let p = saved_rarity(dir.path());
    edit_json(&p, |v| v["model"]["weights"][0] = (-1.0).into());
    persist_message(
        FittedRarity::load(&p).unwrap_err(),
        "rarity.json",
        "field \"weights\": weight 0 is -1",
    );
    let p = saved_rarity(dir.path());
    edit_json(&p, |v| v["model"]["dim"] = 0.into());
    persist_message(
        FittedRarity::load(&p).unwrap_err(),
        "rarity.json",
        "field \"dim\" is 0",
    );
    let p = saved_rarity(dir.path());
    edit_json(&p, |v| v["model"]["total"] = (-3.0).into());
    persist_message(
        FittedRarity::load(&p).unwrap_err(),
        "rarity.json",
        "field \"total\"",
    );
}

#[test]
fn a_prior_whose_inner_file_is_itself() {
    let dir = tempfile::tempdir().unwrap();
    let p = saved_prior(dir.path());
    edit_json(&p, |v| v["model"]["inner"] = "prior.json".into());
    persist_message(
        load(&p).err().expect("an error"),
        "prior.json",
        "loops back",
    );
}

#[test]
fn priors_that_form_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let a = saved_prior(dir.path());
    let b = dir.path().join("other.json");
    std::fs::copy(&a, &b).unwrap();
    edit_json(&a, |v| v["model"]["inner"] = "other.json".into());
    edit_json(&b, |v| v["model"]["inner"] = "prior.json".into());
    let msg = load(&a).err().expect("an error").to_string();
    assert!(
        msg.contains("loops back") && msg.contains("other.json"),
        "{msg}"
    );
    // Another spelling of the same file is not a plain file name: refused as such.
    edit_json(&b, |v| v["model"]["inner"] = "./prior.json".into());
    let msg = load(&a).err().expect("an error").to_string();
    assert!(
        msg.contains("other.json") && msg.contains("not a plain file name"),
        "{msg}"
    );
    // A failed load leaves nothing behind: a good file loads afterwards.
    let sub = dir.path().join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let good = saved_prior(&sub);
    assert!(load(&good).is_ok());
}

#[test]
fn a_prior_with_bad_scale_or_blend() {
    let dir = tempfile::tempdir().unwrap();
    let p = saved_prior(dir.path());
    edit_json(&p, |v| v["model"]["scale"] = 0.0.into());
    persist_message(
        load(&p).err().expect("an error"),
        "prior.json",
        "field \"scale\" is 0",
    );
    let p = saved_prior(dir.path());
    edit_json(&p, |v| v["model"]["blend"] = (-1.0).into());
    persist_message(
        load(&p).err().expect("an error"),
        "prior.json",
        "field \"blend\"",
    );
}

#[test]
fn a_prior_whose_inner_file_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let p = saved_prior(dir.path());
    std::fs::remove_file(dir.path().join("prior.json.inner")).unwrap();
    persist_message(load(&p).err().expect("an error"), "prior.json.inner", "");
}

#[test]
fn files_that_are_not_saved_detectors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str); 5] = [
        ("[1, 2, 3]", "not a saved detector"),
        (
            "{\"encoder\": \"minilm\"}",
            "not a saved detector: no \"kind\" field",
        ),
        ("not json at all", "not a saved detector: invalid JSON"),
        (
            "{\"kind\": \"ocsvm\", \"model\": {}}",
            "holds a \"ocsvm\" model, expected \"rarity\"",
        ),
        ("{\"kind\": \"rarity\"}", "no \"model\" field"),
    ];
    for (i, (body, reason)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("case{i}.json"));
        std::fs::write(&p, body).unwrap();
        persist_message(
            FittedRarity::load(&p).unwrap_err(),
            &format!("case{i}.json"),
            reason,
        );
    }
    let p = dir.path().join("fields.json");
    std::fs::write(&p, "{\"kind\": \"rarity\", \"model\": {\"dim\": 2}}").unwrap();
    persist_message(
        FittedRarity::load(&p).unwrap_err(),
        "fields.json",
        "malformed rarity model: missing field",
    );
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Overwrite or insert bytes, half of them from JSON's special characters.
fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, bool)]) -> Vec<u8> {
    const SPECIAL: &[u8] = b"0123456789.-e,[]{}\":";
    for &(i, b, insert) in edits {
        let b = if b % 2 == 0 {
            SPECIAL[b as usize % SPECIAL.len()]
        } else {
            b
        };
        if insert || bytes.is_empty() {
            let at = i % (bytes.len() + 1);
            bytes.insert(at, b);
        } else {
            let at = i % bytes.len();
            bytes[at] = b;
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Mutated saved files load or fail; what loads scores without panicking.
    #[test]
    fn mutated_saved_models_never_panic(
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<bool>()), 1..10),
        prior in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = if prior { saved_prior(dir.path()) } else { saved_rarity(dir.path()) };
        let bytes = mutate(std::fs::read(&p).unwrap(), &edits);
        std::fs::write(&p, bytes).unwrap();
        if let Ok(m) = load(&p) {
            let x = ndarray::Array2::<f32>::zeros((2, m.input_dim()));
            let _ = m.score(x.view());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        std::fs::write(&p, bytes).unwrap();
        let _ = load(&p);
    }
}

#[test]
fn a_kind_without_a_loader_is_refused_and_a_registered_one_loads() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mine.json");
    std::fs::write(&p, r#"{"kind":"mine","model":{}}"#).unwrap();
    let Err(e) = load(&p) else {
        panic!("an unknown kind loaded")
    };
    assert!(
        matches!(&e, DetectError::UnknownKind { kind, known, .. }
            if kind == "mine" && known.iter().any(|k| k == "rarity")),
        "{e}"
    );
    assert!(e.to_string().contains("mine.json"), "{e}");
    // A user's kind: register a loader (here one that reads a Rarity's memory back).
    let saved = saved_rarity(dir.path());
    let mut r = Registry::new();
    r.register("mine", move |_, reg| reg.load(&saved));
    assert_eq!(r.load(&p).unwrap().name(), "Rarity");
    // A prior around a user's kind loads its inner file through the same registry.
    edit_json(&saved_prior(dir.path()), |v| {
        v["model"]["inner"] = serde_json::Value::String("mine.json".into())
    });
    let prior = r.load(&dir.path().join("prior.json")).unwrap();
    assert_eq!(prior.name(), "Rarity+freq");
}
