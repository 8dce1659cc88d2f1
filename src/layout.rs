//! The fixed memory map every engine reproduces, and the limits placed on program layouts.
//!
//! ```text
//! 0x0001_0000  EXIT page: the function returns here (x30 on entry); engines stop at it
//! 0x0002_0000  ENTRY page: start routine of the standalone ELF (ELF engine only)
//! 0x0010_0000  stack (1 MiB), sp starts at STACK_TOP
//! 0x0020_0000  scratch region (64 KiB): the scratch buffer (4 KiB), its base passed in x0
//! 0x0021_0000  call-log control block: [cursor, limit]
//! 0x0100_0000  call log (16 MiB), one LOG_ENTRY_BYTES record per helper call
//! 0x1000_0000 .. 2^46  code and helpers: a window's code base and helper banks for generated
//!                      programs (crate::machine::window), anywhere for a program file
//! ```
//!
//! Every engine starts each run with the scratch buffer ([`initial_scratch`]), the control
//! block and the top 4 KiB of the stack (`STACK_TOP - 0x1000 .. STACK_TOP + 0x100`, zeroed)
//! reset. The rest of the data regions keeps what earlier runs on that engine left: each
//! engine's own history (Unicorn's also starts again from zeros when it replaces its
//! emulator), which no program that reads only memory it wrote can see.
//! Everything the harness owns sits below [`USER_MIN`], so a program's code and helpers never
//! collide with it. Programs stay below 2^46: a qemu-user guest shares the x86-64 host's 47-bit
//! address space, whose top quarter holds the host stack, its libraries and qemu itself (guest
//! mmaps there fail with ENOMEM or EEXIST). "Far" helpers (more than 4 GiB away) are still
//! plentiful below 2^46. Aarch64 kernels with 39-bit VAs would need a smaller range still.

/// The function returns to this address; every engine treats reaching it as a normal exit.
pub const EXIT_ADDR: u64 = 0x0001_0000;
/// Where the ELF engine's start routine lives.
pub const ENTRY_ADDR: u64 = 0x0002_0000;
/// Bottom of the stack region.
pub const STACK_BASE: u64 = 0x0010_0000;
/// Size of the stack region.
pub const STACK_SIZE: u64 = 0x0010_0000;
/// Initial stack pointer (16-byte aligned, some room above for the start routine).
pub const STACK_TOP: u64 = STACK_BASE + STACK_SIZE - 0x100;
/// Scratch buffer base (the function's `x0` on entry).
pub const SCRATCH_ADDR: u64 = 0x0020_0000;
/// Number of 8-byte slots in the scratch buffer (a program's `store [slot]` addresses one).
pub const SCRATCH_SLOTS: u16 = 512;
/// Scratch buffer size in bytes.
pub const SCRATCH_BYTES: u64 = SCRATCH_SLOTS as u64 * 8;
/// Call-log control block: cursor at +0, limit at +8.
pub const LOGCTL_ADDR: u64 = 0x0021_0000;
/// First call-log record.
pub const LOG_ADDR: u64 = 0x0100_0000;
/// Size of the call-log region.
pub const LOG_BYTES: u64 = 0x0100_0000;
/// Bytes per call-log record: x0..x7, helper id, sp, return address, x8..x15 and three
/// loop-counter slots ([`crate::machine::runtime::record`]).
pub const LOG_ENTRY_BYTES: u64 = 176;
/// Most records the call log holds.
pub const LOG_CAPACITY: u64 = LOG_BYTES / LOG_ENTRY_BYTES;
/// The control block's limit: a helper entered with the cursor here finds the log full and
/// stops the run before logging (a whole record always fits below it).
pub const LOG_LIMIT: u64 = LOG_ADDR + LOG_CAPACITY * LOG_ENTRY_BYTES;
/// A region of the fixed memory map, mapped by every engine for every run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedRegion {
    /// First address.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
    /// Read-execute (the exit page) rather than read-write (stack, scratch, call log).
    pub code: bool,
}

/// The fixed regions with the permissions every engine gives them (the ELF engine's, as a
/// process maps them): a branch into the stack, scratch or call log is a fetch fault and a
/// store into the exit page a write fault, on every engine. The stack and the call log's
/// control block come first: the helpers use them on every call, and the interpreter looks
/// regions up in this order.
pub const FIXED_REGIONS: [FixedRegion; 5] = [
    FixedRegion {
        base: STACK_BASE,
        size: STACK_SIZE,
        code: false,
    },
    FixedRegion {
        base: LOGCTL_ADDR,
        size: 0x1000,
        code: false,
    },
    FixedRegion {
        base: SCRATCH_ADDR,
        size: 0x1_0000,
        code: false,
    },
    FixedRegion {
        base: LOG_ADDR,
        size: LOG_BYTES,
        code: false,
    },
    FixedRegion {
        base: EXIT_ADDR,
        size: 0x1000,
        code: true,
    },
];
/// Lowest address a program's code or helper may use.
pub const USER_MIN: u64 = 0x1000_0000;
/// One past the highest address a program's code or helper may use (2^46).
pub const USER_MAX: u64 = 1 << 46;
/// Largest code region (function, pools, stubs) a program may emit.
pub const MAX_CODE: u64 = 64 << 20;
/// Helpers sit in distinct pages of this size (64 KiB: works on 4K, 16K and 64K-page kernels).
pub const HELPER_PAGE: u64 = 0x1_0000;
/// Upper bound on one helper routine's size in bytes.
pub const HELPER_MAX_BYTES: u64 = 0x200;
/// Most helpers a program may declare.
pub const MAX_HELPERS: usize = 64;
/// The value a loop's pass counter in the caller's frame reaches after the loop's last pass: it
/// counts up from `LOOP_END - count` (the lowering, [`crate::emit`]'s `counted_loop`; the
/// reference predicts the slots, [`crate::oracle::reference`]). A power of two above every
/// count (1..=16), so one bit (`tbz`) says whether the loop goes round again.
pub const LOOP_END: u8 = 16;
/// Default limit on instructions executed by one run before it counts as runaway.
pub const DEFAULT_INSN_LIMIT: u64 = 50_000_000;

/// Initial value of register `xN` (N in 0..=30) when the function is entered: x0 is the scratch
/// base, x30 the return address EXIT_ADDR, and every other register a distinct constant. Every
/// engine also sets x16 to the function's entry address, as after the `blr x16` a real caller
/// would use (so the value here for 16 is only the table's placeholder).
pub fn initial_reg(n: u8) -> u64 {
    match n {
        0 => SCRATCH_ADDR,
        30 => EXIT_ADDR,
        _ => 0x5A00_0000_0000_0000 ^ (u64::from(n) * 0x0101_0101_0001_0011) ^ (u64::from(n) << 40),
    }
}

/// Initial byte at offset `i` of the scratch buffer.
pub fn initial_scratch_byte(i: usize) -> u8 {
    (i as u8).wrapping_mul(31).wrapping_add((i >> 8) as u8)
}

/// The initial scratch buffer contents.
pub fn initial_scratch() -> Vec<u8> {
    (0..SCRATCH_BYTES as usize)
        .map(initial_scratch_byte)
        .collect()
}

/// Round `v` up to a multiple of `to` (a power of two).
pub fn align_up(v: u64, to: u64) -> u64 {
    (v + to - 1) & !(to - 1)
}
