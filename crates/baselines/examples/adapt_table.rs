//! AVF, OC3 and Rarity on the real ADAPT contexts, under the experiment protocol: seed-42
//! split (20 % of normals and every attack to test, 10 % of the rest to validation), fit
//! on the weighted training patterns, score the distinct test patterns, ROC-AUC weighted
//! by counts. Contexts need both classes in test and at least 10 test normals.
//!
//! ```text
//! cargo run --release -p apt-llm-baselines --example adapt_table
//! ```
//! `--transductive` adds OC3 fitted on the test rows themselves (the FGCS paper's
//! setting); `--all-items-row` appends the reference wrapper's row of every column.

use apt_llm_baselines::{Avf, Oc3};
use apt_llm_detect::{DetectorSpec, Fit, Rarity, TrainSet};
use apt_llm_provenance::{Catalog, Patterns, SplitConfig};
use ndarray::{Array1, Array2};
use std::collections::BTreeMap;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let all_items_row = args.iter().any(|a| a == "--all-items-row");
    let Some(root) = apt_llm_testkit::data_root() else {
        return Ok(());
    };
    let contexts = Catalog::discover(&root)?.load_all()?;
    let oc3 = Oc3 {
        all_items_row,
        ..Default::default()
    };
    let specs: Vec<Box<dyn DetectorSpec>> =
        vec![Box::new(Avf), Box::new(oc3.clone()), Box::new(Rarity)];
    let transductive = args.iter().any(|a| a == "--transductive");
    let mut names: Vec<String> = specs.iter().map(|s| s.name()).collect();
    if transductive {
        names.push("OC3-transductive".into());
    }
    println!(
        "{:<42} {:>5} {:>6} {}",
        "context",
        "width",
        "train",
        names.iter().map(|n| format!("{n:>18}")).collect::<String>()
    );
    let mut sums = vec![0.0f64; names.len()];
    let mut seconds = vec![0.0f64; names.len()];
    let mut scored = 0;
    for ctx in &contexts {
        let labels = &ctx.labels.flags;
        let split = SplitConfig::default().split(labels)?;
        let test_attacks = split.test.iter().filter(|&&r| labels[r]).count();
        let test_normals = split.test.len() - test_attacks;
        if test_attacks == 0 || test_normals < 10 {
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
        let tp: Vec<usize> = train.iter().map(|t| t.0).collect();
        let tx = dense(&tp);
        let tw: Array1<f32> = train.iter().map(|t| t.1).collect();
        let mut groups: BTreeMap<(usize, bool), f32> = BTreeMap::new();
        for &r in &split.test {
            *groups
                .entry((patterns.row_pattern[r], labels[r]))
                .or_default() += 1.0;
        }
        let gp: Vec<usize> = groups.keys().map(|k| k.0).collect();
        let gl: Vec<bool> = groups.keys().map(|k| k.1).collect();
        let gw: Vec<f32> = groups.values().copied().collect();
        let test_x = dense(&gp);
        let ts = TrainSet::new(tx.view()).with_weights(tw.view());
        let mut row = Vec::new();
        for (k, spec) in specs.iter().enumerate() {
            let t0 = Instant::now();
            let model = spec.fit_boxed(&ts)?;
            let s = model.score(test_x.view())?.to_vec();
            seconds[k] += t0.elapsed().as_secs_f64();
            let auc = apt_llm_metrics::summarize(&s, &gl, Some(&gw))?.auc;
            sums[k] += auc;
            row.push(auc);
        }
        if transductive {
            // Fitted on the scored rows themselves, each counted as often as it occurs.
            let k = names.len() - 1;
            let t0 = Instant::now();
            let model = Oc3 {
                transductive: true,
                ..oc3.clone()
            }
            .fit(&ts)?;
            let w = Array1::from(gw.clone());
            let s = model
                .score_weighted(test_x.view(), Some(w.view()))?
                .to_vec();
            seconds[k] += t0.elapsed().as_secs_f64();
            let auc = apt_llm_metrics::summarize(&s, &gl, Some(&gw))?.auc;
            sums[k] += auc;
            row.push(auc);
        }
        scored += 1;
        let mining = oc3.fit(&ts)?.report.expect("inductive model");
        println!(
            "{:<42} {:>5} {:>6} {}  {} candidates{}",
            ctx.id.to_string(),
            width,
            split.train.len(),
            row.iter().map(|a| format!("{a:>18.4}")).collect::<String>(),
            mining.candidates,
            if mining.truncated {
                format!(", cut at support {}", mining.effective_min_support)
            } else {
                String::new()
            }
        );
    }
    println!(
        "{:<55}{}",
        format!("mean over {scored} contexts"),
        sums.iter()
            .map(|s| format!("{:>18.4}", s / scored as f64))
            .collect::<String>()
    );
    println!(
        "{:<55}{}",
        "fit + score seconds, all contexts",
        seconds
            .iter()
            .map(|s| format!("{s:>18.3}"))
            .collect::<String>()
    );
    Ok(())
}
