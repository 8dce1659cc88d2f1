//! The ELF's entry page (start, program loop, report, signal handler) and exit page, as
//! a64call code built with its own buffer.

use super::asm::Asm;
use super::record::word;
use super::*;
use crate::asm::buffer::{CodeBuffer, Label};
use crate::asm::encode::{self, AluOp, Cond, Inst, SP, XZR};

/// Address of header word `w` in the record being built.
const fn state_word(w: u16) -> u64 {
    STATE + 8 * w as u64
}

/// The assembled harness routines.
pub(super) struct Routines {
    pub(super) exit: Vec<u8>,
    pub(super) entry: Vec<u8>,
    pub(super) handler: u64,
    pub(super) restorer: u64,
}

/// The entry page's labels shared between its sections.
struct Labels {
    next_program: Label,
    report: Label,
    handler: Label,
    restorer: Label,
    write_all: Label,
    finish: Label,
    map_failed: Label,
}

/// Build the code of the exit page (runs at EXIT_ADDR) and the entry page (at ENTRY_ADDR).
pub(super) fn routines() -> Routines {
    let mut a = Asm {
        b: CodeBuffer::new(layout::ENTRY_ADDR),
    };
    let mut label = || a.b.new_label();
    let l = Labels {
        next_program: label(),
        report: label(),
        handler: label(),
        restorer: label(),
        write_all: label(),
        finish: label(),
        map_failed: label(),
    };
    start(&mut a, &l);
    write_all(&mut a, &l);
    next_program(&mut a, &l);
    map_failed(&mut a, &l);
    report(&mut a, &l);
    a.b.bind(l.finish);
    a.imm(0, 0);
    a.svc(sys::EXIT_GROUP);
    handler(&mut a, &l);
    a.b.bind(l.restorer);
    a.svc(sys::RT_SIGRETURN);
    let addr =
        |a: &Asm, l: Label| layout::ENTRY_ADDR + u64::from(a.b.label_offset(l).expect("bound"));
    let (report_addr, handler_addr, restorer_addr) = (
        addr(&a, l.report),
        addr(&a, l.handler),
        addr(&a, l.restorer),
    );
    Routines {
        exit: exit_page(report_addr),
        entry: a.b.finish().expect("start routine encodes").bytes,
        handler: handler_addr,
        restorer: restorer_addr,
    }
}

/// `_start`: the signal stack and the handlers (the sigaction struct in the data names the
/// handler and restorer; the host fills it in once their addresses are known), then
/// [`STARTED`] on stdout.
fn start(a: &mut Asm, l: &Labels) {
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
    // [`STARTED`], through the record header's first word (the report routine rewrites it).
    a.imm(9, STATE);
    a.imm(10, STARTED);
    a.str(10, 9, word::MAGIC);
    a.imm(1, STATE);
    a.imm(2, 8);
    a.bl(l.write_all);
    a.b(l.next_program);
}

/// `write_all(x1 = buffer, x2 = length)`: loops over partial writes; clobbers x0..x2, x8.
fn write_all(a: &mut Asm, l: &Labels) {
    a.b.bind(l.write_all);
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
}

/// `next_program`: map and fill program CUR's segments (or exit when all ran), then enter it.
fn next_program(a: &mut Asm, l: &Labels) {
    a.b.bind(l.next_program);
    a.imm(9, STACK_TOP);
    a.add_imm(SP, 9, 0);
    a.load_abs(19, CUR);
    a.load_abs(20, NPROG);
    a.cmp(19, 20);
    a.bcond(Cond::Hs, l.finish);
    // x21 = &PROGTAB[CUR]: entry, nseg, segs
    a.prog_entry();
    a.ldr(22, 21, 0); // entry
    a.ldr(23, 21, 1); // nseg
    a.ldr(24, 21, 2); // segs
    a.imm(25, 0);
    // for each segment
    let seg_top = a.b.new_label();
    let seg_next = a.b.new_label();
    let seg_done = a.b.new_label();
    a.b.bind(seg_top);
    a.cmp(25, 23);
    a.bcond(Cond::Hs, seg_done);
    // still mapped and filled from the program before (loaded_before): nothing to do
    a.ldr(0, 24, 5);
    a.cmp_zero(0);
    a.bcond(Cond::Ne, seg_next);
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
    a.bcond(Cond::Ne, l.map_failed);
    // copy
    a.ldr(0, 24, 0);
    a.ldr(1, 24, 2);
    a.ldr(2, 24, 1);
    a.copy_loop();
    sync_caches(a);
    // mprotect(map_start, map_len, R|X)
    a.ldr(0, 24, 3);
    a.ldr(1, 24, 4);
    a.imm(2, 5);
    a.svc(sys::MPROTECT);
    a.b.bind(seg_next);
    a.add_imm(25, 25, 1);
    a.add_imm(24, 24, 8 * SEG_WORDS as u16);
    a.b(seg_top);
    a.b.bind(seg_done);
    enter_program(a);
}

/// Cache maintenance over the segment at x24 `[addr, addr + len8)`, one 4-byte step at a time
/// (any line size).
fn sync_caches(a: &mut Asm) {
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
}

/// Reset the scratch buffer, the log control and the stack, arm the timer, load the initial
/// registers and branch to the program's entry.
fn enter_program(a: &mut Asm) {
    // reset scratch, log control, stack
    a.imm(0, SCRATCH_ADDR);
    a.imm(1, SCRATCH_TEMPLATE);
    a.imm(2, layout::SCRATCH_BYTES);
    a.copy_loop();
    a.imm(9, LOGCTL_ADDR);
    a.imm(10, LOG_ADDR);
    a.imm(11, layout::LOG_LIMIT);
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
    a.imm(0, ITIMER_VIRTUAL);
    a.imm(1, ITIMER_ON);
    a.imm(2, 0);
    a.svc(sys::SETITIMER);
    // initial registers: x16 = the entry (x22), sp, nzcv, then every other register from the
    // read-only table, x30 last (it addresses the table)
    a.i(Inst::MovReg { rd: 16, rm: 22 });
    a.imm(9, STACK_TOP);
    a.add_imm(SP, 9, 0);
    a.i(Inst::MsrNzcv { rt: XZR });
    a.imm(30, INITREGS);
    for k in 0..15u8 {
        if 2 * k == 16 {
            a.ldr(17, 30, 17);
            continue;
        }
        a.i(Inst::Ldp {
            rt: 2 * k,
            rt2: 2 * k + 1,
            rn: 30,
            imm7: 2 * k as i8,
        });
    }
    a.ldr(30, 30, 30);
    a.i(Inst::Br { rn: 16 });
}

/// `map_failed`: record status map-failed with the mmap result, then report; the process ends
/// after the record (`unmap_and_next`), so no page of a half-mapped program is left for the next
/// one, and the host runs the programs after it in a new process.
fn map_failed(a: &mut Asm, l: &Labels) {
    a.b.bind(l.map_failed);
    a.store_abs(0, state_word(word::FAULT), 9);
    a.imm(0, STATUS_MAP_FAILED);
    a.store_abs(0, state_word(word::STATUS), 9);
    a.b(l.report);
}

/// `report`: cancel the timer and write the record (header, scratch, call log).
fn report(a: &mut Asm, l: &Labels) {
    a.b.bind(l.report);
    a.imm(9, STACK_TOP);
    a.add_imm(SP, 9, 0);
    a.imm(0, ITIMER_VIRTUAL);
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
    a.imm(2, word::COUNT as u64 * 8);
    a.bl(l.write_all);
    a.imm(1, SCRATCH_ADDR);
    a.imm(2, layout::SCRATCH_BYTES);
    a.bl(l.write_all);
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
    a.bl(l.write_all);
    a.b.bind(no_log);
    unmap_and_next(a, l);
}

/// End the process after a map failure; else clear the record's status fields, unmap the
/// program's segments and go to the next program.
fn unmap_and_next(a: &mut Asm, l: &Labels) {
    a.load_abs(0, state_word(word::STATUS));
    a.imm(1, STATUS_MAP_FAILED);
    a.cmp(0, 1);
    a.bcond(Cond::Eq, l.finish);
    // clear STATE's status fields for the next program
    a.imm(9, STATE);
    for w in [word::STATUS, word::SIGNO, word::FAULT] {
        a.str(XZR, 9, w);
    }
    // munmap every segment of this program (all are mapped: the mapping did not fail), except
    // those the next program keeps (keep_after)
    a.load_abs(19, CUR);
    a.prog_entry();
    a.ldr(25, 21, 1);
    a.ldr(24, 21, 2);
    let um_top = a.b.new_label();
    let um_next = a.b.new_label();
    let um_done = a.b.new_label();
    a.b.bind(um_top);
    a.cmp_zero(25);
    a.bcond(Cond::Eq, um_done);
    a.ldr(0, 24, 6);
    a.cmp_zero(0);
    a.bcond(Cond::Ne, um_next);
    a.ldr(0, 24, 3);
    a.ldr(1, 24, 4);
    a.svc(sys::MUNMAP);
    a.b.bind(um_next);
    a.add_imm(24, 24, 8 * SEG_WORDS as u16);
    a.sub_imm(25, 25, 1);
    a.b(um_top);
    a.b.bind(um_done);
    a.add_imm(19, 19, 1);
    a.store_abs(19, CUR, 9);
    a.b(l.next_program);
}

/// `handler(x0 = signo, x1 = siginfo, x2 = ucontext)`, on the alternate stack: record the
/// signal and the interrupted state, then resume at `report`.
fn handler(a: &mut Asm, l: &Labels) {
    a.b.bind(l.handler);
    a.imm(9, STATE);
    a.imm(10, STATUS_SIGNAL);
    let not_alarm = a.b.new_label();
    a.imm(11, SIGVTALRM);
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
        layout::ENTRY_ADDR + u64::from(a.b.label_offset(l.report).expect("report is bound"));
    a.imm(10, report_addr);
    a.add_imm(3, 2, UC_PC);
    a.str(10, 3, 0);
    a.imm(10, STACK_TOP);
    a.add_imm(3, 2, UC_SP);
    a.str(10, 3, 0);
    a.i(Inst::Ret);
}

/// The exit page: save every register into the record, mark it returned, go to `report`.
fn exit_page(report_addr: u64) -> Vec<u8> {
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
    x.b.finish().expect("exit routine encodes").bytes
}
