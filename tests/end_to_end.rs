//! The library end to end through the facade: synthetic context → sentences → tiny BERT
//! embeddings → every detector → metrics, with the honest selection.

use apt_llm::provenance::SyntheticConfig;
use apt_llm::runner::{
    AttentionMode, DataSource, DetectorChoice, EncoderSpec, ExperimentConfig, PriorMode, run,
    selections,
};

#[test]
fn grid_on_a_synthetic_context_with_a_tiny_model() {
    let Some(models) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let cfg = ExperimentConfig {
        data: DataSource::Synthetic(vec![
            SyntheticConfig {
                processes: 1_500,
                seed: 1,
                ..Default::default()
            },
            SyntheticConfig {
                processes: 1_500,
                seed: 2,
                attack_rate: 0.02,
                ..Default::default()
            },
        ]),
        encoders: vec![
            EncoderSpec(models.join("tiny-distilbert").display().to_string()),
            EncoderSpec("no-such-model".into()),
        ],
        detectors: vec![DetectorChoice::Ae, DetectorChoice::IForest],
        attention: AttentionMode::Off,
        prior: PriorMode::Both,
        epochs: 3,
        ..Default::default()
    };
    let report = run(&cfg).unwrap();
    assert_eq!(
        report.unavailable_encoders.len(),
        1,
        "a missing model is reported, not fatal"
    );
    // Per context: AE, AE with the frequency prior (the same fit), IForest.
    assert_eq!(report.rows.len(), 6);
    let labels: Vec<String> = report.rows.iter().map(|r| r.detector_label()).collect();
    assert_eq!(labels[..3], ["AE", "AE+freq", "IForest"]);
    for r in &report.rows {
        assert!(
            (0.0..=1.0).contains(&r.auc) && r.tie_ceiling >= r.auc - 1e-9,
            "{r:?}"
        );
        assert_eq!(r.encoder, "DistilBERT");
    }
    for c in &report.contexts {
        let seen = c
            .attacks_seen_in_training
            .expect("scored contexts count them");
        assert!(
            seen <= c.attacks,
            "{}: {seen} of {} attacks",
            c.context,
            c.attacks
        );
    }
    let sel = selections(&report);
    assert_eq!(sel.len(), 2);
    assert!(sel.iter().all(|s| s.attacks_seen.0 <= s.attacks_seen.1));
    assert!(
        sel.iter()
            .all(|s| s.honest.is_some() && s.baselines.contains_key("IForest"))
    );
}
