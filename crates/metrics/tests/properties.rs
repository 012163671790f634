use approx::assert_relative_eq;
use apt_llm_metrics::*;
use proptest::prelude::*;

fn brute_auc(scores: &[f32], labels: &[bool]) -> f64 {
    let mut u = 0.0;
    let (mut p, mut n) = (0.0, 0.0);
    for (i, &li) in labels.iter().enumerate() {
        if li {
            p += 1.0
        } else {
            n += 1.0
        }
        for (j, &lj) in labels.iter().enumerate() {
            if li && !lj {
                if scores[i] > scores[j] {
                    u += 1.0
                } else if scores[i] == scores[j] {
                    u += 0.5
                }
            }
        }
    }
    u / (p * n)
}

fn data() -> impl Strategy<Value = (Vec<f32>, Vec<bool>)> {
    (2usize..60).prop_flat_map(|n| {
        (
            prop::collection::vec((0u8..8).prop_map(|v| v as f32 / 4.0), n), // many ties
            prop::collection::vec(any::<bool>(), n),
        )
    })
}

proptest! {
    #[test]
    fn auc_equals_brute_force((s, l) in data()) {
        let both = l.iter().any(|&x| x) && l.iter().any(|&x| !x);
        match roc_auc(&s, &l) {
            Ok(a) => {
                prop_assert!(both);
                assert_relative_eq!(a, brute_auc(&s, &l), epsilon = 1e-12);
                assert_relative_eq!(RocCurve::new(&s, &l, None).unwrap().auc(), a, epsilon = 1e-12);
            }
            Err(MetricsError::SingleClass { .. }) => prop_assert!(!both),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn integer_weights_equal_repetition((s, l) in data(), seed in 0u64..1000) {
        prop_assume!(l.iter().any(|&x| x) && l.iter().any(|&x| !x));
        let w: Vec<f32> = (0..s.len()).map(|i| ((i as u64 * 7 + seed) % 4 + 1) as f32).collect();
        let (mut rs, mut rl) = (vec![], vec![]);
        for i in 0..s.len() {
            for _ in 0..w[i] as usize { rs.push(s[i]); rl.push(l[i]); }
        }
        assert_relative_eq!(roc_auc_weighted(&s, &l, Some(&w)).unwrap(), roc_auc(&rs, &rl).unwrap(), epsilon = 1e-9);
        assert_relative_eq!(average_precision(&s, &l, Some(&w)).unwrap(), average_precision(&rs, &rl, None).unwrap(), epsilon = 1e-9);
        assert_relative_eq!(ndcg(&s, &l, Some(&w)).unwrap(), ndcg(&rs, &rl, None).unwrap(), epsilon = 1e-9);
    }

    #[test]
    fn tie_ceiling_bounds_any_pattern_scorer((s, l) in data()) {
        prop_assume!(l.iter().any(|&x| x) && l.iter().any(|&x| !x));
        // Treat equal scores as equal inputs: the ceiling bounds this scorer.
        let groups: Vec<usize> = s.iter().map(|v| (v * 4.0) as usize).collect();
        let ceiling = tie_ceiling(&groups, &l, None).unwrap();
        prop_assert!(roc_auc(&s, &l).unwrap() <= ceiling + 1e-12);
        prop_assert!(ceiling <= 1.0);
    }
}

#[test]
fn known_values() {
    let s = [0.1, 0.4, 0.35, 0.8];
    let l = [false, false, true, true];
    // scikit-learn: roc_auc_score = 0.75, average_precision_score = 0.8333...
    assert_relative_eq!(roc_auc(&s, &l).unwrap(), 0.75);
    assert_relative_eq!(
        average_precision(&s, &l, None).unwrap(),
        0.833_333_333,
        epsilon = 1e-8
    );
    // Ranks: 0.8 (attack) 1st, 0.4 2nd, 0.35 (attack) 3rd.
    let ideal = 1.0 + 1.0 / 3f64.log2();
    assert_relative_eq!(
        ndcg(&s, &l, None).unwrap(),
        (1.0 + 1.0 / 4f64.log2()) / ideal
    );
    let t = at_threshold(&s, &l, None, 0.3).unwrap();
    assert_eq!((t.true_positives, t.false_positives), (2.0, 1.0));
    assert_relative_eq!(t.f1, 0.8);
    let roc = RocCurve::new(&s, &l, None).unwrap();
    assert_eq!(roc.fpr, vec![0.0, 0.0, 0.5, 0.5, 1.0]);
    assert_eq!(roc.tpr, vec![0.0, 0.5, 0.5, 1.0, 1.0]);
}

#[test]
fn negative_scores_are_kept() {
    // linfa's BinaryClassification::roc drops negative scores; this crate must not.
    let s = [-3.0, -2.0, -1.0, 1.0];
    let l = [false, true, false, true];
    assert_relative_eq!(roc_auc(&s, &l).unwrap(), 0.75);
}

#[test]
fn bad_inputs_are_errors() {
    assert!(matches!(
        roc_auc(&[0.1, 0.2], &[true, true]),
        Err(MetricsError::SingleClass { .. })
    ));
    assert!(matches!(
        roc_auc(&[0.1], &[true, false]),
        Err(MetricsError::LengthMismatch { .. })
    ));
    assert!(matches!(
        roc_auc(&[f32::NAN, 0.2], &[true, false]),
        Err(MetricsError::InvalidValue { index: 0, .. })
    ));
    assert!(matches!(
        roc_auc_weighted(&[0.1, 0.2], &[true, false], Some(&[1.0, -1.0])),
        Err(MetricsError::InvalidValue { index: 1, .. })
    ));
}

#[test]
fn perfect_and_inverted_rankings() {
    let l = [true, true, false, false, false];
    assert_eq!(roc_auc(&[5.0, 4.0, 3.0, 2.0, 1.0], &l).unwrap(), 1.0);
    assert_eq!(roc_auc(&[1.0, 2.0, 3.0, 4.0, 5.0], &l).unwrap(), 0.0);
    assert_eq!(ndcg(&[5.0, 4.0, 3.0, 2.0, 1.0], &l, None).unwrap(), 1.0);
    assert_eq!(
        average_precision(&[5.0, 4.0, 3.0, 2.0, 1.0], &l, None).unwrap(),
        1.0
    );
    assert_eq!(roc_auc(&[1.0; 5], &l).unwrap(), 0.5);
}
