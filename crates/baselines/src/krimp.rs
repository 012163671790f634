//! Krimp (Vreeken, van Leeuwen & Siebes, DMKD 2011): the code table OC3 scores with.
//!
//! The steps, in the order they run:
//!
//! 1. Identical rows are merged (weights add up), so a row of weight k and k copies of it
//!    give the same model bit for bit.
//! 2. Items are renumbered by support, descending (ties: higher column first), as the
//!    reference `fic` binary does; "lexicographic" below means on these numbers.
//! 3. Candidates: closed itemsets of two or more items with support ≥ the minimum, mined
//!    depth first (LCM's prefix-preserving closure extension) over classes of columns
//!    that occur in exactly the same rows, then sorted in the standard candidate order
//!    (support desc, length desc, lexicographic). At most `max_candidates` are kept, the
//!    most supported (top-k mining: the support floor rises as the search goes); should
//!    the search visit more than 100 million row entries, the minimum support doubles and
//!    it starts again. The report says what was cut.
//! 4. Greedy cover in the standard cover order (length desc, support desc,
//!    lexicographic; singletons last), code lengths −log₂(usage / Σ usage); a candidate
//!    stays when L(CT) + L(D | CT) shrinks, and after each acceptance the elements whose
//!    usage fell are pruned, lowest usage first, while that keeps shrinking the total
//!    ("post-acceptance pruning", `pop` in the reference configuration); elements
//!    whose usage fell to zero leave after each successful prune and at the end of it.
//!
//! Only rows that contain a candidate (or that used a pruned element) are covered again.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What the candidate miner did, so a cut is visible in the fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MiningReport {
    /// The minimum (weighted) support asked for.
    pub min_support: f64,
    /// Every closed itemset with at least this support is a candidate: `min_support`
    /// unless something was cut, else the least support among the candidates kept.
    pub effective_min_support: f64,
    /// Closed itemsets of two or more items handed to Krimp.
    pub candidates: usize,
    /// Candidates accepted into the code table at some point (before pruning).
    pub accepted: usize,
    /// Code table elements removed by pruning.
    pub pruned: usize,
    /// True when closed itemsets of support ≥ `min_support` were left out (the candidate
    /// budget kept the most supported, or the work budget raised the minimum support).
    pub truncated: bool,
    /// Distinct training rows Krimp saw.
    pub distinct_rows: usize,
}

/// One element of a code table: an itemset (column indices, ascending), its weighted
/// usage in the cover of the training rows and its weighted support.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeTableEntry {
    pub items: Vec<u32>,
    pub usage: f64,
    pub support: f64,
}

/// The result of Krimp: non-singleton elements in cover order, and per-column singleton
/// usage and support (zero for columns never seen).
pub(crate) struct KrimpModel {
    pub sets: Vec<CodeTableEntry>,
    pub singleton_usage: Vec<f64>,
    pub singleton_support: Vec<f64>,
    pub report: MiningReport,
}

pub(crate) struct KrimpConfig {
    pub min_support: f64,
    pub max_candidates: usize,
}

struct Candidate {
    items: Vec<u32>,
    support: f64,
    rows: Vec<u32>,
}

/// Krimp on weighted rows of column indices (each row ascending) over `width` columns.
pub(crate) fn krimp(
    rows: &[Vec<u32>],
    weights: &[f64],
    width: usize,
    cfg: &KrimpConfig,
) -> KrimpModel {
    // 1. Merge identical rows; drop weightless and empty ones (they are never covered).
    let mut merged: HashMap<&[u32], f64> = HashMap::new();
    for (r, &w) in rows.iter().zip(weights) {
        if w > 0.0 && !r.is_empty() {
            *merged.entry(r.as_slice()).or_insert(0.0) += w;
        }
    }
    let mut distinct: Vec<(&[u32], f64)> = merged.into_iter().collect();
    distinct.sort_by(|a, b| a.0.cmp(b.0));

    // 2. Supports and the internal numbering.
    let mut col_support = vec![0.0f64; width];
    for (r, w) in &distinct {
        for &c in r.iter() {
            col_support[c as usize] += w;
        }
    }
    let mut alphabet: Vec<u32> = (0..width as u32)
        .filter(|&c| col_support[c as usize] > 0.0)
        .collect();
    alphabet.sort_by(|&a, &b| {
        col_support[b as usize]
            .total_cmp(&col_support[a as usize])
            .then(b.cmp(&a))
    });
    let mut internal = vec![u32::MAX; width];
    for (i, &c) in alphabet.iter().enumerate() {
        internal[c as usize] = i as u32;
    }
    let m = alphabet.len();
    let db: Vec<Vec<u32>> = distinct
        .iter()
        .map(|(r, _)| {
            let mut v: Vec<u32> = r.iter().map(|&c| internal[c as usize]).collect();
            v.sort_unstable();
            v
        })
        .collect();
    let w: Vec<f64> = distinct.iter().map(|d| d.1).collect();
    let supp: Vec<f64> = alphabet.iter().map(|&c| col_support[c as usize]).collect();

    // 3. Candidates.
    let (mut cands, effective, truncated) = mine_with_budget(&db, &w, m, cfg);
    cands.sort_by(|a, b| {
        b.support
            .total_cmp(&a.support)
            .then(b.items.len().cmp(&a.items.len()))
            .then(a.items.cmp(&b.items))
    });

    // 4. Compress.
    let mut state = State::new(&db, &w, &supp);
    let mut accepted = 0;
    let mut pruned = 0;
    let n_cands = cands.len();
    for c in cands {
        let before = state.usage.clone();
        let (id, old) = state.add(c.items, c.support, c.rows);
        let size = state.total_size();
        if size < state.size {
            state.size = size;
            accepted += 1;
            pruned += state.prune(&before);
        } else {
            state.reject_last(id, old);
        }
    }

    let mut singleton_usage = vec![0.0f64; width];
    for (i, &c) in alphabet.iter().enumerate() {
        singleton_usage[c as usize] = state.usage[i];
    }
    let sets = state
        .order
        .iter()
        .filter(|&&e| state.usage[e] > 0.0)
        .map(|&e| {
            let mut items: Vec<u32> = state.elems[e]
                .items
                .iter()
                .map(|&i| alphabet[i as usize])
                .collect();
            items.sort_unstable();
            CodeTableEntry {
                items,
                usage: state.usage[e],
                support: state.elems[e].support,
            }
        })
        .collect();
    KrimpModel {
        sets,
        singleton_usage,
        singleton_support: col_support,
        report: MiningReport {
            min_support: cfg.min_support,
            effective_min_support: effective,
            candidates: n_cands,
            accepted,
            pruned,
            truncated,
            distinct_rows: db.len(),
        },
    }
}

/// Mine at the asked minimum support; double it while the budget is exceeded.
fn mine_with_budget(
    db: &[Vec<u32>],
    w: &[f64],
    m: usize,
    cfg: &KrimpConfig,
) -> (Vec<Candidate>, f64, bool) {
    let total: f64 = w.iter().sum();
    let mut minsup = cfg.min_support.max(f64::MIN_POSITIVE);
    let mut out_of_work = false;
    loop {
        let mined = mine_closed(db, w, m, minsup, cfg.max_candidates);
        if let Ok((c, floor)) = mined {
            let cut = floor.is_some() || out_of_work;
            let effective = match floor {
                // Every closed set above the floor is kept: the least supported kept one
                // is the support they were effectively mined at.
                Some(f) => c.iter().map(|c| c.support).reduce(f64::min).unwrap_or(f),
                None => minsup,
            };
            return (c, effective, cut);
        }
        out_of_work = true;
        if minsup > total {
            return (Vec::new(), minsup, true);
        }
        // Nothing at or below the floor reached so far can make the top `budget`.
        let floor = mined.err().flatten().unwrap_or(0.0);
        minsup = (minsup * 2.0).max(floor);
    }
}

/// The most supported closed itemsets (≥ 2 items, support ≥ `minsup`), at most `budget`
/// of them, with the rows that contain them, and the support floor they were cut above
/// (`None` when nothing was cut). Mining is top-k: once more than `budget` are found,
/// the floor rises to the `budget`-th support (ties at the floor all go) and prunes the
/// rest of the search. When the work budget is spent first: `Err` with the floor reached.
#[allow(clippy::type_complexity)]
fn mine_closed(
    db: &[Vec<u32>],
    w: &[f64],
    m: usize,
    minsup: f64,
    budget: usize,
) -> Result<(Vec<Candidate>, Option<f64>), Option<f64>> {
    // Columns that occur in exactly the same rows form one class: every closed set holds
    // all of a class or none of it, so mining over classes loses nothing and is fast on
    // wide rows (a netflow row's many unique ports are one class).
    let mut tids: Vec<Vec<u32>> = vec![Vec::new(); m];
    for (r, row) in db.iter().enumerate() {
        for &i in row {
            tids[i as usize].push(r as u32);
        }
    }
    let mut class_of_tids: HashMap<&[u32], u32> = HashMap::new();
    let mut members: Vec<Vec<u32>> = Vec::new();
    let mut class_of = vec![0u32; m];
    for i in 0..m {
        let k = *class_of_tids.entry(tids[i].as_slice()).or_insert_with(|| {
            members.push(Vec::new());
            (members.len() - 1) as u32
        });
        members[k as usize].push(i as u32);
        class_of[i] = k;
    }
    let nc = members.len();
    let crow: Vec<Vec<u32>> = db
        .iter()
        .map(|row| {
            let mut v: Vec<u32> = row.iter().map(|&i| class_of[i as usize]).collect();
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();
    let mut miner = Miner {
        crow: &crow,
        w,
        members: &members,
        minsup,
        budget,
        floor: None,
        work: MAX_WORK,
        out: Vec::new(),
        count: vec![0u32; nc],
        occ: vec![Vec::new(); nc],
    };
    let all: Vec<u32> = (0..db.len() as u32).collect();
    if all.iter().map(|&r| w[r as usize]).sum::<f64>() < minsup {
        return Ok((Vec::new(), None));
    }
    let done = miner
        .closure(&all)
        .and_then(|root| {
            miner.emit(&root, &all);
            miner.extend(&root, &all, None)
        })
        .is_some();
    if !done {
        return Err(miner.floor);
    }
    miner.compact();
    Ok((miner.out, miner.floor))
}

/// Row entries a mining attempt may visit before it gives up (about a second): bounds the
/// time on wide, dense rows where most extensions fail the prefix test and produce nothing.
const MAX_WORK: u64 = 100_000_000;

struct Miner<'a> {
    crow: &'a [Vec<u32>],
    w: &'a [f64],
    members: &'a [Vec<u32>],
    minsup: f64,
    budget: usize,
    /// Candidates must have support above this once the budget has been exceeded.
    floor: Option<f64>,
    /// Row entries this attempt may still visit.
    work: u64,
    out: Vec<Candidate>,
    count: Vec<u32>,
    occ: Vec<Vec<u32>>,
}

impl Miner<'_> {
    /// Charge `n` row entries against the work budget; `None` once it is spent.
    fn charge(&mut self, n: usize) -> Option<()> {
        self.work = self.work.checked_sub(n as u64)?;
        Some(())
    }

    /// Classes present in every row of `t` (ascending).
    fn closure(&mut self, t: &[u32]) -> Option<Vec<u32>> {
        let n: usize = t.iter().map(|&r| self.crow[r as usize].len()).sum();
        self.charge(2 * n)?;
        for &r in t {
            for &c in &self.crow[r as usize] {
                self.count[c as usize] += 1;
            }
        }
        let first = &self.crow[t[0] as usize];
        let q: Vec<u32> = first
            .iter()
            .copied()
            .filter(|&c| self.count[c as usize] == t.len() as u32)
            .collect();
        for &r in t {
            for &c in &self.crow[r as usize] {
                self.count[c as usize] = 0;
            }
        }
        Some(q)
    }

    fn emit(&mut self, p: &[u32], t: &[u32]) {
        let mut items: Vec<u32> = p
            .iter()
            .flat_map(|&c| self.members[c as usize].iter().copied())
            .collect();
        if items.len() < 2 {
            return;
        }
        items.sort_unstable();
        let support = t.iter().map(|&r| self.w[r as usize]).sum();
        self.out.push(Candidate {
            items,
            support,
            rows: t.to_vec(),
        });
        if self.out.len() >= 2 * self.budget.max(1) {
            self.compact();
        }
    }

    /// Keep the `budget` most supported candidates (fewer when ties straddle the cut) and
    /// raise the floor to the first support dropped.
    fn compact(&mut self) {
        if self.out.len() <= self.budget {
            return;
        }
        let mut s: Vec<f64> = self.out.iter().map(|c| c.support).collect();
        s.sort_by(|a, b| b.total_cmp(a));
        let cut = s[self.budget];
        self.floor = Some(self.floor.map_or(cut, |f| f.max(cut)));
        self.out.retain(|c| c.support > cut);
    }

    fn frequent(&self, support: f64) -> bool {
        support >= self.minsup && self.floor.is_none_or(|f| support > f)
    }

    /// Prefix-preserving closure extensions of the closed set `p` (rows `t`) by classes
    /// after `core`.
    fn extend(&mut self, p: &[u32], t: &[u32], core: Option<u32>) -> Option<()> {
        let mut exts: Vec<u32> = Vec::new();
        let n: usize = t.iter().map(|&r| self.crow[r as usize].len()).sum();
        self.charge(n)?;
        for &r in t {
            for &c in &self.crow[r as usize] {
                if core.is_some_and(|k| c <= k) || p.binary_search(&c).is_ok() {
                    continue;
                }
                if self.occ[c as usize].is_empty() {
                    exts.push(c);
                }
                self.occ[c as usize].push(r);
            }
        }
        exts.sort_unstable();
        let lists: Vec<(u32, Vec<u32>)> = exts
            .into_iter()
            .map(|c| (c, std::mem::take(&mut self.occ[c as usize])))
            .collect();
        for (c, t2) in lists {
            let s: f64 = t2.iter().map(|&r| self.w[r as usize]).sum();
            if !self.frequent(s) {
                continue;
            }
            let q = self.closure(&t2)?;
            // Prefix preserved: no class before `c` joins the set.
            let before_q = q.iter().take_while(|&&x| x < c);
            let before_p = p.iter().take_while(|&&x| x < c);
            if !before_q.eq(before_p) {
                continue;
            }
            self.emit(&q, &t2);
            self.extend(&q, &t2, Some(c))?;
        }
        Some(())
    }
}

struct Elem {
    /// Internal item ids, ascending.
    items: Vec<u32>,
    support: f64,
    /// Rows containing the set.
    rows: Vec<u32>,
    /// Σ of the items' standard code lengths: L(X | ST).
    st_len: f64,
}

struct State<'a> {
    db: &'a [Vec<u32>],
    w: &'a [f64],
    /// Singletons are elements 0..m; non-singletons follow.
    elems: Vec<Elem>,
    /// Non-singleton elements in cover order.
    order: Vec<usize>,
    usage: Vec<f64>,
    cover: Vec<Vec<usize>>,
    in_ct: Vec<bool>,
    size: f64,
    mark: Vec<bool>,
}

impl<'a> State<'a> {
    fn new(db: &'a [Vec<u32>], w: &'a [f64], supp: &[f64]) -> Self {
        let m = supp.len();
        let total: f64 = supp.iter().sum();
        let st: Vec<f64> = supp.iter().map(|&s| -(s / total).log2()).collect();
        let elems: Vec<Elem> = (0..m)
            .map(|i| Elem {
                items: vec![i as u32],
                support: supp[i],
                rows: Vec::new(),
                st_len: st[i],
            })
            .collect();
        let cover: Vec<Vec<usize>> = db
            .iter()
            .map(|r| r.iter().map(|&i| i as usize).collect())
            .collect();
        let mut s = State {
            db,
            w,
            elems,
            order: Vec::new(),
            usage: supp.to_vec(),
            cover,
            in_ct: vec![true; m],
            size: 0.0,
            mark: vec![false; m],
        };
        s.size = s.total_size();
        s
    }

    /// L(CT | D) + L(D | CT), over elements in use.
    fn total_size(&self) -> f64 {
        let total: f64 = self
            .usage
            .iter()
            .zip(&self.in_ct)
            .filter(|(_, c)| **c)
            .map(|(u, _)| u)
            .sum();
        let mut size = 0.0;
        for (e, (&u, &c)) in self.usage.iter().zip(&self.in_ct).enumerate() {
            if c && u > 0.0 {
                let code = -(u / total).log2();
                size += u * code + code + self.elems[e].st_len;
            }
        }
        size
    }

    fn cover_order(&self, a: usize, b: usize) -> std::cmp::Ordering {
        let (x, y) = (&self.elems[a], &self.elems[b]);
        y.items
            .len()
            .cmp(&x.items.len())
            .then(y.support.total_cmp(&x.support))
            .then(x.items.cmp(&y.items))
    }

    fn cover_row(&mut self, r: usize) -> Vec<usize> {
        let row = &self.db[r];
        for &i in row {
            self.mark[i as usize] = true;
        }
        let mut left = row.len();
        let mut used = Vec::new();
        for &e in &self.order {
            let items = &self.elems[e].items;
            if items.len() > left {
                continue;
            }
            if items.iter().all(|&i| self.mark[i as usize]) {
                for &i in items {
                    self.mark[i as usize] = false;
                }
                left -= items.len();
                used.push(e);
                if left == 0 {
                    break;
                }
            }
        }
        for &i in row {
            if self.mark[i as usize] {
                self.mark[i as usize] = false;
                used.push(i as usize);
            }
        }
        used
    }

    /// Cover `rows` again, updating usage; returns the old covers.
    fn recover(&mut self, rows: &[u32]) -> Vec<(u32, Vec<usize>)> {
        let mut old = Vec::with_capacity(rows.len());
        for &r in rows {
            let new = self.cover_row(r as usize);
            let wr = self.w[r as usize];
            for &e in &self.cover[r as usize] {
                self.usage[e] -= wr;
            }
            for &e in &new {
                self.usage[e] += wr;
            }
            old.push((r, std::mem::replace(&mut self.cover[r as usize], new)));
        }
        old
    }

    fn restore(&mut self, old: Vec<(u32, Vec<usize>)>) {
        for (r, cov) in old {
            let wr = self.w[r as usize];
            for &e in &self.cover[r as usize] {
                self.usage[e] -= wr;
            }
            for &e in &cov {
                self.usage[e] += wr;
            }
            self.cover[r as usize] = cov;
        }
    }

    fn add(
        &mut self,
        items: Vec<u32>,
        support: f64,
        rows: Vec<u32>,
    ) -> (usize, Vec<(u32, Vec<usize>)>) {
        let st_len = items.iter().map(|&i| self.elems[i as usize].st_len).sum();
        let id = self.elems.len();
        self.elems.push(Elem {
            items,
            support,
            rows,
            st_len,
        });
        self.usage.push(0.0);
        self.in_ct.push(true);
        let pos = self
            .order
            .partition_point(|&e| self.cover_order(e, id).is_lt());
        self.order.insert(pos, id);
        let rows = std::mem::take(&mut self.elems[id].rows);
        let old = self.recover(&rows);
        self.elems[id].rows = rows;
        (id, old)
    }

    /// Take back the element `add` just appended.
    fn reject_last(&mut self, id: usize, old: Vec<(u32, Vec<usize>)>) {
        self.restore(old);
        let pos = self.order.iter().position(|&e| e == id).expect("in order");
        self.order.remove(pos);
        self.elems.pop();
        self.usage.pop();
        self.in_ct.pop();
    }

    /// Post-acceptance pruning: elements whose usage fell below `before` leave the table,
    /// lowest usage first, while that shrinks the total size; each removal that stays
    /// adds the elements whose usage it lowered. Elements nobody uses are dropped after
    /// each removal that stays and at the end, not before: as in the reference, while
    /// they are in the table a row can fall back on them when another element leaves.
    /// Returns how many elements left.
    fn prune(&mut self, before: &[f64]) -> usize {
        let mut set: Vec<usize> = self
            .order
            .iter()
            .copied()
            .filter(|&e| e < before.len() && self.usage[e] < before[e])
            .collect();
        let mut removed = 0;
        while !set.is_empty() {
            let k = (0..set.len())
                .min_by(|&a, &b| self.usage[set[a]].total_cmp(&self.usage[set[b]]))
                .expect("non-empty");
            let y = set.remove(k);
            if !self.in_ct[y] {
                continue;
            }
            let snapshot = self.usage.clone();
            let pos = self.order.iter().position(|&e| e == y).expect("in order");
            self.order.remove(pos);
            self.in_ct[y] = false;
            let rows: Vec<u32> = self.elems[y]
                .rows
                .iter()
                .copied()
                .filter(|&r| self.cover[r as usize].contains(&y))
                .collect();
            let old = self.recover(&rows);
            let size = self.total_size();
            if size < self.size {
                self.size = size;
                removed += 1 + self.drop_unused();
                for &e in &self.order {
                    if self.usage[e] < snapshot[e] && !set.contains(&e) {
                        set.push(e);
                    }
                }
            } else {
                self.restore(old);
                self.order.insert(pos, y);
                self.in_ct[y] = true;
            }
        }
        removed + self.drop_unused()
    }

    /// Drop non-singleton elements of zero usage (no cover changes, so no size change).
    fn drop_unused(&mut self) -> usize {
        let before = self.order.len();
        let (usage, in_ct) = (&self.usage, &mut self.in_ct);
        self.order.retain(|&e| {
            let keep = usage[e] > 0.0;
            if !keep {
                in_ct[e] = false;
            }
            keep
        });
        before - self.order.len()
    }
}
