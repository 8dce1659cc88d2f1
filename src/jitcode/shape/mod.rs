//! The shape of a JIT-compiled function: its instruction stream with embedded constant values
//! taken out, so that two builds of a JIT can be compared instruction by instruction even where
//! the addresses they embed differ (`harness/cinderx/fidelity`).
//!
//! Why: compiled code embeds constants, most of them addresses of objects and functions in the
//! JIT's own shared library and heap. Two builds of the same JIT source (one with LTO+PGO, one
//! without) lay that library out differently, so the same constant has another value, and the
//! value decides the instructions that materialise it: how many `movz`/`movn`/`movk` (one per
//! non-trivial halfword), whether CinderX moves it to the function's constant pool (a 64-bit
//! value needing 3 or more instructions and used twice or more: `ldr xN, <literal>`), and
//! whether an address is reached with `adr` (+`nop`) or `adrp`+`add`. Code size and the pool's
//! word count then differ although the code generator did exactly the same thing.
//!
//! The shape of a function is one token per instruction reached from its entries
//! ([`crate::jitcode::verify::reach`]; data words, the pool, stub literals and padding, are dropped),
//! except:
//!
//! * **S1 (constants).** Materialising a constant into a register is one token `const R`: a
//!   maximal run of `mov R, #imm` / `movz` / `movn` / `orr R, zr, #imm` followed by `movk R`
//!   (same register, consecutive words, none of them a branch target); a literal load
//!   `ldr R, <literal>` from the function's own data; `adr R` to a place outside the function
//!   (with a following `nop`); `adrp R` (with a following `add R, R, #imm`; asmjit leaves it
//!   out when the low 12 bits are zero). The register (with its width, that of the first
//!   instruction) stays; the value does not. A load or store right after `adrp R` based on R
//!   keeps its text with the offset written `#lo12`; a lone `movk R` is `movk R`.
//! * **S2 (branches).** A pc-relative branch, call or `adr` whose target is inside the function
//!   names the target's token index `@k` (offsets shift when sizes differ, indices do not); a
//!   target outside the function is `far` (the distance depends on where code was placed).
//! * **S3 (everything else)** is capstone's text, mnemonic and operands, compared exactly.
//! * **S4 (folded constants).** `const R` followed by an `add`/`sub`/`cmp`/`cmn` (or `adds`,
//!   `subs`) whose last operand is `R`, and the same instruction with a 12-bit immediate shifted
//!   by 12, are one token `OP ..., #const` with the value: CinderX folds a constant into the
//!   instruction exactly when it fits that immediate, so a heap address that happens to be
//!   4 KiB-aligned and below 16 MiB is folded in one run and built in a register in another
//!   (the `fold` module gives the rule, its source and what stays literal).
//!
//! What is therefore not compared: constant values (including the values in the pool and stub
//! literals, and S4's folded immediates), the distance of far branches, and every word no path
//! from the entries reaches: data, but also code entered only through a stored address (a
//! generator's resume points, taken with `adrp`+`add`), which the walk cannot follow. Those words
//! are not told apart from the data CinderX places between code and stubs, so they are left
//! out, not guessed at. Each token keeps the value it stands for where known
//! ([`Token::value`], in the JSON as `values`): `harness/cinderx/fidelity_compare.py`
//! (`renaming_conflict`) checks, along two equal shapes, that the pairs (value in A, value in B)
//! form a consistent renaming (one value in A always stands for one value in B and back), so a
//! constant used in the wrong place is still caught when that constant appears elsewhere in the
//! function.

use crate::jitcode::parse_imm;
use crate::jitcode::verify::reach::{self, Flow};
use crate::oracle::check::decode_word;
use std::collections::BTreeMap;

/// One token of a shape, with the constant value it stands for when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The normalised instruction text (S1-S3).
    pub text: String,
    /// Byte offset of its first word in the function.
    pub offset: u32,
    /// For a `const` token from immediates or the pool: the value (`None` for addresses formed
    /// pc-relatively, which depend on where the code was placed).
    pub value: Option<u64>,
}

/// A function's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    /// `module:qualname`.
    pub name: String,
    /// Its tokens in address order.
    pub tokens: Vec<Token>,
}

/// The shapes of every function of a CinderX dump (`_cinderx.dump_elf`).
pub fn shapes(d: &[u8]) -> Result<Vec<Shape>, String> {
    Ok(crate::jitcode::verify::dump::parse(d)?
        .into_iter()
        .map(|f| Shape {
            tokens: shape(&f.bytes, &f.entries),
            name: f.name,
        })
        .collect())
}

/// The shapes as JSON: `[{"name": ..., "shape": [text...], "values": [value or null...]}]`.
pub fn shapes_json(d: &[u8]) -> Result<String, String> {
    let v: Vec<serde_json::Value> = shapes(d)?
        .into_iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "shape": s.tokens.iter().map(|t| t.text.clone()).collect::<Vec<_>>(),
                "values": s.tokens.iter().map(|t| t.value.map(|v| format!("{v:#x}"))).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string(&v).map_err(|e| e.to_string())
}

/// First operand (destination register) of capstone text `ops`.
fn first_op(ops: &str) -> &str {
    ops.split(',').next().unwrap_or("").trim()
}

fn split(t: &str) -> (&str, &str) {
    t.split_once(' ').unwrap_or((t, ""))
}

/// `mov R, #imm` (movz, movn, orr-immediate aliases) / `movz R, #imm[, lsl #s]` /
/// `movn R, #imm[, lsl #s]`: (R, value) when `t` starts a constant.
fn const_start(t: &str) -> Option<(String, u64)> {
    let (m, ops) = split(t);
    let parts: Vec<&str> = ops.split(", ").collect();
    let reg = parts.first()?.to_string();
    if !(reg.starts_with('x') || reg.starts_with('w')) || reg == "xzr" || reg == "wzr" {
        return None;
    }
    let imm = parse_imm(parts.get(1)?)?;
    let shift = match parts.get(2) {
        Some(s) => parse_imm(s.strip_prefix("lsl ")?)?,
        None => 0,
    };
    let v = match (m, parts.len()) {
        ("mov", 2) => imm,
        ("movz", 2 | 3) => imm << shift,
        ("movn", 2 | 3) => !(imm << shift),
        ("orr", _) => return None, // capstone prints orr-immediate from zr as `mov`
        _ => return None,
    };
    Some((
        reg.clone(),
        if reg.starts_with('w') {
            v & 0xffff_ffff
        } else {
            v
        },
    ))
}

/// `movk R, #imm[, lsl #s]`: (R, imm, shift).
fn movk(t: &str) -> Option<(String, u64, u64)> {
    let (m, ops) = split(t);
    if m != "movk" {
        return None;
    }
    let parts: Vec<&str> = ops.split(", ").collect();
    let imm = parse_imm(parts.get(1)?)?;
    let shift = match parts.get(2) {
        Some(s) => parse_imm(s.strip_prefix("lsl ")?)?,
        None => 0,
    };
    Some((parts[0].to_string(), imm, shift))
}

/// `OP T, [R, #imm]` or `OP T, [R]` (a load or store based on `reg`): the text with the
/// offset written `#lo12`.
fn lo12_use(t: &str, reg: &str) -> Option<String> {
    let (head, mem) = t.split_once(", [")?;
    let mem = mem.strip_suffix(']')?;
    let base = mem.split(", #").next()?;
    (base == reg && (mem == reg || mem.starts_with(&format!("{reg}, #"))))
        .then(|| format!("{head}, [{reg}, #lo12]"))
}

/// Register number and width of `x0`..`x30` / `w0`..`w30`.
fn reg_num(r: &str) -> Option<(u8, bool)> {
    let wide = r.starts_with('x');
    if !wide && !r.starts_with('w') {
        return None;
    }
    Some((r[1..].parse().ok()?, wide))
}

/// Replace the last operand (a pc-relative target) of capstone text `t` with `target`.
fn with_target(t: &str, target: &str) -> String {
    match t.rsplit_once(", ") {
        Some((head, _)) => format!("{head}, {target}"),
        None => format!("{} {target}", split(t).0),
    }
}

/// The shape of one function's `bytes`, entered at the byte offsets `entries` (S1-S3). The
/// function's address does not matter: pc-relative targets are resolved against offsets.
pub fn shape(bytes: &[u8], entries: &[u32]) -> Vec<Token> {
    let mut r = Reader::new(bytes, entries);
    while r.i < r.words.len() {
        if r.walk.code[r.i] {
            r.token();
        } else {
            r.i += 1;
        }
    }
    r.finish()
}

/// A token before branch targets are resolved (they need every token's position).
struct Pending {
    start: usize,
    text: String,
    value: Option<u64>,
    /// (text with a placeholder target, byte offset of the target)
    target: Option<(String, i64)>,
}

/// The first pass over a function: groups the reached words into tokens.
struct Reader<'a> {
    bytes: &'a [u8],
    words: Vec<u32>,
    walk: reach::Walk,
    /// capstone's text of each reached word (`None`: data, or not decodable).
    text: Vec<Option<String>>,
    pend: Vec<Pending>,
    /// The next word to read.
    i: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], entries: &[u32]) -> Self {
        // Decode at a fixed base: capstone's absolute targets are then base + offset.
        const BASE: u64 = 0x1000_0000;
        let words = reach::words(bytes);
        let starts: Vec<usize> = entries.iter().map(|&e| e as usize / 4).collect();
        let walk = reach::walk(&words, &starts);
        let text = (0..words.len())
            .map(|i| {
                walk.code[i]
                    .then(|| decode_word(words[i], BASE + 4 * i as u64))
                    .flatten()
            })
            .collect();
        Reader {
            bytes,
            words,
            walk,
            text,
            pend: Vec::new(),
            i: 0,
        }
    }

    fn inside(&self, off: i64) -> bool {
        (0..4 * self.words.len() as i64).contains(&off)
    }

    /// Does word `j` continue the token before it (reached, and no branch target)?
    fn joins(&self, j: usize) -> bool {
        j < self.words.len() && self.walk.code[j] && !self.walk.leader[j]
    }

    fn read_u64(&self, off: i64, size: u8) -> Option<u64> {
        let off = usize::try_from(off).ok()?;
        let b = self.bytes.get(off..off + size as usize)?;
        let mut v = [0u8; 8];
        v[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
        Some(u64::from_le_bytes(v))
    }

    fn push(
        &mut self,
        start: usize,
        text: String,
        value: Option<u64>,
        target: Option<(String, i64)>,
    ) {
        self.pend.push(Pending {
            start,
            text,
            value,
            target,
        });
    }

    /// Read the token that starts at the reached word `self.i`.
    fn token(&mut self) {
        let start = self.i;
        self.i += 1;
        let Some(t) = self.text[start].clone() else {
            let word = format!(".word {:#010x}", self.words[start]);
            self.push(start, word, None, None);
            return;
        };
        if let Some((reg, v)) = const_start(&t) {
            let v = self.constant_run(&reg, v);
            self.push_const(start, &reg, Some(v));
        } else if let Some((reg, _, _)) = movk(&t) {
            self.push(start, format!("movk {reg}"), None, None);
        } else {
            self.pc_relative(start, &t);
        }
    }

    /// S1: the `movk`s that continue a constant started in `reg` with `v`; returns the value.
    fn constant_run(&mut self, reg: &str, mut v: u64) -> u64 {
        while self.joins(self.i) {
            match self.text[self.i].as_deref().and_then(movk) {
                // Same register number; asmjit builds a 32-bit value in an x register
                // with `mov xR` + `movk wR` (which clears the upper half).
                Some((r, imm, shift))
                    if reg_num(&r).map(|x| x.0) == reg_num(reg).map(|x| x.0) && shift < 64 =>
                {
                    v = (v & !(0xffff << shift)) | (imm << shift);
                    if reg_num(&r).map(|x| x.1) == Some(false) {
                        v &= 0xffff_ffff;
                    }
                    self.i += 1;
                }
                _ => break,
            }
        }
        v
    }

    /// S1/S2 for the word at `start` with text `t`: literal loads, branches, `adr`, `adrp`;
    /// anything else is its text (S3).
    fn pc_relative(&mut self, start: usize, t: &str) {
        let pc = 4 * start as i64;
        let (m, ops) = split(t);
        match reach::flow(self.words[start]) {
            Flow::Literal { offset, size, .. } if self.inside(pc + offset) => {
                let v = self.read_u64(pc + offset, size);
                self.push_const(start, first_op(ops), v);
            }
            Flow::Jump(o) | Flow::Cond(o) | Flow::Call(o) | Flow::Adr(o) if self.inside(pc + o) => {
                self.push(start, String::new(), None, Some((t.to_string(), pc + o)));
            }
            Flow::Literal { .. } | Flow::Jump(_) | Flow::Cond(_) | Flow::Call(_) => {
                self.push(start, with_target(t, "far"), None, None);
            }
            Flow::Adr(_) => {
                if self.joins(self.i) && self.text[self.i].as_deref() == Some("nop") {
                    self.i += 1;
                }
                self.push(start, format!("const {}", first_op(ops)), None, None);
            }
            _ if m == "adrp" => self.adrp(start, first_op(ops).to_string()),
            _ => match fold::shifted_immediate(t) {
                Some((text, v)) => self.push(start, text, Some(v), None),
                None => self.push(start, t.to_string(), None, None),
            },
        }
    }

    /// S1/S4: the constant `value` built in `reg` by the token at `start` (read up to
    /// `self.i`); with the arithmetic instruction that uses it right after, one folded token.
    fn push_const(&mut self, start: usize, reg: &str, value: Option<u64>) {
        let next = self.text.get(self.i).and_then(|x| x.as_deref());
        let folded = next
            .filter(|_| self.joins(self.i) && value.is_some())
            .and_then(|n| fold::register_use(n, reg));
        match folded {
            Some(text) => {
                self.i += 1;
                self.push(start, text, value, None);
            }
            None => self.push(start, format!("const {reg}"), value, None),
        }
    }

    /// `adrp reg`: an address formed from the page of the instruction's own address, a
    /// constant whatever the target (code is 4 KiB aligned only by chance, so even an
    /// in-function page is no stable target). asmjit omits the `add` when the low 12 bits are
    /// zero. A load or store based on the register next has the low 12 bits as its offset:
    /// that offset becomes `lo12`.
    fn adrp(&mut self, start: usize, reg: String) {
        let next = self
            .text
            .get(self.i)
            .and_then(|x| x.clone())
            .filter(|_| self.joins(self.i));
        if let Some(n) = &next {
            let (am, aops) = split(n);
            if am == "add" && aops.starts_with(&format!("{reg}, {reg}, #")) {
                self.i += 1;
            }
        }
        self.push(start, format!("const {reg}"), None, None);
        if let Some(lo) = next.as_deref().and_then(|n| lo12_use(n, &reg)) {
            self.push(self.i, lo, None, None);
            self.i += 1;
        }
    }

    /// S2: name each in-function target by its token index.
    fn finish(self) -> Vec<Token> {
        let index: BTreeMap<usize, usize> = self
            .pend
            .iter()
            .enumerate()
            .map(|(k, p)| (p.start, k))
            .collect();
        self.pend
            .into_iter()
            .map(|p| {
                let text = match p.target {
                    None => p.text,
                    Some((t, target)) => match index.get(&((target / 4) as usize)) {
                        Some(k) if target % 4 == 0 => with_target(&t, &format!("@{k}")),
                        // A target inside a token (a join point the grouping did not see) or
                        // in data.
                        _ => with_target(&t, &format!("+{target:#x}?")),
                    },
                };
                Token {
                    text,
                    offset: 4 * p.start as u32,
                    value: p.value,
                }
            })
            .collect()
    }
}

mod fold;
#[cfg(test)]
mod tests;
