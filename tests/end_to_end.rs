//! The library end to end through the facade: synthetic context → sentences → tiny BERT
//! embeddings → every detector → metrics, with the honest selection.

use apt_llm::fusion::Absent;
use apt_llm::provenance::SyntheticConfig;
use apt_llm::runner::{
    AttentionMode, DataSource, DetectorChoice, EncoderSpec, ExperimentConfig, PriorMode, run,
    selections,
};

#[apt_llm_testkit::needs(models)]
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
            EncoderSpec::Named(models.join("tiny-distilbert").display().to_string()),
            EncoderSpec::named("no-such-model"),
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

/// The host view on a synthetic host: three aspects of the same processes, each hiding a
/// different share of the attacks; every context and host test process is split the
/// same way, the fused rows are written, and one honest pick per counted host is marked.
#[apt_llm_testkit::needs(models)]
#[test]
fn host_view_on_a_synthetic_host() {
    use apt_llm::provenance::Aspect;
    let Some(models) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let base = SyntheticConfig {
        processes: 1_200,
        attack_rate: 0.02,
        camouflaged_attacks: 0.4,
        seed: 5,
        ..Default::default()
    };
    let aspects = vec![
        base.clone(),
        SyntheticConfig {
            aspect: Aspect::ProcessExec,
            seed: 6,
            ..base.clone()
        },
        SyntheticConfig {
            aspect: Aspect::ProcessParent,
            seed: 7,
            ..base.clone()
        },
    ];
    let cfg = ExperimentConfig {
        data: DataSource::SyntheticHost(aspects),
        encoders: vec![EncoderSpec::Named(
            models.join("tiny-bert").display().to_string(),
        )],
        detectors: vec![
            DetectorChoice::Rarity,
            DetectorChoice::Oc3,
            DetectorChoice::Ae,
        ],
        attention: AttentionMode::Off,
        prior: PriorMode::Off,
        epochs: 3,
        cross_fit: true,
        ..Default::default()
    };
    let report = run(&cfg).unwrap();
    assert_eq!(report.contexts.len(), 3);
    // ~96 held-out normals per aspect: below the cross-fit bound, so every combination
    // is also calibrated against out-of-fold training normals, which reach lower p-values.
    let low = |p: &[f64]| p.iter().copied().fold(1.0f64, f64::min);
    for c in &report.contexts {
        for sc in &c.scored {
            assert_eq!(sc.p_values_crossfit.len(), sc.p_values.len());
            assert!(sc.p_values_crossfit.iter().all(|p| (0.0..=1.0).contains(p)));
        }
        assert!(
            c.scored
                .iter()
                .any(|sc| low(&sc.p_values_crossfit) < low(&sc.p_values)),
            "{}: cross-fitting never reached below the held-out floor",
            c.context
        );
    }
    assert_eq!(report.hosts.len(), 1);
    let h = &report.hosts[0];
    assert_eq!(h.aspects, ["PE", "PX", "PP"]);
    assert_eq!(h.processes, 1_200);
    assert_eq!(h.partial, 0, "every process is in every aspect");
    // The host's test set is the union of the contexts' test sets, which agree.
    for c in &report.contexts {
        assert_eq!(
            c.test_normals + c.attacks,
            h.test_processes,
            "{}",
            c.context
        );
    }
    // A single host is not counted in the honest mean (nothing to leave out), but its
    // fused rows exist for every candidate (3 combinations alone, the autoencoder paired
    // with each of the 2 counting baselines) x rule x calibration x absent policy.
    assert!(h.not_counted.is_none() || h.honest.is_none());
    assert_eq!(report.host_rows.len(), (3 + 2) * 3 * 2 * 2);
    let pairs: Vec<_> = report
        .host_rows
        .iter()
        .filter_map(|r| r.partner.as_deref())
        .collect();
    assert_eq!(pairs.len(), 2 * 3 * 2 * 2);
    // No process is absent from any aspect here: both policies rank alike.
    for r in report.host_rows.iter().filter(|r| r.absent == Absent::Skip) {
        let twin = report
            .host_rows
            .iter()
            .find(|n| {
                n.absent == Absent::Neutral && n.key() == r.key().replace(" (present only)", "")
            })
            .unwrap();
        assert_eq!(twin.auc, r.auc, "{}", r.key());
    }
    assert!(pairs.iter().any(|p| p.ends_with("/ OC3")), "{pairs:?}");
    for r in &report.host_rows {
        assert!((0.0..=1.0).contains(&r.auc), "{r:?}");
        assert_eq!(r.aspects, "PE+PX+PP");
    }
    // OC3 reads the attribute rows, not the embeddings: its encoder column says so.
    assert!(
        report
            .rows
            .iter()
            .any(|r| r.detector == "OC3" && r.encoder == apt_llm::runner::ATTRIBUTES_ENCODER)
    );
    // Fusing the aspects finds the attacks each aspect hides: fused Rarity beats the
    // weakest single aspect's Rarity.
    let fused = report
        .host_rows
        .iter()
        .filter(|r| r.detector == "Rarity" && r.fusion == "fisher")
        .map(|r| r.auc)
        .fold(0.0f64, f64::max);
    let worst_single = report
        .rows
        .iter()
        .filter(|r| r.detector == "Rarity")
        .map(|r| r.auc)
        .fold(1.0f64, f64::min);
    assert!(fused > worst_single, "fused {fused} vs {worst_single}");
    let out = tempfile_dir();
    apt_llm::runner::write_tables(&report, &out).unwrap();
    let csv = std::fs::read_to_string(out.join("hosts.csv")).unwrap();
    assert!(csv.starts_with(
        "host,scenario,os,aspects,encoder,detector,attention,prior,fusion,auc,pr_auc,ndcg,test_processes,attacks,honest"
    ));
    assert_eq!(csv.lines().count(), 1 + report.host_rows.len());
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("apt-llm-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
