//! Printing a [`Program`] in the canonical text form the parent module parses.

use super::MAGIC;
use crate::model::program::{Op, Program, ShiftOp};
use crate::Named;
use std::fmt::Write;

/// Print a program in its canonical text form.
pub fn print(p: &Program) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{MAGIC}");
    let _ = writeln!(s, "code {:#x}", p.code_base);
    if let Some(a) = p.anchor {
        let _ = writeln!(s, "anchor {a:#x}");
    }
    for (i, h) in p.helpers.iter().enumerate() {
        let _ = writeln!(s, "helper h{i} {:#x} args {}", h.addr, h.arity);
    }
    let _ = writeln!(s, "body");
    print_ops(&mut s, &p.body, 1);
    let _ = writeln!(s, "ret v{}", p.ret.0);
    s
}

/// Runs of this many identical one-line operations or more print as one `repeat N: OP` line.
const REPEAT_MIN: usize = 4;

fn print_ops(s: &mut String, ops: &[Op], depth: usize) {
    let ind = "  ".repeat(depth);
    let mut i = 0;
    while i < ops.len() {
        let op = &ops[i];
        let Some(line) = op_line(op) else {
            print_block(s, op, depth);
            i += 1;
            continue;
        };
        // A run longer than one `repeat` line may stand for prints as several lines.
        let run = ops[i..]
            .iter()
            .take(super::REPEAT_MAX as usize)
            .take_while(|o| *o == op)
            .count();
        if run >= REPEAT_MIN {
            let _ = writeln!(s, "{ind}repeat {run}: {line}");
            i += run;
        } else {
            let _ = writeln!(s, "{ind}{line}");
            i += 1;
        }
    }
}

/// The text of a one-line operation (`None` for `if` and `loop`).
fn op_line(op: &Op) -> Option<String> {
    Some(match op {
        Op::Const { dst, imm } => format!("v{} = const {imm:#x}", dst.0),
        Op::Alu { op, dst, a, b } => format!("v{} = {} v{}, v{}", dst.0, op.name(), a.0, b.0),
        Op::Shift {
            op,
            dst,
            src,
            amount,
        } => {
            let m = if *op == ShiftOp::Lsl { "lsl" } else { "lsr" };
            format!("v{} = {m} v{}, {amount}", dst.0, src.0)
        }
        Op::Load { dst, slot } => format!("v{} = load [{slot}]", dst.0),
        Op::Store { slot, src } => format!("store [{slot}], v{}", src.0),
        Op::Call { dst, helper, args } => {
            let args: Vec<String> = args.iter().map(|a| format!("v{}", a.0)).collect();
            match dst {
                Some(d) => format!("v{} = call h{helper}({})", d.0, args.join(", ")),
                None => format!("call h{helper}({})", args.join(", ")),
            }
        }
        Op::If { .. } | Op::Loop { .. } => return None,
    })
}

/// An `if` or `loop` with its blocks.
fn print_block(s: &mut String, op: &Op, depth: usize) {
    let ind = "  ".repeat(depth);
    match op {
        Op::If {
            cmp,
            a,
            b,
            then,
            els,
        } => {
            let _ = writeln!(s, "{ind}if v{} {} v{} {{", a.0, cmp.name(), b.0);
            print_ops(s, then, depth + 1);
            if !els.is_empty() {
                let _ = writeln!(s, "{ind}}} else {{");
                print_ops(s, els, depth + 1);
            }
            let _ = writeln!(s, "{ind}}}");
        }
        Op::Loop { count, body } => {
            let _ = writeln!(s, "{ind}loop {count} {{");
            print_ops(s, body, depth + 1);
            let _ = writeln!(s, "{ind}}}");
        }
        _ => unreachable!("print_ops prints one-line operations itself"),
    }
}
