//! What runs besides the emitted function: the helpers (real AArch64 code at their layout
//! addresses), the memory image every engine loads, and the call-log format.
//!
//! A helper is the same machine code on every engine, so engines differ only in how they execute
//! it. On entry helper `k` appends a record to the call log ([`record`], [`CallRecord`]):
//! `x0..x15`, its own entry address, `sp`, `x30` and the caller's loop-counter slots `[sp+16..sp+40)`, using only
//! IP0/IP1 (`x16`, `x17`, which a call sequence may clobber) until `x8..x15` are logged, so the log
//! shows every register a call sequence must preserve as the sequence left it. It returns
//! `r = ror(...ror(seed_k ^ x0, 7) ^ x1 ...)` over exactly its arity's arguments and clobbers every
//! other caller-saved register (`x1..x17`) with `r + n`, so a caller that keeps a live value in a
//! caller-saved register is caught. A full log ends the run with `brk #0xf10`.

use super::window::Window;
use crate::asm::buffer::EmitError;
use crate::asm::encode::{mov_imm_fixed4, mov_imm_minimal, AluOp, Cond, Inst, SP};
use crate::emit::Emitted;
use crate::layout::{self, HELPER_PAGE, LOGCTL_ADDR, LOG_ENTRY_BYTES};
use crate::model::program::MAX_LOOP_DEPTH;
use crate::model::program::{Helper, Program};
use std::ops::Range;
use std::sync::Arc;

/// `brk` immediate used when the call log is full.
pub const BRK_LOG_FULL: u16 = 0xF10;

/// The seed a helper mixes its arguments into.
pub fn helper_seed(id: usize, arity: u8) -> u64 {
    (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(arity) << 56) ^ 0x00C0_FFEE
}

/// The value helper `id` returns for arguments `args` (its first `arity` entries count).
pub fn helper_result(id: usize, arity: u8, args: &[u64; 8]) -> u64 {
    let mut r = helper_seed(id, arity);
    for (i, a) in args.iter().take(arity as usize).enumerate() {
        r = (r ^ a).rotate_right(7 + 3 * i as u32);
    }
    r
}

/// The call-log record: where each field sits, in 8-byte words. The helper's code
/// (`log_call`) writes these and [`parse_log`] reads them; nothing else knows the layout.
pub mod record {
    /// `x0..x7` at the helper's entry, words `X0..X0 + 8`.
    pub const X0: usize = 0;
    /// The helper routine's own entry address (each routine is built for its address), so a
    /// call that enters another routine is seen even when that one has the same id, as the
    /// routines of a helper bank do ([`crate::machine::window`]).
    pub const HELPER: usize = 8;
    /// `sp` at entry (must follow [`HELPER`]: one `stp` writes both).
    pub const SP: usize = 9;
    /// `x30` at entry: the return address.
    pub const RET: usize = 10;
    /// `x8..x15` at entry, words `X8..X8 + 8`.
    pub const X8: usize = 11;
    /// The caller's loop-counter slots `[sp + 16 + 8 * depth]`, one word per depth.
    pub const FRAME: usize = 19;
    /// Words per record.
    pub const WORDS: usize = FRAME + super::MAX_LOOP_DEPTH;
}

const _: () = assert!(record::WORDS as u64 * 8 == LOG_ENTRY_BYTES);

/// Instructions of helper `id`: append a call-log entry ([`record`]), then compute
/// the result from its arguments and clobber x1..x17 (`log_call` and `compute_result`);
/// a full log ends in `brk #BRK_LOG_FULL`.
pub fn helper_code(id: usize, h: &Helper) -> Vec<Inst> {
    let mut c = Vec::new();
    let bcond_at = log_call(&mut c, h.addr);
    compute_result(&mut c, id, h);
    let brk_at = c.len();
    c.push(Inst::Brk {
        imm16: BRK_LOG_FULL,
    });
    c[bcond_at] = Inst::BCond {
        cond: Cond::Hs,
        offset: 4 * (brk_at - bcond_at) as i32,
    };
    c
}

/// The log entry ([`record`]) at the cursor, which moves on. Until `x8..x15` are stored only IP0
/// and IP1 are written (`x16` the control block, then the limit; `x17` the cursor); after that
/// `x8..x11` serve as scratch. Returns the index of the `b.hs` (log full) whose offset the caller
/// sets.
fn log_call(c: &mut Vec<Inst>, entry: u64) -> usize {
    use record::{HELPER, RET, X0, X8};
    let word = |w: usize| w as i8;
    let (ctl, cur) = (16, 17);
    c.extend(mov_imm_minimal(ctl, LOGCTL_ADDR));
    c.push(Inst::Ldp {
        rt: cur,
        rt2: ctl,
        rn: ctl,
        imm7: 0,
    });
    c.push(Inst::CmpReg { rn: cur, rm: ctl });
    let bcond_at = c.len();
    c.push(Inst::BCond {
        cond: Cond::Hs,
        offset: 0,
    });
    for (first, at) in [(0u8, X0), (8, X8)] {
        for i in 0..4u8 {
            let rt = first + 2 * i;
            c.push(Inst::Stp {
                rt,
                rt2: rt + 1,
                rn: cur,
                imm7: word(at) + 2 * i as i8,
            });
        }
    }
    c.push(Inst::AddImm {
        rd: 9,
        rn: SP,
        imm12: 0,
    });
    // Always four words (the routine's length does not depend on its address, so a bank's
    // routines are one template per id and arity with these words patched: [`entry_words`]).
    c.extend(mov_imm_fixed4(8, entry));
    c.push(Inst::Stp {
        rt: 8,
        rt2: 9,
        rn: cur,
        imm7: word(HELPER),
    });
    c.push(Inst::StrImm {
        rt: 30,
        rn: cur,
        imm12: RET as u16,
    });
    log_frame(c, cur);
    c.push(Inst::AddImm {
        rd: cur,
        rn: cur,
        imm12: LOG_ENTRY_BYTES as u16,
    });
    c.extend(mov_imm_minimal(ctl, LOGCTL_ADDR));
    c.push(Inst::StrImm {
        rt: cur,
        rn: ctl,
        imm12: 0,
    });
    bcond_at
}

/// The caller's loop-counter slots `[sp + 16 + 8 * depth]` into the record at `cur`, through
/// x10/x11 (already logged).
fn log_frame(c: &mut Vec<Inst>, cur: u8) {
    use record::FRAME;
    let word = |w: usize| w as i8;
    for d in (0..MAX_LOOP_DEPTH).step_by(2) {
        let slot = 2 + d as u16;
        if d + 1 < MAX_LOOP_DEPTH {
            c.push(Inst::Ldp {
                rt: 10,
                rt2: 11,
                rn: SP,
                imm7: slot as i8,
            });
            c.push(Inst::Stp {
                rt: 10,
                rt2: 11,
                rn: cur,
                imm7: word(FRAME + d),
            });
        } else {
            c.push(Inst::LdrImm {
                rt: 10,
                rn: SP,
                imm12: slot,
            });
            c.push(Inst::StrImm {
                rt: 10,
                rn: cur,
                imm12: (FRAME + d) as u16,
            });
        }
    }
}

/// Helper `id` of `arity` as bytes for address 0, and the byte offset of the four words that put
/// its own address in x8: the routine at any other address differs in those words alone
/// ([`entry_words`]; `tests::a_routine_differs_by_address_only_in_its_entry_words`).
pub(crate) fn helper_template(id: usize, arity: u8) -> (Vec<u8>, usize) {
    let probe = |addr| helper_code(id, &Helper { addr, arity });
    let at = probe(0)
        .iter()
        .zip(probe(u64::MAX))
        .position(|(a, b)| *a != b)
        .expect("the entry words differ");
    (encode_all(&probe(0)), 4 * at)
}

/// Instructions in helper `id`'s routine of `arity` arguments, at any address (the address is
/// always four words, as `helper_template` shows); computed once per (id, arity) and thread.
pub fn helper_code_len(id: usize, arity: u8) -> u64 {
    thread_local! {
        static LEN: std::cell::RefCell<rustc_hash::FxHashMap<(usize, u8), u64>> =
            Default::default();
    }
    LEN.with_borrow_mut(|m| {
        *m.entry((id, arity))
            .or_insert_with(|| helper_code(id, &Helper { addr: 0, arity }).len() as u64)
    })
}

/// The four words that put `entry` in x8, as helper code writes them.
pub(crate) fn entry_words(entry: u64) -> Vec<u8> {
    encode_all(&mov_imm_fixed4(8, entry))
}

/// x0 = the helper's function of its arguments ([`helper_seed`], then per argument an `eor`
/// and a rotation); x1..x17 clobbered with x0 + n; `ret`.
fn compute_result(c: &mut Vec<Inst>, id: usize, h: &Helper) {
    c.extend(mov_imm_minimal(9, helper_seed(id, h.arity)));
    for i in 0..h.arity {
        c.push(Inst::Alu {
            op: AluOp::Eor,
            rd: 9,
            rn: 9,
            rm: i,
        });
        c.push(Inst::Ror {
            rd: 9,
            rn: 9,
            shift: 7 + 3 * i,
        });
    }
    c.push(Inst::MovReg { rd: 0, rm: 9 });
    for r in 1..=17u8 {
        c.push(Inst::AddImm {
            rd: r,
            rn: 0,
            imm12: u16::from(r),
        });
    }
    c.push(Inst::Ret);
}

pub(crate) fn encode_all(insts: &[Inst]) -> Vec<u8> {
    insts
        .iter()
        .flat_map(|i| i.encode().expect("harness code encodes").to_le_bytes())
        .collect()
}

/// Bytes to place at an address before the run (memory around them reads as zero).
#[derive(Clone, Debug)]
pub struct Segment {
    /// First address.
    pub addr: u64,
    /// Contents, shared: the helper banks of a window ([`crate::machine::window`]) are built
    /// once and the same allocation goes into every image in that window, so an engine that
    /// compares a segment with what it loaded before finds it equal by pointer (see the
    /// `PartialEq` below).
    pub bytes: Arc<[u8]>,
}

/// Equal when at the same address with the same bytes. Shared bytes are equal without reading
/// them (`Arc<[u8]>`'s own `==` compares every byte: the standard library's pointer shortcut
/// is for sized contents only).
impl PartialEq for Segment {
    fn eq(&self, other: &Segment) -> bool {
        self.addr == other.addr
            && (Arc::ptr_eq(&self.bytes, &other.bytes) || self.bytes == other.bytes)
    }
}

impl Eq for Segment {}

impl Segment {
    /// One past the last address.
    pub fn end(&self) -> u64 {
        self.addr + self.bytes.len() as u64
    }
}

/// Everything an engine loads for one run, beside the fixed regions of [`crate::layout`].
#[derive(Clone, Debug)]
pub struct Image {
    /// The function's code (first), the window's helper banks and each other helper's code, at
    /// their addresses ([`Image::build`]). Engines map at least the pages these cover,
    /// zero-filled elsewhere; no two share a 64 KiB page.
    pub segments: Vec<Segment>,
    /// Address range of the emitted function (code, pools, stubs).
    pub code: Range<u64>,
    /// Where execution starts.
    pub entry: u64,
    /// Runaway limit on instructions executed.
    pub insn_limit: u64,
}

impl Image {
    /// Build the image for `emitted` (of `program`), placing its code at `base`
    /// (normally `program.code_base`; elsewhere for relocation tests).
    ///
    /// The segments: the code, then the helper banks of the program's window when its code
    /// base is a window's ([`Window::of`]; a helper at its slot there has no segment of its own,
    /// [`Program::validate`] allows no other helper in the banks), then each other helper.
    pub fn build(program: &Program, emitted: &Emitted, base: u64) -> Result<Image, EmitError> {
        let len = emitted.code.bytes.len() as u64;
        Image::check_placement(program, len, base)?;
        let mut segments = vec![Segment {
            addr: base,
            bytes: emitted.code.bytes.as_slice().into(),
        }];
        let window = Window::of(program.code_base);
        if let Some(w) = window {
            segments.extend(w.banks().iter().cloned());
        }
        for (id, h) in program.helpers.iter().enumerate() {
            if window.is_some_and(|w| w.slot_at(h.addr).is_some()) {
                continue; // its bank slot (check_placement allows no other helper there)
            }
            segments.push(Segment {
                addr: h.addr,
                bytes: encode_all(&helper_code(id, h)).into(),
            });
        }
        Ok(Image {
            segments,
            code: base..base + len,
            entry: base,
            insn_limit: layout::DEFAULT_INSN_LIMIT,
        })
    }

    /// Can `program`'s code of `len` bytes be placed at `base`? Not when it would share a
    /// 64 KiB page with a helper bank or with a helper, or when a helper lies in a bank but not
    /// at its own slot: every one of these is [`EmitError::is_unsupported`]. The differential
    /// asks this as soon as a strategy has emitted, before the static check, so such a program
    /// is unsupported whatever the strategy, never a finding against it.
    pub fn check_placement(program: &Program, len: u64, base: u64) -> Result<(), EmitError> {
        let start = base & !(HELPER_PAGE - 1);
        let end = layout::align_up(base + len, HELPER_PAGE);
        let window = Window::of(program.code_base);
        if let Some(w) = window {
            for pages in w.bank_pages() {
                if pages.start < end && start < pages.end {
                    return Err(EmitError::BankOverlap { addr: pages.start });
                }
            }
        }
        for (id, h) in program.helpers.iter().enumerate() {
            match window.and_then(|w| w.slot_at(h.addr)) {
                Some((_, slot_id, arity)) if slot_id == id && arity == h.arity => continue,
                // Another helper's routine: its result would not be this helper's
                // (Program::validate refuses such a program; the generator never makes one).
                Some(_) => {
                    return Err(EmitError::ForeignSlot {
                        helper: id as u16,
                        addr: h.addr,
                    })
                }
                None => {}
            }
            let page = h.addr & !(HELPER_PAGE - 1);
            if page < end && start < page + HELPER_PAGE {
                return Err(EmitError::HelperOverlap {
                    helper: id as u16,
                    addr: h.addr,
                });
            }
        }
        Ok(())
    }

    /// An image of `bytes` alone at `base`, entered there, with no helpers (hand-written code
    /// for the engines' tests) and a limit of 100,000 instructions.
    pub fn code_only(base: u64, bytes: Vec<u8>) -> Image {
        let len = bytes.len() as u64;
        Image {
            segments: vec![Segment {
                addr: base,
                bytes: bytes.into(),
            }],
            code: base..base + len,
            entry: base,
            insn_limit: 100_000,
        }
    }

    /// The address of the first `svc` word (any immediate) in the image's segments, executed
    /// or not. Code is never writable, so an image without one makes no system call of its own
    /// (under the ELF engine a branch into the ELF's own routines still can: see
    /// [`crate::engine::Exit::SystemCall`]).
    pub fn system_call_at(&self) -> Option<u64> {
        const SVC_MASK: u32 = 0xFFE0_001F;
        const SVC: u32 = 0xD400_0001;
        self.segments.iter().find_map(|s| {
            s.bytes.chunks_exact(4).enumerate().find_map(|(k, w)| {
                let w = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                (w & SVC_MASK == SVC).then_some(s.addr + 4 * k as u64)
            })
        })
    }
}

/// One helper call as the helper logged it ([`record`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// The entry address of the routine that logged the call ([`record::HELPER`]).
    pub entry: u64,
    /// `x0..x15` at entry: the arguments, then the registers a call sequence must preserve
    /// besides the callee-saved ones.
    pub regs: [u64; 16],
    /// sp at entry (must be 16-byte aligned).
    pub sp: u64,
    /// x30 at entry: the return address.
    pub ret: u64,
    /// The caller's loop-counter slots `[sp + 16 + 8 * depth]` at entry (only the loops the
    /// call is inside have a defined value).
    pub frame: [u64; MAX_LOOP_DEPTH],
}

/// Decode a call log (a whole number of records).
pub fn parse_log(bytes: &[u8]) -> Result<Vec<CallRecord>, String> {
    if !(bytes.len() as u64).is_multiple_of(LOG_ENTRY_BYTES) {
        return Err(format!(
            "call log is {} bytes, not a whole number of {LOG_ENTRY_BYTES}-byte records",
            bytes.len()
        ));
    }
    let q = |c: &[u8], i: usize| u64::from_le_bytes(c[8 * i..8 * i + 8].try_into().unwrap());
    Ok(bytes
        .chunks(LOG_ENTRY_BYTES as usize)
        .map(|c| CallRecord {
            entry: q(c, record::HELPER),
            regs: std::array::from_fn(|r| {
                q(
                    c,
                    if r < 8 {
                        record::X0 + r
                    } else {
                        record::X8 + r - 8
                    },
                )
            }),
            sp: q(c, record::SP),
            ret: q(c, record::RET),
            frame: std::array::from_fn(|d| q(c, record::FRAME + d)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_fits_and_result_matches_model_shape() {
        for arity in 0..=8u8 {
            let h = Helper {
                addr: 0x1_0000_0000,
                arity,
            };
            let code = helper_code(63, &h);
            assert!((code.len() * 4) as u64 <= layout::HELPER_MAX_BYTES);
        }
        let a = helper_result(1, 2, &[1, 2, 3, 4, 5, 6, 7, 8]);
        let b = helper_result(1, 2, &[1, 2, 9, 9, 9, 9, 9, 9]);
        assert_eq!(a, b, "only the first `arity` arguments count");
        assert_ne!(
            a,
            helper_result(1, 2, &[2, 1, 3, 4, 5, 6, 7, 8]),
            "argument order counts"
        );
    }

    #[test]
    fn a_routine_differs_by_address_only_in_its_entry_words() {
        for (id, arity) in [(0, 0u8), (5, 3), (13, 8)] {
            let (template, at) = helper_template(id, arity);
            for addr in [0x1000_0000u64, 0x3FFF_FFFF_0400, 0x12_3456_7890] {
                let mut patched = template.clone();
                patched[at..at + 16].copy_from_slice(&entry_words(addr));
                let h = Helper { addr, arity };
                assert_eq!(patched, encode_all(&helper_code(id, &h)), "{addr:#x}");
                assert_eq!(helper_code_len(id, arity), patched.len() as u64 / 4);
            }
        }
    }

    #[test]
    fn a_helper_at_another_helpers_bank_slot_is_refused() {
        use crate::emit::{emit, strategy::StrategyId, EmitOptions};
        use crate::model::program::Distance;
        let mut p =
            crate::model::gen::from_seed(1, &crate::model::profile::BuiltIn::Far64.profile());
        let w = Window::of(p.code_base).expect("generated programs are in a window");
        let arity = p.helpers[0].arity;
        let image = |p: &Program| {
            let e = emit(
                p,
                StrategyId::MovzMinimal.strategy(),
                &EmitOptions::default(),
            )
            .unwrap();
            Image::build(p, &e, p.code_base)
        };
        p.helpers[0].addr = w.slot(Distance::Far, 0, arity).unwrap();
        assert!(p.validate().is_ok());
        let own = image(&p).unwrap();
        // The code, the three banks; helper 0 is the far bank's routine, no segment of its own.
        assert_eq!(&own.segments[1..4], &w.banks()[..]);
        assert!(own.segments.iter().all(|s| s.addr != p.helpers[0].addr));
        p.helpers[0].addr = w.slot(Distance::Far, 1, arity).unwrap();
        assert!(p.validate().is_err());
        assert!(matches!(
            image(&p),
            Err(EmitError::ForeignSlot { helper: 0, .. })
        ));
    }

    #[test]
    fn log_parse_rejects_partial_records() {
        let n = LOG_ENTRY_BYTES as usize;
        assert!(parse_log(&vec![0u8; n - 1]).is_err());
        assert_eq!(parse_log(&vec![0u8; 2 * n]).unwrap().len(), 2);
    }
}
