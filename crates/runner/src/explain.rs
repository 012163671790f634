//! Leave-one-attribute-out explanations.

use crate::error::Result;
use apt_llm_detect::{Detector, Representation};
use apt_llm_embed::SentenceEncoder;
use apt_llm_textualize::Textualizer;
use ndarray::Array2;

/// For a process with `attributes`, re-score its sentence without each attribute in turn
/// (at most `max_attributes` of them) and return each attribute's phrase with the drop in
/// score its removal causes, largest first: the words that make the process look
/// anomalous.
pub fn leave_one_out(
    text: &Textualizer,
    attributes: &[u32],
    encoder: &dyn SentenceEncoder,
    detector: &dyn Detector,
    max_attributes: usize,
) -> Result<Vec<(String, f32)>> {
    let considered = &attributes[..attributes.len().min(max_attributes)];
    let mut sentences = vec![text.sentence_of(attributes, None)];
    for (i, _) in considered.iter().enumerate() {
        let rest: Vec<u32> = attributes
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, &a)| a)
            .collect();
        sentences.push(text.sentence_of(&rest, None));
    }
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let x = encoder.encode(&refs)?;
    let s = detector.score(x.view())?;
    let mut out: Vec<(String, f32)> = considered
        .iter()
        .enumerate()
        .map(|(i, &a)| (text.phrase(a).to_string(), s[0] - s[i + 1]))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(out)
}

/// How many attributes of one process a leave-one-out explanation re-scores, at most.
pub const MAX_EXPLAINED_ATTRIBUTES: usize = 64;

/// The attributes (indices into `names`, the context's attribute names) of one process
/// whose removal lowers `detector`'s score most (at most three, each lowering it): the
/// detector's own reasons, as attribute names or sentence phrases with the drop. Rows of
/// attributes are re-scored without each attribute; with `sentences` (the context's
/// template and the encoder), sentences are re-embedded without each phrase. A detector
/// of embeddings without `sentences` gives none.
pub fn reasons(
    detector: &dyn Detector,
    attributes: &[u32],
    names: &[String],
    sentences: Option<(&Textualizer, &dyn SentenceEncoder)>,
) -> Result<Vec<(String, f32)>> {
    let mut drops: Vec<(String, f32)> = match (detector.representation(), sentences) {
        (Representation::Attributes, _) => {
            leave_one_out_rows(attributes, names.len(), detector, MAX_EXPLAINED_ATTRIBUTES)?
                .into_iter()
                .map(|(a, d)| (names[a as usize].clone(), d))
                .collect()
        }
        (Representation::Embedding, Some((text, encoder))) => leave_one_out(
            text,
            attributes,
            encoder,
            detector,
            MAX_EXPLAINED_ATTRIBUTES,
        )?,
        (Representation::Embedding, None) => Vec::new(),
    };
    drops.retain(|d| d.1 > 0.0);
    drops.truncate(3);
    Ok(drops)
}

/// A score drop for reading: three decimals, or two significant digits below 0.001 (a
/// drop that small would read as `0.000`).
pub fn drop_text(d: f32) -> String {
    if d.abs() >= 1e-3 {
        format!("{d:.3}")
    } else {
        format!("{d:.1e}")
    }
}

/// [`leave_one_out`] on the attribute rows, for detectors that read them: the 0/1 row of
/// `attributes` (over `width` columns) scored with each of them (at most `max_attributes`)
/// removed in turn. Returns each attribute with the drop in score its removal causes,
/// largest first. Attributes outside `width` are ignored.
pub fn leave_one_out_rows(
    attributes: &[u32],
    width: usize,
    detector: &dyn Detector,
    max_attributes: usize,
) -> Result<Vec<(u32, f32)>> {
    let attributes: Vec<u32> = attributes
        .iter()
        .copied()
        .filter(|&a| (a as usize) < width)
        .collect();
    let considered = &attributes[..attributes.len().min(max_attributes)];
    let mut x = Array2::<f32>::zeros((considered.len() + 1, width));
    for r in 0..=considered.len() {
        for (j, &a) in attributes.iter().enumerate() {
            if r == 0 || j != r - 1 {
                x[[r, a as usize]] = 1.0;
            }
        }
    }
    let s = detector.score(x.view())?;
    let mut out: Vec<(u32, f32)> = considered
        .iter()
        .enumerate()
        .map(|(i, &a)| (a, s[0] - s[i + 1]))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, ArrayView2};

    /// Scores a row by fixed weights of its columns.
    struct Weighted(Vec<f32>);

    impl Detector for Weighted {
        fn name(&self) -> String {
            "weighted".into()
        }
        fn input_dim(&self) -> usize {
            self.0.len()
        }
        fn score(&self, x: ArrayView2<'_, f32>) -> apt_llm_detect::Result<Array1<f32>> {
            Ok(x.rows()
                .into_iter()
                .map(|r| r.iter().zip(&self.0).map(|(a, b)| a * b).sum())
                .collect())
        }
    }

    #[test]
    fn rows_without_each_attribute_rank_its_weight() {
        let d = Weighted(vec![5.0, 1.0, 0.0, -2.0]);
        let out = leave_one_out_rows(&[1, 0, 3, 2, 9], 4, &d, 64).unwrap();
        // Removing an attribute lowers the score by its weight; 9 is outside the row.
        assert_eq!(out, vec![(0, 5.0), (1, 1.0), (2, 0.0), (3, -2.0)]);
        // At most `max_attributes` are tried, the first ones of the process.
        let out = leave_one_out_rows(&[1, 0, 3], 4, &d, 1).unwrap();
        assert_eq!(out, vec![(1, 1.0)]);
        assert!(leave_one_out_rows(&[], 4, &d, 64).unwrap().is_empty());
    }
}
