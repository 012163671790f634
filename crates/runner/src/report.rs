//! results.csv, results.json, report.md, and the two selections of "the best".

use crate::figures::Figure;
use crate::hosts::honest_host_mean;
use crate::{ATTRIBUTES_ENCODER, ExperimentReport, Result, RunnerError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Per context: the paper's pick (best test AUC), the honest pick (best mean AUC on the
/// other contexts), and the baselines.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Selection {
    pub context: String,
    pub tie_ceiling: f64,
    /// Test attacks, and how many of them share their exact pattern with a normal
    /// training process.
    #[serde(default)]
    pub attacks_seen: (usize, usize),
    /// Highest test AUC among APT-LLM combinations on this context (looks at its labels).
    pub paper_best: (String, f64),
    /// The combination with the best mean AUC over the other contexts, and its AUC here.
    pub honest: Option<(String, f64)>,
    /// Baseline AUCs (first encoder), by detector name.
    pub baselines: BTreeMap<String, f64>,
}

/// Compute both selections for every scored context.
pub fn selections(report: &ExperimentReport) -> Vec<Selection> {
    let first_encoder = report
        .rows
        .iter()
        .find(|r| r.encoder != ATTRIBUTES_ENCODER)
        .map(|r| r.encoder.clone())
        .unwrap_or_default();
    let mut by_context: BTreeMap<&str, Vec<&crate::ResultRow>> = BTreeMap::new();
    for r in &report.rows {
        by_context.entry(r.context.as_str()).or_default().push(r);
    }
    // AUC of each APT-LLM combination per context.
    let mut combo_auc: BTreeMap<String, BTreeMap<&str, f64>> = BTreeMap::new();
    for r in report.rows.iter().filter(|r| r.is_apt_llm()) {
        combo_auc
            .entry(r.combination())
            .or_default()
            .insert(r.context.as_str(), r.auc);
    }
    let mut out = Vec::new();
    for c in &report.contexts {
        let Some(rows) = by_context.get(c.context.as_str()) else {
            continue;
        };
        let apt: Vec<&&crate::ResultRow> = rows.iter().filter(|r| r.is_apt_llm()).collect();
        let Some(best) = apt.iter().max_by(|a, b| a.auc.total_cmp(&b.auc)) else {
            continue;
        };
        let honest = combo_auc
            .iter()
            .filter_map(|(combo, per)| {
                let here = *per.get(c.context.as_str())?;
                let others: Vec<f64> = per
                    .iter()
                    .filter(|(k, _)| **k != c.context.as_str())
                    .map(|(_, v)| *v)
                    .collect();
                if others.is_empty() {
                    return None;
                }
                Some((
                    combo.clone(),
                    others.iter().sum::<f64>() / others.len() as f64,
                    here,
                ))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map(|(combo, _, here)| (combo, here));
        let baselines = rows
            .iter()
            .filter(|r| {
                !r.is_apt_llm() && (r.encoder == first_encoder || r.encoder == ATTRIBUTES_ENCODER)
            })
            .map(|r| (r.detector.clone(), r.auc))
            .collect();
        out.push(Selection {
            context: c.context.clone(),
            tie_ceiling: c.tie_ceiling.unwrap_or(f64::NAN),
            attacks_seen: (c.attacks_seen_in_training.unwrap_or(0), c.attacks),
            paper_best: (best.combination(), best.auc),
            honest,
            baselines,
        });
    }
    out
}

fn io(path: &Path, e: std::io::Error) -> RunnerError {
    RunnerError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Write `results.csv` and `results.json`.
pub fn write_tables(report: &ExperimentReport, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut csv = String::from(
        "context,scenario,os,aspect,encoder,detector,attention,prior,auc,pr_auc,ndcg,tie_ceiling,train_rows,test_rows,attacks,seconds\n",
    );
    for r in &report.rows {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{:.6},{:.6},{:.6},{:.6},{},{},{},{:.3}",
            r.context,
            r.scenario,
            r.os,
            r.aspect,
            r.encoder,
            r.detector,
            r.attention,
            r.prior,
            r.auc,
            r.pr_auc,
            r.ndcg,
            r.tie_ceiling,
            r.train_rows,
            r.test_rows,
            r.attacks,
            r.seconds
        );
    }
    let p = dir.join("results.csv");
    std::fs::write(&p, csv).map_err(|e| io(&p, e))?;
    let mut hosts = String::from(
        "host,scenario,os,aspects,encoder,detector,attention,prior,fusion,auc,pr_auc,ndcg,test_processes,attacks,honest,calibration,partner,absent\n",
    );
    for r in &report.host_rows {
        let _ = writeln!(
            hosts,
            "{},{},{},{},{},{},{},{},{},{:.6},{:.6},{:.6},{},{},{},{},{},{}",
            r.host,
            r.scenario,
            r.os,
            r.aspects,
            r.encoder,
            r.detector,
            r.attention,
            r.prior,
            r.fusion,
            r.auc,
            r.pr_auc,
            r.ndcg,
            r.test_processes,
            r.attacks,
            r.honest,
            r.calibration.name(),
            r.partner.as_deref().unwrap_or(""),
            r.absent.name()
        );
    }
    let p = dir.join("hosts.csv");
    std::fs::write(&p, hosts).map_err(|e| io(&p, e))?;
    let p = dir.join("results.json");
    let json = serde_json::json!({
        "data": report.data,
        "seconds": report.seconds,
        "unavailable_encoders": report.unavailable_encoders,
        "results": report.rows,
        "contexts": report.contexts.iter().map(|c| serde_json::json!({
            "context": c.context, "processes": c.processes, "patterns": c.patterns,
            "attacks": c.attacks, "test_normals": c.test_normals, "skipped": c.skipped,
            "tie_ceiling": c.tie_ceiling, "explanations": c.explanations,
        })).collect::<Vec<_>>(),
        "selections": selections(report),
        "hosts": report.hosts,
        "host_rows": report.host_rows,
    });
    std::fs::write(&p, serde_json::to_string_pretty(&json).unwrap_or_default())
        .map_err(|e| io(&p, e))
}

/// A table cell: three decimals, `-` for a value that does not exist (NaN).
fn cell(v: f64) -> String {
    if v.is_finite() {
        format!("{:.3}", v + 0.0)
    } else {
        "-".into()
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Write `report.md`; `command` is shown so the report says how it was made.
pub fn write_markdown(
    report: &ExperimentReport,
    dir: &Path,
    command: &str,
    figures: &[Figure],
) -> Result<()> {
    let sel = selections(report);
    let mut md = String::new();
    let _ = writeln!(md, "# apt-llm evaluation\n");
    let _ = writeln!(
        md,
        "- data: {}\n- command: `{command}`\n- wall time: {:.1} s\n",
        report.data, report.seconds
    );
    for (name, why) in &report.unavailable_encoders {
        let _ = writeln!(md, "- encoder `{name}` skipped: {why}");
    }
    let baseline_names: Vec<String> = {
        let mut v: Vec<String> = sel
            .iter()
            .flat_map(|s| s.baselines.keys().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let _ = writeln!(md, "\n## Best APT-LLM combination per context\n");
    let _ = writeln!(
        md,
        "The *paper* pick is the combination with the highest test AUC on the context itself (it looks at the test labels); the *honest* pick is the combination with the best mean AUC over the other contexts (leave-one-context-out), reported with its AUC here. The tie ceiling is the best AUC any scorer can reach when attacks and normals share identical inputs. *Seen* counts the attacks whose exact attribute pattern also occurs among the normal training processes: a detector trained on normal behaviour has seen them as normal. `+attn`: self-attention in the autoencoder (its encoder half, not the sentence encoder); `+freq`: the autoencoder's score with the training-frequency prior in front (how rare the exact pattern was among normal training processes decides first, the reconstruction error orders equally rare patterns); *Rarity*: that frequency alone, as a baseline.\n"
    );
    let _ = write!(
        md,
        "| context | tie ceiling | seen | paper pick | AUC | honest pick | AUC |"
    );
    for b in &baseline_names {
        let _ = write!(md, " {b} |");
    }
    let _ = write!(md, "\n|---|---|---|---|---|---|---|");
    for _ in &baseline_names {
        let _ = write!(md, "---|");
    }
    md.push('\n');
    for s in &sel {
        let (hc, ha) = s.honest.clone().map_or(("-".to_string(), f64::NAN), |h| h);
        let _ = write!(
            md,
            "| {} | {} | {}/{} | {} | {} | {} | {} |",
            s.context,
            cell(s.tie_ceiling),
            s.attacks_seen.0,
            s.attacks_seen.1,
            s.paper_best.0,
            cell(s.paper_best.1),
            hc,
            cell(ha)
        );
        for b in &baseline_names {
            match s.baselines.get(b) {
                Some(v) => {
                    let _ = write!(md, " {v:.3} |");
                }
                None => md.push_str(" - |"),
            }
        }
        md.push('\n');
    }
    let col = |f: &dyn Fn(&crate::Selection) -> Option<f64>| {
        mean(
            &sel.iter()
                .filter_map(f)
                .filter(|v| v.is_finite())
                .collect::<Vec<_>>(),
        )
    };
    let _ = write!(
        md,
        "| **mean** ({} contexts) | {} | | | {} | | {} |",
        sel.len(),
        cell(col(&|s| Some(s.tie_ceiling))),
        cell(col(&|s| Some(s.paper_best.1))),
        cell(col(&|s| s.honest.as_ref().map(|h| h.1)))
    );
    for b in &baseline_names {
        let _ = write!(md, " {} |", cell(col(&|s| s.baselines.get(b).copied())));
    }
    md.push('\n');
    write_host_section(report, &mut md);
    let mut unmatched: BTreeMap<&str, usize> = BTreeMap::new();
    for c in report.contexts.iter().filter(|c| c.unmatched_attacks > 0) {
        unmatched.insert(c.host.as_str(), c.unmatched_attacks);
    }
    if !unmatched.is_empty() {
        let _ = writeln!(
            md,
            "\n## Labelled attacks that match no process\n\nThe ground truth of these folders names attack process ids that no context of the folder holds (ids compared case-insensitively); they cannot be scored and are not counted anywhere above:\n"
        );
        for (host, n) in unmatched {
            let _ = writeln!(md, "- {host}: {n} labelled attack ids");
        }
    }
    let skipped: Vec<_> = report
        .contexts
        .iter()
        .filter(|c| c.skipped.is_some())
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(md, "\n## Contexts not scored\n");
        for c in skipped {
            let _ = writeln!(
                md,
                "- {} ({} processes, {} attacks): {}",
                c.context,
                c.processes,
                c.attacks,
                c.skipped.as_deref().unwrap_or("")
            );
        }
    }
    let _ = writeln!(
        md,
        "\n## Mean AUC of every combination\n\n| combination | contexts | mean AUC | mean PR-AUC | mean nDCG | mean seconds |\n|---|---|---|---|---|---|"
    );
    let mut by_combo: BTreeMap<String, Vec<&crate::ResultRow>> = BTreeMap::new();
    for r in &report.rows {
        by_combo.entry(r.combination()).or_default().push(r);
    }
    let mut combos: Vec<_> = by_combo.into_iter().collect();
    combos.sort_by(|a, b| {
        mean(&b.1.iter().map(|r| r.auc).collect::<Vec<_>>())
            .total_cmp(&mean(&a.1.iter().map(|r| r.auc).collect::<Vec<_>>()))
    });
    for (combo, rs) in combos {
        let m =
            |f: fn(&crate::ResultRow) -> f64| mean(&rs.iter().map(|r| f(r)).collect::<Vec<_>>());
        let _ = writeln!(
            md,
            "| {combo} | {} | {:.3} | {:.3} | {:.3} | {:.2} |",
            rs.len(),
            m(|r| r.auc),
            m(|r| r.pr_auc),
            m(|r| r.ndcg),
            m(|r| r.seconds)
        );
    }
    let _ = writeln!(md, "\n## Per context\n");
    for c in report.contexts.iter().filter(|c| c.skipped.is_none()) {
        let _ = writeln!(
            md,
            "### {}\n\n{} processes, {} distinct, {} attacks ({} with a pattern seen among normal training processes); {} normal test processes; tie ceiling {:.3}\n\n| combination | AUC | PR-AUC | nDCG | s |\n|---|---|---|---|---|",
            c.context,
            c.processes,
            c.patterns,
            c.attacks,
            c.attacks_seen_in_training.unwrap_or(0),
            c.test_normals,
            c.tie_ceiling.unwrap_or(f64::NAN)
        );
        let mut rows: Vec<_> = report
            .rows
            .iter()
            .filter(|r| r.context == c.context)
            .collect();
        rows.sort_by(|a, b| b.auc.total_cmp(&a.auc));
        for r in rows {
            let _ = writeln!(
                md,
                "| {} | {:.3} | {:.3} | {:.3} | {:.2} |",
                r.combination(),
                r.auc,
                r.pr_auc,
                r.ndcg,
                r.seconds
            );
        }
        if !c.explanations.is_empty() {
            let _ = writeln!(
                md,
                "\nFlagged by the best autoencoder, with the attributes that raise the score most (score drop when removed):\n"
            );
            for e in &c.explanations {
                // Only what raises the score: a removal that raises it is no reason.
                let top: Vec<String> = e
                    .contributions
                    .iter()
                    .filter(|(_, d)| *d > 0.0)
                    .take(3)
                    .map(|(p, d)| format!("\"{p}\" ({d:+.4})"))
                    .collect();
                let top = if top.is_empty() {
                    vec!["no single attribute raises it".to_string()]
                } else {
                    top
                };
                let _ = writeln!(
                    md,
                    "- `{}` ({}) score {:.4} > {:.4}: {}",
                    e.process,
                    if e.attack { "attack" } else { "normal" },
                    e.score,
                    e.threshold,
                    top.join(", ")
                );
            }
        }
        md.push('\n');
    }
    if !figures.is_empty() {
        let _ = writeln!(
            md,
            "## Figures\n\nEach figure is a PNG with an SVG of the same name beside it.\n"
        );
        for f in figures {
            let _ = writeln!(
                md,
                "![Figure {}: {}]({})\n\n*Figure {}.* {}\n",
                f.number, f.title, f.file, f.number, f.caption
            );
        }
    }
    let p = dir.join("report.md");
    std::fs::write(&p, md).map_err(|e| io(&p, e))
}

fn write_host_section(report: &ExperimentReport, md: &mut String) {
    if report.hosts.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n## The host view: every aspect of a process fused\n");
    let _ = writeln!(
        md,
        "Per host (scenario × performer), each aspect's scores are turned into tail probabilities against held-out normal processes of that aspect, then fused per process (`⊕ fisher`: Fisher's method; `⊕ sidak`: Šidák-corrected minimum; `⊕ cauchy`: Cauchy combination). Keys marked *(cross-fitted)* calibrate against the held-out normals plus out-of-fold scores of the training normals on aspects whose held-out normals are fewer than 100 processes (each training normal scored by a model refitted without its fold: as honest as the held-out set, finer on small aspects). Keys `A & B` fuse an APT-LLM combination and a counting baseline (OC3, AVF, Rarity: detectors of attribute rows or pattern counts) inside every aspect with the same rule, then across aspects. A process absent from an aspect (no rows of that kind) is ordinary there: it contributes the rule's neutral p-value (1 for Fisher and Šidák, 0.5 for Cauchy), so every process of a host is fused over the same aspects; keys marked *(present only)* fuse only the aspects a process appears in. Transductive detectors (DBSCAN as the authors ran it, OC3-transductive) are not fused: their score of a row depends on the rows scored with it, so held-out normals cannot calibrate it. The *honest* pick is the combination, rule, calibration and absent-aspect policy with the best mean AUC over the other hosts whose test set can score it (leave-one-host-out over the hosts with both classes and enough normals in test; hosts of one aspect included, which do not count in the mean but tell detectors apart; another folder of the same machine, such as pandex/cadets-partial for pandex/cadets, is left out too; none when there is no other host); *paper* is the best APT-LLM combination on the host itself. *Best aspect* is the best per-context honest AUC among the host's aspects. Baselines are fused with the honest pick's rule, calibration and policy. ProcessAll is not fused (it joins the other aspects).\n"
    );
    let names: Vec<String> = {
        let mut v: Vec<String> = report
            .hosts
            .iter()
            .flat_map(|h| h.baselines.keys().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let _ = write!(
        md,
        "| host | aspects | test processes | attacks | best aspect | honest pick | AUC | honest APT-LLM | AUC | paper pick | AUC |"
    );
    for b in &names {
        let _ = write!(md, " {b} |");
    }
    let _ = write!(md, "\n|---|---|---|---|---|---|---|---|---|---|---|");
    for _ in &names {
        md.push_str("---|");
    }
    md.push('\n');
    let pair = |p: &Option<(String, f64)>| {
        p.as_ref()
            .map_or(("-".to_string(), "-".to_string()), |(k, v)| {
                (k.clone(), format!("{v:.3}"))
            })
    };
    for h in report.hosts.iter().filter(|h| h.not_counted.is_none()) {
        let (hk, hv) = pair(&h.honest);
        let (ak, av) = pair(&h.honest_apt_llm);
        let (pk, pv) = pair(&h.paper);
        let best = h
            .best_single_aspect()
            .map_or("-".to_string(), |(a, v)| format!("{a} {v:.3}"));
        let _ = write!(
            md,
            "| {} | {} | {} | {} | {best} | {hk} | {hv} | {ak} | {av} | {pk} | {pv} |",
            h.host,
            h.aspects.join("+"),
            h.test_processes,
            h.attacks
        );
        for b in &names {
            match h.baselines.get(b) {
                Some(v) => {
                    let _ = write!(md, " {v:.3} |");
                }
                None => md.push_str(" - |"),
            }
        }
        md.push('\n');
    }
    let counted: Vec<_> = report
        .hosts
        .iter()
        .filter(|h| h.not_counted.is_none())
        .collect();
    let m = |f: &dyn Fn(&crate::HostOutcome) -> Option<f64>| {
        mean(&counted.iter().filter_map(|h| f(h)).collect::<Vec<_>>())
    };
    if !counted.is_empty() {
        let _ = write!(
            md,
            "| **mean** ({} hosts) | | | | {} | | {} | | {} | | {} |",
            counted.len(),
            cell(m(&|h| h.best_single_aspect().map(|b| b.1))),
            cell(m(&|h| h.honest.as_ref().map(|x| x.1))),
            cell(m(&|h| h.honest_apt_llm.as_ref().map(|x| x.1))),
            cell(m(&|h| h.paper.as_ref().map(|x| x.1))),
        );
        for b in &names {
            let _ = write!(md, " {} |", cell(m(&|h| h.baselines.get(b).copied())));
        }
        md.push('\n');
    }
    if let Some((mean, n)) = honest_host_mean(&report.hosts) {
        let _ = writeln!(
            md,
            "\nHonest host-level mean ROC-AUC: **{mean:.3}** over {n} hosts."
        );
    }
    if counted.iter().any(|h| !h.honest_aspects_alone.is_empty()) {
        let _ = writeln!(
            md,
            "\nThe honest pick on each aspect alone, over the same host test processes (a process absent from the aspect ranks last), against the fusion:\n\n| host | honest pick | each aspect alone | fused |\n|---|---|---|---|"
        );
        for h in &counted {
            let Some((k, v)) = &h.honest else { continue };
            let alone: Vec<String> = h
                .honest_aspects_alone
                .iter()
                .map(|(a, x)| format!("{a} {x:.3}"))
                .collect();
            let _ = writeln!(md, "| {} | {k} | {} | {v:.3} |", h.host, alone.join(", "));
        }
    }
    // Every fused key's mean over the counted hosts: which fixed choice would have done
    // best everywhere (chosen with all hosts' labels, so not an honest number).
    let counted_names: Vec<&str> = counted.iter().map(|h| h.host.as_str()).collect();
    /// Per key: APT-LLM or not, the detector, and (AUC, PR-AUC, nDCG) per host.
    type KeyStats = (bool, String, Vec<(f64, f64, f64)>);
    let mut per_key: BTreeMap<String, KeyStats> = BTreeMap::new();
    for r in report
        .host_rows
        .iter()
        .filter(|r| counted_names.contains(&r.host.as_str()))
    {
        per_key
            .entry(r.key())
            .or_insert_with(|| (r.apt_llm, r.detector.clone(), Vec::new()))
            .2
            .push((r.auc, r.pr_auc, r.ndcg));
    }
    let mut keys: Vec<(String, bool, String, f64, f64, f64)> = per_key
        .into_iter()
        .filter(|(_, v)| v.2.len() == counted_names.len() && !v.2.is_empty())
        .map(|(k, (apt, det, v))| {
            let m = |f: fn(&(f64, f64, f64)) -> f64| mean(&v.iter().map(f).collect::<Vec<_>>());
            (k, apt, det, m(|x| x.0), m(|x| x.1), m(|x| x.2))
        })
        .collect();
    keys.sort_by(|a, b| b.3.total_cmp(&a.3).then_with(|| a.0.cmp(&b.0)));
    if !keys.is_empty() && counted_names.len() > 1 {
        let _ = writeln!(
            md,
            "\nThe best fixed key of each detector, by its mean over all {} counted hosts (this looks at every host's labels: read it as a ceiling for a fixed choice, not as a result):\n\n| key | mean AUC | mean PR-AUC | mean nDCG |\n|---|---|---|---|",
            counted_names.len()
        );
        let mut seen = std::collections::HashSet::new();
        for (k, apt, det, auc, pr, ndcg) in &keys {
            let family = if *apt {
                "APT-LLM".to_string()
            } else {
                det.clone()
            };
            if seen.insert(family) {
                let _ = writeln!(md, "| {k} | {auc:.3} | {pr:.3} | {ndcg:.3} |");
            }
        }
    }
    for h in report.hosts.iter().filter(|h| h.not_counted.is_some()) {
        let _ = writeln!(
            md,
            "- {} ({}) not counted: {}",
            h.host,
            if h.aspects.is_empty() {
                "-".to_string()
            } else {
                h.aspects.join("+")
            },
            h.not_counted.as_deref().unwrap_or("")
        );
    }
    for h in &report.hosts {
        for (c, why) in &h.left_out {
            let _ = writeln!(md, "- {} not fused: {why}", c);
        }
        if h.partial > 0 {
            let _ = writeln!(
                md,
                "- {}: {} of {} processes appear in some of its fused aspects only",
                h.host, h.partial, h.processes
            );
        }
    }
    for h in report.hosts.iter().filter(|h| !h.top.is_empty()) {
        let _ = writeln!(
            md,
            "\n### {}: top processes under the honest pick\n",
            h.host
        );
        // The detector whose reasons are given: the honest pick's (the first of a pair).
        if let Some(row) = h.honest.as_ref().and_then(|(key, _)| {
            report
                .host_rows
                .iter()
                .find(|r| r.host == h.host && r.key() == *key)
        }) {
            let _ = writeln!(
                md,
                "Per aspect: the p-value fused there, how many training processes share the process's exact attributes (itself aside), its rarest attributes, and the attributes whose removal lowers the score of `{}` most (*raised by*: the detector as the grid fitted it; in a pair, the first detector's reasons).\n",
                crate::combination_name(&row.encoder, &row.detector, row.attention, row.prior)
            );
        }
        for p in &h.top {
            let ev: Vec<String> = p
                .evidence
                .iter()
                .map(|e| {
                    let attrs: Vec<String> = e
                        .rarest
                        .iter()
                        .map(|(a, c)| format!("`{a}` in {c}"))
                        .collect();
                    let raised = if e.raised_by.is_empty() {
                        String::new()
                    } else {
                        let r: Vec<String> = e
                            .raised_by
                            .iter()
                            .map(|(a, d)| format!("`{a}` (+{})", crate::explain::drop_text(*d)))
                            .collect();
                        format!("; raised by {}", r.join(", "))
                    };
                    format!(
                        "{} p={:.4} ({} identical of {} training; rarest: {}{raised})",
                        e.aspect,
                        e.p_value,
                        e.identical_in_training,
                        e.training_processes,
                        attrs.join(", ")
                    )
                })
                .collect();
            let _ = writeln!(
                md,
                "- `{}` ({}) fused {:.2}: {}",
                p.process,
                match p.attack {
                    Some(true) => "attack",
                    Some(false) => "normal",
                    None => "unlabelled",
                },
                p.score,
                ev.join("; ")
            );
        }
    }
}
