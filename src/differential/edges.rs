//! Which range edges emitted code met: call sites whose helper is exactly at the reach of `bl`
//! or `adrp` from the site, one step inside or just outside; backward label uses inside the
//! function (`ldr` literal, loop back edges' `tbz`) whose target is exactly at their reach or one
//! word inside it; and call sequences that straddle a 4 KiB page. The generator aims helpers at these
//! edges (`model::gen`), but only emission fixes where a site lands, so `a64call check` counts
//! the edges met and prints them: the evidence that the runs exercised each one.

use crate::asm::buffer::{LabelUse, Slot};
use crate::asm::encode::ADRP_PAGES;
use crate::emit::strategy::StrategyId;
use crate::emit::Emitted;

/// How many call sites met each edge, summed over the strategies that judge that reach (`direct`,
/// `stub+bl` and `pool+bl` for `bl`; `adrp`, and `direct` beyond `bl`, for `adrp`), and how many
/// call sequences crossed a 4 KiB page boundary, summed over every strategy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EdgeCounts {
    /// Sites per edge, by index (as `line` names them): `bl` then `adrp`, forward then backward, one
    /// step inside, on, one step beyond.
    pub sites: [u64; 12],
    /// Backward label uses per edge, by index (as `line` names them): `ldr` literal one word
    /// inside its reach and on it, then `tbz` the same. Only these can be met by emitted code:
    /// one word beyond cannot be encoded (a backward branch there is inverted over a `b`, which
    /// the slots do not tell from any other), the lowering makes no backward `b.cond`/`cbz`,
    /// and no forward use reaches its edge, because islands go at the last reservation the worst
    /// case allows and `pool+bl` keeps its code and pool under 1 MiB. The buffer's tests put a
    /// use on each of those edges and one beyond (`asm::buffer` tests).
    pub label_uses: [u64; 4],
    /// Call sequences whose first and last instruction lie in different 4 KiB pages.
    pub straddles: u64,
}

impl EdgeCounts {
    /// Add `other`'s counts to these.
    pub fn merge(&mut self, other: &EdgeCounts) {
        for (a, b) in self.sites.iter_mut().zip(other.sites) {
            *a += b;
        }
        for (a, b) in self.label_uses.iter_mut().zip(other.label_uses) {
            *a += b;
        }
        self.straddles += other.straddles;
    }

    /// Count the sites of one emitted function.
    pub fn add(&mut self, e: &Emitted, targets: &[u64]) {
        for site in &e.sites {
            let at = e.code.base + u64::from(site.start);
            let last = e.code.base + u64::from(site.ret) - 4;
            self.straddles += u64::from(at >> 12 != last >> 12);
            let target = targets[site.helper as usize];
            if let Some(i) = edge_index(e.strategy, at, target) {
                self.sites[i] += 1;
            }
        }
        for slot in &e.code.slots {
            if let Slot::Inst(inst) = slot {
                if let Some(i) = LabelUse::of(inst).and_then(label_use_edge) {
                    self.label_uses[i] += 1;
                }
            }
        }
    }

    /// One line: every edge with its count.
    pub fn line(&self) -> String {
        let edges: Vec<String> = (0..self.sites.len())
            .map(|i| format!("{}: {}", edge_name(i), self.sites[i]))
            .collect();
        let uses: Vec<String> = (0..self.label_uses.len())
            .map(|i| format!("{}: {}", label_use_edge_name(i), self.label_uses[i]))
            .collect();
        format!(
            "edges met (call sites, summed over the strategies that decide by that reach): {}; \
             backward label uses at their reach (summed over all strategies): {}; \
             page-straddling call sequences (summed over all strategies): {}",
            edges.join(", "),
            uses.join(", "),
            self.straddles
        )
    }
}

/// The name of edge `i` (the index [`edge_index`] gives): which reach, which end, which side.
fn edge_name(i: usize) -> String {
    let end = [
        "bl +128MiB-4",
        "bl -128MiB",
        "adrp +(2^20-1) pages",
        "adrp -2^20 pages",
    ][i / 3];
    let side = ["one step inside", "on", "one step beyond"][i % 3];
    format!("{end} {side}")
}

/// The name of label-use edge `i` (the index [`label_use_edge`] gives).
fn label_use_edge_name(i: usize) -> String {
    let end = ["ldr -1MiB", "tbz -32KiB"][i / 2];
    let side = ["one word inside", "on"][i % 2];
    format!("{end} {side}")
}

/// Which backward label-use edge a use of `kind` at `offset` bytes from its target is on, if
/// any: `ldr` literal or `tbz`, its reach or one word inside it (see
/// [`EdgeCounts::label_uses`] for why no other edge is counted).
fn label_use_edge((kind, offset): (LabelUse, i32)) -> Option<usize> {
    let base = match kind {
        LabelUse::Ldr19 => 0,
        LabelUse::Test14 => 2,
        LabelUse::Branch19 | LabelUse::Branch26 => return None,
    };
    let outward = -kind.max_backward() - i64::from(offset);
    side(outward, 4).filter(|&s| s < 2).map(|s| base + s)
}

/// Which edge of a reach `strategy` judges a call from `at` to `target` by is it on, if any:
/// `stub+bl` and `pool+bl` decide by `bl`'s (`pool+bl` only after its near guess, which a
/// program with an anchor makes first: that edge is the generator's, see `tests/near_guess.rs`),
/// `adrp` by `adrp`'s, and `direct` by `bl`'s and then, beyond it, by `adrp`'s.
fn edge_index(strategy: StrategyId, at: u64, target: u64) -> Option<usize> {
    match strategy {
        StrategyId::StubOrBl | StrategyId::PoolOrBl => bl_edge(at, target),
        StrategyId::DirectBl => bl_edge(at, target).or_else(|| adrp_edge(at, target)),
        StrategyId::AdrpAdd => adrp_edge(at, target),
        _ => None,
    }
}

/// Edges 0..6: `bl`'s reach, in bytes.
fn bl_edge(at: u64, target: u64) -> Option<usize> {
    let b = LabelUse::Branch26;
    let d = target as i64 - at as i64;
    if d > 0 {
        side(d - b.max_forward(), 4)
    } else {
        side(-b.max_backward() - d, 4).map(|s| 3 + s)
    }
}

/// Edges 6..12: `adrp`'s reach, in 4 KiB pages.
fn adrp_edge(at: u64, target: u64) -> Option<usize> {
    let pages = (target as i64 >> 12) - (at as i64 >> 12);
    if pages > 0 {
        side(pages - (ADRP_PAGES - 1), 1).map(|s| 6 + s)
    } else {
        side(-ADRP_PAGES - pages, 1).map(|s| 9 + s)
    }
}

/// 0, 1 or 2 for one step inside, on, or one step beyond an edge, given how far `outward` of it
/// a target is, in steps of `unit`.
fn side(outward: i64, unit: i64) -> Option<usize> {
    match outward {
        d if d == -unit => Some(0),
        0 => Some(1),
        d if d == unit => Some(2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_side_of_each_edge_is_told_apart() {
        let at = 0x20_0000_1000u64;
        let bl = |d: i64| edge_index(StrategyId::DirectBl, at, (at as i64 + d) as u64);
        assert_eq!(bl((1 << 27) - 8), Some(0));
        assert_eq!(bl((1 << 27) - 4), Some(1));
        assert_eq!(bl(1 << 27), Some(2));
        assert_eq!(bl(-(1 << 27) + 4), Some(3));
        assert_eq!(bl(-(1 << 27)), Some(4));
        assert_eq!(bl(-(1 << 27) - 4), Some(5));
        assert_eq!(bl(1 << 20), None);
        let adrp = |p: i64| edge_index(StrategyId::AdrpAdd, at, (at as i64 + (p << 12)) as u64);
        assert_eq!(adrp((1 << 20) - 2), Some(6));
        assert_eq!(adrp((1 << 20) - 1), Some(7));
        assert_eq!(adrp(1 << 20), Some(8));
        assert_eq!(adrp(-(1 << 20) + 1), Some(9));
        assert_eq!(adrp(-(1 << 20)), Some(10));
        assert_eq!(adrp(-(1 << 20) - 1), Some(11));
        assert_eq!(
            edge_index(StrategyId::LiteralPool, at, at + (1 << 27)),
            None
        );
        // `direct` decides by adrp's reach beyond bl's.
        let far = (at as i64 + (((1 << 20) - 1) << 12)) as u64;
        assert_eq!(edge_index(StrategyId::DirectBl, at, far), Some(7));
        assert_eq!(edge_index(StrategyId::StubOrBl, at, far), None);
    }

    #[test]
    fn each_label_use_edge_is_told_apart() {
        let at = |kind, offset| label_use_edge((kind, offset));
        let mib = 1 << 20;
        assert_eq!(at(LabelUse::Ldr19, -mib + 4), Some(0));
        assert_eq!(at(LabelUse::Ldr19, -mib), Some(1));
        assert_eq!(at(LabelUse::Test14, -(1 << 15) + 4), Some(2));
        assert_eq!(at(LabelUse::Test14, -(1 << 15)), Some(3));
        assert_eq!(at(LabelUse::Ldr19, -mib + 8), None);
        assert_eq!(at(LabelUse::Ldr19, mib - 4), None);
        assert_eq!(at(LabelUse::Ldr19, 0), None);
        assert_eq!(at(LabelUse::Test14, (1 << 15) - 4), None);
        assert_eq!(at(LabelUse::Branch19, -mib), None);
        assert_eq!(at(LabelUse::Branch26, -(1 << 27)), None);
        assert_eq!(label_use_edge_name(3), "tbz -32KiB on");
    }
}
