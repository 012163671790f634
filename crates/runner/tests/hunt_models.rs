//! Saved hunt models (issue #12): saved and loaded, they rank a host exactly as the fit
//! did; a hostile model directory (garbage or truncated JSON, a missing file, a tampered
//! manifest, a model of another aspect or kind, non-finite calibration scores) is refused
//! with an error naming the file and the reason, never a panic.

use apt_llm_autoencoders::Scaling;
use apt_llm_detect::{TrainSet, saved_kind};
use apt_llm_embed::{ModelIdentity, SentenceEncoder};
use apt_llm_fusion::{Absent, Rule};
use apt_llm_provenance::{Aspect, Catalog, HostId, LabeledContext, SyntheticConfig};
use apt_llm_runner::{
    DetectorChoice, EncoderSpec, ExperimentConfig, HuntConfig, HuntModelError, HuntModels,
    HuntReport, HuntRequest, MANIFEST_FILE, ModelFileError, RunnerError, Switch, registry,
};
use ndarray::Array2;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn config(detector: DetectorChoice) -> HuntConfig {
    HuntConfig {
        experiment: ExperimentConfig {
            detectors: vec![detector],
            attention: Switch::Off,
            prior: Switch::Off,
            ..Default::default()
        },
        fusion: Rule::Fisher,
        absent: Absent::Neutral,
        partner: None,
        calibration_fraction: 0.1,
        explain: 5,
    }
}

/// A host of two aspects, no data needed.
fn synthetic_host(attributes: usize) -> Vec<LabeledContext> {
    let base = SyntheticConfig {
        processes: 600,
        attack_rate: 0.02,
        attributes,
        ..Default::default()
    };
    SyntheticConfig::generate_host(&[
        base.clone(),
        SyntheticConfig {
            aspect: Aspect::ProcessExec,
            seed: 7,
            ..base
        },
    ])
    .unwrap()
}

fn real_host(host: &str) -> Option<Vec<LabeledContext>> {
    let root = apt_llm_testkit::data_root()?;
    let host: HostId = host.parse().unwrap();
    Some(
        Catalog::discover(&root)
            .unwrap()
            .load_folder(&host.context(Aspect::ProcessEvent))
            .unwrap(),
    )
}

/// Every field of the report, the scores bit for bit.
fn assert_same(fitted: &HuntReport, loaded: &HuntReport) {
    assert_eq!(fitted.host, loaded.host);
    assert_eq!(fitted.combination, loaded.combination);
    assert_eq!(fitted.fusion, loaded.fusion);
    assert_eq!(fitted.absent, loaded.absent);
    assert_eq!(fitted.aspects, loaded.aspects);
    assert_eq!(fitted.left_out, loaded.left_out);
    assert_eq!(fitted.processes, loaded.processes);
    assert_eq!(fitted.partial, loaded.partial);
    assert_eq!(fitted.in_sample_calibration, loaded.in_sample_calibration);
    assert_eq!(fitted.labelled_attacks, loaded.labelled_attacks);
    assert_eq!(fitted.ranked.len(), loaded.ranked.len());
    for (a, b) in fitted.ranked.iter().zip(&loaded.ranked) {
        assert_eq!(a, b);
        assert_eq!(a.score.to_bits(), b.score.to_bits(), "{}", a.process);
    }
}

/// Fit, save, load and rank again: the same report.
fn round_trip(
    cfg: &HuntConfig,
    contexts: &[LabeledContext],
    encoder: Option<&dyn SentenceEncoder>,
) -> HuntModels {
    let (models, fitted) = HuntModels::fit_and_rank(cfg, contexts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = models.save(dir.path()).unwrap();
    assert_eq!(manifest, dir.path().join(MANIFEST_FILE));
    let loaded = HuntModels::load(dir.path(), &registry()).unwrap();
    assert_eq!(loaded.settings, models.settings);
    assert_eq!(loaded.host, models.host);
    assert_eq!(loaded.encoder_identity, models.encoder_identity);
    let report = loaded.rank(contexts, encoder, cfg.explain).unwrap();
    assert_same(&fitted, &report);
    // `hunt` is the fit and the ranking in one.
    assert_same(&apt_llm_runner::hunt(cfg, contexts).unwrap(), &fitted);
    loaded
}

#[test]
fn saved_attribute_models_rank_a_synthetic_host_as_the_fit_did() {
    let host = synthetic_host(30);
    for detector in [DetectorChoice::Avf, DetectorChoice::Oc3] {
        let models = round_trip(&config(detector), &host, None);
        assert_eq!(models.aspects.len(), 2);
        assert_eq!(models.settings.detector, Some(detector));
        // The explained processes say which of their attributes raise the detector's
        // score: attributes of the process, each lowering the score when removed.
        let report = models.rank(&host, None, 10).unwrap();
        let mut reasons = 0;
        for p in report.ranked.iter().take(10) {
            for e in &p.evidence {
                assert!(e.raised_by.len() <= 3, "{e:?}");
                let ctx = host
                    .iter()
                    .find(|c| c.id.aspect.short() == e.aspect)
                    .unwrap();
                let row = ctx
                    .context
                    .records
                    .iter()
                    .find(|r| r.id == p.process)
                    .unwrap();
                let names: Vec<&str> = row
                    .attributes
                    .iter()
                    .map(|&a| ctx.context.attributes[a as usize].as_str())
                    .collect();
                for w in e.raised_by.windows(2) {
                    assert!(w[0].1 >= w[1].1, "{e:?}");
                }
                for (name, drop) in &e.raised_by {
                    assert!(names.contains(&name.as_str()) && *drop > 0.0, "{e:?}");
                    reasons += 1;
                }
            }
        }
        assert!(reasons > 0, "{detector:?}: no explained attribute");
    }
}

/// A partner is fitted beside the detector, saved in a subdirectory, read back and checked;
/// per aspect the two p-values are fused by the rule, as the host view's pairs.
#[test]
fn a_partner_is_fitted_saved_and_ranks_as_the_fit_did() {
    let host = synthetic_host(30);
    let cfg = HuntConfig {
        partner: Some(DetectorChoice::Oc3),
        ..config(DetectorChoice::Avf)
    };
    let loaded = round_trip(&cfg, &host, None);
    let partner = loaded.partner.as_ref().expect("a partner");
    assert_eq!(partner.settings.detector, Some(DetectorChoice::Oc3));
    assert_eq!(loaded.combination_with_partner(), "- / AVF & - / OC3");
    // Each aspect's p-value is the rule over both detectors' p-values there.
    let pair = loaded.rank(&host, None, 1).unwrap();
    let top = &pair.ranked[0];
    let p_alone = |d: DetectorChoice| -> Vec<(String, f64)> {
        let models = HuntModels::fit(&config(d), &host).unwrap();
        let all = models.rank(&host, None, usize::MAX).unwrap();
        let me = all
            .ranked
            .iter()
            .find(|p| p.process == top.process)
            .unwrap();
        me.evidence
            .iter()
            .map(|e| (e.aspect.clone(), e.p_value))
            .collect()
    };
    let (avf, oc3) = (p_alone(DetectorChoice::Avf), p_alone(DetectorChoice::Oc3));
    assert_eq!(top.evidence.len(), 2);
    let mut fused = Vec::new();
    for (e, (a, b)) in top.evidence.iter().zip(avf.iter().zip(&oc3)) {
        assert_eq!((&e.aspect, &e.aspect), (&a.0, &b.0));
        let expect = Rule::Fisher.rule().fuse(&[a.1, b.1]);
        assert!(
            (e.p_value - expect).abs() < 1e-12,
            "{}: {} vs {expect}",
            e.aspect,
            e.p_value
        );
        fused.push(e.p_value);
    }
    assert!((top.score - Rule::Fisher.rule().score(&fused)).abs() < 1e-9);
    // Only detectors of attribute rows may be partners.
    let e = HuntModels::fit(
        &HuntConfig {
            partner: Some(DetectorChoice::IForest),
            ..config(DetectorChoice::Avf)
        },
        &host,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("partner") && e.contains("IForest"), "{e}");
    // Nor the detector itself: its evidence would count twice.
    let e = HuntModels::fit(
        &HuntConfig {
            partner: Some(DetectorChoice::Oc3),
            ..config(DetectorChoice::Oc3)
        },
        &host,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("partner") && e.contains("itself"), "{e}");
    // The saved partner is checked: a name outside the directory, another seed.
    let dir = tempfile::tempdir().unwrap();
    let manifest = loaded.save(dir.path()).unwrap();
    let mut doc = read_json(&manifest);
    doc["partner"] = "../partner".into();
    write_json(&manifest, &doc);
    refused(
        dir.path(),
        &["hunt.json", "partner", "not a directory name"],
    );
    doc["partner"] = "partner".into();
    write_json(&manifest, &doc);
    let inner = dir.path().join("partner").join(MANIFEST_FILE);
    let mut p = read_json(&inner);
    p["settings"]["seed"] = 7.into();
    write_json(&inner, &p);
    refused(dir.path(), &["hunt.json", "partner", "seed 7"]);
    // A partner that names a partner of its own is refused before it is followed: here
    // `partner` links back to the models' own directory, which would recurse forever.
    let nested = dir.path().join("partner");
    std::fs::remove_file(&inner).unwrap();
    std::fs::remove_dir_all(&nested).unwrap();
    std::os::unix::fs::symlink(".", &nested).unwrap();
    refused(dir.path(), &["partner", "no partner of their own"]);
    // Asking for another partner than the saved one is refused, naming both.
    let e = loaded
        .check_request(&HuntRequest {
            partner: Some(DetectorChoice::Avf),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("partner") && e.contains("OC3") && e.contains("AVF"),
        "{e}"
    );
}

#[test]
fn transductive_detectors_are_refused() {
    // Their score of a row depends on the rows scored with it: no held-out normal can
    // calibrate it, so a hunt with one would rank on p-values of another scale.
    let host = synthetic_host(30);
    for d in [DetectorChoice::Oc3Transductive, DetectorChoice::Dbscan] {
        let e = HuntModels::fit(&config(d), &host).unwrap_err().to_string();
        assert!(e.contains("transductive"), "{e}");
    }
    // A fusion rule of your own could not be saved by name: refused, not ignored.
    let mut custom = config(DetectorChoice::Oc3);
    custom.experiment.custom_fusion = vec![std::sync::Arc::new(apt_llm_fusion::Fisher)];
    let e = HuntModels::fit(&custom, &host).unwrap_err().to_string();
    assert!(e.contains("custom fusion rule"), "{e}");
}

#[test]
fn a_saved_transductive_model_is_refused() {
    // A model file turned transductive on disk: its scores would not match the saved
    // calibration scores' scale.
    let host = synthetic_host(30);
    let dir = tempfile::tempdir().unwrap();
    HuntModels::fit(&config(DetectorChoice::Oc3), &host)
        .unwrap()
        .save(dir.path())
        .unwrap();
    let model = dir.path().join("pandex_cadets-synthetic_PE.model.json");
    let mut doc = read_json(&model);
    doc["model"]["params"]["transductive"] = true.into();
    write_json(&model, &doc);
    refused(dir.path(), &["pandex_cadets-synthetic_PE", "transductive"]);
}

#[apt_llm_testkit::needs(data)]
#[test]
fn saved_models_rank_real_hosts_as_the_fit_did() {
    for host in ["bovia/clearscope", "bovia/cadets"] {
        let Some(contexts) = real_host(host) else {
            return;
        };
        let models = round_trip(&config(DetectorChoice::Oc3), &contexts, None);
        assert_eq!(models.host.to_string(), host);
    }
}

/// An encoder of another identity than the one the models were fitted with.
struct OtherEncoder(ModelIdentity);

impl SentenceEncoder for OtherEncoder {
    fn identity(&self) -> &ModelIdentity {
        &self.0
    }
    fn encode(&self, sentences: &[&str]) -> apt_llm_embed::Result<Array2<f32>> {
        Ok(Array2::zeros((sentences.len(), self.0.dim)))
    }
}

/// An autoencoder behind the frequency prior, on MiniLM: the prior's pattern counts and
/// the autoencoder's weights come back, and another encoder is refused.
#[apt_llm_testkit::needs(data)]
#[test]
fn a_saved_autoencoder_with_the_prior_ranks_as_the_fit_did() {
    let Some(minilm) = apt_llm_testkit::minilm_dir(apt_llm_embed::resolve_model("minilm").ok())
    else {
        return;
    };
    let Some(contexts) = real_host("bovia/clearscope") else {
        return;
    };
    let mut cfg = config(DetectorChoice::Dae);
    cfg.experiment.prior = Switch::On;
    cfg.experiment.epochs = 3;
    cfg.experiment.encoders = vec![EncoderSpec::named(minilm.display().to_string())];
    let (models, fitted) = HuntModels::fit_and_rank(&cfg, &contexts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    models.save(dir.path()).unwrap();
    let loaded = HuntModels::load(dir.path(), &registry()).unwrap();
    assert!(loaded.settings.prior);
    let encoder = loaded
        .load_encoder(None, None, None, None)
        .unwrap()
        .expect("an embedding model loads its encoder");
    let report = loaded
        .rank(&contexts, Some(&*encoder), cfg.explain)
        .unwrap();
    assert_same(&fitted, &report);

    let other = OtherEncoder(ModelIdentity::new("Other", "other", 384, "v1"));
    let e = loaded.rank(&contexts, Some(&other), 5).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, RunnerError::HuntModels(HuntModelError::Mismatch { .. }))
            && msg.contains("PE.pipeline.json")
            && msg.contains("encoder differs")
            && msg.contains("Other other"),
        "{msg}"
    );
    let e = loaded.rank(&contexts, None, 5).unwrap_err().to_string();
    assert!(e.contains("sentence embeddings"), "{e}");

    // The encoder's precision is part of what was saved: f32 may be repeated, bf16 not.
    let asked = |p| {
        loaded
            .check_request(&HuntRequest {
                precision: Some(p),
                ..Default::default()
            })
            .map_err(|e| e.to_string())
    };
    assert_eq!(asked(apt_llm_embed::Precision::F32), Ok(()));
    let e = asked(apt_llm_embed::Precision::Bf16).unwrap_err();
    assert!(
        e.contains("hunt.json") && e.contains("precision f32, asked for bf16"),
        "{e}"
    );
    let e = loaded
        .check_request(&HuntRequest {
            backend: Some(apt_llm_embed::Backend::Tch),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("backend burn, asked for tch"), "{e}");
}

#[test]
fn every_detector_is_saved_under_the_kind_its_choice_names() {
    let x = Array2::from_shape_fn((24, 4), |(i, j)| {
        f32::from(u8::from((i * 7 + j * 3) % 5 < 2))
    });
    let data = TrainSet::new(x.view());
    let dir = tempfile::tempdir().unwrap();
    for d in DetectorChoice::ALL {
        let model = d
            .spec(false, 1, 2, Scaling::MinMax)
            .fit_boxed(&data)
            .unwrap();
        let path = dir.path().join(format!("{}.json", d.name()));
        model.save(&path).unwrap();
        assert_eq!(saved_kind(&path).unwrap(), d.saved_kind(), "{d}");
    }
}

/// The synthetic host's AVF models, fitted once.
fn avf_models() -> &'static HuntModels {
    static MODELS: OnceLock<HuntModels> = OnceLock::new();
    MODELS
        .get_or_init(|| HuntModels::fit(&config(DetectorChoice::Avf), &synthetic_host(30)).unwrap())
}

/// The AVF models saved in a fresh directory: (directory, manifest, PE model file).
fn saved() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = avf_models().save(dir.path()).unwrap();
    let pe = dir.path().join("pandex_cadets-synthetic_PE.pipeline.json");
    assert!(pe.is_file(), "{}", pe.display());
    (dir, manifest, pe)
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Path, doc: &serde_json::Value) {
    std::fs::write(path, doc.to_string()).unwrap();
}

/// Load the directory, expecting an error naming every part.
fn refused(dir: &Path, parts: &[&str]) -> HuntModelError {
    let e = HuntModels::load(dir, &registry()).unwrap_err();
    let msg = e.to_string();
    for p in parts {
        assert!(msg.contains(p), "{p:?} not in {msg}");
    }
    e
}

#[test]
fn a_missing_garbage_or_truncated_manifest_is_refused_naming_it() {
    let (dir, manifest, _) = saved();
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, &text[..text.len() / 2]).unwrap();
    refused(dir.path(), &["hunt.json", "not a hunt manifest", "EOF"]);
    std::fs::write(&manifest, "this is not JSON").unwrap();
    refused(dir.path(), &["hunt.json", "not a hunt manifest"]);
    std::fs::write(&manifest, "[1, 2]").unwrap();
    refused(dir.path(), &["hunt.json", "not a hunt manifest"]);
    std::fs::write(&manifest, "{}").unwrap();
    refused(dir.path(), &["hunt.json", "field format", "missing"]);
    std::fs::remove_file(&manifest).unwrap();
    let e = refused(dir.path(), &["hunt.json", "No such file"]);
    assert!(
        matches!(&e, HuntModelError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{e:?}"
    );
}

/// A manifest written before the absent-aspect setting fused the present aspects only:
/// it reads back as `skip`, and ranks as such.
#[test]
fn a_manifest_without_the_absent_setting_reads_as_skip() {
    let (dir, manifest, _) = saved();
    let mut doc = read_json(&manifest);
    assert_eq!(doc["settings"]["absent"], "neutral");
    doc["settings"].as_object_mut().unwrap().remove("absent");
    write_json(&manifest, &doc);
    let old = HuntModels::load(dir.path(), &registry()).unwrap();
    assert_eq!(old.settings.absent, Absent::Skip);
    let host = synthetic_host(30);
    let report = old.rank(&host, None, 0).unwrap();
    assert_eq!(report.absent, "skip");
    doc["settings"]["absent"] = "sometimes".into();
    write_json(&manifest, &doc);
    refused(dir.path(), &["hunt.json", "sometimes"]);
}

#[test]
fn a_tampered_manifest_is_refused_naming_the_field() {
    let (dir, manifest, _) = saved();
    let good = read_json(&manifest);
    let cases: [(&str, serde_json::Value, &[&str]); 8] = [
        ("/format", 99.into(), &["format 99", "newer"]),
        (
            "/settings/calibration_fraction",
            1.5.into(),
            &["settings.calibration_fraction", "1.5"],
        ),
        ("/host", "bovia/nowhere".into(), &["field host", "nowhere"]),
        (
            "/aspects/0/model",
            "../elsewhere.json".into(),
            &["aspects[0].model", "not a file name"],
        ),
        (
            "/aspects/0/context",
            "bovia/trace/PE".into(),
            &[
                "aspects[0].context",
                "not a context of host pandex/cadets-synthetic",
            ],
        ),
        (
            "/aspects/1/aspect",
            "PE".into(),
            &["aspects[1].aspect", "the context is"],
        ),
        (
            "/settings/prior",
            true.into(),
            &["settings.prior", "only in front of an autoencoder"],
        ),
        (
            "/settings/detector",
            "Oc3".into(),
            &["settings.detector_name", "AVF", "OC3"],
        ),
    ];
    for (pointer, value, parts) in cases {
        let mut doc = good.clone();
        *doc.pointer_mut(pointer).unwrap() = value;
        write_json(&manifest, &doc);
        refused(dir.path(), &[&["hunt.json"], parts].concat());
    }
    // A transductive detector cannot rank with saved models.
    let mut doc = good.clone();
    doc["settings"]["detector"] = "Dbscan".into();
    doc["settings"]["detector_name"] = "DBSCAN".into();
    write_json(&manifest, &doc);
    refused(
        dir.path(),
        &["hunt.json", "settings.detector", "transductive"],
    );
    // A manifest naming another detector than the files hold.
    let mut doc = good.clone();
    doc["settings"]["detector"] = "Oc3".into();
    doc["settings"]["detector_name"] = "OC3".into();
    write_json(&manifest, &doc);
    refused(
        dir.path(),
        &["hunt.json", "PE.model.json", "\"avf\"", "\"oc3\"", "OC3"],
    );
    let mut doc = good.clone();
    doc["surprise"] = 1.into();
    write_json(&manifest, &doc);
    refused(dir.path(), &["hunt.json", "unknown field `surprise`"]);
    let mut doc = good.clone();
    doc["settings"]["seed"] = (-1).into();
    write_json(&manifest, &doc);
    refused(dir.path(), &["hunt.json", "not a hunt manifest"]);
}

#[test]
fn a_model_of_another_aspect_or_kind_is_refused_naming_the_file() {
    let (dir, manifest, pe) = saved();
    let good = read_json(&manifest);
    // The manifest's PE entry points at the PX model.
    let mut doc = good.clone();
    doc["aspects"][0]["model"] = doc["aspects"][1]["model"].clone();
    write_json(&manifest, &doc);
    refused(
        dir.path(),
        &[
            "PX.pipeline.json",
            "field aspect is \"PX\"",
            "hunt.json",
            "\"PE\"",
        ],
    );
    write_json(&manifest, &good);

    // A model file fitted on another host.
    let model = read_json(&pe);
    let mut other = model.clone();
    other["trained_on"] = "bovia/cadets/PE".into();
    write_json(&pe, &other);
    refused(
        dir.path(),
        &[
            "PE.pipeline.json",
            "trained_on",
            "bovia/cadets/PE",
            "pandex/cadets-synthetic/PE",
        ],
    );

    // A model file of another detector kind, and a detector file of another kind.
    let mut other = model.clone();
    other["kind"] = "oc3".into();
    write_json(&pe, &other);
    refused(dir.path(), &["PE.model.json", "\"oc3\"", "\"avf\""]);
    // A detector file outside the directory.
    let mut bad = model.clone();
    bad["detector"] = "../elsewhere.model.json".into();
    write_json(&pe, &bad);
    refused(
        dir.path(),
        &[
            "PE.pipeline.json",
            "field detector",
            "not a plain file name",
        ],
    );
    // A schema or representation the detector file does not read.
    let mut bad = model.clone();
    bad["attributes"].as_array_mut().unwrap().pop();
    write_json(&pe, &bad);
    refused(
        dir.path(),
        &[
            "PE.pipeline.json",
            "PE.model.json",
            "attributes says",
            "columns",
        ],
    );
    let mut bad = model.clone();
    bad["representation"] = "embedding".into();
    write_json(&pe, &bad);
    refused(
        dir.path(),
        &[
            "PE.pipeline.json",
            "representation says Embedding",
            "Attributes",
        ],
    );

    write_json(&pe, &model);
    let detector = dir.path().join("pandex_cadets-synthetic_PE.model.json");
    let mut det = read_json(&detector);
    det["kind"] = "rarity".into();
    write_json(&detector, &det);
    refused(dir.path(), &["PE.model.json", "\"avf\"", "\"rarity\""]);
}

#[test]
fn missing_truncated_or_non_finite_model_files_are_refused_naming_them() {
    let (dir, _, pe) = saved();
    let model = read_json(&pe);
    let text = model.to_string();
    std::fs::write(&pe, &text[..text.len() - 10]).unwrap();
    refused(dir.path(), &["PE.pipeline.json", "not a model file"]);

    let mut bad = model.clone();
    bad["normal_scores"][0] = serde_json::json!(1e39);
    write_json(&pe, &bad);
    refused(
        dir.path(),
        &["PE.pipeline.json", "normal_scores", "not finite"],
    );

    let mut bad = model.clone();
    bad["normal_weights"][0] = serde_json::json!(-1.0);
    write_json(&pe, &bad);
    refused(
        dir.path(),
        &["PE.pipeline.json", "normal_weights", "negative"],
    );

    let mut bad = model.clone();
    bad["normal_weights"] = serde_json::json!([1.0]);
    write_json(&pe, &bad);
    refused(dir.path(), &["PE.pipeline.json", "weights"]);

    let mut bad = model.clone();
    bad["threshold"]["value"] = serde_json::json!(1e39);
    write_json(&pe, &bad);
    refused(
        dir.path(),
        &["PE.pipeline.json", "threshold.value", "not finite"],
    );

    // A detector file outside the directory.
    let mut bad = model.clone();
    bad["detector"] = "../elsewhere.model.json".into();
    write_json(&pe, &bad);
    refused(
        dir.path(),
        &[
            "PE.pipeline.json",
            "field detector",
            "not a plain file name",
        ],
    );
    // A schema or representation the detector file does not read.
    let mut bad = model.clone();
    bad["attributes"].as_array_mut().unwrap().pop();
    write_json(&pe, &bad);
    refused(
        dir.path(),
        &[
            "PE.pipeline.json",
            "PE.model.json",
            "attributes says",
            "columns",
        ],
    );
    let mut bad = model.clone();
    bad["representation"] = "embedding".into();
    write_json(&pe, &bad);
    refused(
        dir.path(),
        &[
            "PE.pipeline.json",
            "representation says Embedding",
            "Attributes",
        ],
    );

    write_json(&pe, &model);
    let detector = dir.path().join("pandex_cadets-synthetic_PE.model.json");
    std::fs::write(&detector, "{\"kind\": \"avf\", \"model\": ").unwrap();
    refused(dir.path(), &["PE.model.json", "invalid JSON"]);
    std::fs::remove_file(&detector).unwrap();
    refused(dir.path(), &["PE.model.json", "No such file"]);
    std::fs::remove_file(&pe).unwrap();
    let e = refused(dir.path(), &["PE.pipeline.json", "No such file"]);
    assert!(
        matches!(e, HuntModelError::ModelFile(ModelFileError::Io { .. })),
        "{e:?}"
    );
}

#[test]
fn saved_models_refuse_other_data_and_other_settings_naming_both() {
    let (dir, _, _) = saved();
    let models = HuntModels::load(dir.path(), &registry()).unwrap();
    // Another schema: the synthetic host with more attributes.
    let e = models
        .rank(&synthetic_host(40), None, 5)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("PE.pipeline.json")
            && e.contains("attribute schema differs")
            && e.contains("40"),
        "{e}"
    );
    // One aspect of the two.
    let host = synthetic_host(30);
    let e = models.rank(&host[..1], None, 5).unwrap_err().to_string();
    assert!(
        e.contains("hunt.json") && e.contains("PE+PX") && e.contains("has PE"),
        "{e}"
    );

    let asked = |r: HuntRequest| models.check_request(&r).map_err(|e| e.to_string());
    assert_eq!(asked(HuntRequest::default()), Ok(()));
    // What the models fix may be repeated.
    assert_eq!(
        asked(HuntRequest {
            detector: Some(DetectorChoice::Avf),
            seed: Some(42),
            calibration_fraction: Some(0.1),
            fusion: Some(Rule::Fisher),
            ..Default::default()
        }),
        Ok(())
    );
    // An autoencoder's options have no meaning for AVF: refused, not ignored.
    for (request, setting) in [
        (
            HuntRequest {
                prior: Some(true),
                ..Default::default()
            },
            "prior",
        ),
        (
            HuntRequest {
                attention: Some(false),
                ..Default::default()
            },
            "attention",
        ),
        (
            HuntRequest {
                epochs: Some(50),
                ..Default::default()
            },
            "epochs",
        ),
    ] {
        let e = asked(request).unwrap_err();
        assert!(
            e.contains("hunt.json")
                && e.contains(setting)
                && e.contains("autoencoders only")
                && e.contains("AVF"),
            "{e}"
        );
    }
    // Nor an encoder's settings, for models of attribute rows.
    for (request, setting) in [
        (
            HuntRequest {
                precision: Some(apt_llm_embed::Precision::Bf16),
                ..Default::default()
            },
            "precision",
        ),
        (
            HuntRequest {
                backend: Some(apt_llm_embed::Backend::Burn),
                ..Default::default()
            },
            "backend",
        ),
        (
            HuntRequest {
                encoder: Some("minilm".into()),
                ..Default::default()
            },
            "encoder",
        ),
    ] {
        let e = asked(request).unwrap_err();
        assert!(
            e.contains(setting) && e.contains("detectors of embeddings only"),
            "{e}"
        );
    }
    for (request, parts) in [
        (
            HuntRequest {
                detector: Some(DetectorChoice::Oc3),
                ..Default::default()
            },
            ["detector", "AVF", "OC3"],
        ),
        (
            HuntRequest {
                fusion: Some(Rule::Cauchy),
                ..Default::default()
            },
            ["fusion", "fisher", "cauchy"],
        ),
        (
            HuntRequest {
                absent: Some(Absent::Skip),
                ..Default::default()
            },
            ["absent", "neutral", "skip"],
        ),
        (
            HuntRequest {
                seed: Some(7),
                ..Default::default()
            },
            ["seed", "42", "7"],
        ),
        (
            HuntRequest {
                host: Some("bovia/trace".parse().unwrap()),
                ..Default::default()
            },
            ["host", "pandex/cadets-synthetic", "bovia/trace"],
        ),
    ] {
        let e = asked(request).unwrap_err();
        assert!(e.contains("hunt.json"), "{e}");
        for p in parts {
            assert!(e.contains(p), "{p:?} not in {e}");
        }
    }
}

#[apt_llm_testkit::needs(data)]
#[test]
fn models_of_one_host_refuse_another() {
    let (Some(clearscope), Some(cadets)) =
        (real_host("bovia/clearscope"), real_host("bovia/cadets"))
    else {
        return;
    };
    let cfg = config(DetectorChoice::Avf);
    let dir = tempfile::tempdir().unwrap();
    HuntModels::fit(&cfg, &clearscope)
        .unwrap()
        .save(dir.path())
        .unwrap();
    let models = HuntModels::load(dir.path(), &registry()).unwrap();
    let e = models.rank(&cadets, None, 5).unwrap_err().to_string();
    assert!(
        e.contains("hunt.json") && e.contains("bovia/clearscope") && e.contains("bovia/cadets"),
        "{e}"
    );
    // A model file of the other host, copied in.
    let other = tempfile::tempdir().unwrap();
    HuntModels::fit(&cfg, &cadets)
        .unwrap()
        .save(other.path())
        .unwrap();
    // The copied model file still points at its own detector file.
    for (from, to) in [
        (
            "bovia_cadets_PE.pipeline.json",
            "bovia_clearscope_PE.pipeline.json",
        ),
        ("bovia_cadets_PE.model.json", "bovia_cadets_PE.model.json"),
    ] {
        std::fs::copy(other.path().join(from), dir.path().join(to)).unwrap();
    }
    refused(
        dir.path(),
        &[
            "bovia_clearscope_PE.pipeline.json",
            "bovia/cadets/PE",
            "bovia/clearscope/PE",
        ],
    );
}
