//! Statistics that may leave a node: two-way tables of counts with their margins, and the
//! disclosure control applied to them (issue 7; brief, data-protection rule 5). Pure code.
//!
//! ## Suppression
//!
//! - **Primary**: every cell and margin with `0 < n < threshold` (5) is suppressed. Zeros are
//!   shown: a zero identifies nobody, and suppressing the many zeros of sparse tables (posts ×
//!   nationalities) would hide most of what is useful.
//! - **Complementary**: a suppressed cell must not be recoverable from what is published (the
//!   other cells, the row and column totals, the grand total, and the fact that counts are not
//!   negative). Write the table with its margins as an `(R+1) × (C+1)` grid and negate the
//!   margins (the grand total keeps its sign): every row and column of that grid sums to zero.
//!   Suppressed cells are the edges of a bipartite graph between the grid's rows and columns.
//!   A suppressed cell on a cycle of suppressed cells can be moved by ±1, with the cells of the
//!   cycle moving alternately by ∓1 and ±1, and every row and column still sums to zero; if
//!   every cell of the cycle is at least 1, both directions keep every count non-negative, so
//!   the published table fits at least three values of that cell. A suppressed cell on no
//!   cycle (a bridge of the graph) is fixed by the equations. So: while some suppressed cell is
//!   a bridge, the cheapest path of non-zero cells that closes a cycle through it is
//!   suppressed too (cost: the count, margins far dearer than inner cells, the grand total
//!   dearest). Zeros are never used (they cannot go down).
//!
//! Each table is protected on its own; tables are built so that none is a finer cut of another
//! published one (the caller's job: the same margins published twice are the same numbers).

// Grid code reads best with indices into several arrays at once.
#![allow(clippy::needless_range_loop)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use serde::{Deserialize, Serialize};

pub mod chart;

/// Cells below this (and above zero) are suppressed.
pub const THRESHOLD: u64 = 5;

/// A two-way table of counts: `cells[r][c]` for row key `rows[r]` and column key `cols[c]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub cells: Vec<Vec<u64>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("row {row} has {got} cells, not {want}")]
    Ragged { row: usize, got: usize, want: usize },
    #[error("the table has {rows} row keys for {cells} rows of cells")]
    RowKeys { rows: usize, cells: usize },
}

impl Table {
    /// A table of zeros with these keys.
    pub fn zeros(rows: Vec<String>, cols: Vec<String>) -> Table {
        let cells = vec![vec![0; cols.len()]; rows.len()];
        Table { rows, cols, cells }
    }

    pub fn check(&self) -> Result<(), TableError> {
        if self.rows.len() != self.cells.len() {
            return Err(TableError::RowKeys { rows: self.rows.len(), cells: self.cells.len() });
        }
        for (row, r) in self.cells.iter().enumerate() {
            if r.len() != self.cols.len() {
                return Err(TableError::Ragged { row, got: r.len(), want: self.cols.len() });
            }
        }
        Ok(())
    }

    pub fn row_total(&self, r: usize) -> u64 {
        self.cells[r].iter().sum()
    }

    pub fn col_total(&self, c: usize) -> u64 {
        self.cells.iter().map(|r| r[c]).sum()
    }

    pub fn total(&self) -> u64 {
        self.cells.iter().flatten().sum()
    }

    /// The table with its margins: `(R+1) × (C+1)`, the last row and column the totals.
    pub fn with_margins(&self) -> Vec<Vec<u64>> {
        let (nr, nc) = (self.rows.len(), self.cols.len());
        let mut g = vec![vec![0; nc + 1]; nr + 1];
        for r in 0..nr {
            for c in 0..nc {
                g[r][c] = self.cells[r][c];
            }
            g[r][nc] = self.row_total(r);
        }
        for c in 0..nc {
            g[nr][c] = self.col_total(c);
        }
        g[nr][nc] = self.total();
        g
    }
}

/// Why a cell is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    Shown,
    /// A small count.
    Primary,
    /// Hidden so that a small count cannot be worked out from the others.
    Complementary,
}

/// A table with its margins and the mark of every cell: `marks` is `(R+1) × (C+1)` like
/// [`Table::with_margins`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protected {
    pub table: Table,
    pub marks: Vec<Vec<Mark>>,
}

/// A published cell: the count, or `None` when suppressed.
pub type Cell = Option<u64>;

/// What leaves the node: the keys, and every cell and margin shown or suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub cells: Vec<Vec<Cell>>,
    pub row_totals: Vec<Cell>,
    pub col_totals: Vec<Cell>,
    pub total: Cell,
}

impl Protected {
    pub fn suppressed(&self) -> usize {
        self.marks.iter().flatten().filter(|m| **m != Mark::Shown).count()
    }

    /// The table as it may leave the node.
    pub fn publish(&self) -> Published {
        let g = self.table.with_margins();
        let (nr, nc) = (self.table.rows.len(), self.table.cols.len());
        let cell = |r: usize, c: usize| (self.marks[r][c] == Mark::Shown).then_some(g[r][c]);
        Published {
            rows: self.table.rows.clone(),
            cols: self.table.cols.clone(),
            cells: (0..nr).map(|r| (0..nc).map(|c| cell(r, c)).collect()).collect(),
            row_totals: (0..nr).map(|r| cell(r, nc)).collect(),
            col_totals: (0..nc).map(|c| cell(nr, c)).collect(),
            total: cell(nr, nc),
        }
    }
}

impl Published {
    /// Checks what a node submits: the shapes agree, and no shown cell (or margin) is a small
    /// count. Returns the first offending cell.
    pub fn check(&self, threshold: u64) -> Result<(), PublishedError> {
        let (nr, nc) = (self.rows.len(), self.cols.len());
        if self.cells.len() != nr || self.cells.iter().any(|r| r.len() != nc) {
            return Err(PublishedError::Shape);
        }
        if self.row_totals.len() != nr || self.col_totals.len() != nc {
            return Err(PublishedError::Shape);
        }
        let small = |v: &Cell| v.is_some_and(|n| n > 0 && n < threshold);
        for (r, row) in self.cells.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                if small(v) {
                    return Err(PublishedError::SmallCell {
                        row: self.rows[r].clone(),
                        col: self.cols[c].clone(),
                    });
                }
            }
        }
        for (r, v) in self.row_totals.iter().enumerate() {
            if small(v) {
                return Err(PublishedError::SmallCell { row: self.rows[r].clone(), col: "total".into() });
            }
        }
        for (c, v) in self.col_totals.iter().enumerate() {
            if small(v) {
                return Err(PublishedError::SmallCell { row: "total".into(), col: self.cols[c].clone() });
            }
        }
        if small(&self.total) {
            return Err(PublishedError::SmallCell { row: "total".into(), col: "total".into() });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishedError {
    #[error("the table's cells and margins do not match its keys")]
    Shape,
    #[error("the cell ({row}, {col}) shows a count under the threshold: it must be suppressed")]
    SmallCell { row: String, col: String },
}

/// Suppresses small counts and what would reveal them (see the module docs).
pub fn protect(table: &Table, threshold: u64) -> Protected {
    let g = table.with_margins();
    let (nr, nc) = (g.len(), g[0].len());
    let mut marks = vec![vec![Mark::Shown; nc]; nr];
    for r in 0..nr {
        for c in 0..nc {
            if g[r][c] > 0 && g[r][c] < threshold {
                marks[r][c] = Mark::Primary;
            }
        }
    }
    // Close a cycle through every bridge; a cell added never opens a bridge elsewhere, and a
    // table whose bridges cannot all be closed is withheld whole.
    while let Some((r, c)) = first_bridge(&marks) {
        match cheapest_cycle_path(&g, &marks, r, c) {
            Some(path) => {
                for (pr, pc) in path {
                    if marks[pr][pc] == Mark::Shown {
                        marks[pr][pc] = Mark::Complementary;
                    }
                }
            }
            None => {
                for (pr, row) in g.iter().enumerate() {
                    for (pc, v) in row.iter().enumerate() {
                        if *v > 0 && marks[pr][pc] == Mark::Shown {
                            marks[pr][pc] = Mark::Complementary;
                        }
                    }
                }
                if first_bridge(&marks).is_some() {
                    // Nothing left to hide with: every non-zero cell is hidden already.
                    break;
                }
            }
        }
    }
    Protected { table: table.clone(), marks }
}

/// The graph's nodes: rows `0..nr`, then columns `nr..nr+nc`.
fn suppressed_edges(marks: &[Vec<Mark>]) -> Vec<(usize, usize)> {
    let mut e = Vec::new();
    for (r, row) in marks.iter().enumerate() {
        for (c, m) in row.iter().enumerate() {
            if *m != Mark::Shown {
                e.push((r, c));
            }
        }
    }
    e
}

/// A suppressed cell that lies on no cycle of suppressed cells, if any.
fn first_bridge(marks: &[Vec<Mark>]) -> Option<(usize, usize)> {
    let nr = marks.len();
    let nc = marks[0].len();
    let edges = suppressed_edges(marks);
    let mut adj = vec![Vec::new(); nr + nc];
    for (i, (r, c)) in edges.iter().enumerate() {
        adj[*r].push((nr + c, i));
        adj[nr + c].push((*r, i));
    }
    edges.iter().enumerate().find_map(|(skip, (r, c))| {
        // Is column c reachable from row r without this edge?
        let mut seen = vec![false; nr + nc];
        let mut q = VecDeque::from([*r]);
        seen[*r] = true;
        while let Some(n) = q.pop_front() {
            for (m, i) in &adj[n] {
                if *i != skip && !seen[*m] {
                    seen[*m] = true;
                    q.push_back(*m);
                }
            }
        }
        (!seen[nr + c]).then_some((*r, *c))
    })
}

/// The cheapest path of non-zero cells from column `c` back to row `r` that does not use the
/// cell `(r, c)`; already suppressed cells cost nothing.
fn cheapest_cycle_path(
    g: &[Vec<u64>],
    marks: &[Vec<Mark>],
    r: usize,
    c: usize,
) -> Option<Vec<(usize, usize)>> {
    let nr = g.len();
    let nc = g[0].len();
    let cost = |pr: usize, pc: usize| -> u64 {
        if marks[pr][pc] != Mark::Shown {
            return 0;
        }
        let v = g[pr][pc];
        match (pr == nr - 1, pc == nc - 1) {
            (true, true) => v + 1_000_000_000,
            (true, false) | (false, true) => v + 1_000_000,
            (false, false) => v,
        }
    };
    let n = nr + nc;
    let mut dist = vec![u64::MAX; n];
    let mut prev: Vec<Option<(usize, (usize, usize))>> = vec![None; n];
    let start = nr + c;
    dist[start] = 0;
    let mut heap = BinaryHeap::from([Reverse((0u64, start))]);
    while let Some(Reverse((d, node))) = heap.pop() {
        if d > dist[node] {
            continue;
        }
        if node == r {
            break;
        }
        // Neighbours: a row node's cells, or a column node's cells.
        let cells: Vec<(usize, usize, usize)> = if node < nr {
            (0..nc).map(|pc| (node, pc, nr + pc)).collect()
        } else {
            let pc = node - nr;
            (0..nr).map(|pr| (pr, pc, pr)).collect()
        };
        for (pr, pc, next) in cells {
            if (pr, pc) == (r, c) || g[pr][pc] == 0 {
                continue;
            }
            let nd = d.saturating_add(cost(pr, pc));
            if nd < dist[next] {
                dist[next] = nd;
                prev[next] = Some((node, (pr, pc)));
                heap.push(Reverse((nd, next)));
            }
        }
    }
    if dist[r] == u64::MAX {
        return None;
    }
    let mut path = Vec::new();
    let mut at = r;
    while let Some((from, cell)) = prev[at] {
        path.push(cell);
        at = from;
    }
    Some(path)
}

#[cfg(test)]
mod tests;
