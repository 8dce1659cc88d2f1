//! Reading the plugin's counts files and the guest's maps files; errors name the line.

use super::*;
use crate::jitcode::verify::maps::parse_line;

fn hex(s: &str, what: &str) -> Result<u64, String> {
    u64::from_str_radix(s, 16).map_err(|_| format!("{what} `{s}` is not a hex number"))
}

fn dec(s: &str, what: &str) -> Result<u64, String> {
    s.parse::<u64>()
        .map_err(|_| format!("{what} `{s}` is not a decimal number"))
}

fn word(s: &str, what: &str) -> Result<u32, String> {
    if s.len() != 8 {
        return Err(format!("{what} `{s}` is not 8 hex digits"));
    }
    u32::from_str_radix(s, 16).map_err(|_| format!("{what} `{s}` is not 8 hex digits"))
}

fn fields<'a>(line: &'a str, n: usize, form: &str) -> Result<Vec<&'a str>, String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() != n {
        return Err(format!("expected `{form}`, got `{line}`"));
    }
    Ok(f)
}

fn parse_block(line: &str) -> Result<Block, String> {
    let f = fields(line, 4, "block <vaddr> <insns> <execs>")?;
    Ok(Block {
        vaddr: hex(f[1], "block address")?,
        insns: dec(f[2], "instruction count")?,
        execs: dec(f[3], "executions")?,
    })
}

fn parse_insn(line: &str) -> Result<Insn, String> {
    let f = fields(line, 5, "insn <vaddr> <word> <prev|-> <execs>")?;
    Ok(Insn {
        vaddr: hex(f[1], "instruction address")?,
        word: word(f[2], "word")?,
        prev: match f[3] {
            "-" => None,
            p => Some(word(p, "previous word")?),
        },
        execs: dec(f[4], "executions")?,
    })
}

/// Sum of instructions times executions over `blocks`, or an error on overflow.
fn blocks_total(blocks: &[Block]) -> Result<u64, String> {
    blocks.iter().try_fold(0u64, |acc, b| {
        b.insns
            .checked_mul(b.execs)
            .and_then(|n| acc.checked_add(n))
            .ok_or_else(|| "instruction total overflows 64 bits".to_string())
    })
}

/// Handle a `phase <n> begin|end|open ...` line.
fn phase_line(line: &str, current: &mut Option<Phase>, out: &mut Counts) -> Result<(), String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let number = f
        .get(1)
        .ok_or_else(|| format!("expected `phase <n> ...`, got `{line}`"))
        .and_then(|n| dec(n, "phase number"))? as u32;
    match f.get(2).copied() {
        Some("begin") if f.len() == 3 => {
            if let Some(p) = current {
                return Err(format!("phase {number} begins inside phase {}", p.number));
            }
            *current = Some(Phase {
                number,
                open: false,
                total: 0,
                blocks: Vec::new(),
                insns: Vec::new(),
            });
            Ok(())
        }
        Some(state @ ("end" | "open")) if f.len() == 4 => {
            let mut p = current
                .take()
                .ok_or_else(|| format!("phase {number} ends but never began"))?;
            if p.number != number {
                return Err(format!("phase {number} ends inside phase {}", p.number));
            }
            p.total = dec(f[3], "phase total")?;
            let sum = blocks_total(&p.blocks)?;
            if sum != p.total {
                return Err(format!(
                    "phase {number} total {} differs from its blocks' sum {sum}",
                    p.total
                ));
            }
            p.open = state == "open";
            out.phases.push(p);
            Ok(())
        }
        _ => Err(format!(
            "expected `phase <n> begin` or `phase <n> end|open <total>`, got `{line}`"
        )),
    }
}

/// Parse a counts file's text. Errors say `line N: ...`.
pub fn parse_counts(text: &str) -> Result<Counts, String> {
    let mut out = Counts {
        phases: Vec::new(),
        exit_total: None,
    };
    let mut current: Option<Phase> = None;
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l).unwrap_or("");
    if header != format!("{COUNTS_HEADER} {FORMAT_VERSION}") {
        return Err(format!(
            "line 1: expected `{COUNTS_HEADER} {FORMAT_VERSION}`, got `{header}`"
        ));
    }
    for (i, line) in lines {
        let at = |e: String| format!("line {}: {e}", i + 1);
        let kind = line.split_whitespace().next().unwrap_or("");
        match kind {
            "block" | "insn" => {
                let p = current
                    .as_mut()
                    .ok_or_else(|| at(format!("`{kind}` outside a phase")))?;
                if kind == "block" {
                    p.blocks.push(parse_block(line).map_err(at)?);
                } else {
                    p.insns.push(parse_insn(line).map_err(at)?);
                }
            }
            "phase" => phase_line(line, &mut current, &mut out).map_err(at)?,
            "exit" => {
                let f = fields(line, 2, "exit <total>").map_err(at)?;
                out.exit_total = Some(dec(f[1], "exit total").map_err(at)?);
            }
            _ => return Err(at(format!("unknown record `{line}`"))),
        }
    }
    if let Some(p) = current {
        return Err(format!(
            "line {}: truncated: phase {} has no end line",
            text.lines().count(),
            p.number
        ));
    }
    Ok(out)
}

/// Parse a maps file's text. Errors say `line N: ...`.
pub fn parse_maps(text: &str) -> Result<Maps, String> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l).unwrap_or("");
    let rest = header
        .strip_prefix(MAPS_HEADER)
        .ok_or_else(|| format!("line 1: expected `{MAPS_HEADER}<n> <name>`, got `{header}`"))?;
    let (n, name) = rest.split_once(' ').unwrap_or((rest, ""));
    let phase = dec(n, "phase number").map_err(|e| format!("line 1: {e}"))? as u32;
    let mut mappings = Vec::new();
    let mut ended = false;
    for (i, line) in lines {
        let at = |e: String| format!("line {}: {e}", i + 1);
        if ended {
            return Err(at(format!("text after the `{MAPS_END}{phase}` line")));
        }
        if let Some(end) = line.strip_prefix(MAPS_END) {
            if dec(end, "end phase number").map_err(at)? != u64::from(phase) {
                return Err(at(format!(
                    "end line `{line}` does not close phase {phase}"
                )));
            }
            ended = true;
        } else if !line.trim().is_empty() {
            mappings.push(parse_line(line).map_err(at)?);
        }
    }
    if !ended {
        return Err(format!(
            "line {}: truncated: no `{MAPS_END}{phase}` line (the guest's write was cut off, or \
             the file predates that line: run harness/cinderx/count-run again)",
            text.lines().count()
        ));
    }
    mappings.sort_by_key(|m| m.start);
    Ok(Maps {
        phase,
        name: name.to_string(),
        mappings,
    })
}
