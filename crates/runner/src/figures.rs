//! The paper's figures, as PNG and SVG (plotters), each with the caption `report.md`
//! prints under it.

use crate::report::selections;
use crate::{
    ATTRIBUTES_ENCODER, ContextOutcome, ExperimentReport, Result, RunnerError, ScoredCombination,
    roc_of,
};
use apt_llm_metrics::RocCurve;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// One figure written by [`write_figures`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// The figure's number (1 = t-SNE, 2 = loss, 3 = scores, 4 = AUC grid, 5 = ROC,
    /// 6 = best vs baselines, 7 = host view).
    pub number: u32,
    /// The PNG's file name in the output directory (an SVG of the same stem sits beside it).
    pub file: String,
    /// A short title (the image's alt text).
    pub title: String,
    /// What is plotted, on which context, and how to read it.
    pub caption: String,
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

macro_rules! render {
    ($dir:expr, $name:expr, $size:expr, $draw:expr) => {{
        let name: String = $name;
        let png = $dir.join(format!("{name}.png"));
        let svg = $dir.join(format!("{name}.svg"));
        let fig = |e: String| RunnerError::Figure {
            name: name.clone(),
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
        format!("{name}.png")
    }};
}

/// Okabe–Ito colours (distinguishable with the common colour-vision deficiencies).
const BLUE_OI: RGBColor = RGBColor(0, 114, 178);
const VERMILLION: RGBColor = RGBColor(213, 94, 0);
const GREEN_OI: RGBColor = RGBColor(0, 158, 115);
const PURPLE_OI: RGBColor = RGBColor(204, 121, 167);
const ORANGE_OI: RGBColor = RGBColor(230, 159, 0);
const GREY_TEXT: RGBColor = RGBColor(80, 80, 80);
const NORMAL_COLOUR: RGBColor = BLUE_OI;
const ATTACK_COLOUR: RGBColor = VERMILLION;

fn font(size: u32) -> FontDesc<'static> {
    ("sans-serif", size).into_font()
}

/// Pixel width of `s` in the sans-serif font at `size` (an estimate when no font loads).
fn text_width(s: &str, size: u32) -> i32 {
    font(size)
        .box_size(s)
        .map(|(w, _)| w as i32)
        .unwrap_or_else(|_| (s.chars().count() as f64 * size as f64 * 0.62).ceil() as i32)
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A combination's name for a reader: the attribute detectors have no encoder.
fn combination_label(s: &ScoredCombination) -> String {
    match s
        .combination
        .strip_prefix(&format!("{ATTRIBUTES_ENCODER} / "))
    {
        Some(det) => format!("{det} (attributes)"),
        None => s.combination.clone(),
    }
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
        return RGBColor(225, 225, 225);
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

/// Mean of the finite values (NaN when there are none).
/// Every baseline named in any of `maps`, sorted: the baseline columns of Figs. 6 and 7.
fn baseline_names<'a>(
    maps: impl Iterator<Item = &'a std::collections::BTreeMap<String, f64>>,
) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = maps.flat_map(|m| m.keys()).collect();
    names.into_iter().cloned().collect()
}

/// Append a row of column means (over finite cells) labelled `label`; returns the index
/// of that row (= the number of data rows).
fn push_mean_row(rows: &mut Vec<String>, values: &mut Vec<Vec<f64>>, label: String) -> usize {
    let cols = values.first().map_or(0, Vec::len);
    let means: Vec<f64> = (0..cols)
        .map(|j| finite_mean(values.iter().map(|r| r[j])))
        .collect();
    let n = rows.len();
    rows.push(label);
    values.push(means);
    n
}

fn finite_mean(v: impl IntoIterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// A table of AUCs drawn as coloured cells with their values, at a fixed cell size (the
/// canvas grows with the table, so text stays readable at any grid size).
struct Heatmap {
    title: String,
    /// Lines in smaller type under the title.
    notes: Vec<String>,
    /// What the rows are (written above the row labels).
    corner: String,
    rows: Vec<String>,
    cols: Vec<String>,
    values: Vec<Vec<f64>>,
    /// A gap before these column / row indices (groups; the mean row).
    col_breaks: Vec<usize>,
    row_breaks: Vec<usize>,
    /// Rows whose label is bold (the mean).
    bold_rows: Vec<usize>,
}

const MARGIN: i32 = 14;
const CELL_H: i32 = 28;
const BREAK: i32 = 10;
const CELL_FONT: u32 = 14;
const HEAD_FONT: u32 = 13;
const LINE_H: i32 = 17;

/// A header over two lines at most, split at the space (or `+`) nearest its middle.
fn wrap_header(s: &str) -> Vec<String> {
    if s.chars().count() <= 11 {
        return vec![s.to_string()];
    }
    let mid = s.len() / 2;
    let cut = s
        .char_indices()
        .filter(|(_, c)| *c == ' ' || *c == '+')
        .map(|(i, _)| i)
        .min_by_key(|i| i.abs_diff(mid));
    match cut {
        Some(i) if s[i..].starts_with(' ') => vec![s[..i].to_string(), s[i + 1..].to_string()],
        Some(i) if i > 0 => vec![s[..i].to_string(), s[i..].to_string()],
        _ => vec![s.to_string()],
    }
}

struct HeatLayout {
    label_w: i32,
    cw: i32,
    top: i32,
    bar_x: i32,
    bar_h: i32,
    width: u32,
    height: u32,
    headers: Vec<Vec<String>>,
}

impl Heatmap {
    fn layout(&self) -> HeatLayout {
        let label_w = self
            .rows
            .iter()
            .chain(std::iter::once(&self.corner))
            .map(|r| text_width(r, CELL_FONT))
            .max()
            .unwrap_or(0)
            + 18;
        let headers: Vec<Vec<String>> = self.cols.iter().map(|c| wrap_header(c)).collect();
        let cw = headers
            .iter()
            .flatten()
            .map(|l| text_width(l, HEAD_FONT))
            .chain(std::iter::once(text_width("0.000", CELL_FONT)))
            .max()
            .unwrap_or(0)
            .max(52)
            + 14;
        let lines = headers.iter().map(Vec::len).max().unwrap_or(1) as i32;
        let title_h = 28 + LINE_H * self.notes.len() as i32 + 8;
        let top = MARGIN + title_h + LINE_H * lines + 6;
        let grid_w = cw * self.cols.len() as i32 + BREAK * self.col_breaks.len() as i32;
        let grid_h = CELL_H * self.rows.len() as i32 + BREAK * self.row_breaks.len() as i32;
        let bar_x = MARGIN + label_w + grid_w + 22;
        let bar_h = grid_h.max(120);
        let right = bar_x + 16 + 6 + text_width("0.75", 12).max(text_width("AUC", 12)) + MARGIN;
        let text_right = std::iter::once(text_width(&self.title, 18))
            .chain(self.notes.iter().map(|n| text_width(n, HEAD_FONT)))
            .max()
            .unwrap_or(0)
            + 2 * MARGIN;
        HeatLayout {
            label_w,
            cw,
            top,
            bar_x,
            bar_h,
            width: right.max(text_right) as u32,
            height: (top + bar_h + MARGIN) as u32,
            headers,
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let l = self.layout();
        root.fill(&WHITE)?;
        root.draw(&Text::new(self.title.clone(), (MARGIN, MARGIN), font(18)))?;
        for (k, n) in self.notes.iter().enumerate() {
            root.draw(&Text::new(
                n.clone(),
                (MARGIN, MARGIN + 28 + LINE_H * k as i32),
                font(HEAD_FONT).color(&GREY_TEXT),
            ))?;
        }
        let col_x = |j: usize| {
            MARGIN
                + l.label_w
                + l.cw * j as i32
                + BREAK * self.col_breaks.iter().filter(|b| **b <= j).count() as i32
        };
        let row_y = |i: usize| {
            l.top
                + CELL_H * i as i32
                + BREAK * self.row_breaks.iter().filter(|b| **b <= i).count() as i32
        };
        let bottom_left = Pos::new(HPos::Left, VPos::Bottom);
        root.draw(&Text::new(
            self.corner.clone(),
            (MARGIN, l.top - 6),
            font(HEAD_FONT).color(&GREY_TEXT).pos(bottom_left),
        ))?;
        for (j, lines) in l.headers.iter().enumerate() {
            let cx = col_x(j) + l.cw / 2;
            for (k, line) in lines.iter().rev().enumerate() {
                root.draw(&Text::new(
                    line.clone(),
                    (cx, l.top - 6 - LINE_H * k as i32),
                    font(HEAD_FONT)
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                ))?;
            }
        }
        for (i, r) in self.rows.iter().enumerate() {
            let y = row_y(i);
            let label_font = if self.bold_rows.contains(&i) {
                font(CELL_FONT).style(FontStyle::Bold)
            } else {
                font(CELL_FONT)
            };
            root.draw(&Text::new(
                r.clone(),
                (MARGIN, y + CELL_H / 2),
                label_font
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            for (j, v) in self.values[i].iter().enumerate() {
                let x = col_x(j);
                root.draw(&Rectangle::new(
                    [(x + 1, y + 1), (x + l.cw - 1, y + CELL_H - 1)],
                    auc_colour(*v).filled(),
                ))?;
                let label = if v.is_finite() {
                    format!("{v:.3}")
                } else {
                    "-".into()
                };
                root.draw(&Text::new(
                    label,
                    (x + l.cw / 2, y + CELL_H / 2),
                    font(CELL_FONT)
                        .color(&text_on(*v))
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))?;
            }
        }
        // The colour bar: the scale is 0–1 for every heatmap, 0.5 is chance.
        let (bx, by) = (l.bar_x, l.top);
        for k in 0..l.bar_h {
            let v = 1.0 - k as f64 / (l.bar_h - 1).max(1) as f64;
            root.draw(&Rectangle::new(
                [(bx, by + k), (bx + 16, by + k + 1)],
                auc_colour(v).filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(bx, by), (bx + 16, by + l.bar_h)],
            BLACK.stroke_width(1),
        ))?;
        for v in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let y = by + ((1.0 - v) * (l.bar_h - 1) as f64).round() as i32;
            root.draw(&PathElement::new(vec![(bx + 16, y), (bx + 20, y)], BLACK))?;
            root.draw(&Text::new(
                format!("{v}"),
                (bx + 23, y),
                font(12)
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
        root.draw(&Text::new(
            "AUC",
            (bx, by - 6),
            font(12).color(&BLACK).pos(bottom_left),
        ))?;
        Ok(())
    }
}

/// The detector rows of Fig. 4: autoencoders (APT-LLM) first, then the baselines.
fn detectors_of(ctx_rows: &[&crate::ResultRow]) -> (Vec<String>, usize) {
    let mut apt: Vec<String> = ctx_rows
        .iter()
        .filter(|r| r.is_apt_llm())
        .map(|r| r.detector_label())
        .collect();
    apt.sort();
    apt.dedup();
    let mut base: Vec<String> = ctx_rows
        .iter()
        .filter(|r| !r.is_apt_llm())
        .map(|r| r.detector_label())
        .filter(|d| !apt.contains(d))
        .collect();
    base.sort();
    base.dedup();
    let n = apt.len();
    apt.extend(base);
    (apt, n)
}

/// A line's colour, width and dash (dash, gap; `None`: solid).
type LineStyle = (RGBColor, u32, Option<(u32, u32)>);

/// The line style of the ROC figure's curve of rank `k`.
fn roc_style(k: usize) -> LineStyle {
    const STYLES: [LineStyle; 5] = [
        (BLUE_OI, 4, None),
        (VERMILLION, 3, Some((12, 6))),
        (GREEN_OI, 3, Some((3, 4))),
        (PURPLE_OI, 2, None),
        (ORANGE_OI, 2, Some((16, 5))),
    ];
    STYLES[k % STYLES.len()]
}

fn draw_styled<DB: DrawingBackend, X: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    points: Vec<(f64, f64)>,
    k: usize,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (colour, width, dash) = roc_style(k);
    let style = colour.stroke_width(width);
    match dash {
        None => {
            chart.draw_series(LineSeries::new(points, style))?;
        }
        Some((d, g)) => {
            chart.draw_series(DashedLineSeries::new(points, d, g, style))?;
        }
    }
    Ok(())
}

/// One ROC panel; `x` is a linear or a logarithmic FPR axis from `xmin`.
fn roc_panel<DB, X>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    x: X,
    xmin: f64,
    x_desc: &str,
    curves: &[Vec<(f64, f64)>],
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(15))
        .margin(10)
        .x_label_area_size(42)
        .y_label_area_size(50)
        .build_cartesian_2d(x, 0.0..1.02)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("true positive rate")
        .x_label_formatter(&|v: &f64| {
            // Enough decimals for the log axis' powers of ten (0.0001, not 0).
            let places = if *v > 0.0 && *v < 1.0 {
                (-v.log10()).ceil() as usize
            } else {
                1
            };
            let s = format!("{v:.places$}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        })
        .y_label_formatter(&|v: &f64| format!("{v:.1}"))
        .label_style(font(12))
        .axis_desc_style(font(13))
        .light_line_style(WHITE)
        .bold_line_style(BLACK.mix(0.08))
        .draw()?;
    // Chance: the diagonal (a curve on the log axis).
    let chance: Vec<(f64, f64)> = (0..=100)
        .map(|i| {
            let t = i as f64 / 100.0;
            let f = xmin * (1.0 / xmin).powf(t);
            (f, f)
        })
        .collect();
    chart.draw_series(DashedLineSeries::new(
        chance,
        2,
        4,
        BLACK.mix(0.45).stroke_width(1),
    ))?;
    for (k, c) in curves.iter().enumerate() {
        // A ROC segment is straight in linear FPR (a run of tied scores); on the log axis
        // it is drawn through intermediate points so that it keeps its true shape.
        let mut pts: Vec<(f64, f64)> = Vec::new();
        for w in c.windows(2) {
            let ((f0, t0), (f1, t1)) = (w[0], w[1]);
            let steps = if xmin > 0.0 && f1 > f0 { 60 } else { 1 };
            for i in 0..steps {
                let a = i as f64 / steps as f64;
                pts.push((f0 + a * (f1 - f0), t0 + a * (t1 - t0)));
            }
        }
        if let Some(last) = c.last() {
            pts.push(*last);
        }
        let pts = pts.into_iter().map(|(f, t)| (f.max(xmin), t)).collect();
        draw_styled(&mut chart, pts, k)?;
    }
    Ok(())
}

/// Draw every figure into `dir`, in figure order. `focus` picks the context of the
/// per-context figures (default: the scored context with the widest spread of AUCs).
pub fn write_figures(
    report: &ExperimentReport,
    dir: &Path,
    focus: Option<&str>,
) -> Result<Vec<Figure>> {
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
    // where the figures say something.
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
    // Among contexts large enough for a curve to say something (a handful of attacks or
    // normals gives a few steps of noise), when there are any.
    let big = |c: &&&ContextOutcome| c.attacks >= 10 && c.test_normals >= 100;
    let pool: Vec<&ContextOutcome> = if scored.iter().any(|c| big(&c)) {
        scored.iter().filter(|c| big(c)).copied().collect()
    } else {
        scored.clone()
    };
    let focus_ctx = focus
        .and_then(|f| scored.iter().find(|c| c.context == f).copied())
        .or_else(|| {
            pool.iter()
                .max_by(|a, b| {
                    spread(a)
                        .total_cmp(&spread(b))
                        .then_with(|| a.processes.cmp(&b.processes))
                })
                .copied()
        });
    let how_chosen = if focus.is_some() {
        "the context chosen with `--figure-context`"
    } else {
        "the context with at least 10 attacks and 100 normal test processes whose combinations' AUCs spread widest; `--figure-context` picks another"
    };
    if let Some(ctx) = focus_ctx {
        context_figures(report, ctx, how_chosen, dir, &mut out)?;
    }
    summary_figures(report, dir, &mut out)?;
    out.sort_by_key(|f| f.number);
    Ok(out)
}

/// Figs. 1–5: the focus context.
fn context_figures(
    report: &ExperimentReport,
    ctx: &ContextOutcome,
    how_chosen: &str,
    dir: &Path,
    out: &mut Vec<Figure>,
) -> Result<()> {
    let tag = file_safe(&ctx.context);
    let name = &ctx.context;

    // Fig. 4: AUC of every detector (rows) with each encoder (columns).
    let ctx_rows: Vec<&crate::ResultRow> =
        report.rows.iter().filter(|r| &r.context == name).collect();
    let (detectors, n_apt) = detectors_of(&ctx_rows);
    let mut encoders: Vec<String> = Vec::new();
    for r in &ctx_rows {
        if !encoders.contains(&r.encoder) {
            encoders.push(r.encoder.clone());
        }
    }
    encoders.sort_by_key(|e| e == ATTRIBUTES_ENCODER);
    let mut values: Vec<Vec<f64>> = detectors
        .iter()
        .map(|d| {
            encoders
                .iter()
                .map(|e| {
                    ctx_rows
                        .iter()
                        .find(|r| &r.encoder == e && &r.detector_label() == d)
                        .map_or(f64::NAN, |r| r.auc)
                })
                .collect()
        })
        .collect();
    let mut rows = detectors.clone();
    let mut row_breaks = vec![];
    let mut bold_rows = vec![];
    if n_apt > 0 && n_apt < detectors.len() {
        row_breaks.push(n_apt);
    }
    if n_apt > 1 {
        let means = (0..encoders.len())
            .map(|j| finite_mean(values[..n_apt].iter().map(|r| r[j])))
            .collect();
        row_breaks.push(rows.len());
        bold_rows.push(rows.len());
        rows.push("mean of APT-LLM rows".into());
        values.push(means);
    }
    let cols: Vec<String> = encoders
        .iter()
        .map(|e| {
            if e == ATTRIBUTES_ENCODER {
                "attributes".to_string()
            } else {
                e.clone()
            }
        })
        .collect();
    let heat = Heatmap {
        title: format!("ROC-AUC on {name}"),
        notes: vec![
            "rows: detectors (+attn: self-attention, +freq: frequency prior);".into(),
            "columns: encoders (attributes: no encoder); grey: not run".into(),
        ],
        corner: "detector".into(),
        rows,
        cols,
        values,
        col_breaks: vec![],
        row_breaks,
        bold_rows,
    };
    let l = heat.layout();
    let file = render!(
        dir,
        format!("fig4_auc_heatmap_{tag}"),
        (l.width, l.height),
        |root| { heat.draw(root) }
    );
    out.push(Figure {
        number: 4,
        file,
        title: format!("ROC-AUC of every detector and encoder on {name}"),
        caption: format!(
            "ROC-AUC on {name} ({how_chosen}) of every detector (rows) with each encoder (columns); the *attributes* column holds the detectors that read the attribute sets themselves, without an encoder. The AUC weighs each distinct pattern by its processes. Colour: viridis on the full 0–1 scale (0.5 = chance, a random ranking; below 0.5 the detector ranks attacks as more normal than normals); grey: combination not run. {}",
            if n_apt > 1 {
                "The bold row is each encoder's mean over the autoencoder (APT-LLM) rows."
            } else {
                ""
            }
        )
        .trim_end()
        .to_string(),
    });

    // Fig. 5: ROC curves of the five best combinations, linear and log FPR.
    let mut top: Vec<(&ScoredCombination, RocCurve, f64)> = ctx
        .scored
        .iter()
        .filter_map(|s| {
            roc_of(s).map(|r| {
                let auc = r.auc();
                (s, r, auc)
            })
        })
        .collect();
    top.sort_by(|a, b| b.2.total_cmp(&a.2));
    top.truncate(5);
    if !top.is_empty() {
        let normals: f64 = top[0]
            .0
            .weights
            .iter()
            .zip(&top[0].0.labels)
            .filter(|(_, l)| !**l)
            .map(|(w, _)| *w as f64)
            .sum();
        let attacks: f64 = top[0]
            .0
            .weights
            .iter()
            .zip(&top[0].0.labels)
            .filter(|(_, l)| **l)
            .map(|(w, _)| *w as f64)
            .sum();
        // The log axis starts a decade below the smallest possible FPR step (1 / normals).
        let xmin = 10f64
            .powf((0.5 / normals.max(1.0)).log10().floor())
            .min(0.01);
        let curves: Vec<Vec<(f64, f64)>> = top
            .iter()
            .map(|(_, r, _)| r.fpr.iter().copied().zip(r.tpr.iter().copied()).collect())
            .collect();
        let labels: Vec<String> = top
            .iter()
            .map(|(s, _, auc)| format!("{} (AUC {auc:.3})", combination_label(s)))
            .collect();
        let title = format!("ROC curves of the five best combinations on {name}");
        let (w, h) = (1100u32, 620u32);
        let legend_h = 30 + 22 * labels.len().div_ceil(2) as u32;
        let file = render!(
            dir,
            format!("fig5_roc_{tag}"),
            (w, h),
            |root: &DrawingArea<_, Shift>| -> DrawResult {
                root.fill(&WHITE)?;
                let body = root.margin(8, 0, 0, 0).titled(&title, font(18))?;
                let bh = body.dim_in_pixel().1 as i32;
                let (panels, legend) = body.split_vertically(bh - legend_h as i32);
                let (left, right) = panels.split_horizontally(w as i32 / 2);
                roc_panel(
                    &left,
                    "full curve",
                    0.0..1.0,
                    0.0,
                    "false positive rate",
                    &curves,
                )?;
                roc_panel(
                    &right,
                    "low false-positive region (log scale)",
                    (xmin..1.0).log_scale(),
                    xmin,
                    "false positive rate (log; 0 drawn at the left edge)",
                    &curves,
                )?;
                legend.draw(&Text::new(
                format!(
                    "{normals:.0} normal and {attacks:.0} attack test processes; dotted grey: chance"
                ),
                (20, 4),
                font(13).color(&GREY_TEXT),
            ))?;
                for (k, label) in labels.iter().enumerate() {
                    let x = 20 + (k % 2) as i32 * (w as i32 / 2);
                    let y = 32 + 22 * (k / 2) as i32;
                    let (colour, width, dash) = roc_style(k);
                    let style = colour.stroke_width(width);
                    let seg = vec![(x, y), (x + 44, y)];
                    match dash {
                        None => legend.draw(&PathElement::new(seg, style))?,
                        Some((d, g)) => {
                            for e in DashedLineSeries::new(seg, d, g, style) {
                                legend.draw(&e)?;
                            }
                        }
                    }
                    legend.draw(&Text::new(
                        label.clone(),
                        (x + 54, y),
                        font(14)
                            .color(&BLACK)
                            .pos(Pos::new(HPos::Left, VPos::Center)),
                    ))?;
                }
                Ok(())
            }
        );
        out.push(Figure {
            number: 5,
            file,
            title: format!("ROC curves on {name}"),
            caption: format!(
                "ROC curves on {name} of the five combinations with the highest AUC there ({normals:.0} normal and {attacks:.0} attack test processes; each distinct pattern counts as often as it has processes; the AUC is in the legend). Left: the whole curve on linear axes. Right: the same curves with a logarithmic false-positive-rate axis, which stretches the region an analyst's alert budget lives in (an FPR of 1 % flags one normal process in a hundred); an FPR of 0 is drawn at the left edge. A curve that climbs early on the right panel finds attacks before it raises many false alarms; the dotted grey line is chance."
            ),
        });
    }

    // Figs. 2 and 3: the best autoencoder's loss curves and scores (by reconstruction
    // error alone when the grid has such combinations, not `+freq`).
    let trained = || ctx.scored.iter().filter(|s| s.loss_history.is_some());
    let by_auc = |a: &&ScoredCombination, b: &&ScoredCombination| {
        roc_of(a)
            .map_or(0.0, |r| r.auc())
            .total_cmp(&roc_of(b).map_or(0.0, |r| r.auc()))
    };
    let plain = trained().filter(|s| !s.prior).max_by(by_auc);
    if let Some(best) = plain.or_else(|| trained().max_by(by_auc)) {
        loss_figure(best, ctx, &tag, dir, out)?;
        score_figure(best, ctx, &tag, dir, out)?;
    }

    // Fig. 1: t-SNE of the context's test embeddings.
    if let Some((x, labels)) = &ctx.embedding_sample {
        tsne_figure(x, labels, ctx, &tag, dir, out)?;
    }
    Ok(())
}

fn loss_figure(
    best: &ScoredCombination,
    ctx: &ContextOutcome,
    tag: &str,
    dir: &Path,
    out: &mut Vec<Figure>,
) -> Result<()> {
    let hist = best.loss_history.clone().unwrap_or_default();
    let ymax = hist
        .iter()
        .flat_map(|(t, v)| [Some(*t), *v])
        .flatten()
        .fold(0f32, f32::max) as f64
        * 1.05;
    let has_val = hist.iter().any(|h| h.1.is_some());
    let title = format!("Training loss, {} on {}", best.combination, ctx.context);
    let file = render!(
        dir,
        format!("fig2_loss_{tag}"),
        (700, 440),
        |root: &DrawingArea<_, Shift>| -> DrawResult {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(root)
                .caption(&title, font(16))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(64)
                .build_cartesian_2d(0.0..hist.len().max(2) as f64 + 0.5, 0.0..ymax.max(1e-6))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc("loss")
                .x_label_formatter(&|v: &f64| format!("{v:.0}"))
                .label_style(font(12))
                .axis_desc_style(font(13))
                .light_line_style(WHITE)
                .bold_line_style(BLACK.mix(0.08))
                .draw()?;
            chart
                .draw_series(LineSeries::new(
                    hist.iter()
                        .enumerate()
                        .map(|(i, h)| (i as f64 + 1.0, h.0 as f64)),
                    NORMAL_COLOUR.stroke_width(2),
                ))?
                .label("training rows")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], NORMAL_COLOUR.stroke_width(2))
                });
            let val: Vec<(f64, f64)> = hist
                .iter()
                .enumerate()
                .filter_map(|(i, h)| h.1.map(|v| (i as f64 + 1.0, v as f64)))
                .collect();
            if !val.is_empty() {
                chart
                    .draw_series(DashedLineSeries::new(
                        val,
                        8,
                        4,
                        ATTACK_COLOUR.stroke_width(2),
                    ))?
                    .label("held-out normal rows (validation)")
                    .legend(|(x, y)| {
                        DashedPathElement::new(
                            vec![(x, y), (x + 20, y)],
                            6,
                            3,
                            ATTACK_COLOUR.stroke_width(2),
                        )
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font(font(13))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.4))
                .draw()?;
            Ok(())
        }
    );
    out.push(Figure {
        number: 2,
        file,
        title: format!("Training loss of {} on {}", best.combination, ctx.context),
        caption: format!(
            "Training loss per epoch of {} on {}, the autoencoder with the highest test AUC there{} (the one Fig. 3 shows): the process-weighted reconstruction loss on the normal training rows{}. {}",
            best.combination,
            ctx.context,
            if best.prior { "" } else { " among those scored by reconstruction error alone" },
            if has_val {
                " and, dashed, on the held-out normal rows that early stopping watches"
            } else {
                " (the context is too small to hold rows out)"
            },
            if has_val {
                "Training keeps the epoch with the lowest validation loss; a validation curve that rises while the training curve falls means overfitting."
            } else {
                "Without held-out rows training runs all epochs."
            }
        ),
    });
    Ok(())
}

fn score_figure(
    best: &ScoredCombination,
    ctx: &ContextOutcome,
    tag: &str,
    dir: &Path,
    out: &mut Vec<Figure>,
) -> Result<()> {
    let n = best.scores.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| best.scores[a].total_cmp(&best.scores[b]));
    let threshold = best.threshold;
    let smax = best
        .scores
        .iter()
        .cloned()
        .filter(|s| s.is_finite())
        .fold(f32::MIN, f32::max)
        .max(threshold.unwrap_or(0.0)) as f64
        * 1.08;
    let smin = best
        .scores
        .iter()
        .cloned()
        .filter(|s| s.is_finite())
        .fold(f32::MAX, f32::min)
        .min(0.0) as f64;
    let weight = |g: usize| best.weights.get(g).copied().unwrap_or(1.0) as f64;
    let (mut normals, mut normals_above, mut attacks, mut attacks_above) = (0.0, 0.0, 0.0, 0.0);
    for g in 0..n {
        let above = threshold.is_some_and(|t| best.scores[g] > t);
        if best.labels[g] {
            attacks += weight(g);
            attacks_above += if above { weight(g) } else { 0.0 };
        } else {
            normals += weight(g);
            normals_above += if above { weight(g) } else { 0.0 };
        }
    }
    let patterns_normal = best.labels.iter().filter(|l| !**l).count();
    let patterns_normal_above = (0..n)
        .filter(|&g| !best.labels[g] && threshold.is_some_and(|t| best.scores[g] > t))
        .count();
    let radius = |w: f64| (2.5 + 1.5 * w.sqrt()).min(16.0);
    let prior = best.prior;
    let what = if prior {
        "Anomaly score"
    } else {
        "Reconstruction error"
    };
    let title = format!(
        "{what} of each distinct test pattern, {} on {}",
        best.combination, ctx.context
    );
    let summary = if threshold.is_some() {
        format!(
            "above the line: {:.1} % of normal test processes ({normals_above:.0} of {normals:.0}; {patterns_normal_above} of {patterns_normal} normal patterns), {attacks_above:.0} of {attacks:.0} attack processes",
            100.0 * normals_above / normals.max(1.0)
        )
    } else {
        "no threshold (no held-out normal scores)".to_string()
    };
    let (w, h) = (900u32, 560u32);
    let file = render!(
        dir,
        format!("fig3_errors_{tag}"),
        (w, h),
        |root: &DrawingArea<_, Shift>| -> DrawResult {
            root.fill(&WHITE)?;
            let body = root.margin(8, 0, 0, 0).titled(&title, font(16))?;
            let bh = body.dim_in_pixel().1 as i32;
            let (plot, key) = body.split_vertically(bh - 84);
            let mut chart = ChartBuilder::on(&plot)
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(64)
                .build_cartesian_2d(-1.0..n.max(2) as f64, smin..smax.max(1e-6))?;
            chart
                .configure_mesh()
                .x_desc("distinct test patterns, ranked by score")
                .x_label_formatter(&|v: &f64| format!("{v:.0}"))
                .y_desc(if prior {
                    "rarity + blended reconstruction error"
                } else {
                    "reconstruction error"
                })
                .label_style(font(12))
                .axis_desc_style(font(13))
                .light_line_style(WHITE)
                .bold_line_style(BLACK.mix(0.08))
                .draw()?;
            // Largest markers first, so small ones stay visible on top.
            let mut normal: Vec<(usize, usize)> = order
                .iter()
                .enumerate()
                .filter(|(_, g)| !best.labels[**g])
                .map(|(r, g)| (r, *g))
                .collect();
            normal.sort_by(|a, b| weight(b.1).total_cmp(&weight(a.1)));
            chart.draw_series(normal.iter().map(|&(r, g)| {
                Circle::new(
                    (r as f64, best.scores[g] as f64),
                    radius(weight(g)),
                    NORMAL_COLOUR.mix(0.35).filled(),
                )
            }))?;
            chart.draw_series(normal.iter().map(|&(r, g)| {
                Circle::new(
                    (r as f64, best.scores[g] as f64),
                    radius(weight(g)),
                    NORMAL_COLOUR.stroke_width(1),
                )
            }))?;
            chart.draw_series(
                order
                    .iter()
                    .enumerate()
                    .filter(|(_, g)| best.labels[**g])
                    .map(|(r, &g)| {
                        TriangleMarker::new(
                            (r as f64, best.scores[g] as f64),
                            radius(weight(g)) + 2.0,
                            ATTACK_COLOUR.filled(),
                        )
                    }),
            )?;
            if let Some(t) = threshold {
                chart.draw_series(LineSeries::new(
                    vec![(-1.0, t as f64), (n.max(2) as f64, t as f64)],
                    BLACK.stroke_width(2),
                ))?;
            }
            // The key: marker meanings, sizes, and what lies above the line.
            let y0 = 10;
            key.draw(&Circle::new(
                (24, y0 + 6),
                5,
                NORMAL_COLOUR.mix(0.35).filled(),
            ))?;
            key.draw(&Circle::new((24, y0 + 6), 5, NORMAL_COLOUR.stroke_width(1)))?;
            key.draw(&Text::new(
                "normal pattern",
                (36, y0 + 6),
                font(13)
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            key.draw(&TriangleMarker::new(
                (170, y0 + 6),
                7,
                ATTACK_COLOUR.filled(),
            ))?;
            key.draw(&Text::new(
                "attack pattern",
                (182, y0 + 6),
                font(13)
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            key.draw(&Text::new(
                "marker area grows with the pattern's processes:",
                (310, y0 + 6),
                font(13)
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            let mut x =
                310 + text_width("marker area grows with the pattern's processes:", 13) + 14;
            for c in [1.0, 10.0, 100.0] {
                let r = radius(c) as i32;
                key.draw(&Circle::new(
                    (x + r, y0 + 6),
                    r,
                    NORMAL_COLOUR.stroke_width(1),
                ))?;
                key.draw(&Text::new(
                    format!("{c:.0}"),
                    (x + 2 * r + 4, y0 + 6),
                    font(13)
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ))?;
                x += 2 * r + 36;
            }
            if threshold.is_some() {
                key.draw(&PathElement::new(
                    vec![(14, y0 + 36), (34, y0 + 36)],
                    BLACK.stroke_width(2),
                ))?;
                key.draw(&Text::new(
                "threshold: 95th percentile of held-out normal processes (count-weighted, not of the patterns)",
                (40, y0 + 36),
                font(13).color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            }
            key.draw(&Text::new(
                summary.clone(),
                (14, y0 + 60),
                font(13)
                    .color(&GREY_TEXT)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            Ok(())
        }
    );
    out.push(Figure {
        number: 3,
        file,
        title: format!("{what} of the test patterns of {} on {}", best.combination, ctx.context),
        caption: format!(
            "{what} of {} on {} (the autoencoder of Fig. 2) for each distinct test pattern, ranked from lowest to highest score. Each marker is one distinct attribute pattern, not one process: its area grows with the number of test processes that share it, and attacks are triangles. The line is the alert threshold, the 95th percentile of the held-out normal processes' scores weighted by process count, so about 5 % of normal *processes* (not of the plotted patterns) should lie above it; here {}.",
            best.combination, ctx.context, summary
        ),
    });
    Ok(())
}

fn tsne_figure(
    x: &ndarray::Array2<f32>,
    labels: &[f32],
    ctx: &ContextOutcome,
    tag: &str,
    dir: &Path,
    out: &mut Vec<Figure>,
) -> Result<()> {
    const MAX_POINTS: usize = 400;
    // The test groups' process counts: every scored combination holds them in row order.
    let counts: Vec<f32> = ctx
        .scored
        .iter()
        .find(|s| s.weights.len() == x.nrows())
        .map_or_else(|| vec![1.0; x.nrows()], |s| s.weights.clone());
    let encoder = ctx
        .scored
        .iter()
        .find(|s| s.encoder != ATTRIBUTES_ENCODER)
        .map_or("the first encoder".to_string(), |s| s.encoder.clone());
    // Every attack pattern, then the most frequent normal ones, up to MAX_POINTS.
    let mut pick: Vec<usize> = (0..x.nrows()).filter(|&i| labels[i] >= 0.5).collect();
    let mut normal: Vec<usize> = (0..x.nrows()).filter(|&i| labels[i] < 0.5).collect();
    normal.sort_by(|&a, &b| counts[b].total_cmp(&counts[a]).then(a.cmp(&b)));
    let n_attack = pick.len();
    let n_normal = normal.len();
    pick.extend(normal.into_iter().take(MAX_POINTS.saturating_sub(n_attack)));
    pick.truncate(MAX_POINTS.max(n_attack.min(MAX_POINTS)));
    pick.sort_unstable();
    let xs = x.select(ndarray::Axis(0), &pick);
    let y = crate::tsne::tsne(&xs, 30.0, 750, 42);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in &y {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    let pad = |a: f64, b: f64| ((b - a) * 0.06).max(1e-3);
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    let shown_normal = pick.len() - n_attack.min(pick.len());
    let processes: f64 = pick.iter().map(|&i| counts[i] as f64).sum();
    let all_processes: f64 = counts.iter().map(|&c| c as f64).sum();
    let sample_note = if shown_normal < n_normal {
        format!(
            "all {n_attack} attack patterns and the {shown_normal} most frequent of {n_normal} normal patterns ({processes:.0} of {all_processes:.0} test processes)"
        )
    } else {
        format!(
            "all {} distinct test patterns ({all_processes:.0} test processes)",
            pick.len()
        )
    };
    let radius = |w: f64| (2.5 + 1.5 * w.sqrt()).min(16.0);
    let title = format!("t-SNE of {encoder} embeddings, {}", ctx.context);
    let (w, h) = (820u32, 600u32);
    let file = render!(
        dir,
        format!("fig1_tsne_{tag}"),
        (w, h),
        |root: &DrawingArea<_, Shift>| -> DrawResult {
            root.fill(&WHITE)?;
            let body = root.margin(8, 0, 0, 0).titled(&title, font(16))?;
            let (plot, side) = body.split_horizontally(w as i32 - 220);
            let mut chart = ChartBuilder::on(&plot)
                .margin(14)
                .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))?;
            plot.draw(&Rectangle::new(
                [
                    (14, 0),
                    (
                        plot.dim_in_pixel().0 as i32 - 14,
                        plot.dim_in_pixel().1 as i32 - 14,
                    ),
                ],
                BLACK.mix(0.3).stroke_width(1),
            ))?;
            let mut normal: Vec<(usize, usize)> = pick
                .iter()
                .enumerate()
                .filter(|(_, i)| labels[**i] < 0.5)
                .map(|(k, i)| (k, *i))
                .collect();
            normal.sort_by(|a, b| counts[b.1].total_cmp(&counts[a.1]));
            chart.draw_series(normal.iter().map(|&(k, i)| {
                Circle::new(
                    (y[k][0], y[k][1]),
                    radius(counts[i] as f64),
                    NORMAL_COLOUR.mix(0.35).filled(),
                )
            }))?;
            chart.draw_series(normal.iter().map(|&(k, i)| {
                Circle::new(
                    (y[k][0], y[k][1]),
                    radius(counts[i] as f64),
                    NORMAL_COLOUR.stroke_width(1),
                )
            }))?;
            chart.draw_series(
                pick.iter()
                    .enumerate()
                    .filter(|(_, i)| labels[**i] >= 0.5)
                    .map(|(k, &i)| {
                        TriangleMarker::new(
                            (y[k][0], y[k][1]),
                            radius(counts[i] as f64) + 2.0,
                            ATTACK_COLOUR.filled(),
                        )
                    }),
            )?;
            // The key, beside the plot so it covers no point.
            let left = Pos::new(HPos::Left, VPos::Center);
            let note = |text: String, at: (i32, i32)| {
                side.draw(&Text::new(text, at, font(13).color(&BLACK).pos(left)))
            };
            let mut yk = 20;
            for line in [
                "Each marker is one",
                "distinct test pattern,",
                "not one process.",
            ] {
                note(line.into(), (8, yk))?;
                yk += 17;
            }
            yk += 13;
            side.draw(&Circle::new((18, yk), 5, NORMAL_COLOUR.mix(0.35).filled()))?;
            side.draw(&Circle::new((18, yk), 5, NORMAL_COLOUR.stroke_width(1)))?;
            note("normal".into(), (32, yk))?;
            yk += 24;
            side.draw(&TriangleMarker::new((18, yk), 7, ATTACK_COLOUR.filled()))?;
            note("attack".into(), (32, yk))?;
            yk += 34;
            note("area: processes".into(), (8, yk))?;
            yk += 8;
            for c in [1.0, 10.0, 100.0] {
                let r = radius(c) as i32;
                yk += r + 6;
                side.draw(&Circle::new((24, yk), r, NORMAL_COLOUR.stroke_width(1)))?;
                note(format!("{c:.0}"), (50, yk))?;
                yk += r;
            }
            Ok(())
        }
    );
    out.push(Figure {
        number: 1,
        file,
        title: format!("t-SNE of the {encoder} embeddings on {}", ctx.context),
        caption: format!(
            "t-SNE (perplexity 30, seed 42) of the {encoder} sentence embeddings of {}'s test set: {sample_note}. Each marker is one distinct attribute pattern, not one process; its area grows with the number of test processes that share the pattern; attacks are triangles. t-SNE keeps neighbourhoods, not distances: read it for attacks that sit apart from the normal clusters (easy to detect) or inside them (an embedding cannot separate those).",
            ctx.context
        ),
    });
    Ok(())
}

/// Figs. 6 and 7: every context, every host.
fn summary_figures(report: &ExperimentReport, dir: &Path, out: &mut Vec<Figure>) -> Result<()> {
    // Fig. 6: best APT-LLM vs baselines over all contexts.
    let sel = selections(report);
    if !sel.is_empty() {
        let base_names = baseline_names(sel.iter().map(|s| &s.baselines));
        let mut cols = vec!["APT-LLM honest".to_string(), "APT-LLM paper".to_string()];
        cols.extend(base_names.iter().cloned());
        cols.push("tie ceiling".into());
        let mut rows: Vec<String> = sel.iter().map(|s| s.context.clone()).collect();
        let mut values: Vec<Vec<f64>> = sel
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
        let n = rows.len();
        push_mean_row(&mut rows, &mut values, format!("mean ({n} contexts)"));
        let heat = Heatmap {
            title: "Best APT-LLM vs baselines, per context (ROC-AUC)".into(),
            notes: vec![
                "honest: best mean AUC on the other contexts; paper: best on this context (sees its labels)".into(),
            ],
            corner: "context".into(),
            rows,
            cols,
            values,
            col_breaks: vec![2, 2 + base_names.len()],
            row_breaks: vec![n],
            bold_rows: vec![n],
        };
        let l = heat.layout();
        let file = render!(
            dir,
            "fig6_best_vs_baselines".to_string(),
            (l.width, l.height),
            |root| { heat.draw(root) }
        );
        out.push(Figure {
            number: 6,
            file,
            title: "Best APT-LLM vs baselines, per context".into(),
            caption: format!(
                "ROC-AUC per scored context (rows) of APT-LLM picked two ways — *honest*: the combination with the best mean AUC over the other contexts (leave-one-context-out), and *paper*: the best on the context itself, which looks at its test labels — beside each baseline ({}: on the first encoder's embeddings or on the attribute sets) and the tie ceiling (the best AUC any scorer can reach when attacks and normals share identical inputs). The bold row is the mean over the {n} contexts. Colour as in Fig. 4: viridis on 0–1, 0.5 = chance. Compare a baseline with the honest column; the paper column is optimistic by construction.",
                base_names.join(", ")
            ),
        });
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
        let base_names = baseline_names(hosts.iter().map(|h| &h.baselines));
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
        let n = rows.len();
        push_mean_row(&mut rows, &mut values, format!("mean ({n} hosts)"));
        let heat = Heatmap {
            title: "Host view: each aspect alone vs all aspects fused (ROC-AUC)".into(),
            notes: vec![
                "alone: the per-context honest pick on that aspect's test processes; fused: honest picks on the host's test processes".into(),
            ],
            corner: "host".into(),
            rows,
            cols,
            values,
            col_breaks: vec![aspects.len(), aspects.len() + 2],
            row_breaks: vec![n],
            bold_rows: vec![n],
        };
        let l = heat.layout();
        let file = render!(dir, "fig7_hosts".to_string(), (l.width, l.height), |root| {
            heat.draw(root)
        });
        out.push(Figure {
            number: 7,
            file,
            title: "Host view: each aspect alone vs fused".into(),
            caption: format!(
                "Per counted host (rows, scenario/performer): on the left, the ROC-AUC of each aspect alone — the per-context honest pick on that aspect's own test processes, grey where the host has no such context; in the middle, all aspects fused per process (*fused honest*: the combination, rule, calibration and absent-aspect policy with the best mean AUC over the other hosts; *fused APT-LLM*: the same choice among autoencoders only); on the right, each baseline fused with the honest pick's rule, calibration and policy. The bold row is the mean over the {n} hosts (over those that have the aspect, for the left block). Fusion helps a host where the middle block beats its best single aspect. Colour as in Fig. 4."
            ),
        });
    }
    Ok(())
}
