//! Engines run an [`Image`] and report an [`Outcome`]: one engine per file, all behind [`Engine`].
//!
//! Every engine reproduces the fixed memory map of [`crate::layout`], enters the function with the
//! registers of [`crate::layout::initial_reg`] and `sp = STACK_TOP`, and stops when the function
//! returns to [`crate::layout::EXIT_ADDR`] or something goes wrong. Faults, invalid instructions,
//! breakpoints and runaway code are outcomes ([`Exit`]), never panics; [`EngineError`] is
//! only for the harness itself failing (an engine that cannot start, a missing qemu).

use crate::machine::runtime::{CallRecord, Image};
use crate::Named;

pub mod elf;
pub mod interp;
pub mod kind;
pub mod qemu;
pub mod unicorn;

pub use self::interp::InterpEngine;
pub use self::kind::{ElfKind, EngineKind};
pub use self::qemu::ElfEngine;
pub use self::unicorn::UnicornEngine;

/// Kind of memory access that faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Data read.
    Read,
    /// Data write.
    Write,
    /// Instruction fetch.
    Fetch,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The function returned to the exit address.
    Returned,
    /// An access to unmapped memory (or a write to code or helpers).
    Fault {
        /// What kind of access.
        access: Access,
        /// The address accessed.
        addr: u64,
    },
    /// An undefined instruction was executed.
    InvalidInstruction,
    /// A `brk` was executed (the immediate when the engine knows it).
    Breakpoint(Option<u16>),
    /// An `svc` was executed: a system call, which a64call's code never makes (a planted or
    /// mutated word can). Unicorn and the interpreter stop there, with pc the instruction after
    /// it (the architecture's preferred return address for a system call). Under the ELF engine
    /// the call would really be made (by qemu-user, or the kernel), so it runs no image whose
    /// code holds an `svc` word: its outcome for such an image is [`Exit::Unsupported`],
    /// judged on Unicorn instead. The one way left there is a branch into the ELF's own routines
    /// (the exit page past its first word, and the entry page), which make the runner's system
    /// calls with the guest's registers, where the other engines have zero words or unmapped
    /// memory: what follows is undefined there, and when it ends the process the image is
    /// [`Exit::Truncated`] and the images after it run in a new process
    /// (`tests/engine_qemu.rs`).
    SystemCall,
    /// Runaway code: the run went past the image's instruction limit (Unicorn and the
    /// interpreter; the count is in [`Outcome::insns`]). The ELF engine's limit is CPU time,
    /// which translation spends too, so a run its timer ends is [`Exit::Unsupported`] and
    /// judged on Unicorn (a correct program of millions of small blocks outlasted it).
    Runaway,
    /// The ELF engine's guest got a signal it attributes to none of the above (the signal
    /// number). Only the ELF engine reports it: raising one takes a system call, which
    /// a64call's code never makes (`src/engine/qemu/tests.rs`).
    Signal(i32),
    /// The call-log cursor the helpers advance was left outside the log region or off a record
    /// boundary (the code wrote over it): the calls made are unknown. Every engine reports it
    /// this way.
    CallLogCorrupt,
    /// The run ended without any of the above, with the reason: the ELF engine's process died
    /// or printed cut-short or malformed output; Unicorn stopped without reaching the exit or
    /// reporting a fault, or raised an exception no exit stands for (an emulator error). Never
    /// an outcome of correct code.
    Truncated(String),
    /// The engine did not run the image to its end, and says why: the interpreter
    /// ([`InterpEngine`]) met an instruction outside its subset, or the ELF engine was given
    /// code holding an `svc` ([`Exit::SystemCall`]) or its time limit ended the run. No verdict on the code: never judged,
    /// [`crate::differential`] runs such an image on Unicorn instead. Unicorn never reports it.
    Unsupported(String),
}

impl Exit {
    /// The exit of a `brk` whose instruction word the engine could read (`None` when it could
    /// not): its immediate when `word` is a `brk`.
    pub fn breakpoint(word: Option<u32>) -> Exit {
        Exit::Breakpoint(
            word.filter(|w| w & 0xFFE0_001F == 0xD420_0000)
                .map(|w| ((w >> 5) & 0xFFFF) as u16),
        )
    }

    /// A strategy-independent class of the exit, for comparing runs whose code layouts differ.
    pub fn class(&self) -> String {
        match self {
            Exit::Returned => "returned".into(),
            Exit::Fault { access, .. } => format!("{access} fault"),
            Exit::InvalidInstruction => "invalid instruction".into(),
            Exit::Breakpoint(Some(i)) => format!("brk #{i:#x}"),
            Exit::Breakpoint(None) => "brk".into(),
            Exit::SystemCall => "system call".into(),
            Exit::Runaway => "runaway".into(),
            Exit::Signal(s) => format!("signal {s}"),
            Exit::CallLogCorrupt => "call log corrupt".into(),
            Exit::Truncated(_) => "truncated output".into(),
            Exit::Unsupported(_) => "unsupported by the engine".into(),
        }
    }
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Fetch => "fetch",
        })
    }
}

/// How a finding prints an exit: in words, addresses in hex.
impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Fault { access, addr } => write!(f, "{access} fault at {addr:#x}"),
            Exit::Breakpoint(Some(i)) => write!(f, "brk #{i:#x}"),
            Exit::Breakpoint(None) => f.write_str("brk (immediate unknown)"),
            Exit::Truncated(why) => write!(f, "truncated ({why})"),
            Exit::Unsupported(why) => write!(f, "unsupported by the engine ({why})"),
            other => f.write_str(&other.class()),
        }
    }
}

/// The calls a run logged, read through the cursor the helpers advanced: `read(len)` gives the
/// first `len` bytes of the log region. A cursor outside the region, or inside it but not at a
/// record boundary (the code wrote over it), makes the exit [`Exit::CallLogCorrupt`] with no
/// calls, on every engine ([`calls_or_corrupt`]).
pub(crate) fn logged_calls(
    exit: Exit,
    cursor: u64,
    read: impl FnOnce(u64) -> Result<Vec<u8>, EngineError>,
) -> Result<(Exit, Vec<CallRecord>), EngineError> {
    use crate::layout::{LOG_ADDR, LOG_BYTES};
    if !(LOG_ADDR..=LOG_ADDR + LOG_BYTES).contains(&cursor) {
        return Ok((Exit::CallLogCorrupt, vec![]));
    }
    let log = read(cursor - LOG_ADDR)?;
    Ok(calls_or_corrupt(exit, Some(&log)))
}

/// `exit` and the calls of `log` (the log region up to the cursor), or [`Exit::CallLogCorrupt`]
/// with no calls when there is no log (the cursor left the region) or it is not a whole number of
/// records (the cursor was moved off a record boundary).
pub(crate) fn calls_or_corrupt(exit: Exit, log: Option<&[u8]>) -> (Exit, Vec<CallRecord>) {
    match log.map(crate::machine::runtime::parse_log) {
        Some(Ok(calls)) => (exit, calls),
        None | Some(Err(_)) => (Exit::CallLogCorrupt, vec![]),
    }
}

/// Instruction counts (engines that can count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InsnCounts {
    /// Executed inside the emitted function (code, pools, stubs).
    pub in_code: u64,
    /// Executed in total (function and helpers).
    pub total: u64,
}

/// Everything observable after a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub exit: Exit,
    /// pc at the end (EXIT_ADDR after a normal return).
    pub pc: u64,
    /// x0..x30.
    pub regs: [u64; 31],
    /// sp.
    pub sp: u64,
    /// NZCV flags (bits 31..28).
    pub nzcv: u64,
    /// Final scratch buffer.
    pub scratch: Vec<u8>,
    /// Helper calls in order.
    pub calls: Vec<CallRecord>,
    /// Instruction counts, when the engine counts.
    pub insns: Option<InsnCounts>,
}

/// The harness could not run the image at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineError {
    /// The engine (`None`: no engine was selected).
    pub engine: Option<EngineKind>,
    /// What went wrong.
    pub message: String,
}

impl EngineError {
    /// An error of `engine`.
    pub fn of(engine: EngineKind, message: String) -> EngineError {
        EngineError {
            engine: Some(engine),
            message,
        }
    }
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.engine {
            Some(e) => write!(f, "{} engine: {}", e.name(), self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for EngineError {}

/// An engine that runs images.
pub trait Engine {
    /// Which engine this is (its name on the command line and in reports is the kind's).
    fn kind(&self) -> EngineKind;
    /// Run one image.
    fn run(&mut self, image: &Image) -> Result<Outcome, EngineError>;
    /// Run several images; engines with a per-process cost override this to batch.
    fn run_batch(&mut self, images: &[&Image]) -> Vec<Result<Outcome, EngineError>> {
        images.iter().map(|i| self.run(i)).collect()
    }
    /// CPU time of the child processes this engine ran and waited for since the last call (the
    /// ELF engine's qemu processes); zero for an engine that runs in-process.
    fn take_child_cpu(&mut self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}
