//! Suppression against attackers that know everything published: the shown cells and margins,
//! that counts are whole and not negative. Three attacks, each independent of how `protect`
//! chose its cells: linear algebra (is a hidden cell a combination of the published
//! equations?), interval narrowing (bounds propagated through every row and column until
//! nothing moves), and, for small tables, trying every value.

use proptest::prelude::*;

use super::*;

/// The published table as equations over its hidden cells: for each row and column of the
/// grid with margins, `Σ coef · hidden = constant`.
struct Equations {
    /// (row, col) in the grid of each hidden cell.
    hidden: Vec<(usize, usize)>,
    /// Coefficients per hidden cell, and the constant.
    rows: Vec<(Vec<i64>, i64)>,
}

fn equations(p: &Published) -> Equations {
    let (nr, nc) = (p.rows.len(), p.cols.len());
    let grid = |r: usize, c: usize| -> Cell {
        match (r == nr, c == nc) {
            (false, false) => p.cells[r][c],
            (false, true) => p.row_totals[r],
            (true, false) => p.col_totals[c],
            (true, true) => p.total,
        }
    };
    let mut hidden = Vec::new();
    for r in 0..=nr {
        for c in 0..=nc {
            if grid(r, c).is_none() {
                hidden.push((r, c));
            }
        }
    }
    let index = |r: usize, c: usize| hidden.iter().position(|h| *h == (r, c));
    let mut rows = Vec::new();
    // Line `Σ inner − total = 0`, for each row and each column of the grid.
    let mut line = |cells: Vec<((usize, usize), i64)>| {
        let mut coef = vec![0; hidden.len()];
        let mut constant = 0i64;
        for ((r, c), sign) in cells {
            match index(r, c) {
                Some(i) => coef[i] += sign,
                None => constant -= sign * grid(r, c).unwrap() as i64,
            }
        }
        rows.push((coef, constant));
    };
    for r in 0..=nr {
        let mut cells: Vec<_> = (0..nc).map(|c| ((r, c), 1)).collect();
        cells.push(((r, nc), -1));
        line(cells);
    }
    for c in 0..=nc {
        let mut cells: Vec<_> = (0..nr).map(|r| ((r, c), 1)).collect();
        cells.push(((nr, c), -1));
        line(cells);
    }
    Equations { hidden, rows }
}

/// Rank of an integer matrix (fraction-free elimination over i128).
fn rank(mut m: Vec<Vec<i128>>) -> usize {
    let cols = m.first().map_or(0, |r| r.len());
    let mut rank = 0;
    for col in 0..cols {
        let Some(pivot) = (rank..m.len()).find(|&r| m[r][col] != 0) else { continue };
        m.swap(rank, pivot);
        for r in 0..m.len() {
            if r != rank && m[r][col] != 0 {
                let (a, b) = (m[rank][col], m[r][col]);
                for k in 0..cols {
                    m[r][k] = m[r][k] * a - m[rank][k] * b;
                }
                let g = m[r].iter().fold(0i128, |g, v| gcd(g, v.abs()));
                if g > 1 {
                    m[r].iter_mut().for_each(|v| *v /= g);
                }
            }
        }
        rank += 1;
    }
    rank
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Hidden cells the published equations determine exactly.
fn linearly_determined(e: &Equations) -> Vec<(usize, usize)> {
    let a: Vec<Vec<i128>> = e.rows.iter().map(|(c, _)| c.iter().map(|v| *v as i128).collect()).collect();
    let base = rank(a.clone());
    (0..e.hidden.len())
        .filter(|&j| {
            let mut with = a.clone();
            let mut unit = vec![0i128; e.hidden.len()];
            unit[j] = 1;
            with.push(unit);
            rank(with) == base
        })
        .map(|j| e.hidden[j])
        .collect()
}

/// Bounds of each hidden cell after propagating `0 ≤ x` through every equation.
fn intervals(e: &Equations) -> Vec<(i64, i64)> {
    let big: i128 = 1 << 40;
    let mut b = vec![(0i128, big); e.hidden.len()];
    for _ in 0..10_000 {
        let mut changed = false;
        for (coef, constant) in &e.rows {
            for j in 0..b.len() {
                if coef[j] == 0 {
                    continue;
                }
                // coef[j]·x_j = constant − Σ_{i≠j} coef[i]·x_i
                let (mut lo, mut hi) = (*constant as i128, *constant as i128);
                for (i, a) in coef.iter().enumerate() {
                    if i == j || *a == 0 {
                        continue;
                    }
                    let a = *a as i128;
                    let (l, h) = (a * b[i].0, a * b[i].1);
                    let (l, h) = if l <= h { (l, h) } else { (h, l) };
                    lo -= h;
                    hi -= l;
                }
                let a = coef[j] as i128;
                // x_j = rhs / a, a = ±1 or ±2 (a line may hold a cell twice only in theory).
                let (lo, hi) = if a > 0 {
                    (lo.div_euclid(a), hi.div_euclid(a))
                } else {
                    (hi.div_euclid(a), lo.div_euclid(a))
                };
                let nb = (b[j].0.max(lo), b[j].1.min(hi).min(big));
                if nb != b[j] {
                    b[j] = nb;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    b.into_iter().map(|(l, h)| (l as i64, h as i64)).collect()
}

/// Every value each hidden cell can take (small tables only): `None` when there are too many
/// combinations to try.
fn all_values(e: &Equations, bounds: &[(i64, i64)]) -> Option<Vec<std::collections::BTreeSet<i64>>> {
    let size: f64 = bounds.iter().map(|(l, h)| (h - l + 1) as f64).product();
    if size > 200_000.0 {
        return None;
    }
    let mut seen = vec![std::collections::BTreeSet::new(); bounds.len()];
    let mut x = vec![0i64; bounds.len()];
    fn go(
        k: usize,
        x: &mut Vec<i64>,
        bounds: &[(i64, i64)],
        e: &Equations,
        seen: &mut Vec<std::collections::BTreeSet<i64>>,
    ) {
        if k == x.len() {
            if e.rows.iter().all(|(c, k)| c.iter().zip(x.iter()).map(|(a, v)| a * v).sum::<i64>() == *k) {
                for (i, v) in x.iter().enumerate() {
                    seen[i].insert(*v);
                }
            }
            return;
        }
        for v in bounds[k].0..=bounds[k].1 {
            x[k] = v;
            go(k + 1, x, bounds, e, seen);
        }
    }
    go(0, &mut x, bounds, e, &mut seen);
    Some(seen)
}

fn table(cells: Vec<Vec<u64>>) -> Table {
    let rows = (0..cells.len()).map(|r| format!("r{r}")).collect();
    let cols = (0..cells.first().map_or(0, |r| r.len())).map(|c| format!("c{c}")).collect();
    Table { rows, cols, cells }
}

fn check_safe(t: &Table) {
    let p = protect(t, THRESHOLD);
    let published = p.publish();
    published.check(THRESHOLD).expect("no small count is shown");
    let e = equations(&published);
    let g = t.with_margins();
    let determined = linearly_determined(&e);
    assert!(
        determined.is_empty(),
        "cells {determined:?} follow from the published equations in {g:?}, marks {:?}",
        p.marks
    );
    let bounds = intervals(&e);
    for (i, (r, c)) in e.hidden.iter().enumerate() {
        let v = g[*r][*c] as i64;
        let (lo, hi) = bounds[i];
        assert!(lo <= v && v <= hi, "the true value lies within its bounds");
        assert!(lo < hi, "cell ({r}, {c}) = {v} narrowed to one value in {g:?}, marks {:?}", p.marks);
    }
    if let Some(values) = all_values(&e, &bounds) {
        for (i, (r, c)) in e.hidden.iter().enumerate() {
            assert!(values[i].len() >= 2, "cell ({r}, {c}) has one possible value: {:?} in {g:?}", values[i]);
        }
    }
}

#[test]
fn a_table_without_small_counts_is_shown_whole() {
    let t = table(vec![vec![10, 0, 7], vec![5, 12, 30]]);
    let p = protect(&t, THRESHOLD);
    assert_eq!(p.suppressed(), 0);
    let out = p.publish();
    assert_eq!(out.cells[0], vec![Some(10), Some(0), Some(7)]);
    assert_eq!(out.total, Some(64));
}

#[test]
fn a_small_count_takes_others_with_it() {
    // 3 alone in its row and column would be its total minus the rest.
    let t = table(vec![vec![3, 20, 11], vec![40, 25, 9], vec![16, 8, 30]]);
    let p = protect(&t, THRESHOLD);
    assert_eq!(p.marks[0][0], Mark::Primary);
    let hidden_in_row = p.marks[0].iter().filter(|m| **m != Mark::Shown).count();
    let hidden_in_col = p.marks.iter().filter(|r| r[0] != Mark::Shown).count();
    assert!(hidden_in_row >= 2 && hidden_in_col >= 2, "{:?}", p.marks);
    // The margins survive: the cheapest cells are inner ones.
    assert_eq!(p.publish().total, Some(162));
    assert!(p.publish().row_totals.iter().all(Option::is_some));
    check_safe(&t);
}

#[test]
fn a_small_total_is_suppressed_and_protected() {
    let t = table(vec![vec![1, 2, 0], vec![30, 12, 9]]);
    let p = protect(&t, THRESHOLD);
    assert_eq!(p.marks[0][3], Mark::Primary, "the row total 3 is a small count");
    check_safe(&t);
}

#[test]
fn submissions_with_a_small_count_are_refused() {
    let t = table(vec![vec![3, 20], vec![40, 25]]);
    let mut out = protect(&t, THRESHOLD).publish();
    out.cells[0][0] = Some(3);
    assert_eq!(out.check(THRESHOLD), Err(PublishedError::SmallCell { row: "r0".into(), col: "c0".into() }));
    out.row_totals.pop();
    assert_eq!(out.check(THRESHOLD), Err(PublishedError::Shape));
}

#[test]
fn the_attacks_find_what_primary_suppression_alone_leaves_open() {
    // The test's attackers are not blind: hiding only the small count is caught.
    let t = table(vec![vec![3, 20, 11], vec![40, 25, 9]]);
    let mut p = protect(&t, THRESHOLD);
    for row in p.marks.iter_mut() {
        for m in row.iter_mut() {
            if *m == Mark::Complementary {
                *m = Mark::Shown;
            }
        }
    }
    let e = equations(&p.publish());
    assert_eq!(linearly_determined(&e), vec![(0, 0)]);
    let b = intervals(&e);
    assert_eq!(b[0], (3, 3));
}

fn small_tables() -> impl Strategy<Value = Table> {
    (1usize..=3, 1usize..=3).prop_flat_map(|(r, c)| {
        proptest::collection::vec(proptest::collection::vec(prop_oneof![3 => 0u64..6, 1 => 0u64..30], c), r)
            .prop_map(table)
    })
}

fn tables() -> impl Strategy<Value = Table> {
    (1usize..=6, 1usize..=6).prop_flat_map(|(r, c)| {
        proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![2 => Just(0u64), 3 => 1u64..5, 3 => 5u64..60, 1 => 60u64..2000],
                c,
            ),
            r,
        )
        .prop_map(table)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn no_suppressed_cell_of_a_small_table_can_be_recovered(t in small_tables()) {
        check_safe(&t);
    }

    #[test]
    fn no_suppressed_cell_can_be_recovered(t in tables()) {
        check_safe(&t);
    }

    #[test]
    fn shown_cells_are_the_true_counts(t in tables()) {
        let p = protect(&t, THRESHOLD);
        let out = p.publish();
        for (r, row) in out.cells.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                if let Some(v) = v {
                    prop_assert_eq!(*v, t.cells[r][c]);
                }
            }
        }
        if let Some(total) = out.total {
            prop_assert_eq!(total, t.total());
        }
    }
}
