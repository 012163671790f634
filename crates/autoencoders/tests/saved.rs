//! Saved autoencoders are untrusted input (issue #14): the loader checks the JSON and the
//! weights before anything is built or scored, and names the file and the field.

use apt_llm_autoencoders::{Autoencoder, AutoencoderConfig, FittedAutoencoder};
use apt_llm_detect::{DetectError, Detector, Fit, TrainSet};
use ndarray::Array2;
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One tiny model, trained once and saved; each test copies its files.
fn saved() -> &'static (tempfile::TempDir, PathBuf) {
    static SAVED: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    SAVED.get_or_init(|| {
        let x = Array2::from_shape_fn((40, 8), |(i, j)| ((i * 7 + j * 3) % 5) as f32 / 5.0);
        let cfg = AutoencoderConfig {
            encoder_widths: vec![6],
            bottleneck_widths: vec![],
            latent: 2,
            epochs: 2,
            min_steps: 2,
            ..AutoencoderConfig::ae()
        };
        let model = Autoencoder::new(cfg).fit(&TrainSet::new(x.view())).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ae.json");
        model.save(&p).unwrap();
        (dir, p)
    })
}

/// A fresh copy of the saved model (JSON + weights) in `dir`.
fn copy(dir: &Path) -> PathBuf {
    let (_, src) = saved();
    let p = dir.join("ae.json");
    std::fs::copy(src, &p).unwrap();
    let mut w = src.as_os_str().to_owned();
    w.push(".bpk");
    std::fs::copy(PathBuf::from(w), dir.join("ae.json.bpk")).unwrap();
    p
}

fn edit(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}

fn load_err(path: &Path) -> String {
    let e = FittedAutoencoder::load(path).expect_err("loading must fail");
    assert!(matches!(e, DetectError::Persist { .. }), "{e}");
    e.to_string()
}

#[test]
fn the_saved_model_loads_and_scores() {
    let dir = tempfile::tempdir().unwrap();
    let m = FittedAutoencoder::load(&copy(dir.path())).unwrap();
    assert_eq!(m.input_dim(), 8);
    assert_eq!(m.score(Array2::zeros((3, 8)).view()).unwrap().len(), 3);
    // Weights are stored uncompressed (4 bytes each): the loader's size check (at least
    // 2 bytes per weight matrix entry) never refuses a real file.
    let weights = 8 * 6 + 6 * 2 + 2 * 6 + 6 * 8;
    let size = std::fs::metadata(dir.path().join("ae.json.bpk"))
        .unwrap()
        .len();
    assert!(size >= 4 * weights, "{size} bytes");
}

#[test]
fn a_scaler_shorter_than_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let p = copy(dir.path());
    edit(&p, |v| {
        v["scaler"]["scale"].as_array_mut().unwrap().pop();
    });
    let msg = load_err(&p);
    assert!(
        msg.contains("ae.json")
            && msg.contains("field \"scaler.scale\" has 7 values, input_dim is 8"),
        "{msg}"
    );
}

#[test]
fn a_non_finite_scaler_value_or_bad_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let p = copy(dir.path());
    let text = std::fs::read_to_string(&p).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["scaler"]["shift"][3] = 0.0.into();
    let text = v
        .to_string()
        .replacen("\"shift\":[", "\"shift\":[1e300,", 1);
    // One value too many now, and infinite: the length is checked first.
    std::fs::write(&p, text).unwrap();
    assert!(load_err(&p).contains("scaler.shift"));
    let p = copy(dir.path());
    let text = std::fs::read_to_string(&p).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["scaler"]["shift"].as_array_mut().unwrap().remove(0);
    let text = v
        .to_string()
        .replacen("\"shift\":[", "\"shift\":[1e300,", 1);
    std::fs::write(&p, text).unwrap();
    let msg = load_err(&p);
    assert!(msg.contains("\"scaler.shift\": value 0 is inf"), "{msg}");
    let p = copy(dir.path());
    edit(&p, |v| v["threshold"]["percentile"] = 250.0.into());
    assert!(load_err(&p).contains("threshold.percentile"));
}

#[test]
fn an_input_width_the_weights_do_not_have() {
    let dir = tempfile::tempdir().unwrap();
    let p = copy(dir.path());
    edit(&p, |v| {
        v["input_dim"] = 9.into();
        v["scaler"]["shift"]
            .as_array_mut()
            .unwrap()
            .push(0.0.into());
        v["scaler"]["scale"]
            .as_array_mut()
            .unwrap()
            .push(1.0.into());
    });
    let msg = load_err(&p);
    assert!(msg.contains("ae.json.bpk"), "{msg}");
    let p = copy(dir.path());
    edit(&p, |v| v["input_dim"] = 0.into());
    assert!(load_err(&p).contains("field \"input_dim\" is 0"));
}

#[test]
fn a_config_too_large_for_its_weights_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = copy(dir.path());
    edit(&p, |v| {
        v["config"]["encoder_widths"] = serde_json::json!([1_000_000_000usize])
    });
    let msg = load_err(&p);
    assert!(
        msg.contains("ae.json.bpk") && msg.contains("cannot hold"),
        "{msg}"
    );
    let p = copy(dir.path());
    edit(&p, |v| {
        v["config"]["attention"] = true.into();
        v["config"]["attention_tokens"] = 1.into();
        v["config"]["attention_heads"] = 1.into();
        v["config"]["attention_dim"] = 2_000_000_000usize.into();
    });
    let msg = load_err(&p);
    assert!(msg.contains("cannot hold"), "{msg}");
    let p = copy(dir.path());
    edit(&p, |v| {
        v["config"]["score_samples"] = 1_000_000_000_000u64.into()
    });
    let msg = load_err(&p);
    assert!(msg.contains("config.score_samples"), "{msg}");
    let p = copy(dir.path());
    edit(&p, |v| v["config"]["latent"] = 0.into());
    assert!(load_err(&p).contains("field \"config\""));
}

#[test]
fn files_that_are_not_saved_autoencoders() {
    let dir = tempfile::tempdir().unwrap();
    for (body, reason) in [
        (
            "{\"pipeline\": 1}",
            "not a saved detector: no \"kind\" field",
        ),
        ("[]", "not a saved detector"),
        ("\u{1}binary", "not a saved detector: invalid JSON"),
        (
            "{\"kind\": \"rarity\", \"model\": {}}",
            "holds a \"rarity\" model",
        ),
        ("{\"kind\": \"autoencoder\"}", "malformed autoencoder model"),
    ] {
        let p = dir.path().join("x.json");
        std::fs::write(&p, body).unwrap();
        let msg = load_err(&p);
        assert!(msg.contains("x.json") && msg.contains(reason), "{msg}");
    }
    let p = copy(dir.path());
    std::fs::remove_file(dir.path().join("ae.json.bpk")).unwrap();
    assert!(load_err(&p).contains("ae.json.bpk"));
    let p = copy(dir.path());
    std::fs::write(dir.path().join("ae.json.bpk"), vec![7u8; 4096]).unwrap();
    assert!(load_err(&p).contains("ae.json.bpk"));
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(24, |n: u32| n.div_ceil(2).max(1))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Mutated JSON or weights: Ok or Err, and a model that loads scores without panic.
    #[test]
    fn mutated_saved_autoencoders_never_panic(
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        weights in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = copy(dir.path());
        let file = if weights { dir.path().join("ae.json.bpk") } else { p.clone() };
        let mut bytes = std::fs::read(&file).unwrap();
        for (i, b) in edits {
            const SPECIAL: &[u8] = b"0123456789-e,[]{}\":";
            let b = if b % 2 == 0 { SPECIAL[b as usize % SPECIAL.len()] } else { b };
            let at = i % bytes.len();
            bytes[at] = b;
        }
        std::fs::write(&file, bytes).unwrap();
        if let Ok(m) = FittedAutoencoder::load(&p) {
            let _ = m.score(Array2::zeros((2, m.input_dim())).view());
        }
    }
}
