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
//!
//! What is therefore not compared: constant values (including the values in the pool and stub
//! literals), the distance of far branches, and every word no path from the entries reaches:
//! data, but also code entered only through a stored address (a generator's resume points,
//! taken with `adrp`+`add`), which the walk cannot follow. Those words are not told apart from
//! the data CinderX places between code and stubs, so they are left out, not guessed at. [`value_pairs`] recovers what can be checked of
//! the values: along two equal shapes, the pairs (value in A, value in B) of every `movz`/`movk`
//! or pool-loaded constant must form a consistent renaming (one value in A always stands for one
//! value in B and back), so a constant used in the wrong place is still caught when that
//! constant appears elsewhere in the function.

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

fn parse_imm(s: &str) -> Option<u64> {
    let s = s.trim().strip_prefix('#')?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let v = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok()?,
        None => s.parse::<u64>().ok()?,
    };
    Some(if neg { v.wrapping_neg() } else { v })
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
    // Decode at a fixed base: capstone's absolute targets are then base + offset.
    const BASE: u64 = 0x1000_0000;
    let words = reach::words(bytes);
    let n = words.len();
    let starts: Vec<usize> = entries.iter().map(|&e| e as usize / 4).collect();
    let walk = reach::walk(&words, &starts);
    let text: Vec<Option<String>> = (0..n)
        .map(|i| {
            walk.code[i]
                .then(|| decode_word(words[i], BASE + 4 * i as u64))
                .flatten()
        })
        .collect();
    let inside = |off: i64| (0..4 * n as i64).contains(&off);
    let joins = |j: usize| j < n && walk.code[j] && !walk.leader[j];
    let read_u64 = |off: i64, size: u8| -> Option<u64> {
        let off = usize::try_from(off).ok()?;
        let b = bytes.get(off..off + size as usize)?;
        let mut v = [0u8; 8];
        v[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
        Some(u64::from_le_bytes(v))
    };

    // First pass: group words into tokens (target indices need every token's position).
    struct Pending {
        start: usize,
        text: String,
        value: Option<u64>,
        target: Option<(String, i64)>, // (text with placeholder target, byte offset of target)
    }
    let mut pend: Vec<Pending> = Vec::new();
    let mut i = 0;
    while i < n {
        if !walk.code[i] {
            i += 1;
            continue;
        }
        let pc = 4 * i as i64;
        let start = i;
        i += 1;
        let Some(t) = text[start].clone() else {
            pend.push(Pending {
                start,
                text: format!(".word {:#010x}", words[start]),
                value: None,
                target: None,
            });
            continue;
        };
        let (m, ops) = split(&t);
        let mut tok = |text: String, value: Option<u64>, target: Option<(String, i64)>| {
            pend.push(Pending {
                start,
                text,
                value,
                target,
            })
        };
        if let Some((reg, mut v)) = const_start(&t) {
            while joins(i) {
                match text[i].as_deref().and_then(movk) {
                    // Same register number; asmjit builds a 32-bit value in an x register
                    // with `mov xR` + `movk wR` (which clears the upper half).
                    Some((r, imm, shift))
                        if reg_num(&r).map(|x| x.0) == reg_num(&reg).map(|x| x.0) && shift < 64 =>
                    {
                        v = (v & !(0xffff << shift)) | (imm << shift);
                        if reg_num(&r).map(|x| x.1) == Some(false) {
                            v &= 0xffff_ffff;
                        }
                        i += 1;
                    }
                    _ => break,
                }
            }
            tok(format!("const {reg}"), Some(v), None);
            continue;
        }
        if let Some((reg, _, _)) = movk(&t) {
            tok(format!("movk {reg}"), None, None);
            continue;
        }
        match reach::flow(words[start]) {
            Flow::Literal { offset, size, .. } => {
                let target = pc + offset;
                if inside(target) {
                    tok(
                        format!("const {}", first_op(ops)),
                        read_u64(target, size),
                        None,
                    );
                } else {
                    tok(with_target(&t, "far"), None, None);
                }
            }
            Flow::Jump(o) | Flow::Cond(o) | Flow::Call(o) => {
                let target = pc + o;
                if inside(target) {
                    tok(String::new(), None, Some((t.clone(), target)));
                } else {
                    tok(with_target(&t, "far"), None, None);
                }
            }
            Flow::Adr(o) => {
                let target = pc + o;
                if inside(target) {
                    tok(String::new(), None, Some((t.clone(), target)));
                } else {
                    if joins(i) && text[i].as_deref() == Some("nop") {
                        i += 1;
                    }
                    tok(format!("const {}", first_op(ops)), None, None);
                }
            }
            _ if m == "adrp" => {
                // adrp: an address formed from the page of the instruction's own address, a
                // constant whatever the target (code is 4 KiB aligned only by chance, so even
                // an in-function page is no stable target). asmjit omits the `add` when the
                // low 12 bits are zero. A load or store based on the register next has the
                // low 12 bits as its offset: that offset becomes `lo12`.
                let reg = first_op(ops).to_string();
                let next = text.get(i).and_then(|x| x.as_deref()).filter(|_| joins(i));
                let next = next.map(|x| (x, split(x)));
                if let Some((_, (am, aops))) = next {
                    if am == "add" && aops.starts_with(&format!("{reg}, {reg}, #")) {
                        i += 1;
                    }
                }
                tok(format!("const {reg}"), None, None);
                if let Some((nt, _)) = next {
                    if let Some(lo) = lo12_use(nt, &reg) {
                        pend.push(Pending {
                            start: i,
                            text: lo,
                            value: None,
                            target: None,
                        });
                        i += 1;
                    }
                }
            }
            _ => tok(t.clone(), None, None),
        }
    }
    let index: BTreeMap<usize, usize> =
        pend.iter().enumerate().map(|(k, p)| (p.start, k)).collect();
    pend.into_iter()
        .map(|p| {
            let text = match p.target {
                None => p.text,
                Some((t, target)) => match index.get(&((target / 4) as usize)) {
                    Some(k) if target % 4 == 0 => with_target(&t, &format!("@{k}")),
                    // A target inside a token (a join point the grouping did not see) or in data.
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

/// The first token index where two shapes differ (`None` when equal).
pub fn first_difference(a: &[Token], b: &[Token]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&k| a.get(k).map(|t| &t.text) != b.get(k).map(|t| &t.text))
}

/// For two equal shapes: the pairs (A value, B value) of the constants both know, and the
/// first token index where they stop being a consistent renaming (a value of A paired with two
/// values of B, or the other way round), if any.
pub fn value_pairs(a: &[Token], b: &[Token]) -> (BTreeMap<u64, u64>, Option<usize>) {
    let (mut ab, mut ba) = (BTreeMap::new(), BTreeMap::new());
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        let (Some(va), Some(vb)) = (x.value, y.value) else {
            continue;
        };
        if *ab.entry(va).or_insert(vb) != vb || *ba.entry(vb).or_insert(va) != va {
            return (ab, Some(k));
        }
    }
    (ab, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(w: &[u32]) -> Vec<u8> {
        w.iter().flat_map(|x| x.to_le_bytes()).collect()
    }
    fn texts(w: &[u32]) -> Vec<String> {
        shape(&bytes(w), &[0]).into_iter().map(|t| t.text).collect()
    }
    fn eq(a: &[u32], b: &[u32]) -> bool {
        first_difference(&shape(&bytes(a), &[0]), &shape(&bytes(b), &[0])).is_none()
    }
    // Encodings (checked against capstone by the tests themselves through the texts).
    const RET: u32 = 0xD65F_03C0;
    const NOP: u32 = 0xD503_201F;
    const BLR_X16: u32 = 0xD63F_0200;
    fn movz(rd: u32, imm: u32, hw: u32) -> u32 {
        0xD280_0000 | (hw << 21) | (imm << 5) | rd
    }
    fn movk(rd: u32, imm: u32, hw: u32) -> u32 {
        0xF280_0000 | (hw << 21) | (imm << 5) | rd
    }
    fn b_cond(off_words: i32, cond: u32) -> u32 {
        0x5400_0000 | (((off_words as u32) & 0x7FFFF) << 5) | cond
    }
    fn bl(off_words: i32) -> u32 {
        0x9400_0000 | ((off_words as u32) & 0x03FF_FFFF)
    }
    fn ldr_lit(rt: u32, off_words: i32) -> u32 {
        0x5800_0000 | (((off_words as u32) & 0x7FFFF) << 5) | rt
    }
    fn cmp_x0_1() -> u32 {
        0xF100_041F // cmp x0, #1
    }

    /// A movz/movk run is one `const` token and its value is recovered.
    #[test]
    fn movz_movk_run_is_one_const_with_its_value() {
        let w = [
            movz(16, 0x1234, 0),
            movk(16, 0xabcd, 1),
            movk(16, 0xffff, 2),
            BLR_X16,
            RET,
        ];
        let s = shape(&bytes(&w), &[0]);
        let t: Vec<&str> = s.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(t, ["const x16", "blr x16", "ret"]);
        assert_eq!(s[0].value, Some(0xffff_abcd_1234));
    }

    /// Two streams differing only in a movz/movk constant are equal, even when the other
    /// value needs another number of instructions or comes from the pool.
    #[test]
    fn streams_differing_only_in_a_constant_are_equal() {
        let a = [movz(0, 0x80f0, 0), movk(0, 0xf6, 1), BLR_X16, RET];
        let b = [movz(0, 0x80f0, 0), movk(0, 0xff, 1), BLR_X16, RET];
        assert!(eq(&a, &b));
        let c = [
            movz(0, 0x80f0, 0),
            movk(0, 0xff, 1),
            movk(0, 0xffff, 2),
            BLR_X16,
            RET,
        ];
        assert!(eq(&a, &c));
        // pool: ldr x0, <literal 4 words on> (after ret and a padding word)
        let d = [ldr_lit(0, 3), BLR_X16, RET, 0x1234_5678, 0x0000_ffff];
        assert!(eq(&a, &d), "{:?} vs {:?}", texts(&a), texts(&d));
        assert_eq!(shape(&bytes(&d), &[0])[0].value, Some(0xffff_1234_5678));
        // but not into another register
        let e = [movz(1, 0x80f0, 0), movk(1, 0xf6, 1), BLR_X16, RET];
        assert!(!eq(&a, &e));
    }

    /// In-function branch targets become token indices: a constant that takes one more word
    /// shifts the byte offset of the target but not its index.
    #[test]
    fn branch_targets_are_token_indices() {
        let a = [cmp_x0_1(), b_cond(3, 0), movz(0, 1, 0), RET, RET];
        let b = [
            cmp_x0_1(),
            b_cond(4, 0),
            movz(0, 1, 0),
            movk(0, 1, 1),
            RET,
            RET,
        ];
        assert_eq!(
            texts(&a),
            ["cmp x0, #1", "b.eq @4", "const x0", "ret", "ret"]
        );
        assert!(eq(&a, &b), "{:?} vs {:?}", texts(&a), texts(&b));
    }

    /// A real difference is never hidden: another condition, a missing call, a call to another
    /// place in the function, another instruction.
    #[test]
    fn real_differences_are_not_hidden() {
        let base = [cmp_x0_1(), b_cond(3, 0), bl(2), RET, RET];
        let ne = [cmp_x0_1(), b_cond(3, 1), bl(2), RET, RET];
        assert!(!eq(&base, &ne), "b.eq vs b.ne");
        let no_call = [cmp_x0_1(), b_cond(3, 0), NOP, RET, RET];
        assert!(!eq(&base, &no_call), "missing call");
        let other_target = [cmp_x0_1(), b_cond(3, 0), bl(1), RET, RET];
        assert!(!eq(&base, &other_target), "call to another token");
        let far = [cmp_x0_1(), b_cond(3, 0), bl(0x10_0000), RET, RET];
        assert!(!eq(&base, &far), "local call vs far call");
        assert_eq!(texts(&far)[2], "bl far");
        let d = first_difference(&shape(&bytes(&base), &[0]), &shape(&bytes(&ne), &[0]));
        assert_eq!(d, Some(1));
    }

    /// Data words are dropped; a branch target is never merged into a constant run.
    #[test]
    fn data_dropped_and_join_points_split_runs() {
        let w = [ldr_lit(0, 4), RET, 0, 0, 0x1234_5678, 0xdead_beef];
        assert_eq!(texts(&w), ["const x0", "ret"]);
        // b.eq to the movk: the movk starts its own token
        let j = [cmp_x0_1(), b_cond(2, 0), movz(0, 1, 0), movk(0, 2, 1), RET];
        assert_eq!(
            texts(&j),
            ["cmp x0, #1", "b.eq @3", "const x0", "movk x0", "ret"]
        );
    }

    /// adr + nop and adrp + add to an address outside the function are the same `const`.
    #[test]
    fn adr_nop_and_adrp_add_are_the_same_const() {
        let adr_far = 0x1000_0000 | (0x40_000 << 5) | 24; // adr x24, #+1 MiB-ish (outside)
        let adrp = 0x9000_0000 | (0x123 << 5) | 24; // adrp x24, page +0x123
        let add = 0x9100_0000 | (0x30 << 10) | (24 << 5) | 24; // add x24, x24, #0x30
        let a = [adr_far, NOP, RET];
        let b = [adrp, add, RET];
        assert_eq!(texts(&a), ["const x24", "ret"]);
        assert!(eq(&a, &b), "{:?} vs {:?}", texts(&a), texts(&b));
        // asmjit leaves out the add when the low 12 bits are zero
        assert!(eq(&a, &[adrp, RET]));
        // adrp + ldr [R, #off]: the offset is the low 12 bits of the address
        let ldr = |imm12: u32| 0xF940_0000 | (imm12 << 10) | (24 << 5) | 16; // ldr x16, [x24, #8*imm12]
        assert_eq!(
            texts(&[adrp, ldr(3), RET]),
            ["const x24", "ldr x16, [x24, #lo12]", "ret"]
        );
        assert!(eq(&[adrp, ldr(3), RET], &[adrp, ldr(0), RET]));
        assert!(
            !eq(&[adrp, ldr(3), RET], &[adrp, ldr(3) + 1, RET]),
            "another destination"
        );
    }

    /// asmjit's 32-bit value in an x register: `mov xR` + `movk wR` is one constant.
    #[test]
    fn mov_x_movk_w_is_one_const() {
        let movk_w = |rd: u32, imm: u32, hw: u32| 0x7280_0000 | (hw << 21) | (imm << 5) | rd;
        let a = [movz(30, 0x7000, 0), movk_w(30, 413, 1), RET];
        let s = shape(&bytes(&a), &[0]);
        assert_eq!(
            s.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
            ["const x30", "ret"]
        );
        assert_eq!(s[0].value, Some((413 << 16) | 0x7000));
        assert!(eq(&a, &[movz(30, 0x19c, 1), RET]));
    }

    /// The values of equal shapes must be a consistent renaming.
    #[test]
    fn values_must_rename_consistently() {
        let a = shape(
            &bytes(&[movz(0, 5, 0), movz(1, 5, 0), movz(2, 6, 0), RET]),
            &[0],
        );
        let b = shape(
            &bytes(&[movz(0, 7, 0), movz(1, 7, 0), movz(2, 8, 0), RET]),
            &[0],
        );
        assert_eq!(value_pairs(&a, &b).1, None);
        let swapped = shape(
            &bytes(&[movz(0, 7, 0), movz(1, 8, 0), movz(2, 8, 0), RET]),
            &[0],
        );
        assert_eq!(value_pairs(&a, &swapped).1, Some(1));
    }
}
