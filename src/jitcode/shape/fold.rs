//! S4 of the shape (see the parent module): a constant folded into an arithmetic immediate.
//!
//! CinderX's LIR keeps a constant operand of `add`/`sub`/compare (and a guard's expected value)
//! as an immediate when asmjit's `isAddSubImm` accepts it: a 12-bit value, or a 12-bit value
//! shifted left by 12. Otherwise it moves the constant into a fresh virtual register whose only
//! use is that instruction (`lir/postgen.cpp`, the large-constant rewrites). An object's address
//! below 16 MiB that happens to be 4 KiB-aligned fits the shifted form: with Debian's non-PIE
//! `python3.14` the brk heap starts at about 12 MiB, so whether a heap object is folded depends
//! only on where the heap put it (a baseline run in another directory compared `x27` with
//! `#0xde5, lsl #12` where the official wheel built `0xde5620` in `x0` first). Both forms are
//! therefore one token `OP ..., #const` carrying the value:
//!
//! * `const R` (from immediates or the pool) followed, in the same straight line, by an
//!   `add`/`adds`/`sub`/`subs`/`cmp`/`cmn` whose last operand is exactly `R` and no other source
//!   is `R`: the register was the fresh one, so dropping it loses nothing the generator could
//!   have read;
//! * `OP ..., #imm, lsl #12`: the shifted immediate, value `imm << 12`.
//!
//! Unshifted immediates (below 4096: field offsets, small integers, never a mapped address)
//! stay literal, and so does anything involving `sp` (frame sizes are not constants of the
//! program), so a real difference there is still seen.

/// Arithmetic instructions whose second source may be an `isAddSubImm` immediate.
const FOLDABLE: [&str; 6] = ["add", "adds", "sub", "subs", "cmp", "cmn"];

/// `OP` and its operands, when `t` is a foldable instruction without `sp`.
fn foldable(t: &str) -> Option<(&str, Vec<&str>)> {
    let (m, ops) = t.split_once(' ')?;
    let parts: Vec<&str> = ops.split(", ").collect();
    let uses_sp = parts.iter().any(|p| *p == "sp" || *p == "wsp");
    (FOLDABLE.contains(&m) && !uses_sp).then_some((m, parts))
}

/// Number of register operands before the immediate: `cmp`/`cmn` have one, the others two.
fn registers_before(m: &str) -> usize {
    if m == "cmp" || m == "cmn" {
        1
    } else {
        2
    }
}

/// `t` with its last source, the register `reg` a constant was just built in, replaced by
/// `#const`; `None` unless `t` is `OP [D,] S, reg` with no other source `reg`.
pub(super) fn register_use(t: &str, reg: &str) -> Option<String> {
    let (m, parts) = foldable(t)?;
    let n = registers_before(m);
    // parts[n - 1] is the first source (the compared register, or the addend).
    let ok = parts.len() == n + 1 && parts[n] == reg && parts[n - 1] != reg;
    ok.then(|| format!("{m} {}, #const", parts[..n].join(", ")))
}

/// `OP [D,] S, #imm, lsl #12` as (`OP [D,] S, #const`, `imm << 12`).
pub(super) fn shifted_immediate(t: &str) -> Option<(String, u64)> {
    let (m, parts) = foldable(t)?;
    let n = registers_before(m);
    if parts.len() != n + 2 || parts[n + 1] != "lsl #12" {
        return None;
    }
    let imm = crate::jitcode::parse_imm(parts[n])?;
    Some((format!("{m} {}, #const", parts[..n].join(", ")), imm << 12))
}
