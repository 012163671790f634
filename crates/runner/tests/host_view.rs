//! The host view's honest selection on the real data (issue #12): every counted host's
//! pick is the leave-one-host-out best over the *other* hosts that can score a key,
//! single-aspect hosts included, never its own AUC nor that of a folder of the same
//! machine. Detectors of attribute rows only: no encoder, under a second.

use apt_llm_fusion::FusionRule;
use apt_llm_runner::{
    DataSource, DetectorChoice, ExperimentConfig, HostRow, RunnerError, leave_one_host_out, run,
    same_machine,
};
use std::sync::Arc;

/// A fusion rule of the user's: the uncorrected minimum p-value.
struct MinP;

impl FusionRule for MinP {
    fn name(&self) -> String {
        "min-p".into()
    }
    fn fuse(&self, p: &[f64]) -> f64 {
        p.iter().copied().fold(1.0, f64::min)
    }
}
use std::collections::BTreeMap;

fn per_key(rows: &[HostRow], hosts: &[&str]) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut t: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| hosts.contains(&r.host.as_str())) {
        t.entry(r.key()).or_default().insert(r.host.clone(), r.auc);
    }
    t
}

#[apt_llm_testkit::needs(data)]
#[test]
fn the_honest_host_pick_reads_every_other_labelled_host() {
    let Some(root) = apt_llm_testkit::data_root() else {
        return;
    };
    let cfg = ExperimentConfig {
        data: DataSource::Root(root),
        detectors: vec![DetectorChoice::Oc3, DetectorChoice::Avf],
        custom_fusion: vec![Arc::new(MinP)],
        quiet: true,
        cache: None,
        ..Default::default()
    };
    let report = run(&cfg).unwrap();
    let min = cfg.min_test_normals;
    let evidence: Vec<&str> = report
        .hosts
        .iter()
        .filter(|h| h.attacks > 0 && h.test_normals >= min && !h.aspects.is_empty())
        .map(|h| h.host.as_str())
        .collect();
    let counted: Vec<&str> = report
        .hosts
        .iter()
        .filter(|h| h.not_counted.is_none())
        .map(|h| h.host.as_str())
        .collect();
    // Hosts of one aspect are evidence without counting in the mean.
    for single in ["pandex/trace", "pandex/cadets-partial"] {
        assert!(evidence.contains(&single), "{single} in {evidence:?}");
        assert!(!counted.contains(&single));
    }
    assert_eq!(counted.len(), 5, "{counted:?}");
    let table = per_key(&report.host_rows, &evidence);
    for h in &report.hosts {
        let Some(pick) = &h.honest else { continue };
        let expect = leave_one_host_out(&table, &h.host, |_| true).unwrap();
        assert_eq!(pick, &expect, "{}", h.host);
        // The pick's mean over the other hosts is the best one: raising the scored host's
        // own AUC of any other key changes nothing.
        let mut rigged = table.clone();
        for (k, per) in rigged.iter_mut() {
            if *k != pick.0 {
                per.insert(h.host.clone(), 1.0);
                for (other, v) in per.iter_mut() {
                    if same_machine(other, &h.host) {
                        *v = 1.0;
                    }
                }
            }
        }
        assert_eq!(
            leave_one_host_out(&rigged, &h.host, |_| true).unwrap().0,
            pick.0,
            "{}",
            h.host
        );
    }
    // The user's rule is a candidate like the built-in ones. On a host of one aspect every
    // rule ranks alike (each fused p is a monotone function of the one p-value).
    let auc = |host: &str, key: &str| {
        report
            .host_rows
            .iter()
            .find(|r| r.host == host && r.key() == key)
            .map(|r| r.auc)
            .unwrap()
    };
    for key in ["- / OC3", "- / AVF"] {
        let min_p = auc("pandex/trace", &format!("{key} ⊕ min-p"));
        assert_eq!(min_p, auc("pandex/trace", &format!("{key} ⊕ fisher")));
        assert!(
            report
                .host_rows
                .iter()
                .any(|r| r.host == "bovia/trace" && r.key() == format!("{key} ⊕ min-p"))
        );
    }
    // A name given twice is refused before anything runs.
    let twice = ExperimentConfig {
        custom_fusion: vec![Arc::new(MinP), Arc::new(MinP)],
        ..cfg.clone()
    };
    assert!(matches!(run(&twice), Err(RunnerError::DuplicateFusion(n)) if n == "min-p"));
    // So is a detector given twice.
    let again = ExperimentConfig {
        detectors: vec![DetectorChoice::Oc3, DetectorChoice::Oc3],
        ..cfg.clone()
    };
    assert!(matches!(run(&again), Err(RunnerError::DuplicateDetector(n)) if n == "OC3"));
    // A built-in rule's name is reserved, asked for or not.
    struct Impostor;
    impl FusionRule for Impostor {
        fn name(&self) -> String {
            "cauchy".into()
        }
        fn fuse(&self, p: &[f64]) -> f64 {
            p.iter().copied().fold(1.0, f64::min)
        }
    }
    let impostor = ExperimentConfig {
        fusion: vec![apt_llm_fusion::Rule::Fisher],
        custom_fusion: vec![Arc::new(Impostor)],
        ..cfg.clone()
    };
    assert!(matches!(run(&impostor), Err(RunnerError::DuplicateFusion(n)) if n == "cauchy"));
    // The explained processes carry the honest pick's own reasons: attributes whose removal
    // lowers its score (OC3 or AVF here: rows re-scored without each attribute).
    let mut reasons = 0;
    for h in report.hosts.iter().filter(|h| h.honest.is_some()) {
        assert!(!h.top.is_empty(), "{}", h.host);
        for e in h.top.iter().flat_map(|p| &p.evidence) {
            for (attribute, drop) in &e.raised_by {
                assert!(*drop > 0.0 && !attribute.is_empty(), "{attribute} {drop}");
                reasons += 1;
            }
        }
    }
    assert!(reasons > 0, "no explained process has a reason");
}
