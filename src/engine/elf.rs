//! The standalone static AArch64 ELF that runs a batch of images under qemu-user or natively.
//!
//! The ELF carries a start routine, a table of programs and a blob with their code. For each
//! program, like a JIT, the start routine `mmap`s the code and helper pages read-write with
//! `MAP_FIXED_NOREPLACE`, copies the bytes in, cleans the data cache and invalidates the
//! instruction cache (`dc cvau`, `ic ivau`, `dsb ish`, `isb`; qemu ignores them, real hardware
//! needs them), `mprotect`s the pages read-execute, resets scratch, call log and stack, arms a
//! per-program timer, loads the initial registers and branches to the function with
//! `x30 = EXIT_ADDR`. The exit page saves every register; a signal handler on an alternate stack
//! saves the faulting state from the `ucontext` and resumes at the report routine. The report
//! routine writes one [`Record`] to stdout with raw `write` syscalls, unmaps the program and moves
//! on; the last program ends with `exit_group(0)`.
//!
//! Record (little-endian u64 words): `MAGIC, index, status, signo, fault_address, pc, x0..x30, sp,
//! nzcv, log_len`, then the 4 KiB scratch buffer, then `log_len` bytes of call log.

use crate::asm::buffer::{CodeBuffer, Label, LabelUse};
use crate::asm::encode::{self, mov_imm_minimal, AluOp, Cond, Inst, Reg, SP, XZR};
use crate::machine::layout::{
    self, EXIT_ADDR, LOGCTL_ADDR, LOG_ADDR, LOG_BYTES, SCRATCH_ADDR, STACK_BASE, STACK_SIZE,
    STACK_TOP,
};
use crate::machine::runtime::Image;

/// First word of every record.
pub const MAGIC: u64 = 0xA64C_A11E_0000_0001;
/// The 64-bit words of a record header: written by the start and exit routines, read by
/// [`parse_records`]. The only place their positions are given.
pub mod word {
    /// [`super::MAGIC`].
    pub const MAGIC: u16 = 0;
    /// Program index within the batch.
    pub const INDEX: u16 = 1;
    /// One of the `STATUS_*` values.
    pub const STATUS: u16 = 2;
    /// Signal number (status signal or timeout). Must follow STATUS: the handler stores both
    /// with one `stp`.
    pub const SIGNO: u16 = 3;
    /// Fault address (signal) or mmap result (map failed).
    pub const FAULT: u16 = 4;
    /// Where execution stopped.
    pub const PC: u16 = 5;
    /// x0; x`n` is at `X0 + n`, through x30.
    pub const X0: u16 = 6;
    /// Stack pointer.
    pub const SP: u16 = X0 + 31;
    /// NZCV in bits 31..28.
    pub const NZCV: u16 = SP + 1;
    /// Bytes of call log after the scratch buffer, or [`super::LOG_CORRUPT`].
    pub const LOG_LEN: u16 = NZCV + 1;
    /// Words in a record header.
    pub const COUNT: usize = LOG_LEN as usize + 1;
    const _: () = assert!(SIGNO == STATUS + 1);
}

/// Words in a record header.
pub const HEADER_WORDS: usize = word::COUNT;

/// Address of header word `w` in the record being built.
const fn state_word(w: u16) -> u64 {
    STATE + 8 * w as u64
}
/// Record status: the function returned to EXIT_ADDR.
pub const STATUS_RETURNED: u64 = 0;
/// Record status: a signal stopped the function.
pub const STATUS_SIGNAL: u64 = 1;
/// Record status: the per-program timer expired.
pub const STATUS_TIMEOUT: u64 = 2;
/// Record status: the program's pages could not be mapped (detail in `fault_address`).
pub const STATUS_MAP_FAILED: u64 = 3;
/// `log_len` value meaning the call-log cursor left the log region.
pub const LOG_CORRUPT: u64 = u64::MAX;

const ALTSTACK_ADDR: u64 = 0x0300_0000;
const ALTSTACK_SIZE: u64 = 0x1_0000;
const DATA_ADDR: u64 = 0x0400_0000;
const STATE: u64 = DATA_ADDR; // record header, HEADER_WORDS words
const CUR: u64 = DATA_ADDR + 0x200; // current program index
const NPROG: u64 = DATA_ADDR + 0x208;
const MAPPED: u64 = DATA_ADDR + 0x210; // segments of the current program mapped so far
const INITREGS: u64 = DATA_ADDR + 0x300; // 31 words
const SIGACT: u64 = DATA_ADDR + 0x400; // struct sigaction (kernel layout)
const ITIMER_ON: u64 = DATA_ADDR + 0x440;
const ITIMER_OFF: u64 = DATA_ADDR + 0x460;
const SIGSTACK: u64 = DATA_ADDR + 0x480;
const SCRATCH_TEMPLATE: u64 = DATA_ADDR + 0x1000;
const PROGTAB: u64 = DATA_ADDR + 0x2000;

/// Linux aarch64 syscall numbers used.
mod sys {
    pub const WRITE: u16 = 64;
    pub const EXIT_GROUP: u16 = 94;
    pub const SETITIMER: u16 = 103;
    pub const SIGALTSTACK: u16 = 132;
    pub const RT_SIGACTION: u16 = 134;
    pub const RT_SIGRETURN: u16 = 139;
    pub const MUNMAP: u16 = 215;
    pub const MMAP: u16 = 222;
    pub const MPROTECT: u16 = 226;
}

/// Signals the handler catches.
const SIGNALS: [u16; 6] = [4, 5, 7, 8, 11, 14];
const SIGALRM: u64 = 14;

/// `ucontext` offsets of the arm64 `sigcontext` fields.
const UC_FAULT: u16 = 176;
const UC_REGS: u16 = 184;
const UC_SP: u16 = 432;
const UC_PC: u16 = 440;
const UC_PSTATE: u16 = 448;

/// Default per-program timer in seconds (runaway code becomes [`STATUS_TIMEOUT`]).
pub const PROGRAM_TIMEOUT_SECS: u64 = 5;

struct Asm {
    b: CodeBuffer,
}

impl Asm {
    fn i(&mut self, i: Inst) {
        self.b.push(i);
    }
    fn imm(&mut self, rd: Reg, v: u64) {
        self.b.push_all(&mov_imm_minimal(rd, v));
    }
    fn svc(&mut self, nr: u16) {
        self.imm(8, u64::from(nr));
        self.i(Inst::Svc);
    }
    fn jump(&mut self, inst: Inst, l: Label, kind: LabelUse) {
        self.b.push_use(inst, l, kind);
    }
    fn b(&mut self, l: Label) {
        self.jump(Inst::B { offset: 0 }, l, LabelUse::Branch26);
    }
    fn bl(&mut self, l: Label) {
        self.jump(Inst::Bl { offset: 0 }, l, LabelUse::Branch26);
    }
    fn bcond(&mut self, c: Cond, l: Label) {
        self.jump(Inst::BCond { cond: c, offset: 0 }, l, LabelUse::Branch19);
    }
    fn ldr(&mut self, rt: Reg, rn: Reg, imm12: u16) {
        self.i(Inst::LdrImm { rt, rn, imm12 });
    }
    fn str(&mut self, rt: Reg, rn: Reg, imm12: u16) {
        self.i(Inst::StrImm { rt, rn, imm12 });
    }
    fn add_imm(&mut self, rd: Reg, rn: Reg, imm12: u16) {
        self.i(Inst::AddImm { rd, rn, imm12 });
    }
    fn sub_imm(&mut self, rd: Reg, rn: Reg, imm12: u16) {
        self.i(Inst::SubImm { rd, rn, imm12 });
    }
    fn cmp_zero(&mut self, rn: Reg) {
        self.i(Inst::SubsImm {
            rd: XZR,
            rn,
            imm12: 0,
        });
    }
    fn cmp(&mut self, rn: Reg, rm: Reg) {
        self.i(Inst::CmpReg { rn, rm });
    }
    /// `x21 = &PROGTAB[x19]` (32-byte entries: entry, nseg, segs); clobbers x22.
    fn prog_entry(&mut self) {
        self.i(Inst::Lsl {
            rd: 21,
            rn: 19,
            shift: 5,
        });
        self.imm(22, PROGTAB);
        self.i(Inst::Alu {
            op: AluOp::Add,
            rd: 21,
            rn: 21,
            rm: 22,
        });
    }

    /// `x<rd> = [addr]`
    fn load_abs(&mut self, rd: Reg, addr: u64) {
        self.imm(rd, addr);
        self.ldr(rd, rd, 0);
    }
    /// `[addr] = x<rs>` using `tmp`.
    fn store_abs(&mut self, rs: Reg, addr: u64, tmp: Reg) {
        self.imm(tmp, addr);
        self.str(rs, tmp, 0);
    }
    /// In the signal handler (x2 = ucontext, x9 = STATE): copy the u64 at `ucontext + uc_off` to
    /// record word `word`; clobbers x3, x10.
    fn uc_to_state(&mut self, uc_off: u16, word: u16) {
        self.add_imm(3, 2, uc_off);
        self.ldr(10, 3, 0);
        self.str(10, 9, word);
    }

    /// Copy `x2` bytes (multiple of 8) from `x1` to `x0`; clobbers x0..x3.
    fn copy_loop(&mut self) {
        let top = self.b.new_label();
        let done = self.b.new_label();
        self.b.bind(top);
        self.cmp_zero(2);
        self.bcond(Cond::Eq, done);
        self.ldr(3, 1, 0);
        self.str(3, 0, 0);
        self.add_imm(0, 0, 8);
        self.add_imm(1, 1, 8);
        self.sub_imm(2, 2, 8);
        self.b(top);
        self.b.bind(done);
    }
}

/// One program's layout in the ELF's tables.
struct Prog {
    entry: u64,
    segs: Vec<(u64, u64, u64, u64, u64)>, // addr, len8, blob address, map start, map len
}

/// The assembled harness routines.
struct Routines {
    exit: Vec<u8>,
    entry: Vec<u8>,
    handler: u64,
    restorer: u64,
}

/// Build the code of the exit page (runs at EXIT_ADDR) and the entry page (at ENTRY_ADDR).
fn routines() -> Routines {
    // ---- entry page ----
    let mut a = Asm {
        b: CodeBuffer::new(layout::ENTRY_ADDR),
    };
    let next_program = a.b.new_label();
    let report = a.b.new_label();
    let handler = a.b.new_label();
    let restorer = a.b.new_label();
    let write_all = a.b.new_label();
    let finish = a.b.new_label();
    let map_failed = a.b.new_label();
    // _start: the signal stack and handlers (the sigaction struct in the data names the
    // handler and restorer; the host fills it in once their addresses are known).
    a.imm(0, SIGSTACK);
    a.imm(1, 0);
    a.svc(sys::SIGALTSTACK);
    for sig in SIGNALS {
        a.imm(0, u64::from(sig));
        a.imm(1, SIGACT);
        a.imm(2, 0);
        a.imm(3, 8);
        a.svc(sys::RT_SIGACTION);
    }
    a.b(next_program);

    // write_all(x1 = buffer, x2 = length): loops over partial writes; clobbers x0..x2, x8.
    a.b.bind(write_all);
    let wa_done = a.b.new_label();
    let wa_top = a.b.new_label();
    a.b.bind(wa_top);
    a.cmp_zero(2);
    a.bcond(Cond::Eq, wa_done);
    a.imm(0, 1);
    a.svc(sys::WRITE);
    a.cmp_zero(0);
    let wa_fail = a.b.new_label();
    a.bcond(Cond::Le, wa_fail);
    a.i(Inst::Alu {
        op: AluOp::Add,
        rd: 1,
        rn: 1,
        rm: 0,
    });
    a.i(Inst::Alu {
        op: AluOp::Sub,
        rd: 2,
        rn: 2,
        rm: 0,
    });
    a.b(wa_top);
    a.b.bind(wa_done);
    a.i(Inst::Ret);
    a.b.bind(wa_fail);
    a.imm(0, 3);
    a.svc(sys::EXIT_GROUP);

    // next_program: run program CUR, or exit when all ran.
    a.b.bind(next_program);
    a.imm(9, STACK_TOP);
    a.add_imm(SP, 9, 0);
    a.load_abs(19, CUR);
    a.load_abs(20, NPROG);
    a.cmp(19, 20);
    a.bcond(Cond::Hs, finish);
    // x21 = &PROGTAB[CUR]: entry, nseg, segs
    a.prog_entry();
    a.ldr(22, 21, 0); // entry
    a.ldr(23, 21, 1); // nseg
    a.ldr(24, 21, 2); // segs
    a.imm(25, 0);
    a.store_abs(25, MAPPED, 9);
    // for each segment
    let seg_top = a.b.new_label();
    let seg_done = a.b.new_label();
    a.b.bind(seg_top);
    a.cmp(25, 23);
    a.bcond(Cond::Hs, seg_done);
    // mmap(map_start, map_len, RW, PRIVATE|ANON|FIXED_NOREPLACE, -1, 0)
    a.ldr(0, 24, 3);
    a.ldr(1, 24, 4);
    a.imm(2, 3);
    a.imm(3, 0x10_0022);
    a.i(Inst::Movn {
        rd: 4,
        imm16: 0,
        hw: 0,
    });
    a.imm(5, 0);
    a.svc(sys::MMAP);
    a.ldr(1, 24, 3);
    a.cmp(0, 1);
    a.bcond(Cond::Ne, map_failed);
    a.add_imm(25, 25, 1);
    a.store_abs(25, MAPPED, 9);
    // copy
    a.ldr(0, 24, 0);
    a.ldr(1, 24, 2);
    a.ldr(2, 24, 1);
    a.copy_loop();
    // cache maintenance over [addr, addr + len8), one 4-byte step at a time (any line size)
    for pass in 0..2 {
        a.ldr(0, 24, 0);
        a.ldr(2, 24, 1);
        a.i(Inst::Alu {
            op: AluOp::Add,
            rd: 2,
            rn: 2,
            rm: 0,
        });
        let top = a.b.new_label();
        let done = a.b.new_label();
        a.b.bind(top);
        a.cmp(0, 2);
        a.bcond(Cond::Hs, done);
        a.i(if pass == 0 {
            encode::dc_cvau(0)
        } else {
            encode::ic_ivau(0)
        });
        a.add_imm(0, 0, 4);
        a.b(top);
        a.b.bind(done);
        a.i(encode::DSB_ISH);
    }
    a.i(encode::ISB);
    // mprotect(map_start, map_len, R|X)
    a.ldr(0, 24, 3);
    a.ldr(1, 24, 4);
    a.imm(2, 5);
    a.svc(sys::MPROTECT);
    a.add_imm(24, 24, 40);
    a.b(seg_top);
    a.b.bind(seg_done);
    // reset scratch, log control, stack
    a.imm(0, SCRATCH_ADDR);
    a.imm(1, SCRATCH_TEMPLATE);
    a.imm(2, layout::SCRATCH_BYTES);
    a.copy_loop();
    a.imm(9, LOGCTL_ADDR);
    a.imm(10, LOG_ADDR);
    a.imm(11, LOG_ADDR + LOG_BYTES);
    a.i(Inst::Stp {
        rt: 10,
        rt2: 11,
        rn: 9,
        imm7: 0,
    });
    a.imm(0, STACK_TOP - 0x1000);
    a.imm(2, 0x1100);
    let z = a.b.new_label();
    let zd = a.b.new_label();
    a.b.bind(z);
    a.cmp_zero(2);
    a.bcond(Cond::Eq, zd);
    a.str(XZR, 0, 0);
    a.add_imm(0, 0, 8);
    a.sub_imm(2, 2, 8);
    a.b(z);
    a.b.bind(zd);
    // arm the timer
    a.imm(0, 0);
    a.imm(1, ITIMER_ON);
    a.imm(2, 0);
    a.svc(sys::SETITIMER);
    // initial registers: INITREGS[16] = entry, sp, nzcv, then x0..x30 from the table
    a.store_abs(22, INITREGS + 16 * 8, 9);
    a.imm(9, STACK_TOP);
    a.add_imm(SP, 9, 0);
    a.i(Inst::MsrNzcv { rt: XZR });
    a.imm(30, INITREGS);
    for k in 0..15u8 {
        a.i(Inst::Ldp {
            rt: 2 * k,
            rt2: 2 * k + 1,
            rn: 30,
            imm7: 2 * k as i8,
        });
    }
    a.ldr(30, 30, 30);
    a.i(Inst::Br { rn: 16 });

    // map_failed: record status 3 with the mmap result, then report.
    a.b.bind(map_failed);
    a.store_abs(0, state_word(word::FAULT), 9);
    a.imm(0, STATUS_MAP_FAILED);
    a.store_abs(0, state_word(word::STATUS), 9);
    a.b(report);

    // report: cancel the timer, write the record, unmap, next.
    a.b.bind(report);
    a.imm(9, STACK_TOP);
    a.add_imm(SP, 9, 0);
    a.imm(0, 0);
    a.imm(1, ITIMER_OFF);
    a.imm(2, 0);
    a.svc(sys::SETITIMER);
    a.imm(9, STATE);
    a.imm(10, MAGIC);
    a.str(10, 9, word::MAGIC);
    a.load_abs(10, CUR);
    a.str(10, 9, word::INDEX);
    // log_len = cursor - LOG_ADDR, or LOG_CORRUPT when the cursor left the region
    a.load_abs(11, LOGCTL_ADDR);
    a.imm(12, LOG_ADDR);
    a.imm(13, LOG_ADDR + LOG_BYTES);
    let corrupt = a.b.new_label();
    let have_len = a.b.new_label();
    a.cmp(11, 12);
    a.bcond(Cond::Lo, corrupt);
    a.cmp(11, 13);
    a.bcond(Cond::Hi, corrupt);
    a.i(Inst::Alu {
        op: AluOp::Sub,
        rd: 19,
        rn: 11,
        rm: 12,
    });
    a.b(have_len);
    a.b.bind(corrupt);
    a.i(Inst::Movn {
        rd: 19,
        imm16: 0,
        hw: 0,
    });
    a.b.bind(have_len);
    a.imm(9, STATE);
    a.str(19, 9, word::LOG_LEN);
    a.imm(1, STATE);
    a.imm(2, HEADER_WORDS as u64 * 8);
    a.bl(write_all);
    a.imm(1, SCRATCH_ADDR);
    a.imm(2, layout::SCRATCH_BYTES);
    a.bl(write_all);
    let no_log = a.b.new_label();
    a.i(Inst::Movn {
        rd: 9,
        imm16: 0,
        hw: 0,
    });
    a.cmp(19, 9);
    a.bcond(Cond::Eq, no_log);
    a.imm(1, LOG_ADDR);
    a.i(Inst::MovReg { rd: 2, rm: 19 });
    a.bl(write_all);
    a.b.bind(no_log);
    // clear STATE's status fields for the next program
    a.imm(9, STATE);
    for w in [word::STATUS, word::SIGNO, word::FAULT] {
        a.str(XZR, 9, w);
    }
    // munmap the segments mapped for this program
    a.load_abs(19, CUR);
    a.prog_entry();
    a.ldr(24, 21, 2);
    a.load_abs(25, MAPPED);
    let um_top = a.b.new_label();
    let um_done = a.b.new_label();
    a.b.bind(um_top);
    a.cmp_zero(25);
    a.bcond(Cond::Eq, um_done);
    a.ldr(0, 24, 3);
    a.ldr(1, 24, 4);
    a.svc(sys::MUNMAP);
    a.add_imm(24, 24, 40);
    a.sub_imm(25, 25, 1);
    a.b(um_top);
    a.b.bind(um_done);
    a.add_imm(19, 19, 1);
    a.store_abs(19, CUR, 9);
    a.b(next_program);

    a.b.bind(finish);
    a.imm(0, 0);
    a.svc(sys::EXIT_GROUP);

    // handler(x0 = signo, x1 = siginfo, x2 = ucontext), on the alternate stack.
    a.b.bind(handler);
    a.imm(9, STATE);
    a.imm(10, STATUS_SIGNAL);
    let not_alarm = a.b.new_label();
    a.imm(11, SIGALRM);
    a.cmp(0, 11);
    a.bcond(Cond::Ne, not_alarm);
    a.imm(10, STATUS_TIMEOUT);
    a.b.bind(not_alarm);
    a.i(Inst::Stp {
        rt: 10,
        rt2: 0,
        rn: 9,
        imm7: word::STATUS as i8,
    }); // status, signo
    a.uc_to_state(UC_FAULT, word::FAULT);
    a.uc_to_state(UC_PC, word::PC);
    for k in 0..31u16 {
        a.uc_to_state(UC_REGS + 8 * k, word::X0 + k);
    }
    a.uc_to_state(UC_SP, word::SP);
    a.add_imm(3, 2, UC_PSTATE);
    a.ldr(10, 3, 0);
    a.i(Inst::Lsr {
        rd: 10,
        rn: 10,
        shift: 28,
    });
    a.i(Inst::Lsl {
        rd: 10,
        rn: 10,
        shift: 28,
    });
    a.str(10, 9, word::NZCV);
    // resume at report with a sane stack
    let report_addr =
        layout::ENTRY_ADDR + u64::from(a.b.label_offset(report).expect("report is bound"));
    a.imm(10, report_addr);
    a.add_imm(3, 2, UC_PC);
    a.str(10, 3, 0);
    a.imm(10, STACK_TOP);
    a.add_imm(3, 2, UC_SP);
    a.str(10, 3, 0);
    a.i(Inst::Ret);

    a.b.bind(restorer);
    a.svc(sys::RT_SIGRETURN);
    let handler_addr = layout::ENTRY_ADDR + u64::from(a.b.label_offset(handler).expect("bound"));
    let restorer_addr = layout::ENTRY_ADDR + u64::from(a.b.label_offset(restorer).expect("bound"));
    let entry = a.b.finish().expect("start routine encodes").bytes;

    // ---- exit page ----
    let mut x = Asm {
        b: CodeBuffer::new(EXIT_ADDR),
    };
    x.i(encode::MSR_TPIDR_X0);
    x.imm(0, STATE);
    x.str(1, 0, word::X0 + 1);
    for r in 2..31u8 {
        x.str(r, 0, word::X0 + u16::from(r));
    }
    x.i(encode::MRS_X1_TPIDR);
    x.str(1, 0, word::X0);
    x.add_imm(1, SP, 0);
    x.str(1, 0, word::SP);
    x.i(Inst::MrsNzcv { rt: 1 });
    x.str(1, 0, word::NZCV);
    x.imm(1, EXIT_ADDR);
    x.str(1, 0, word::PC);
    for w in [word::STATUS, word::SIGNO, word::FAULT] {
        x.str(XZR, 0, w);
    }
    x.imm(16, report_addr);
    x.i(Inst::Br { rn: 16 });
    let exit = x.b.finish().expect("exit routine encodes").bytes;
    Routines {
        exit,
        entry,
        handler: handler_addr,
        restorer: restorer_addr,
    }
}

fn put(buf: &mut [u8], at: u64, v: u64) {
    let o = (at - DATA_ADDR) as usize;
    buf[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

/// A loadable segment of the ELF.
struct Load<'a> {
    vaddr: u64,
    flags: u32,
    data: &'a [u8],
    memsz: u64,
}

const ALIGN: u64 = 0x1_0000;

fn write_elf(loads: &[Load], entry: u64) -> Vec<u8> {
    let phoff = 64u64;
    let mut out = vec![0u8; (phoff + 56 * loads.len() as u64) as usize];
    let h = &mut out[..64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little endian
    h[6] = 1; // version
    h[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    h[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[24..32].copy_from_slice(&entry.to_le_bytes());
    h[32..40].copy_from_slice(&phoff.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes());
    h[54..56].copy_from_slice(&56u16.to_le_bytes());
    h[56..58].copy_from_slice(&(loads.len() as u16).to_le_bytes());
    h[58..60].copy_from_slice(&64u16.to_le_bytes());
    for (k, l) in loads.iter().enumerate() {
        let offset = if l.data.is_empty() {
            0
        } else {
            let o = layout::align_up(out.len() as u64, ALIGN);
            out.resize(o as usize, 0);
            out.extend_from_slice(l.data);
            o
        };
        let p = (phoff + 56 * k as u64) as usize;
        let ph = &mut out[p..p + 56];
        ph[0..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        ph[4..8].copy_from_slice(&l.flags.to_le_bytes());
        ph[8..16].copy_from_slice(&offset.to_le_bytes());
        ph[16..24].copy_from_slice(&l.vaddr.to_le_bytes());
        ph[24..32].copy_from_slice(&l.vaddr.to_le_bytes());
        ph[32..40].copy_from_slice(&(l.data.len() as u64).to_le_bytes());
        ph[40..48].copy_from_slice(&l.memsz.to_le_bytes());
        ph[48..56].copy_from_slice(&ALIGN.to_le_bytes());
    }
    out
}

/// Build the ELF that runs `images` in order and reports one record each; each program may run
/// `timeout_secs` seconds before its timer ends it.
pub fn build(images: &[&Image], timeout_secs: u64) -> Vec<u8> {
    let r = routines();
    let mut progs = Vec::new();
    let mut blob: Vec<u8> = Vec::new();
    let mut nsegs = 0u64;
    for img in images {
        let mut segs = Vec::new();
        for s in &img.segments {
            let map_start = s.addr & !(ALIGN - 1);
            let map_len = layout::align_up(s.end(), ALIGN) - map_start;
            let len8 = layout::align_up(s.bytes.len() as u64, 8);
            segs.push((s.addr, len8, blob.len() as u64, map_start, map_len));
            blob.extend_from_slice(&s.bytes);
            blob.resize(layout::align_up(blob.len() as u64, 8) as usize, 0);
        }
        nsegs += segs.len() as u64;
        progs.push(Prog {
            entry: img.entry,
            segs,
        });
    }
    let segtab = PROGTAB + 32 * progs.len() as u64;
    let blob_at = layout::align_up(segtab + 40 * nsegs, 8);
    let mut data = vec![0u8; (blob_at - DATA_ADDR) as usize];
    put(&mut data, NPROG, progs.len() as u64);
    for n in 0..31u8 {
        put(
            &mut data,
            INITREGS + 8 * u64::from(n),
            layout::initial_reg(n),
        );
    }
    // struct sigaction (kernel, arm64): handler, flags, restorer, mask
    put(&mut data, SIGACT, r.handler);
    put(&mut data, SIGACT + 8, 0x4 | 0x0800_0000 | 0x0400_0000); // SA_SIGINFO | SA_ONSTACK | SA_RESTORER
    put(&mut data, SIGACT + 16, r.restorer);
    put(&mut data, SIGACT + 24, 1 << (SIGALRM - 1));
    put(&mut data, ITIMER_ON + 16, timeout_secs.max(1));
    put(&mut data, SIGSTACK, ALTSTACK_ADDR);
    put(&mut data, SIGSTACK + 16, ALTSTACK_SIZE);
    let st = (SCRATCH_TEMPLATE - DATA_ADDR) as usize;
    data[st..st + layout::SCRATCH_BYTES as usize].copy_from_slice(&layout::initial_scratch());
    let mut seg_at = segtab;
    for (k, p) in progs.iter().enumerate() {
        let e = PROGTAB + 32 * k as u64;
        put(&mut data, e, p.entry);
        put(&mut data, e + 8, p.segs.len() as u64);
        put(&mut data, e + 16, seg_at);
        for &(addr, len8, blob_off, map_start, map_len) in &p.segs {
            for (i, v) in [addr, len8, blob_at + blob_off, map_start, map_len]
                .into_iter()
                .enumerate()
            {
                put(&mut data, seg_at + 8 * i as u64, v);
            }
            seg_at += 40;
        }
    }
    data.extend_from_slice(&blob);
    let (r_x, rw_) = (5u32, 6u32);
    write_elf(
        &[
            Load {
                vaddr: EXIT_ADDR,
                flags: r_x,
                data: &r.exit,
                memsz: r.exit.len() as u64,
            },
            Load {
                vaddr: layout::ENTRY_ADDR,
                flags: r_x,
                data: &r.entry,
                memsz: r.entry.len() as u64,
            },
            Load {
                vaddr: STACK_BASE,
                flags: rw_,
                data: &[],
                memsz: STACK_SIZE,
            },
            Load {
                vaddr: SCRATCH_ADDR,
                flags: rw_,
                data: &[],
                memsz: LOGCTL_ADDR + 0x1000 - SCRATCH_ADDR,
            },
            Load {
                vaddr: LOG_ADDR,
                flags: rw_,
                data: &[],
                memsz: LOG_BYTES,
            },
            Load {
                vaddr: ALTSTACK_ADDR,
                flags: rw_,
                data: &[],
                memsz: ALTSTACK_SIZE,
            },
            Load {
                vaddr: DATA_ADDR,
                flags: rw_,
                data: &data,
                memsz: data.len() as u64,
            },
        ],
        layout::ENTRY_ADDR,
    )
}

/// One parsed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Program index in the batch.
    pub index: u64,
    /// One of the `STATUS_*` values.
    pub status: u64,
    /// Signal number (signal status).
    pub signo: u64,
    /// Fault address (signal status) or mmap result (map failure).
    pub fault: u64,
    /// pc at the end.
    pub pc: u64,
    /// x0..x30.
    pub regs: [u64; 31],
    /// sp.
    pub sp: u64,
    /// NZCV in bits 31..28.
    pub nzcv: u64,
    /// Scratch buffer.
    pub scratch: Vec<u8>,
    /// Call log bytes, or None when the cursor was corrupt.
    pub log: Option<Vec<u8>>,
}

/// Parse the records of a run's stdout. Returns the complete records and, if the output ended
/// inside a record or held garbage, a description of that.
pub fn parse_records(out: &[u8]) -> (Vec<Record>, Option<String>) {
    let mut recs = Vec::new();
    let mut pos = 0usize;
    let q = |b: &[u8], w: u16| {
        let i = 8 * usize::from(w);
        u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
    };
    while pos < out.len() {
        let hdr_len = HEADER_WORDS * 8;
        if out.len() - pos < hdr_len {
            return (
                recs,
                Some(format!(
                    "output ends inside a record header ({} of {hdr_len} bytes)",
                    out.len() - pos
                )),
            );
        }
        let h = &out[pos..pos + hdr_len];
        if q(h, word::MAGIC) != MAGIC {
            return (recs, Some(format!("no record magic at output byte {pos}")));
        }
        let mut regs = [0u64; 31];
        for (k, r) in regs.iter_mut().enumerate() {
            *r = q(h, word::X0 + k as u16);
        }
        let log_len = q(h, word::LOG_LEN);
        let body = layout::SCRATCH_BYTES as usize
            + if log_len == LOG_CORRUPT {
                0
            } else {
                log_len as usize
            };
        if log_len != LOG_CORRUPT && log_len > LOG_BYTES || out.len() - pos - hdr_len < body {
            return (
                recs,
                Some(format!(
                    "output ends inside record {} (scratch and {log_len} log bytes expected)",
                    q(h, word::INDEX)
                )),
            );
        }
        let s = pos + hdr_len;
        let scratch = out[s..s + layout::SCRATCH_BYTES as usize].to_vec();
        let l = s + layout::SCRATCH_BYTES as usize;
        let log = (log_len != LOG_CORRUPT).then(|| out[l..l + log_len as usize].to_vec());
        recs.push(Record {
            index: q(h, word::INDEX),
            status: q(h, word::STATUS),
            signo: q(h, word::SIGNO),
            fault: q(h, word::FAULT),
            pc: q(h, word::PC),
            regs,
            sp: q(h, word::SP),
            nzcv: q(h, word::NZCV),
            scratch,
            log,
        });
        pos = s + body;
    }
    (recs, None)
}
