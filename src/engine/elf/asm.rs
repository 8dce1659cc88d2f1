//! A small assembler over the code buffer for the ELF's own routines.

use super::PROGTAB;
use crate::asm::buffer::{CodeBuffer, Label, LabelUse};
use crate::asm::encode::{mov_imm_minimal, AluOp, Cond, Inst, Reg, XZR};

pub(super) struct Asm {
    pub(super) b: CodeBuffer,
}

impl Asm {
    pub(super) fn i(&mut self, i: Inst) {
        self.b.push(i);
    }
    pub(super) fn imm(&mut self, rd: Reg, v: u64) {
        self.b.push_all(&mov_imm_minimal(rd, v));
    }
    pub(super) fn svc(&mut self, nr: u16) {
        self.imm(8, u64::from(nr));
        self.i(Inst::Svc);
    }
    pub(super) fn jump(&mut self, inst: Inst, l: Label, kind: LabelUse) {
        self.b.push_use(inst, l, kind);
    }
    pub(super) fn b(&mut self, l: Label) {
        self.jump(Inst::B { offset: 0 }, l, LabelUse::Branch26);
    }
    pub(super) fn bl(&mut self, l: Label) {
        self.jump(Inst::Bl { offset: 0 }, l, LabelUse::Branch26);
    }
    pub(super) fn bcond(&mut self, c: Cond, l: Label) {
        self.jump(Inst::BCond { cond: c, offset: 0 }, l, LabelUse::Branch19);
    }
    pub(super) fn ldr(&mut self, rt: Reg, rn: Reg, imm12: u16) {
        self.i(Inst::LdrImm { rt, rn, imm12 });
    }
    pub(super) fn str(&mut self, rt: Reg, rn: Reg, imm12: u16) {
        self.i(Inst::StrImm { rt, rn, imm12 });
    }
    pub(super) fn add_imm(&mut self, rd: Reg, rn: Reg, imm12: u16) {
        self.i(Inst::AddImm { rd, rn, imm12 });
    }
    pub(super) fn sub_imm(&mut self, rd: Reg, rn: Reg, imm12: u16) {
        self.i(Inst::SubImm { rd, rn, imm12 });
    }
    pub(super) fn cmp_zero(&mut self, rn: Reg) {
        self.i(Inst::SubsImm {
            rd: XZR,
            rn,
            imm12: 0,
        });
    }
    pub(super) fn cmp(&mut self, rn: Reg, rm: Reg) {
        self.i(Inst::CmpReg { rn, rm });
    }
    /// `x21 = &PROGTAB[x19]` (32-byte entries: entry, nseg, segs); clobbers x22.
    pub(super) fn prog_entry(&mut self) {
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
    pub(super) fn load_abs(&mut self, rd: Reg, addr: u64) {
        self.imm(rd, addr);
        self.ldr(rd, rd, 0);
    }
    /// `[addr] = x<rs>` using `tmp`.
    pub(super) fn store_abs(&mut self, rs: Reg, addr: u64, tmp: Reg) {
        self.imm(tmp, addr);
        self.str(rs, tmp, 0);
    }
    /// In the signal handler (x2 = ucontext, x9 = STATE): copy the u64 at `ucontext + uc_off` to
    /// record word `word`; clobbers x3, x10.
    pub(super) fn uc_to_state(&mut self, uc_off: u16, word: u16) {
        self.add_imm(3, 2, uc_off);
        self.ldr(10, 3, 0);
        self.str(10, 9, word);
    }

    /// Copy `x2` bytes (multiple of 8) from `x1` to `x0`; clobbers x0..x3.
    pub(super) fn copy_loop(&mut self) {
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
