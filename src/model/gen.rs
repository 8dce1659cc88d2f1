//! Program generator: bytes (via `arbitrary::Unstructured`) plus a named [`Profile`] → [`Program`].
//!
//! The same bytes and profile always give the same program. [`from_seed`] expands a 64-bit seed
//! into bytes with splitmix64 so `a64call gen --seed N` is reproducible too.

use crate::asm::buffer::LabelUse;
use crate::asm::encode::ADRP_PAGES;
use crate::isa::AluOp;
use crate::layout;
use crate::machine::window::{Window, WINDOWS};
use crate::model::profile::Profile;
use crate::model::program::{
    CmpOp, Distance, Helper, Op, Program, ShiftOp, Val, MAX_LOOP_DEPTH, NEAR_GUESS_REACH,
    NUM_VALUES, SCRATCH_SLOTS,
};
use crate::Named;
use arbitrary::{Result, Unstructured};

/// Generated helpers keep this far above the code base so even `huge` functions never reach them.
pub const CODE_CLEARANCE: u64 = 16 << 20;

/// splitmix64's output for state `x`: the state advanced once, then mixed.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Expand a seed into `n` bytes (splitmix64), the input [`generate`] consumes.
pub fn seed_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        out.extend_from_slice(&splitmix64(x).to_le_bytes());
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    }
    out.truncate(n);
    out
}

/// Generate the program for `seed` under `profile`.
/// Its window is [`Window::for_seed`]: seeds in a row share one, so an engine running them in
/// order keeps the window's pages mapped and its helpers translated.
pub fn from_seed(seed: u64, profile: &Profile) -> Program {
    let bytes = seed_bytes(seed, profile.seed_bytes);
    let mut u = Unstructured::new(&bytes);
    generate_in(&mut u, profile, Some(Window::for_seed(seed)))
        .expect("generation from seed bytes cannot fail")
}

struct Gen<'p> {
    p: &'p Profile,
    helpers: Vec<Helper>,
    /// Calls generated so far; rotates the helper choice so that even an input that has run
    /// out of bytes (every draw 0) calls several helpers.
    calls: u32,
}

/// Generate a program from raw bytes under `profile`. Never fails on short input: missing bytes
/// read as zeros, giving small programs. The result always passes [`Program::validate`].
/// Its window ([`crate::machine::window`]) is drawn from the bytes.
pub fn generate(u: &mut Unstructured, profile: &Profile) -> Result<Program> {
    generate_in(u, profile, None)
}

/// [`generate`] in `window` (drawn from the bytes when `None`): the code at the window's code
/// base, each helper at its slot in the window's bank of its distance class, except those aimed
/// at a range edge (and helpers beyond the banks' ids), which are placed one per 64 KiB page
/// clear of the banks.
pub fn generate_in(
    u: &mut Unstructured,
    profile: &Profile,
    window: Option<Window>,
) -> Result<Program> {
    let window = match window {
        Some(w) => w,
        None => Window::new(u.int_in_range(0..=WINDOWS - 1)?).expect("a window number"),
    };
    let code_base = window.code_base();
    let nh = u
        .int_in_range(profile.helpers.0..=profile.helpers.1)?
        .max(1);
    let mut helpers: Vec<Helper> = Vec::new();
    for id in 0..nh as usize {
        let (wn, wm, wf) = profile.distance;
        let total = u32::from(wn) + u32::from(wm) + u32::from(wf);
        let pick = u.int_in_range(0..=total.max(1) - 1)?;
        let class = if pick < u32::from(wn) {
            Distance::Near
        } else if pick < u32::from(wn) + u32::from(wm) {
            Distance::Mid
        } else {
            Distance::Far
        };
        let arity = u.int_in_range(profile.args.0..=profile.args.1.min(8))?;
        let aimed = match class {
            Distance::Near => None,
            _ if !u.ratio(1, 4)? => None,
            _ => Some(edge_target(u, code_base, class)?).filter(|&a| free(a, code_base, &helpers)),
        };
        let addr = match aimed.or_else(|| window.slot(class, id, arity)) {
            Some(a) => a,
            None => place_helper(u, code_base, class, &helpers)?,
        };
        helpers.push(Helper { addr, arity });
    }
    let mut g = Gen {
        p: profile,
        helpers,
        calls: 0,
    };
    let n = u.int_in_range(profile.ops.0..=profile.ops.1)?;
    let mut body = Vec::with_capacity(n as usize);
    for _ in 0..n {
        body.push(g.op(u, 0, 0)?);
    }
    let ret = Val(u.int_in_range(0..=NUM_VALUES - 1)?);
    // Drawn last, so a profile without anchors makes the programs it made before from the same
    // bytes (a byte stream that feeds several programs in a row, as the fuzzers' do, shifts after
    // a program that drew one).
    let anchor = anchor(u, profile, code_base, &mut g.helpers)?;
    let p = Program {
        code_base,
        helpers: g.helpers,
        body,
        ret,
        anchor,
    };
    debug_assert!(p.validate().is_ok(), "{:?}", p.validate());
    Ok(p)
}

/// The program's anchor ([`Program::anchor`]) and its library, drawn by the profile's `anchor`
/// weights. The anchor stands for `_cinderx.so`'s code and the near-class helpers for the
/// functions in it, so those move to within 8 MiB of the anchor (each where it is free): the
/// patch guesses every one of them near. The library lies 4 to 20 MiB from the code (as CinderX's
/// code lies about 12 MiB from `_cinderx.so`; every guess right), 130 to 300 MiB from it (code
/// placed far from the library, 204 MiB was seen: its calls into the library are near guesses
/// `bl` cannot reach, relaxed to stubs), or near the code with one helper moved exactly to the
/// 96 MiB guess edge ([`NEAR_GUESS_REACH`]: a word inside, on it, or a word outside, either
/// side). Far-class helpers stay far, guessed far. Drawn after everything else, so a profile
/// without anchors makes the programs it made before from the same bytes.
fn anchor(
    u: &mut Unstructured,
    p: &Profile,
    code: u64,
    helpers: &mut [Helper],
) -> Result<Option<u64>> {
    let w = p.anchor.map(u32::from);
    if w[1..].iter().all(|&x| x == 0) {
        return Ok(None);
    }
    let pick = u.int_in_range(0..=w.iter().sum::<u32>() - 1)?;
    if pick < w[0] {
        return Ok(None);
    }
    let mib = 1u64 << 20;
    let (lo, hi) = if pick < w[0] + w[1] + w[2] && pick >= w[0] + w[1] {
        (130 * mib, 300 * mib)
    } else {
        (4 * mib, 20 * mib)
    };
    let page = layout::HELPER_PAGE;
    // A page-aligned distance plus 16..=1024 bytes, so a helper at the anchor ± 96 MiB ± 4 still
    // starts inside its page with room for its code. Above the code the distance counts from the
    // end of the code's clearance, and the library's 8 MiB are kept clear of the code both ways.
    let d = u.int_in_range(lo / page..=hi / page)? * page;
    let base = if u.arbitrary::<bool>()? {
        code + CODE_CLEARANCE + 8 * mib + d
    } else {
        code.saturating_sub(8 * mib + d)
    };
    let anchor = base + 4 * u64::from(u.int_in_range(4..=256u16)?);
    if !(layout::USER_MIN..layout::USER_MAX).contains(&anchor) {
        return Ok(None);
    }
    move_library(u, code, anchor, helpers)?;
    if pick >= w[0] + w[1] + w[2] {
        move_to_guess_edge(u, code, anchor, helpers)?;
    }
    Ok(Some(anchor))
}

/// Each near-class helper moved to within 8 MiB of `anchor` (keeping its offset in its page), to
/// the first free page from a random one; one that finds none stays where it is.
fn move_library(
    u: &mut Unstructured,
    code: u64,
    anchor: u64,
    helpers: &mut [Helper],
) -> Result<()> {
    let page = layout::HELPER_PAGE;
    for i in 0..helpers.len() {
        if Distance::between(code, helpers[i].addr) != Distance::Near {
            continue;
        }
        let others: Vec<Helper> = [&helpers[..i], &helpers[i + 1..]].concat();
        // From a random one of the 256 pages within 8 MiB of the anchor, the first free one.
        let first = u.int_in_range(0..=255u64)?;
        let spot = (0..256u64)
            .map(|j| ((anchor / page + (first + j) % 256).wrapping_sub(128)) * page)
            .map(|p| p + helpers[i].addr % page)
            .find(|&new| new.abs_diff(anchor) <= 8 << 20 && free(new, code, &others));
        if let Some(new) = spot {
            helpers[i].addr = new;
        }
    }
    Ok(())
}

/// One helper moved to `anchor` ± 96 MiB, a word inside, on, or a word outside the guess edge,
/// where that is free.
fn move_to_guess_edge(
    u: &mut Unstructured,
    code: u64,
    anchor: u64,
    helpers: &mut [Helper],
) -> Result<()> {
    let i = u.int_in_range(0..=helpers.len() - 1)?;
    let edge = NEAR_GUESS_REACH as i64 + 4 * (i64::from(u.int_in_range(0..=2u8)?) - 1);
    let new = if u.arbitrary::<bool>()? {
        anchor as i64 + edge
    } else {
        anchor as i64 - edge
    };
    let others: Vec<Helper> = [&helpers[..i], &helpers[i + 1..]].concat();
    if new > 0 && free(new as u64, code, &others) {
        helpers[i].addr = new as u64;
    }
    Ok(())
}

/// A helper address aimed at a range edge of a call site among the function's first 16 words
/// past the prologue (where a site lands is known only once emitted; `differential::edges` counts the
/// edges runs met): for a mid helper `bl`'s last reachable word forward or backward, for a far one
/// `adrp`'s last reachable page forward or backward; one step inside, exactly on it, or one step
/// outside. Both stay in their distance class (the class boundaries are 4 MiB inside the reach).
fn edge_target(u: &mut Unstructured, code: u64, class: Distance) -> Result<u64> {
    let site = (code + 12 + 4 * u64::from(u.int_in_range(0..=15u8)?)) as i64;
    let step = i64::from(u.int_in_range(0..=2u8)?) - 1;
    let forward = u.arbitrary::<bool>()?;
    let addr = if class == Distance::Mid {
        let b = LabelUse::Branch26;
        let edge = if forward {
            b.max_forward()
        } else {
            -b.max_backward()
        };
        site + edge + 4 * step
    } else {
        let pages = if forward { ADRP_PAGES - 1 } else { -ADRP_PAGES } + step;
        let within = 4 * i64::from(u.int_in_range(0..=((4096 - 16) / 4) as u16)?);
        (((site >> 12) + pages) << 12) + within
    };
    Ok(addr as u64)
}

/// Can a helper go at `a`: in the user range, its code inside one 64 KiB page that is clear of
/// the function's, of the helper banks of the code's window and of every other helper's?
fn free(a: u64, code: u64, taken: &[Helper]) -> bool {
    let page = layout::HELPER_PAGE;
    let p = a / page * page;
    let in_banks = || Window::of(code).is_some_and(|w| w.in_bank_pages(p));
    a >= layout::USER_MIN
        && a + layout::HELPER_MAX_BYTES <= layout::USER_MAX
        && a % page <= page - layout::HELPER_MAX_BYTES
        && !(p < code + CODE_CLEARANCE && code < p + page)
        && taken.iter().all(|h| h.addr / page != p / page)
        && !in_banks()
}

/// Pick a helper address of the wanted distance class; falls back to a deterministic search if
/// the random choice collides with the code or another helper.
fn place_helper(u: &mut Unstructured, code: u64, class: Distance, taken: &[Helper]) -> Result<u64> {
    let page = layout::HELPER_PAGE;
    let off = match u.int_in_range(0..=3u8)? {
        0 => 0,
        _ => u64::from(u.int_in_range(0..=((page - layout::HELPER_MAX_BYTES) / 4) as u32)?) * 4,
    };
    let mib = 1u64 << 20;
    let raw_page = match class {
        Distance::Near => {
            let d = u.int_in_range(0..=(100 * mib) / page)? * page;
            if u.arbitrary::<bool>()? {
                code + CODE_CLEARANCE + d
            } else {
                code.saturating_sub(d + page)
            }
        }
        Distance::Mid => {
            let d = u.int_in_range((140 * mib) / page..=((4u64 << 30) - 200 * mib) / page)? * page;
            if u.arbitrary::<bool>()? {
                code + d
            } else {
                code.saturating_sub(d)
            }
        }
        Distance::Far => {
            // Mix halfwords so immediates with 0x0000 and 0xffff halfwords show up.
            let hw2 = match u.int_in_range(0..=3u8)? {
                0 => 0,
                1 => (layout::USER_MAX >> 32) - 1,
                _ => u64::from(u.int_in_range(0..=((layout::USER_MAX >> 32) - 1) as u16)?),
            };
            let hw1 = match u.int_in_range(0..=3u8)? {
                0 => 0,
                1 => 0xFFFF,
                _ => u64::from(u.arbitrary::<u16>()?),
            };
            (hw2 << 32) | (hw1 << 16)
        }
    } / page
        * page;
    let ok = |p: u64| free(p + off, code, taken) && Distance::between(code, p + off) == class;
    let mut p = raw_page;
    for k in 0..4096u64 {
        if ok(p) {
            return Ok(p + off);
        }
        // Walk outward from the code region until the class and no-overlap rules hold.
        p = layout::align_up(
            match class {
                Distance::Near => code + CODE_CLEARANCE + k * page,
                Distance::Mid => code + (200 * mib) + k * page,
                Distance::Far => {
                    if code > (8u64 << 30) + layout::USER_MIN {
                        layout::USER_MIN + k * page
                    } else {
                        code + (8u64 << 30) + k * page
                    }
                }
            },
            page,
        );
    }
    unreachable!("no free helper page near {code:#x}")
}

impl Gen<'_> {
    fn val(&self, u: &mut Unstructured) -> Result<Val> {
        Ok(Val(u.int_in_range(0..=NUM_VALUES - 1)?))
    }

    fn call(&mut self, u: &mut Unstructured) -> Result<Op> {
        let n = self.helpers.len() as u16;
        let helper = ((u32::from(u.int_in_range(0..=n - 1)?) + self.calls % u32::from(n))
            % u32::from(n)) as u16;
        self.calls = self.calls.wrapping_add(1);
        let arity = self.helpers[helper as usize].arity;
        let args = (0..arity)
            .map(|_| self.val(u))
            .collect::<Result<Vec<_>>>()?;
        let dst = if u.ratio(4, 5)? {
            Some(self.val(u)?)
        } else {
            None
        };
        Ok(Op::Call { dst, helper, args })
    }

    fn block(&mut self, u: &mut Unstructured, depth: u8, loops: usize) -> Result<Vec<Op>> {
        let n = u.int_in_range(1..=self.p.max_block.max(1))?;
        (0..n).map(|_| self.op(u, depth, loops)).collect()
    }

    /// A loop body aimed at the 32 KiB reach of the loop's backward `tbz`: one `alu` operation
    /// (one word) repeated so that, with the three words that count the pass before the `tbz`
    /// (`emit::Lower::counted_loop`), the `tbz` lies one word inside its reach, on it, or one word
    /// beyond, unless an island lands in the body. `differential::edges` counts what was met.
    fn tbz_edge_body(&mut self, u: &mut Unstructured) -> Result<Vec<Op>> {
        const ON_EDGE: i64 = LabelUse::Test14.max_backward() / 4 - 3;
        let words = ON_EDGE + i64::from(u.int_in_range(0..=2u8)?) - 1;
        let op = Op::Alu {
            op: *u.choose(AluOp::all())?,
            dst: self.val(u)?,
            a: self.val(u)?,
            b: self.val(u)?,
        };
        Ok(vec![op; words as usize])
    }

    fn op(&mut self, u: &mut Unstructured, depth: u8, loops: usize) -> Result<Op> {
        let roll = u.int_in_range(0..=99u8)?;
        let nest = depth < self.p.max_depth;
        if nest && roll < self.p.loop_pct && loops < MAX_LOOP_DEPTH {
            let count = u.int_in_range(1..=self.p.max_loop_count.max(1))?;
            let aimed =
                self.p.edge_loop_pct > 0 && u.int_in_range(0..=99u8)? < self.p.edge_loop_pct;
            let body = if aimed {
                self.tbz_edge_body(u)?
            } else {
                self.block(u, depth + 1, loops + 1)?
            };
            return Ok(Op::Loop { count, body });
        }
        if nest && roll >= self.p.loop_pct && roll < self.p.loop_pct.saturating_add(self.p.if_pct) {
            let cmp = *u.choose(CmpOp::all())?;
            let (a, b) = (self.val(u)?, self.val(u)?);
            let then = self.block(u, depth + 1, loops)?;
            let els = if u.arbitrary()? {
                self.block(u, depth + 1, loops)?
            } else {
                Vec::new()
            };
            return Ok(Op::If {
                cmp,
                a,
                b,
                then,
                els,
            });
        }
        if u.int_in_range(0..=99u8)? < self.p.call_pct {
            return self.call(u);
        }
        Ok(match u.int_in_range(0..=5u8)? {
            0 => Op::Const {
                dst: self.val(u)?,
                imm: constant(u)?,
            },
            1 => Op::Load {
                dst: self.val(u)?,
                slot: u.int_in_range(0..=SCRATCH_SLOTS - 1)?,
            },
            2 => Op::Store {
                slot: u.int_in_range(0..=SCRATCH_SLOTS - 1)?,
                src: self.val(u)?,
            },
            3 => Op::Shift {
                op: if u.arbitrary()? {
                    ShiftOp::Lsl
                } else {
                    ShiftOp::Lsr
                },
                dst: self.val(u)?,
                src: self.val(u)?,
                amount: u.int_in_range(1..=63)?,
            },
            _ => Op::Alu {
                op: *u.choose(AluOp::all())?,
                dst: self.val(u)?,
                a: self.val(u)?,
                b: self.val(u)?,
            },
        })
    }
}

/// A constant for `const`: half the time uniform over 64 bits, half from the values a
/// mov-immediate lowering gets wrong (0, all-ones, one halfword set, all-ones but one halfword
/// (a `movn`), 32-bit and sign boundaries, small negatives).
fn constant(u: &mut Unstructured) -> Result<u64> {
    if u.arbitrary::<bool>()? {
        return u.arbitrary();
    }
    let half = u64::from(u.arbitrary::<u16>()?) << (16 * u.int_in_range(0..=3u32)?);
    Ok(match u.int_in_range(0..=5u8)? {
        0 => 0,
        1 => u64::MAX,
        2 => half,
        3 => !half,
        4 => *u.choose(&BOUNDARIES)?,
        _ => u64::from(u.int_in_range(1..=16u8)?).wrapping_neg(),
    })
}

/// 32-bit and sign boundaries.
const BOUNDARIES: [u64; 8] = [
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    0x1_0000_0000,
    0xFFFF_FFFF_0000_0000,
    0xFFFF_FFFF_8000_0000,
    0x7FFF_FFFF_FFFF_FFFF,
    0x8000_0000_0000_0000,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::text;

    #[test]
    fn same_seed_same_program_and_text_round_trips() {
        for prof in [
            crate::model::profile::BuiltIn::Default,
            crate::model::profile::BuiltIn::Tiny,
            crate::model::profile::BuiltIn::Nested,
            crate::model::profile::BuiltIn::Far64,
            crate::model::profile::BuiltIn::Cinderx,
        ] {
            let p = prof.profile();
            for seed in 0..200 {
                let a = from_seed(seed, &p);
                assert_eq!(a, from_seed(seed, &p));
                a.validate().unwrap();
                let t = text::print(&a);
                let back =
                    text::parse(&t).unwrap_or_else(|e| panic!("{prof} seed {seed}: {e}\n{t}"));
                assert_eq!(back, a, "{prof} seed {seed}");
            }
        }
    }

    #[test]
    fn arbitrary_bytes_round_trip() {
        // Property: any byte string gives a valid program whose text round-trips.
        let p = crate::model::profile::BuiltIn::Default.profile();
        for seed in 0..300u64 {
            let len = (seed as usize * 37) % 4000;
            let bytes = seed_bytes(seed ^ 0xABCD, len);
            let prog = generate(&mut Unstructured::new(&bytes), &p).unwrap();
            prog.validate().unwrap();
            assert_eq!(text::parse(&text::print(&prog)).unwrap(), prog);
        }
    }

    #[test]
    fn far64_has_the_promised_shape() {
        let p = from_seed(1, &crate::model::profile::BuiltIn::Far64.profile());
        assert_eq!(p.call_sites(), 64);
        assert_eq!(p.helpers.len(), 8);
        assert!((0..8).all(|h| p.distance(h) == Distance::Far));
    }

    #[test]
    fn distance_classes_are_respected() {
        let p = Profile {
            distance: (1, 1, 1),
            helpers: (8, 8),
            ..crate::model::profile::BuiltIn::Default.profile()
        };
        let mut seen = std::collections::HashSet::new();
        for seed in 0..50 {
            let prog = from_seed(seed, &p);
            for h in 0..prog.helpers.len() {
                seen.insert(prog.distance(h));
            }
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
    }
}
