//! The paper's figures, as PNG and SVG (plotters).

use crate::experiment::{ContextOutcome, ExperimentReport, Result, RunnerError, roc_of};
use crate::report::selections;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

macro_rules! render {
    ($dir:expr, $name:expr, $size:expr, $out:expr, $draw:expr) => {{
        let png = $dir.join(format!("{}.png", $name));
        let svg = $dir.join(format!("{}.svg", $name));
        let fig = |e: String| RunnerError::Figure {
            name: $name.to_string(),
            reason: e,
        };
        {
            let root = BitMapBackend::new(&png, $size).into_drawing_area();
            ($draw)(&root).map_err(|e| fig(e.to_string()))?;
            root.present().map_err(|e| fig(e.to_string()))?;
        }
        {
            let root = SVGBackend::new(&svg, $size).into_drawing_area();
            ($draw)(&root).map_err(|e| fig(e.to_string()))?;
            root.present().map_err(|e| fig(e.to_string()))?;
        }
        $out.push(format!("{}.png", $name));
    }};
}

/// Axes of a numeric chart: the figure's title, ranges and axis names.
struct Axes<'a> {
    title: &'a str,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    x_desc: &'a str,
    y_desc: &'a str,
}

type XyChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A white canvas with a titled, labelled f64 × f64 chart and its grid drawn.
fn xy_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    axes: Axes<'_>,
) -> std::result::Result<XyChart<'a, DB>, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(axes.title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(axes.x, axes.y)?;
    chart
        .configure_mesh()
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .draw()?;
    Ok(chart)
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Viridis (perceptually uniform, colour-blind safe) at `t` in [0, 1].
fn viridis(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let lerp = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// Colour of an AUC on the full 0–1 scale (grey when missing).
fn auc_colour(v: f64) -> RGBColor {
    if !v.is_finite() {
        return RGBColor(220, 220, 220);
    }
    viridis(v)
}

/// Text colour readable on [`auc_colour`]`(v)`.
fn text_on(v: f64) -> RGBColor {
    if !v.is_finite() || v > 0.62 {
        BLACK
    } else {
        WHITE
    }
}

fn heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[String],
    cols: &[String],
    values: &[Vec<f64>],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    let (top, left) = (50i32, 230i32);
    root.draw(&Text::new(
        title.to_string(),
        (10, 15),
        ("sans-serif", 18).into_font(),
    ))?;
    // A colour bar on the right: the scale is fixed at 0-1 for every heatmap.
    let bar_w = 70;
    let cw = ((w as i32 - left - 10 - bar_w) / cols.len().max(1) as i32).max(10);
    let ch = ((h as i32 - top - 10) / (rows.len() + 1).max(1) as i32).clamp(10, 40);
    for (j, c) in cols.iter().enumerate() {
        root.draw(&Text::new(
            c.clone(),
            (left + j as i32 * cw + 4, top),
            ("sans-serif", 12).into_font(),
        ))?;
    }
    let (bx, by0) = (w as i32 - bar_w + 10, top + ch);
    let bh = ((h as i32 - by0 - 20).min(ch * rows.len() as i32)).max(40);
    for k in 0..bh {
        let v = 1.0 - k as f64 / (bh - 1).max(1) as f64;
        root.draw(&Rectangle::new(
            [(bx, by0 + k), (bx + 14, by0 + k + 1)],
            auc_colour(v).filled(),
        ))?;
    }
    for (v, label) in [(1.0, "1.0"), (0.5, "0.5"), (0.0, "0.0")] {
        let y = by0 + ((1.0 - v) * (bh - 1) as f64) as i32;
        root.draw(&Text::new(
            label.to_string(),
            (bx + 18, y - 6),
            ("sans-serif", 11).into_font(),
        ))?;
    }
    root.draw(&Text::new(
        "AUC".to_string(),
        (bx, by0 - 16),
        ("sans-serif", 11).into_font(),
    ))?;
    for (i, r) in rows.iter().enumerate() {
        let y = top + (i as i32 + 1) * ch;
        root.draw(&Text::new(
            r.clone(),
            (8, y + ch / 3),
            ("sans-serif", 12).into_font(),
        ))?;
        for (j, v) in values[i].iter().enumerate() {
            let x = left + j as i32 * cw;
            root.draw(&Rectangle::new(
                [(x, y), (x + cw - 2, y + ch - 2)],
                auc_colour(*v).filled(),
            ))?;
            let label = if v.is_finite() {
                format!("{v:.3}")
            } else {
                "-".into()
            };
            root.draw(&Text::new(
                label,
                (x + 4, y + ch / 3),
                ("sans-serif", 12).into_font().color(&text_on(*v)),
            ))?;
        }
    }
    Ok(())
}

fn columns_of(ctx_rows: &[&crate::ResultRow]) -> Vec<String> {
    let mut cols: Vec<String> = ctx_rows.iter().map(|r| r.detector_label()).collect();
    cols.sort_by_key(|c| {
        (
            !(c.starts_with("AE") || c.starts_with("VAE") || c.starts_with("DAE")),
            c.clone(),
        )
    });
    cols.dedup();
    cols
}

/// Draw every figure into `dir`; returns the PNG file names. `focus` picks the context of
/// the per-context figures (default: the scored context with the widest spread of AUCs).
pub fn write_figures(
    report: &ExperimentReport,
    dir: &Path,
    focus: Option<&str>,
) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).map_err(|e| RunnerError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut out = Vec::new();
    let scored: Vec<&ContextOutcome> = report
        .contexts
        .iter()
        .filter(|c| c.skipped.is_none() && !c.scored.is_empty())
        .collect();
    // Default: the scored context whose combinations disagree most (widest AUC spread),
    // where the figures say something; the largest context is often near-perfect for all.
    let spread = |c: &ContextOutcome| -> f64 {
        let aucs: Vec<f64> = report
            .rows
            .iter()
            .filter(|r| r.context == c.context)
            .map(|r| r.auc)
            .collect();
        let hi = aucs.iter().copied().fold(f64::MIN, f64::max);
        let lo = aucs.iter().copied().fold(f64::MAX, f64::min);
        if aucs.is_empty() { 0.0 } else { hi - lo }
    };
    let Some(focus_ctx) = focus
        .and_then(|f| scored.iter().find(|c| c.context == f).copied())
        .or_else(|| {
            scored
                .iter()
                .max_by(|a, b| {
                    spread(a)
                        .total_cmp(&spread(b))
                        .then_with(|| a.processes.cmp(&b.processes))
                })
                .copied()
        })
    else {
        return Ok(out);
    };
    let tag = file_safe(&focus_ctx.context);

    // Fig. 4: AUC heatmap, encoder x detector, for the focus context.
    let ctx_rows: Vec<&crate::ResultRow> = report
        .rows
        .iter()
        .filter(|r| r.context == focus_ctx.context)
        .collect();
    let cols = columns_of(&ctx_rows);
    let mut encoders: Vec<String> = ctx_rows.iter().map(|r| r.encoder.clone()).collect();
    encoders.dedup();
    let values: Vec<Vec<f64>> = encoders
        .iter()
        .map(|e| {
            cols.iter()
                .map(|c| {
                    ctx_rows
                        .iter()
                        .find(|r| &r.encoder == e && &r.detector_label() == c)
                        .map_or(f64::NAN, |r| r.auc)
                })
                .collect()
        })
        .collect();
    let title = format!("ROC-AUC on {} (encoder x detector)", focus_ctx.context);
    let width = (310 + 90 * cols.len()) as u32;
    render!(
        dir,
        format!("fig4_auc_heatmap_{tag}"),
        (width.max(500), (80 + 40 * (encoders.len() + 1)) as u32),
        out,
        |root| heatmap(root, &title, &encoders, &cols, &values)
    );

    // Fig. 5: ROC curves of the top five combinations.
    let mut top: Vec<(&crate::experiment::ScoredCombination, f64)> = focus_ctx
        .scored
        .iter()
        .filter_map(|s| roc_of(s).map(|r| (s, r.auc())))
        .collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    top.truncate(5);
    let roc_title = format!("ROC curves, {}", focus_ctx.context);
    render!(
        dir,
        format!("fig5_roc_{tag}"),
        (640, 520),
        out,
        |root: &DrawingArea<_, Shift>| -> DrawResult {
            let mut chart = xy_chart(
                root,
                Axes {
                    title: &roc_title,
                    x: 0.0..1.0,
                    y: 0.0..1.01,
                    x_desc: "false positive rate",
                    y_desc: "true positive rate",
                },
            )?;
            chart.draw_series(LineSeries::new(
                vec![(0.0, 0.0), (1.0, 1.0)],
                BLACK.mix(0.3),
            ))?;
            for (i, (s, auc)) in top.iter().enumerate() {
                let roc = roc_of(s).expect("computed above");
                let colour = Palette99::pick(i).to_rgba();
                chart
                    .draw_series(LineSeries::new(
                        roc.fpr.iter().cloned().zip(roc.tpr.iter().cloned()),
                        colour.stroke_width(2),
                    ))?
                    .label(format!("{} ({auc:.3})", s.combination))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
            Ok(())
        }
    );

    // Fig. 6: best APT-LLM vs baselines over all contexts.
    let sel = selections(report);
    if !sel.is_empty() {
        let mut base_names: Vec<String> = sel
            .iter()
            .flat_map(|s| s.baselines.keys().cloned())
            .collect();
        base_names.sort();
        base_names.dedup();
        let mut cols = vec!["APT-LLM honest".to_string(), "APT-LLM paper".to_string()];
        cols.extend(base_names.iter().cloned());
        cols.push("tie ceiling".into());
        let rows: Vec<String> = sel.iter().map(|s| s.context.clone()).collect();
        let values: Vec<Vec<f64>> = sel
            .iter()
            .map(|s| {
                let mut v = vec![s.honest.as_ref().map_or(f64::NAN, |h| h.1), s.paper_best.1];
                v.extend(
                    base_names
                        .iter()
                        .map(|b| s.baselines.get(b).copied().unwrap_or(f64::NAN)),
                );
                v.push(s.tie_ceiling);
                v
            })
            .collect();
        let width = (310 + 110 * cols.len()) as u32;
        render!(
            dir,
            "fig6_best_vs_baselines",
            (width, (80 + 30 * (rows.len() + 1)) as u32),
            out,
            |root| heatmap(
                root,
                "Best APT-LLM vs baselines (ROC-AUC)",
                &rows,
                &cols,
                &values
            )
        );
    }

    // Fig. 2 and 3: loss curves and reconstruction errors of the best autoencoder (scored
    // by reconstruction error alone when the grid has such combinations, not `+freq`).
    let trained = || focus_ctx.scored.iter().filter(|s| s.loss_history.is_some());
    let by_auc = |a: &&crate::ScoredCombination, b: &&crate::ScoredCombination| {
        roc_of(a)
            .map_or(0.0, |r| r.auc())
            .total_cmp(&roc_of(b).map_or(0.0, |r| r.auc()))
    };
    let plain = trained().filter(|s| !s.prior).max_by(by_auc);
    if let Some(best) = plain.or_else(|| trained().max_by(by_auc)) {
        let hist = best.loss_history.clone().unwrap_or_default();
        let ymax = hist
            .iter()
            .flat_map(|(t, v)| [Some(*t), *v])
            .flatten()
            .fold(0f32, f32::max) as f64
            * 1.05;
        let loss_title = format!(
            "Training loss, {} on {}",
            best.combination, focus_ctx.context
        );
        render!(
            dir,
            format!("fig2_loss_{tag}"),
            (640, 420),
            out,
            |root: &DrawingArea<_, Shift>| -> DrawResult {
                let mut chart = xy_chart(
                    root,
                    Axes {
                        title: &loss_title,
                        x: 0.0..hist.len().max(2) as f64,
                        y: 0.0..ymax.max(1e-6),
                        x_desc: "epoch",
                        y_desc: "loss",
                    },
                )?;
                chart
                    .draw_series(LineSeries::new(
                        hist.iter()
                            .enumerate()
                            .map(|(i, h)| (i as f64 + 1.0, h.0 as f64)),
                        BLUE.stroke_width(2),
                    ))?
                    .label("train")
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
                let val: Vec<(f64, f64)> = hist
                    .iter()
                    .enumerate()
                    .filter_map(|(i, h)| h.1.map(|v| (i as f64 + 1.0, v as f64)))
                    .collect();
                if !val.is_empty() {
                    chart
                        .draw_series(LineSeries::new(val, RED.stroke_width(2)))?
                        .label("validation")
                        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()?;
                Ok(())
            }
        );
        let threshold = best.threshold;
        let smax = best
            .scores
            .iter()
            .cloned()
            .fold(f32::MIN, f32::max)
            .max(threshold.unwrap_or(0.0)) as f64
            * 1.1;
        let prior = best.prior;
        let err_title = format!(
            "{}, {} on {}",
            if prior {
                "Anomaly score"
            } else {
                "Reconstruction error"
            },
            best.combination,
            focus_ctx.context
        );
        render!(
            dir,
            format!("fig3_errors_{tag}"),
            (640, 420),
            out,
            |root: &DrawingArea<_, Shift>| -> DrawResult {
                let mut chart = xy_chart(
                    root,
                    Axes {
                        title: &err_title,
                        x: 0.0..best.scores.len().max(2) as f64,
                        y: 0.0..smax.max(1e-6),
                        x_desc: "distinct test process",
                        y_desc: if prior {
                            "rarity + blended reconstruction error"
                        } else {
                            "reconstruction error"
                        },
                    },
                )?;
                chart
                    .draw_series(
                        best.scores
                            .iter()
                            .zip(&best.labels)
                            .enumerate()
                            .filter(|(_, (_, l))| !**l)
                            .map(|(i, (s, _))| {
                                Circle::new((i as f64, *s as f64), 3, BLUE.filled())
                            }),
                    )?
                    .label("normal")
                    .legend(|(x, y)| Circle::new((x + 10, y), 3, BLUE.filled()));
                chart
                    .draw_series(
                        best.scores
                            .iter()
                            .zip(&best.labels)
                            .enumerate()
                            .filter(|(_, (_, l))| **l)
                            .map(|(i, (s, _))| {
                                TriangleMarker::new((i as f64, *s as f64), 5, RED.filled())
                            }),
                    )?
                    .label("attack")
                    .legend(|(x, y)| TriangleMarker::new((x + 10, y), 5, RED.filled()));
                if let Some(t) = threshold {
                    chart
                        .draw_series(LineSeries::new(
                            vec![(0.0, t as f64), (best.scores.len() as f64, t as f64)],
                            BLACK.stroke_width(1),
                        ))?
                        .label("threshold (95th pct. of normal)")
                        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()?;
                Ok(())
            }
        );
    }

    // Fig. 1: t-SNE of the focus context's test embeddings.
    if let Some((x, labels)) = &focus_ctx.embedding_sample {
        let xs = if x.nrows() > 400 {
            x.slice(ndarray::s![..400, ..]).to_owned()
        } else {
            x.clone()
        };
        let y = crate::tsne::tsne(&xs, 30.0, 750, 42);
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in &y {
            x0 = x0.min(p[0]);
            x1 = x1.max(p[0]);
            y0 = y0.min(p[1]);
            y1 = y1.max(p[1]);
        }
        let pad = |a: f64, b: f64| ((b - a) * 0.05).max(1e-3);
        let (px, py) = (pad(x0, x1), pad(y0, y1));
        let tsne_title = format!("t-SNE of embeddings, {}", focus_ctx.context);
        render!(
            dir,
            format!("fig1_tsne_{tag}"),
            (600, 520),
            out,
            |root: &DrawingArea<_, Shift>| -> DrawResult {
                root.fill(&WHITE)?;
                let mut chart = ChartBuilder::on(root)
                    .caption(&tsne_title, ("sans-serif", 16))
                    .margin(10)
                    .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))?;
                chart
                    .draw_series(
                        y.iter()
                            .zip(labels)
                            .filter(|(_, l)| **l < 0.5)
                            .map(|(p, _)| Circle::new((p[0], p[1]), 3, BLUE.mix(0.6).filled())),
                    )?
                    .label("normal")
                    .legend(|(x, y)| Circle::new((x + 10, y), 3, BLUE.filled()));
                chart
                    .draw_series(
                        y.iter()
                            .zip(labels)
                            .filter(|(_, l)| **l >= 0.5)
                            .map(|(p, _)| TriangleMarker::new((p[0], p[1]), 5, RED.filled())),
                    )?
                    .label("attack")
                    .legend(|(x, y)| TriangleMarker::new((x + 10, y), 5, RED.filled()));
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()?;
                Ok(())
            }
        );
    }
    // Fig. 7: the host view, each aspect alone against the fused score.
    let hosts: Vec<&crate::HostOutcome> = report
        .hosts
        .iter()
        .filter(|h| h.not_counted.is_none())
        .collect();
    if !hosts.is_empty() {
        let mut aspects: Vec<String> = Vec::new();
        for a in ["PE", "PX", "PP", "PN"] {
            if hosts.iter().any(|h| h.aspects.iter().any(|x| x == a)) {
                aspects.push(a.to_string());
            }
        }
        let mut base_names: Vec<String> = hosts
            .iter()
            .flat_map(|h| h.baselines.keys().cloned())
            .collect();
        base_names.sort();
        base_names.dedup();
        let mut cols: Vec<String> = aspects.iter().map(|a| format!("{a} alone")).collect();
        cols.push("fused honest".into());
        cols.push("fused APT-LLM".into());
        cols.extend(base_names.iter().map(|b| format!("fused {b}")));
        let mut rows: Vec<String> = hosts.iter().map(|h| h.host.clone()).collect();
        let mut values: Vec<Vec<f64>> = hosts
            .iter()
            .map(|h| {
                let mut v: Vec<f64> = aspects
                    .iter()
                    .map(|a| {
                        h.single_aspect
                            .iter()
                            .find(|x| &x.0 == a)
                            .map_or(f64::NAN, |x| x.1)
                    })
                    .collect();
                v.push(h.honest.as_ref().map_or(f64::NAN, |x| x.1));
                v.push(h.honest_apt_llm.as_ref().map_or(f64::NAN, |x| x.1));
                v.extend(
                    base_names
                        .iter()
                        .map(|b| h.baselines.get(b).copied().unwrap_or(f64::NAN)),
                );
                v
            })
            .collect();
        let means: Vec<f64> = (0..cols.len())
            .map(|j| {
                let col: Vec<f64> = values
                    .iter()
                    .map(|r| r[j])
                    .filter(|v| v.is_finite())
                    .collect();
                if col.is_empty() {
                    f64::NAN
                } else {
                    col.iter().sum::<f64>() / col.len() as f64
                }
            })
            .collect();
        rows.push("mean".into());
        values.push(means);
        let width = (310 + 110 * cols.len()) as u32;
        render!(
            dir,
            "fig7_hosts",
            (width, (80 + 30 * (rows.len() + 1)) as u32),
            out,
            |root| heatmap(
                root,
                "Host view: each aspect alone vs fused (honest picks, ROC-AUC)",
                &rows,
                &cols,
                &values
            )
        );
    }
    Ok(out)
}
