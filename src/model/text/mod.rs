//! The readable text form of a [`Program`]: what `a64call gen` prints and repro files hold.
//!
//! ```text
//! a64call-program 1
//! code 0x3f0000000000
//! anchor 0x3f0000c00000
//! helper h0 0x3f0000400010 args 2
//! body
//!   v1 = call h0(v0, v3)
//!   store [5], v1
//!   if v1 ult v2 {
//!     v4 = add v1, v2
//!   } else {
//!     call h0(v1, v1)
//!   }
//!   loop 3 {
//!     v2 = load [5]
//!   }
//!   repeat 1000: v3 = add v3, v2
//! ret v1
//! ```
//! The `anchor` line (the address near calls are guessed from, [`Program::anchor`]) is
//! optional. `#` starts a comment. `repeat N: OP` stands for N copies of a one-line operation (so a repro
//! of a function of megabytes is a few lines); [`print()`] writes every run of 4 or more
//! identical one-line operations that way. [`print()`] and [`parse`] round-trip exactly; a parse error names the
//! line and what was expected there.

use crate::isa::AluOp;
use crate::model::program::{CmpOp, Helper, Op, Program, ShiftOp, Val};
use crate::Named;

/// First line of every program file.
pub const MAGIC: &str = "a64call-program 1";

/// A parse failure: the 1-based line and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number (0 when the input ended early).
    pub line: usize,
    /// What was expected, and what was found.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "at end of input: {}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ParseError {}

pub use print::print;

/// The most operations one `repeat` line may stand for.
const REPEAT_MAX: u32 = 1 << 20;

struct Lines<'a> {
    lines: Vec<(usize, &'a str)>,
    pos: usize,
    /// Blocks open at this point (`if` and `loop`).
    depth: usize,
    /// The fewest instruction words the operations read so far lower to, nested ones and
    /// repeats included ([`own_words`]).
    words: u64,
}

/// Deepest nesting of blocks a file may have: the parser, the lowering and the reference
/// evaluation recurse once per level, so far deeper nesting would overflow their stacks.
/// Generated programs nest at most a few levels.
const MAX_NESTING: usize = 256;

/// The most instruction words the code region holds ([`crate::layout::MAX_CODE`]): a file whose
/// operations lower to more, at the fewest, is refused while parsing, before emission spends
/// memory and time finding out.
const MAX_WORDS: u64 = crate::layout::MAX_CODE / 4;

/// The fewest instruction words `op` itself lowers to under any strategy (its blocks' operations
/// are counted as they are read): a call moves each argument and its result and branches at
/// least once; an `if` tests and branches; a loop sets its counter up (`movz`, `str`) and counts
/// each pass (`ldr`, `add`, `str`, `tbz`); anything else is at least one instruction.
fn own_words(op: &Op) -> u64 {
    match op {
        Op::Call { dst, args, .. } => 1 + args.len() as u64 + u64::from(dst.is_some()),
        Op::If { .. } => 2,
        Op::Loop { .. } => 6,
        _ => 1,
    }
}

impl Lines<'_> {
    /// Count `n` copies of `op` read on line `ln`.
    fn count(&mut self, ln: usize, op: &Op, n: u64) -> Result<(), ParseError> {
        self.words += n * own_words(op);
        if self.words > MAX_WORDS {
            return err(
                ln,
                format!(
                    "the operations up to this line lower to more than {MAX_WORDS} instructions \
                     (counting the fewest each takes), which cannot fit the {} MiB code region",
                    crate::layout::MAX_CODE >> 20
                ),
            );
        }
        Ok(())
    }
}

impl<'a> Lines<'a> {
    fn next(&mut self, expected: &str) -> Result<(usize, &'a str), ParseError> {
        let l = self
            .lines
            .get(self.pos)
            .copied()
            .ok_or_else(|| ParseError {
                line: 0,
                message: format!("expected {expected}, but the input ended"),
            })?;
        self.pos += 1;
        Ok(l)
    }
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        message: message.into(),
    })
}

fn parse_u64(line: usize, t: &str, what: &str) -> Result<u64, ParseError> {
    let t = t.replace('_', "");
    let r = if let Some(h) = t.strip_prefix("0x") {
        u64::from_str_radix(h, 16)
    } else {
        t.parse::<u64>()
    };
    r.or_else(|e| {
        let why = if *e.kind() == std::num::IntErrorKind::PosOverflow {
            "an unsigned number of at most 64 bits"
        } else {
            "a decimal or 0x number; negative numbers are written in 0x form"
        };
        err(line, format!("expected {what} ({why}), found `{t}`"))
    })
}

fn parse_small<T: TryFrom<u64>>(line: usize, t: &str, what: &str) -> Result<T, ParseError> {
    let v = parse_u64(line, t, what)?;
    T::try_from(v).or_else(|_| err(line, format!("{what} `{t}` is too large")))
}

fn parse_val(line: usize, t: &str) -> Result<Val, ParseError> {
    let t = t.trim();
    match t.strip_prefix('v').and_then(|n| n.parse::<u8>().ok()) {
        Some(n) if n < crate::model::program::NUM_VALUES => Ok(Val(n)),
        _ => err(line, format!("expected a value v0..v8, found `{t}`")),
    }
}

fn parse_helper_ref(line: usize, t: &str) -> Result<u16, ParseError> {
    match t
        .trim()
        .strip_prefix('h')
        .and_then(|n| n.parse::<u16>().ok())
    {
        Some(n) => Ok(n),
        None => err(line, format!("expected a helper name like h3, found `{t}`")),
    }
}

fn parse_slot(line: usize, t: &str) -> Result<u16, ParseError> {
    let inner = t
        .trim()
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .ok_or_else(|| ParseError {
            line,
            message: format!("expected a slot like [12], found `{t}`"),
        })?;
    parse_small(line, inner, "slot number")
}

/// Parse a program from its text form and validate it.
pub fn parse(src: &str) -> Result<Program, ParseError> {
    let lines: Vec<(usize, &str)> = src
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split('#').next().unwrap_or("").trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    // The magic line may not contain '#', so re-read it unstripped of comments.
    let mut it = Lines {
        lines,
        pos: 0,
        depth: 0,
        words: 0,
    };
    let (ln, first) = it.next("the header line")?;
    if src.lines().nth(ln - 1).map(str::trim) != Some(MAGIC) && first != MAGIC {
        return err(
            ln,
            format!("expected the header `{MAGIC}`, found `{first}`"),
        );
    }
    let (ln, code) = it.next("`code <address>`")?;
    let code_base = match code.split_whitespace().collect::<Vec<_>>()[..] {
        ["code", a] => parse_u64(ln, a, "the code address")?,
        _ => return err(ln, format!("expected `code <address>`, found `{code}`")),
    };
    let anchor = parse_anchor(&mut it)?;
    let mut helpers = Vec::new();
    let body_line;
    loop {
        let (ln, l) = it.next("`helper ...` or `body`")?;
        if l == "body" {
            body_line = ln;
            break;
        }
        match l.split_whitespace().collect::<Vec<_>>()[..] {
            ["helper", name, addr, "args", n] => {
                let id = parse_helper_ref(ln, name)?;
                if id as usize != helpers.len() {
                    return err(ln, format!("expected helper h{} next (helpers are numbered in order), found `{name}`", helpers.len()));
                }
                let addr = parse_u64(ln, addr, "the helper address")?;
                let arity = parse_small(ln, n, "argument count")?;
                helpers.push(Helper { addr, arity });
            }
            _ => {
                return err(
                    ln,
                    format!("expected `helper hN <address> args <n>` or `body`, found `{l}`"),
                )
            }
        }
    }
    let (body, end) = parse_block(&mut it, false)?;
    let ret = match end {
        BlockEnd::Ret(v) => v,
        _ => return err(body_line, "the body must end with `ret vN`"),
    };
    if let Some((ln, l)) = it.lines.get(it.pos) {
        return err(*ln, format!("expected nothing after `ret`, found `{l}`"));
    }
    let p = Program {
        code_base,
        helpers,
        body,
        ret,
        anchor,
    };
    p.validate().map_err(|e| ParseError {
        line: body_line,
        message: format!("invalid program: {e}"),
    })?;
    Ok(p)
}

/// The optional `anchor <address>` line after `code`.
fn parse_anchor(it: &mut Lines) -> Result<Option<u64>, ParseError> {
    let Some(&(ln, l)) = it.lines.get(it.pos) else {
        return Ok(None);
    };
    match l.split_whitespace().collect::<Vec<_>>()[..] {
        ["anchor", a] => {
            it.pos += 1;
            let a = parse_u64(ln, a, "the anchor address")?;
            if a >= crate::layout::USER_MAX {
                return err(ln, format!("anchor {a:#x} outside the user range"));
            }
            Ok(Some(a))
        }
        ["anchor", ..] => err(ln, format!("expected `anchor <address>`, found `{l}`")),
        _ => Ok(None),
    }
}

enum BlockEnd {
    Close,
    CloseElse,
    Ret(Val),
}

fn parse_block(it: &mut Lines, nested: bool) -> Result<(Vec<Op>, BlockEnd), ParseError> {
    let mut ops = Vec::new();
    loop {
        let (ln, l) = it.next(if nested {
            "an operation or `}`"
        } else {
            "an operation or `ret vN`"
        })?;
        if nested && l == "}" {
            return Ok((ops, BlockEnd::Close));
        }
        if nested && l == "} else {" {
            return Ok((ops, BlockEnd::CloseElse));
        }
        if nested && l.starts_with("ret ") {
            return err(
                ln,
                format!("found `{l}` inside a block: an `if` or `loop` is still open (close it with `}}`)"),
            );
        }
        if !nested {
            if let Some(v) = l.strip_prefix("ret ") {
                return Ok((ops, BlockEnd::Ret(parse_val(ln, v)?)));
            }
        }
        if let Some(rest) = l.strip_prefix("repeat ") {
            let (n, op) = parse_repeat(ln, rest)?;
            it.count(ln, &op, n as u64)?;
            ops.extend(std::iter::repeat_n(op, n));
            continue;
        }
        let op = parse_op(it, ln, l)?;
        it.count(ln, &op, 1)?;
        ops.push(op);
    }
}

/// The block opened on line `ln` (by an `if`, its `else` or a `loop`), one level deeper: at
/// most [`MAX_NESTING`] levels.
fn nested_block(it: &mut Lines, ln: usize) -> Result<(Vec<Op>, BlockEnd), ParseError> {
    if it.depth == MAX_NESTING {
        return err(ln, format!("blocks nested deeper than {MAX_NESTING}"));
    }
    it.depth += 1;
    let block = parse_block(it, true);
    it.depth -= 1;
    block
}

/// `repeat N: OP` (`rest` follows `repeat `): N copies of a one-line operation.
fn parse_repeat(ln: usize, rest: &str) -> Result<(usize, Op), ParseError> {
    let (n, op) = rest.split_once(':').ok_or_else(|| ParseError {
        line: ln,
        message: format!("expected `repeat N: OP`, found `repeat {rest}`"),
    })?;
    let n: u32 = parse_small(ln, n.trim(), "repeat count")?;
    if n == 0 || n > REPEAT_MAX {
        return err(
            ln,
            format!("a repeat count must be 1..={REPEAT_MAX}, found {n}"),
        );
    }
    let op = op.trim();
    if ["if ", "loop ", "repeat "]
        .iter()
        .any(|k| op.starts_with(k))
    {
        return err(
            ln,
            format!("`repeat` takes a one-line operation, found `{op}`"),
        );
    }
    let mut no_lines = Lines {
        lines: Vec::new(),
        pos: 0,
        depth: 0,
        words: 0,
    };
    Ok((n as usize, parse_op(&mut no_lines, ln, op)?))
}

fn parse_call(ln: usize, dst: Option<Val>, rest: &str) -> Result<Op, ParseError> {
    let (name, args) = rest
        .split_once('(')
        .and_then(|(n, a)| a.strip_suffix(')').map(|a| (n, a)))
        .ok_or_else(|| ParseError {
            line: ln,
            message: format!("expected `call hN(v.., ..)`, found `call {rest}`"),
        })?;
    let helper = parse_helper_ref(ln, name)?;
    let args = if args.trim().is_empty() {
        Vec::new()
    } else {
        args.split(',')
            .map(|a| parse_val(ln, a))
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(Op::Call { dst, helper, args })
}

fn parse_op(it: &mut Lines, ln: usize, l: &str) -> Result<Op, ParseError> {
    if let Some(rest) = l.strip_prefix("call ") {
        parse_call(ln, None, rest.trim())
    } else if let Some(rest) = l.strip_prefix("store ") {
        parse_store(ln, l, rest)
    } else if let Some(rest) = l.strip_prefix("if ") {
        parse_if(it, ln, l, rest)
    } else if let Some(rest) = l.strip_prefix("loop ") {
        parse_loop(it, ln, l, rest)
    } else {
        parse_assignment(ln, l)
    }
}

/// `store [slot], vN` (`rest` follows `store `).
fn parse_store(ln: usize, l: &str, rest: &str) -> Result<Op, ParseError> {
    let (slot, v) = rest.split_once(',').ok_or_else(|| ParseError {
        line: ln,
        message: format!("expected `store [slot], vN`, found `{l}`"),
    })?;
    Ok(Op::Store {
        slot: parse_slot(ln, slot)?,
        src: parse_val(ln, v)?,
    })
}

/// `if vA cmp vB {` and its blocks (`rest` follows `if `).
fn parse_if(it: &mut Lines, ln: usize, l: &str, rest: &str) -> Result<Op, ParseError> {
    let rest = rest.strip_suffix('{').ok_or_else(|| ParseError {
        line: ln,
        message: format!("expected `if vA cmp vB {{`, found `{l}`"),
    })?;
    let (a, cmp, b) = match rest.split_whitespace().collect::<Vec<_>>()[..] {
        [a, c, b] => (a, c, b),
        _ => return err(ln, format!("expected `if vA cmp vB {{`, found `{l}`")),
    };
    let cmp = CmpOp::from_name(cmp).ok_or_else(|| ParseError {
        line: ln,
        message: format!("expected a comparison ({}), found `{cmp}`", CmpOp::known()),
    })?;
    let (then, end) = nested_block(it, ln)?;
    let els = match end {
        BlockEnd::CloseElse => {
            let (els, end2) = nested_block(it, ln)?;
            if !matches!(end2, BlockEnd::Close) {
                return err(ln, "expected `}` to close the else block of this `if`");
            }
            els
        }
        _ => Vec::new(),
    };
    Ok(Op::If {
        cmp,
        a: parse_val(ln, a)?,
        b: parse_val(ln, b)?,
        then,
        els,
    })
}

/// `loop N {` and its block (`rest` follows `loop `).
fn parse_loop(it: &mut Lines, ln: usize, l: &str, rest: &str) -> Result<Op, ParseError> {
    let n = rest.strip_suffix('{').ok_or_else(|| ParseError {
        line: ln,
        message: format!("expected `loop N {{`, found `{l}`"),
    })?;
    let count = parse_small(ln, n.trim(), "loop count")?;
    let (body, end) = nested_block(it, ln)?;
    if !matches!(end, BlockEnd::Close) {
        return err(ln, "a loop has no else block: expected `}`");
    }
    Ok(Op::Loop { count, body })
}

/// `vN = OP operands`.
fn parse_assignment(ln: usize, l: &str) -> Result<Op, ParseError> {
    let (dst, rhs) = l.split_once('=').ok_or_else(|| ParseError {
        line: ln,
        message: format!(
            "expected an operation (`vN = ...`, `call`, `store`, `if`, `loop`), found `{l}`"
        ),
    })?;
    let dst = parse_val(ln, dst)?;
    let rhs = rhs.trim();
    let (opname, operands) = rhs.split_once(' ').unwrap_or((rhs, ""));
    let operands = operands.trim();
    match opname {
        "const" => Ok(Op::Const {
            dst,
            imm: parse_u64(ln, operands, "a constant")?,
        }),
        "load" => Ok(Op::Load {
            dst,
            slot: parse_slot(ln, operands)?,
        }),
        "call" => parse_call(ln, Some(dst), operands),
        "lsl" | "lsr" => {
            let (src, amt) = operands.split_once(',').ok_or_else(|| ParseError {
                line: ln,
                message: format!("expected `{opname} vN, amount`, found `{rhs}`"),
            })?;
            let op = if opname == "lsl" {
                ShiftOp::Lsl
            } else {
                ShiftOp::Lsr
            };
            Ok(Op::Shift {
                op,
                dst,
                src: parse_val(ln, src)?,
                amount: parse_small(ln, amt.trim(), "shift amount")?,
            })
        }
        _ => {
            let Some(op) = AluOp::from_name(opname) else {
                return err(
                    ln,
                    format!(
                        "expected an operation (const, load, call, lsl, lsr, {}), found `{opname}`",
                        AluOp::known()
                    ),
                );
            };
            let (a, b) = operands.split_once(',').ok_or_else(|| ParseError {
                line: ln,
                message: format!("expected `{opname} vA, vB`, found `{rhs}`"),
            })?;
            Ok(Op::Alu {
                op,
                dst,
                a: parse_val(ln, a)?,
                b: parse_val(ln, b)?,
            })
        }
    }
}

mod print;
#[cfg(test)]
mod tests;
