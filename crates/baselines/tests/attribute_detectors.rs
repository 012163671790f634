//! AVF and OC3 (attribute-row detectors): representation, weighting, persistence,
//! malformed files, bounded mining on wide rows, and the real contexts.

use apt_llm_baselines::{Avf, FittedAvf, FittedOc3, Oc3};
use apt_llm_detect::{DetectError, Detector, Fit, Representation, TrainSet};
use ndarray::{Array1, Array2, Axis, array, concatenate};

/// 0/1 rows: three normal patterns with counts, and distinct test rows.
fn patterns() -> (Array2<f32>, Array1<f32>) {
    let x = array![
        [1.0f32, 1.0, 0.0, 0.0, 1.0, 0.0],
        [1.0, 1.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 1.0, 0.0, 1.0, 0.0],
        [1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        [1.0, 1.0, 1.0, 0.0, 1.0, 0.0],
    ];
    (x, array![40.0f32, 25.0, 9.0, 2.0, 1.0])
}

fn expand(x: &Array2<f32>, w: &Array1<f32>) -> Array2<f32> {
    let rows: Vec<_> = x
        .rows()
        .into_iter()
        .zip(w)
        .flat_map(|(r, &c)| std::iter::repeat_n(r.insert_axis(Axis(0)), c as usize))
        .collect();
    concatenate(Axis(0), &rows).unwrap()
}

fn probe() -> Array2<f32> {
    array![
        [1.0f32, 1.0, 0.0, 0.0, 1.0, 0.0],
        [1.0, 0.0, 0.0, 1.0, 0.0, 1.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    ]
}

#[test]
fn both_read_attribute_rows_and_are_send_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Avf>();
    send_sync::<FittedAvf>();
    send_sync::<Oc3>();
    send_sync::<FittedOc3>();
    let (x, w) = patterns();
    let ts = TrainSet::new(x.view()).with_weights(w.view());
    assert_eq!(Fit::representation(&Avf), Representation::Attributes);
    assert_eq!(
        Fit::representation(&Oc3::default()),
        Representation::Attributes
    );
    assert_eq!(
        Avf.fit(&ts).unwrap().representation(),
        Representation::Attributes
    );
    assert_eq!(
        Oc3::default().fit(&ts).unwrap().representation(),
        Representation::Attributes
    );
    let spec: &dyn apt_llm_detect::DetectorSpec = &Oc3::transductive();
    assert_eq!(spec.representation(), Representation::Attributes);
}

#[test]
fn weighted_patterns_equal_repeated_rows() {
    let (x, w) = patterns();
    let rep = expand(&x, &w);
    let p = probe();
    let a = Avf
        .fit(&TrainSet::new(x.view()).with_weights(w.view()))
        .unwrap();
    let b = Avf.fit(&TrainSet::new(rep.view())).unwrap();
    for (s, t) in a
        .score(p.view())
        .unwrap()
        .iter()
        .zip(b.score(p.view()).unwrap().iter())
    {
        assert!((s - t).abs() < 1e-6, "{s} vs {t}");
    }
    let a = Oc3::default()
        .fit(&TrainSet::new(x.view()).with_weights(w.view()))
        .unwrap();
    let b = Oc3::default().fit(&TrainSet::new(rep.view())).unwrap();
    // Identical rows are merged before Krimp runs, so the tables are the same bit for bit.
    assert_eq!(a.code_table(), b.code_table());
    assert_eq!(a.score(p.view()).unwrap(), b.score(p.view()).unwrap());
    // Transductive: the counts passed with the scored rows equal repeating them.
    let t = Oc3::transductive().fit(&TrainSet::new(x.view())).unwrap();
    let sw = t.score_weighted(x.view(), Some(w.view())).unwrap();
    let sr = t.score(rep.view()).unwrap();
    let mut k = 0;
    for (i, &c) in w.iter().enumerate() {
        for _ in 0..c as usize {
            assert!(
                (sw[i] - sr[k]).abs() < 1e-5,
                "row {i}: {} vs {}",
                sw[i],
                sr[k]
            );
            k += 1;
        }
    }
}

#[test]
fn rare_combinations_score_higher() {
    let (x, w) = patterns();
    let ts = TrainSet::new(x.view()).with_weights(w.view());
    let p = probe();
    for model in [
        Box::new(Avf.fit(&ts).unwrap()) as Box<dyn Detector>,
        Box::new(Oc3::default().fit(&ts).unwrap()),
    ] {
        let s = model.score(p.view()).unwrap();
        // The commonest pattern is the most normal of the probes that have attributes.
        assert!(s[0] < s[1] && s[0] < s[3], "{}: {s}", model.name());
    }
    // OC3: a column never seen in training costs the longest code, and more of them cost more.
    let m = Oc3::default().fit(&ts).unwrap();
    let s = m.score(p.view()).unwrap();
    assert!(s[1] > m.encoded_length(&[0, 3], true) as f32);
    assert_eq!(s[4], 0.0, "an empty row is encoded in zero bits");
    let unseen = m.encoded_length(&[5], true);
    let seen_max = (0..5)
        .map(|c| m.encoded_length(&[c], true))
        .fold(0.0f64, f64::max);
    assert!(unseen >= seen_max);
}

type Tamper = dyn Fn(&mut serde_json::Value);

#[test]
fn saved_models_round_trip_and_bad_files_are_errors() {
    let dir = std::env::temp_dir().join(format!("apt-llm-attr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (x, w) = patterns();
    let ts = TrainSet::new(x.view()).with_weights(w.view());
    let p = probe();
    let avf = Avf.fit(&ts).unwrap();
    avf.save(&dir.join("avf.json")).unwrap();
    let back = FittedAvf::load(&dir.join("avf.json")).unwrap();
    assert_eq!(avf.score(p.view()).unwrap(), back.score(p.view()).unwrap());
    for oc3 in [Oc3::default(), Oc3::transductive()] {
        let m = oc3.fit(&ts).unwrap();
        m.save(&dir.join("oc3.json")).unwrap();
        let back = FittedOc3::load(&dir.join("oc3.json")).unwrap();
        assert_eq!(m, back);
        assert_eq!(m.score(p.view()).unwrap(), back.score(p.view()).unwrap());
    }
    assert_eq!(
        apt_llm_baselines::saved_kind(&dir.join("oc3.json")).unwrap(),
        "oc3"
    );
    // Wrong kind.
    assert!(FittedOc3::load(&dir.join("avf.json")).is_err());
    assert!(FittedAvf::load(&dir.join("oc3.json")).is_err());
    // Tampered files: lengths that disagree, out-of-range columns, NaN (null in JSON),
    // negative usage, frequencies outside [0, 1], garbage.
    let good = Oc3::default().fit(&ts).unwrap();
    good.save(&dir.join("good.json")).unwrap();
    let text = std::fs::read_to_string(dir.join("good.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tamper = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut d = doc.clone();
        f(&mut d);
        let path = dir.join("bad.json");
        std::fs::write(&path, d.to_string()).unwrap();
        FittedOc3::load(&path)
    };
    let bad: Vec<Box<Tamper>> = vec![
        Box::new(|d| {
            d["model"]["singleton_usage"]
                .as_array_mut()
                .unwrap()
                .pop()
                .map(drop)
                .unwrap()
        }),
        Box::new(|d| d["model"]["dim"] = 3.into()),
        Box::new(|d| d["model"]["sets"][0]["items"] = serde_json::json!([0, 99])),
        Box::new(|d| d["model"]["sets"][0]["items"] = serde_json::json!([2, 1])),
        Box::new(|d| d["model"]["sets"][0]["usage"] = serde_json::Value::Null),
        Box::new(|d| d["model"]["sets"][0]["usage"] = (-1.0).into()),
        Box::new(|d| d["model"]["singleton_support"][0] = serde_json::Value::Null),
        Box::new(|d| d["model"] = "nonsense".into()),
    ];
    assert!(!doc["model"]["sets"].as_array().unwrap().is_empty());
    for (k, f) in bad.iter().enumerate() {
        assert!(
            matches!(tamper(f.as_ref()), Err(DetectError::Persist { .. })),
            "tampering {k} was accepted"
        );
    }
    let mut d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("avf.json")).unwrap()).unwrap();
    d["model"]["frequencies"][0] = 1.5.into();
    std::fs::write(dir.join("bad.json"), d.to_string()).unwrap();
    assert!(FittedAvf::load(&dir.join("bad.json")).is_err());
    d["model"]["frequencies"][0] = serde_json::Value::Null;
    std::fs::write(dir.join("bad.json"), d.to_string()).unwrap();
    assert!(FittedAvf::load(&dir.join("bad.json")).is_err());
    std::fs::write(dir.join("bad.json"), "{not json").unwrap();
    assert!(FittedAvf::load(&dir.join("bad.json")).is_err());
}

#[test]
fn bad_input_is_an_error() {
    let (x, w) = patterns();
    let ts = TrainSet::new(x.view()).with_weights(w.view());
    let m = Oc3::default().fit(&ts).unwrap();
    assert!(matches!(
        m.score(Array2::<f32>::zeros((2, 4)).view()),
        Err(DetectError::DimensionMismatch { .. })
    ));
    let nan = array![[f32::NAN, 0.0, 0.0, 0.0, 0.0, 0.0]];
    assert!(m.score(nan.view()).is_err());
    assert!(Avf.fit(&TrainSet::new(nan.view())).is_err());
    assert!(matches!(
        Oc3 {
            min_support: 0.0,
            ..Default::default()
        }
        .fit(&ts),
        Err(DetectError::InvalidParameter { .. })
    ));
}

#[test]
fn mining_stays_bounded_on_wide_rows_and_says_what_was_cut() {
    // 60 rows over 3,000 columns: each row a random third of the columns, so there are far
    // more closed itemsets than the budget, and most extensions fail the prefix test.
    let mut state = 7u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let x = Array2::from_shape_fn((60, 3000), |_| if next() % 3 == 0 { 1.0f32 } else { 0.0 });
    let t0 = std::time::Instant::now();
    let m = Oc3 {
        max_candidates: 2_000,
        ..Default::default()
    }
    .fit(&TrainSet::new(x.view()))
    .unwrap();
    let r = m.mining().unwrap().clone();
    assert!(r.truncated, "{r:?}");
    assert!(r.effective_min_support > r.min_support);
    assert!(r.candidates <= 2_000);
    assert!(t0.elapsed().as_secs() < 60, "took {:?}", t0.elapsed());
    assert!(m.score(x.view()).unwrap().iter().all(|v| v.is_finite()));
}

/// The real contexts under the experiment protocol (the table of
/// `examples/adapt_table.rs`): OC3's mean ROC-AUC over the 17 scored contexts is about
/// 0.845, AVF's 0.787.
#[apt_llm_testkit::needs(data)]
#[test]
fn real_contexts_mean_auc() {
    use apt_llm_provenance::{Catalog, Patterns, SplitConfig};
    use std::collections::BTreeMap;
    let Some(root) = apt_llm_testkit::data_root() else {
        return;
    };
    let contexts = Catalog::discover(&root).unwrap().load_all().unwrap();
    let (mut avf_sum, mut oc3_sum, mut n) = (0.0, 0.0, 0);
    for ctx in &contexts {
        let labels = &ctx.labels.flags;
        let split = SplitConfig::default().split(labels).unwrap();
        let attacks = split.test.iter().filter(|&&r| labels[r]).count();
        if attacks == 0 || split.test.len() - attacks < 10 {
            continue;
        }
        let patterns = Patterns::from_context(&ctx.context);
        let width = ctx.context.attributes.len();
        let dense = |idx: &[usize]| {
            let mut x = Array2::<f32>::zeros((idx.len(), width));
            for (i, &p) in idx.iter().enumerate() {
                for &a in &patterns.patterns[p].attributes {
                    x[[i, a as usize]] = 1.0;
                }
            }
            x
        };
        let train = patterns.weighted(&split.train);
        let tx = dense(&train.iter().map(|t| t.0).collect::<Vec<_>>());
        let tw: Array1<f32> = train.iter().map(|t| t.1).collect();
        let mut groups: BTreeMap<(usize, bool), f32> = BTreeMap::new();
        for &r in &split.test {
            *groups
                .entry((patterns.row_pattern[r], labels[r]))
                .or_default() += 1.0;
        }
        let gx = dense(&groups.keys().map(|k| k.0).collect::<Vec<_>>());
        let gl: Vec<bool> = groups.keys().map(|k| k.1).collect();
        let gw: Vec<f32> = groups.values().copied().collect();
        let ts = TrainSet::new(tx.view()).with_weights(tw.view());
        let auc = |d: &dyn Detector| {
            let s = d.score(gx.view()).unwrap().to_vec();
            apt_llm_metrics::summarize(&s, &gl, Some(&gw)).unwrap().auc
        };
        avf_sum += auc(&Avf.fit(&ts).unwrap());
        oc3_sum += auc(&Oc3::default().fit(&ts).unwrap());
        n += 1;
    }
    assert_eq!(n, 17);
    let (avf, oc3) = (avf_sum / n as f64, oc3_sum / n as f64);
    assert!((avf - 0.787).abs() < 0.005, "AVF mean {avf}");
    assert!((oc3 - 0.845).abs() < 0.005, "OC3 mean {oc3}");
    // The target: within 0.02 of the reference Krimp's ~0.83.
    assert!((oc3 - 0.83).abs() <= 0.02, "OC3 mean {oc3}");
}
