//! The reference interpreter (`interp`): a64call's own executor of the AArch64 subset its code
//! and helpers use, for bulk checking. It decodes the image's real bytes with `yaxpeax-arm`
//! (`decode.rs`), which shares nothing with a64call's encoder or with capstone, each executed
//! word once per run, and runs the decoded ops (`op.rs`, `exec.rs`) in a loop.
//!
//! It reproduces Unicorn's machine (`memory.rs`): the same fixed regions, reset the same way
//! between runs, the image's 4 KiB pages readable and executable and never writable, the same
//! entry state. A branch to a misaligned address is a fetch fault there. Anything outside the
//! subset (a SIMD instruction, a system register other than NZCV, a form the architecture
//! leaves unpredictable) ends the run with [`Exit::Unsupported`]: it never guesses. [`crate::differential`] then judges that image on Unicorn instead and says so.
//!
//! Instruction counts are exact: every instruction started counts, a faulting one included. A
//! run stops as runaway before it would execute more than the image's limit.

mod code;
mod decode;
mod exec;
mod memory;
mod op;

use self::code::{Code, Kept, Page, Segments};
use self::exec::{Cpu, Flow};
use self::memory::{Fixed, Memory, PAGE};
use super::{logged_calls, Engine, EngineError, EngineKind, Exit, InsnCounts, Outcome};
use crate::layout::{
    self, EXIT_ADDR, LOGCTL_ADDR, LOG_ADDR, SCRATCH_ADDR, SCRATCH_BYTES, STACK_TOP,
};
use crate::machine::runtime::Image;
use std::cell::RefCell;

/// The interpreter: its fixed regions persist between runs, as Unicorn's do.
pub struct InterpEngine {
    fixed: Box<Fixed>,
    /// The helpers' decoded pages from the last run.
    kept: Vec<Kept>,
}

/// The scratch buffer's initial contents, computed once.
static INITIAL_SCRATCH: std::sync::LazyLock<Vec<u8>> =
    std::sync::LazyLock::new(layout::initial_scratch);

impl Default for InterpEngine {
    fn default() -> Self {
        InterpEngine::new()
    }
}

impl InterpEngine {
    /// A fresh interpreter (allocates its 18 MiB of fixed regions).
    pub fn new() -> InterpEngine {
        InterpEngine {
            fixed: Box::new(Fixed::new()),
            kept: Vec::new(),
        }
    }

    /// What Unicorn resets before each run: the top of the stack, the scratch buffer and the
    /// call log's control block.
    fn reset(&mut self) {
        self.fixed.fill(STACK_TOP - 0x1000, &[0u8; 0x1100]);
        self.fixed.fill(SCRATCH_ADDR, &INITIAL_SCRATCH);
        let mut ctl = LOG_ADDR.to_le_bytes().to_vec();
        ctl.extend_from_slice(&layout::LOG_LIMIT.to_le_bytes());
        self.fixed.fill(LOGCTL_ADDR, &ctl);
    }
}

/// The loop: fetch, count, execute, until the exit address, a stop or the limit.
fn execute(
    cpu: &mut Cpu,
    mem: &mut Memory,
    code: &mut Code,
    image: &Image,
) -> (Exit, u64, InsnCounts) {
    let mut pc = image.entry;
    let mut counts = InsnCounts::default();
    let mut page: Option<Page> = None;
    loop {
        if pc == EXIT_ADDR {
            return (Exit::Returned, pc, counts);
        }
        if counts.total >= image.insn_limit {
            return (Exit::Runaway, pc, counts);
        }
        if pc & 3 != 0 {
            // A PC alignment fault, reported as the fetch fault it is (as every engine does).
            let fault = Exit::Fault {
                access: crate::engine::Access::Fetch,
                addr: pc,
            };
            return (fault, pc, counts);
        }
        if page.as_ref().is_none_or(|p| p.base != pc & !(PAGE - 1)) {
            page = code.page(pc);
        }
        let op = match page.as_mut() {
            Some(p) => p.op(pc),
            None => match mem.fetch_fixed(pc) {
                Ok(op) => op,
                Err((access, addr)) => return (Exit::Fault { access, addr }, pc, counts),
            },
        };
        counts.total += 1;
        if image.code.contains(&pc) {
            counts.in_code += 1;
        }
        match cpu.exec(op, pc, mem) {
            Flow::Next => pc = pc.wrapping_add(4),
            Flow::Jump(target) => pc = target,
            // A system call's pc is the next instruction, its preferred return address (as on
            // Unicorn); every other stop is at the instruction itself.
            Flow::Stop(exit) if *exit == Exit::SystemCall => {
                return (Exit::SystemCall, pc + 4, counts)
            }
            Flow::Stop(exit) => return (*exit, pc, counts),
        }
    }
}

impl Engine for InterpEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Interp
    }

    fn run(&mut self, image: &Image) -> Result<Outcome, EngineError> {
        self.reset();
        let mut cpu = Cpu::entering(image.entry);
        let (exit, pc, counts) = {
            let mut code = Code::new(&image.segments, std::mem::take(&mut self.kept));
            let mut mem = Memory {
                fixed: &mut self.fixed,
                segments: Segments(&image.segments),
            };
            let ran = execute(&mut cpu, &mut mem, &mut code, image);
            self.kept = code.into_kept();
            ran
        };
        let word = |addr: u64| {
            let b = self
                .fixed
                .slice(addr, 8)
                .expect("the control block is fixed");
            u64::from_le_bytes(b.try_into().expect("8 bytes"))
        };
        let cursor = word(LOGCTL_ADDR);
        let (exit, calls) = logged_calls(exit, cursor, |len| {
            Ok(self
                .fixed
                .slice(LOG_ADDR, len)
                .expect("a cursor inside the log region")
                .to_vec())
        })?;
        let scratch = self
            .fixed
            .slice(SCRATCH_ADDR, SCRATCH_BYTES)
            .expect("scratch is fixed")
            .to_vec();
        Ok(Outcome {
            exit,
            pc,
            regs: cpu.x(),
            sp: cpu.sp(),
            nzcv: cpu.nzcv,
            scratch,
            calls,
            insns: Some(counts),
        })
    }
}

thread_local! {
    static ENGINE: RefCell<Option<InterpEngine>> = const { RefCell::new(None) };
}

/// Run `f` with this thread's reused interpreter (created on first use).
pub fn with_thread_engine<R>(f: impl FnOnce(&mut InterpEngine) -> R) -> R {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        f(slot.get_or_insert_with(InterpEngine::new))
    })
}
