//! The host view's honest selection on the real data (issue #12): every counted host's
//! pick is the leave-one-host-out best over the *other* hosts that can score a key,
//! single-aspect hosts included, never its own AUC nor that of a folder of the same
//! machine. Detectors of attribute rows only: no encoder, under a second.

use apt_llm_runner::{
    DataSource, DetectorChoice, ExperimentConfig, HostRow, leave_one_host_out, run, same_machine,
};
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
}
