//! One phase against its maps: instructions by region and file, JIT calls by kind, stubs.

use super::*;
use crate::jitcode::classify::{blr_kind_after, BR_X16, LDR_X16_PC8};
use crate::oracle::check::{decode_word, named_address, pc_relative, PcRel};
use crate::Named;
use std::collections::BTreeSet;

impl Maps {
    /// The mapping holding `addr`.
    pub fn find(&self, addr: u64) -> Option<&Mapping> {
        let i = self.mappings.partition_point(|m| m.start <= addr);
        self.mappings[..i].last().filter(|m| addr < m.end)
    }

    /// Whether `addr` lies in JIT code (an anonymous executable mapping).
    pub fn is_jit(&self, addr: u64) -> bool {
        self.find(addr).is_some_and(is_jit_mapping)
    }
}

fn is_jit_mapping(m: &Mapping) -> bool {
    m.exec() && m.path.is_empty()
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The region of a mapping (one of [`REGIONS`]).
pub fn region(m: &Mapping) -> &'static str {
    let file = base_name(&m.path);
    if is_jit_mapping(m) {
        "jit"
    } else if file == "python3.14" {
        "python3.14"
    } else if file.starts_with("_cinderx") && file.contains(".so") {
        "_cinderx.so"
    } else if file.starts_with("libc.so") || file.starts_with("libc-") {
        "libc"
    } else {
        "other"
    }
}

/// `by_file` name of a mapping.
fn file_name(m: &Mapping) -> String {
    if m.path.is_empty() {
        ANONYMOUS.to_string()
    } else {
        base_name(&m.path).to_string()
    }
}

/// Target of a `bl` at `pc` ([`pc_relative`]'s one decoder).
fn bl_target(word: u32, pc: u64) -> Option<u64> {
    match pc_relative(word)? {
        PcRel::Branch { link: true, .. } => named_address(word, pc),
        _ => None,
    }
}

/// The word before each instruction of interest. The plugin records it from the instruction's
/// own block, and qemu ends blocks at page boundaries (and after 512 instructions), so the first
/// instruction of a block (`prev` is `None`) may still follow a pair partner executed at the end
/// of the block before: `ldr x16, <literal>` in a page's last word and `blr x16` in the next
/// page's first. For such an instruction the word is taken from the executed instruction of
/// interest recorded at the address before it in the same phase, when an executed block of the
/// phase ends right where the instruction starts (control can have run on into it) and exactly
/// one word was recorded there (another recorded word at that address, code rewritten in the
/// phase, leaves it unknown).
struct Prevs {
    recorded: HashMap<u64, Option<u32>>,
    block_ends: BTreeSet<u64>,
}

impl Prevs {
    fn new(insns: &[Insn], blocks: &[Block]) -> Self {
        let mut recorded: HashMap<u64, Option<u32>> = HashMap::new();
        for i in insns {
            recorded
                .entry(i.vaddr)
                .and_modify(|w| {
                    if *w != Some(i.word) {
                        *w = None
                    }
                })
                .or_insert(Some(i.word));
        }
        let block_ends = blocks
            .iter()
            .map(|b| b.vaddr.wrapping_add(4 * b.insns))
            .collect();
        Prevs {
            recorded,
            block_ends,
        }
    }

    /// The word before `i`: from its block, else recovered as above.
    fn of(&self, i: &Insn) -> Option<u32> {
        i.prev.or_else(|| {
            if !self.block_ends.contains(&i.vaddr) {
                return None;
            }
            let before = i.vaddr.checked_sub(4)?;
            self.recorded.get(&before).copied().flatten()
        })
    }
}

/// Kind of a `blr` given the word before it.
fn blr_kind(word: u32, prev: Option<u32>, pc: u64) -> CallKind {
    let reg = decode_word(word, pc).and_then(|t| t.strip_prefix("blr ").map(str::to_string));
    match (reg, prev) {
        (Some(reg), Some(p)) => decode_word(p, pc.wrapping_sub(4))
            .and_then(|t| blr_kind_after(&t, reg.trim()))
            .unwrap_or(CallKind::OtherBlr),
        _ => CallKind::OtherBlr,
    }
}

/// Addresses of stubs in JIT code: an executed `ldr x16, [pc+8]` whose next word is an executed
/// `br x16` ([`Prevs`]: in the same block or the next).
fn stub_addresses(insns: &[Insn], prevs: &Prevs, maps: &Maps) -> BTreeSet<u64> {
    let brs: BTreeSet<u64> = insns
        .iter()
        .filter(|i| i.word == BR_X16 && prevs.of(i) == Some(LDR_X16_PC8))
        .map(|i| i.vaddr)
        .collect();
    insns
        .iter()
        .filter(|i| i.word == LDR_X16_PC8 && maps.is_jit(i.vaddr))
        .filter(|i| brs.contains(&(i.vaddr.wrapping_add(4))))
        .map(|i| i.vaddr)
        .collect()
}

/// The call kind of an instruction in JIT code, or `None` when it is not a call.
fn call_kind(i: &Insn, prevs: &Prevs, stubs: &BTreeSet<u64>, maps: &Maps) -> Option<CallKind> {
    if i.word & BL_MASK == BL_BITS {
        let target = bl_target(i.word, i.vaddr)?;
        Some(if stubs.contains(&target) {
            CallKind::BlStub
        } else if maps.is_jit(target) {
            CallKind::BlLocal
        } else {
            CallKind::DirectBl
        })
    } else if i.word & BLR_MASK == BLR_BITS {
        Some(blr_kind(i.word, prevs.of(i), i.vaddr))
    } else {
        None
    }
}

/// Analyse one phase against the maps the guest wrote at its end.
pub fn analyze(phase: &Phase, maps: &Maps) -> PhaseReport {
    let mut by_region: BTreeMap<&'static str, u64> = REGIONS.iter().map(|&r| (r, 0)).collect();
    let mut by_file: BTreeMap<String, u64> = BTreeMap::new();
    for b in &phase.blocks {
        // parse_counts checked that the sum of insns * execs fits in 64 bits.
        let n = b.insns * b.execs;
        let (region, file) = match maps.find(b.vaddr) {
            Some(m) => (region(m), file_name(m)),
            None => ("other", UNMAPPED.to_string()),
        };
        *by_region.entry(region).or_insert(0) += n;
        *by_file.entry(file).or_insert(0) += n;
    }
    let prevs = Prevs::new(&phase.insns, &phase.blocks);
    let stubs = stub_addresses(&phase.insns, &prevs, maps);
    let mut calls: BTreeMap<&'static str, KindCount> = CallKind::COUNTED
        .iter()
        .map(|k| (k.name(), KindCount::default()))
        .collect();
    let mut sites: HashMap<&'static str, BTreeSet<u64>> = HashMap::new();
    let (mut stub_execs, mut stub_insns) = (0, 0);
    for i in phase.insns.iter().filter(|i| maps.is_jit(i.vaddr)) {
        if stubs.contains(&i.vaddr) {
            stub_execs += i.execs;
            stub_insns += i.execs;
        } else if i.word == BR_X16 && stubs.contains(&i.vaddr.wrapping_sub(4)) {
            stub_insns += i.execs;
        } else if let Some(kind) = call_kind(i, &prevs, &stubs, maps) {
            let c = calls.entry(kind.name()).or_default();
            c.execs += i.execs;
            if sites.entry(kind.name()).or_default().insert(i.vaddr) {
                c.sites += 1;
            }
        }
    }
    PhaseReport {
        number: phase.number,
        name: maps.name.clone(),
        total: phase.total,
        by_region,
        by_file,
        calls,
        stub_execs,
        stub_insns,
    }
}
