//! Executing one [`Op`]: the register file, the flags, and what the instruction does to control
//! flow. An instruction that faults changes no register (`ldp` loads both words before writing
//! either); a store pair whose second word faults has written its first, as on QEMU.

use super::memory::{Fault, Memory};
use super::op::{
    add_with_carry, bitfield, condition_holds, extract, nz, shift, Index, Logic, Op, Shift, SLOTS,
    SP_SLOT, ZR_SLOT,
};
use crate::engine::Exit;
use crate::layout::{initial_reg, STACK_TOP};

/// What an instruction did to control flow.
pub(super) enum Flow {
    /// Fall through to the next word.
    Next,
    /// Continue at this address.
    Jump(u64),
    /// The run ends here, at this instruction (boxed: runs end once, and a 16-byte `Flow`
    /// returns in registers from every instruction).
    Stop(Box<Exit>),
}

/// Registers and flags.
pub(super) struct Cpu {
    /// Slots as [`super::op`] defines them.
    regs: [u64; SLOTS],
    /// NZCV in bits 31..28.
    pub(super) nzcv: u64,
}

fn fault((access, addr): Fault) -> Flow {
    Flow::Stop(Box::new(Exit::Fault { access, addr }))
}

/// A memory operand's access: where, the value written back to the base, if any.
struct Addressing {
    addr: u64,
    writeback: Option<u64>,
}

fn addressing(base: u64, offset: i64, index: Index) -> Addressing {
    let moved = base.wrapping_add(offset as u64);
    match index {
        Index::Offset => Addressing {
            addr: moved,
            writeback: None,
        },
        Index::Pre => Addressing {
            addr: moved,
            writeback: Some(moved),
        },
        Index::Post => Addressing {
            addr: base,
            writeback: Some(moved),
        },
    }
}

impl Cpu {
    /// The machine as every engine enters the function: [`initial_reg`], `x16` the entry,
    /// `sp` at [`STACK_TOP`], flags clear.
    pub(super) fn entering(entry: u64) -> Cpu {
        let mut regs = [0u64; SLOTS];
        for (n, r) in regs.iter_mut().enumerate().take(31) {
            *r = initial_reg(n as u8);
        }
        regs[16] = entry;
        regs[ZR_SLOT as usize] = 0;
        regs[SP_SLOT as usize] = STACK_TOP;
        Cpu { regs, nzcv: 0 }
    }

    /// `x0..x30`.
    pub(super) fn x(&self) -> [u64; 31] {
        std::array::from_fn(|n| self.regs[n])
    }

    /// `sp`.
    pub(super) fn sp(&self) -> u64 {
        self.regs[SP_SLOT as usize]
    }

    #[inline]
    fn get(&self, slot: u8) -> u64 {
        self.regs[slot as usize]
    }

    #[inline]
    fn set(&mut self, slot: u8, value: u64) {
        if slot != ZR_SLOT {
            self.regs[slot as usize] = value;
        }
    }

    /// Execute `op`, fetched at `pc`.
    #[inline]
    pub(super) fn exec(&mut self, op: Op, pc: u64, mem: &mut Memory) -> Flow {
        match op {
            Op::SetImm { rd, value } => self.set(rd, value),
            Op::Movk { rd, bits, keep } => self.set(rd, (self.get(rd) & keep) | bits),
            Op::LoadLiteral { rt, addr } => match mem.load(addr) {
                Ok(v) => self.set(rt, v),
                Err(f) => return fault(f),
            },
            Op::Memory {
                load,
                rt,
                rt2,
                base,
                offset,
                index,
            } => {
                let at = addressing(self.get(base), offset, index);
                let done = if load {
                    self.load(rt, rt2, at.addr, mem)
                } else {
                    self.store(rt, rt2, at.addr, mem)
                };
                if let Err(f) = done {
                    return fault(f);
                }
                if let Some(v) = at.writeback {
                    self.set(base, v);
                }
            }
            Op::Branch { target } => return Flow::Jump(target),
            Op::BranchLink { target } => {
                self.set(30, pc.wrapping_add(4));
                return Flow::Jump(target);
            }
            Op::BranchCond { cond, target } if condition_holds(cond, self.nzcv) => {
                return Flow::Jump(target)
            }
            Op::CompareBranch {
                rt,
                nonzero,
                target,
            } if (self.get(rt) != 0) == nonzero => return Flow::Jump(target),
            Op::TestBranch {
                rt,
                bit,
                nonzero,
                target,
            } if ((self.get(rt) >> bit) & 1 == 1) == nonzero => return Flow::Jump(target),
            Op::BranchCond { .. } | Op::CompareBranch { .. } | Op::TestBranch { .. } => {}
            Op::BranchReg { rn, link } => {
                let target = self.get(rn);
                if link {
                    self.set(30, pc.wrapping_add(4));
                }
                return Flow::Jump(target);
            }
            _ => return self.exec_data(op, pc),
        }
        Flow::Next
    }

    /// Execute an `op` that neither accesses memory nor branches.
    fn exec_data(&mut self, op: Op, pc: u64) -> Flow {
        match op {
            Op::AddImm {
                rd,
                rn,
                value,
                sub,
                flags,
            } => self.add(rd, self.get(rn), value, sub, flags),
            Op::AddReg {
                rd,
                rn,
                rm,
                shift: s,
                amount,
                sub,
                flags,
            } => self.add(rd, self.get(rn), shift(self.get(rm), s, amount), sub, flags),
            Op::Logic {
                op,
                rd,
                rn,
                rm,
                shift: s,
                amount,
                invert,
                flags,
            } => self.logic(op, rd, self.get(rn), (rm, s, amount), invert, flags),
            Op::MulAdd {
                rd,
                rn,
                rm,
                ra,
                sub,
            } => {
                let p = self.get(rn).wrapping_mul(self.get(rm));
                let a = self.get(ra);
                self.set(
                    rd,
                    if sub {
                        a.wrapping_sub(p)
                    } else {
                        a.wrapping_add(p)
                    },
                );
            }
            Op::Bitfield {
                rd,
                rn,
                immr,
                imms,
                signed,
            } => self.set(rd, bitfield(self.get(rn), immr, imms, signed)),
            Op::Extract { rd, rn, rm, lsb } => {
                self.set(rd, extract(self.get(rn), self.get(rm), lsb))
            }
            Op::ReadNzcv { rt } => self.set(rt, self.nzcv),
            Op::WriteNzcv { rt } => self.nzcv = self.get(rt) & 0xF000_0000,
            Op::Nop => {}
            Op::Brk { imm } => return Flow::Stop(Box::new(Exit::Breakpoint(Some(imm)))),
            Op::Udf => return Flow::Stop(Box::new(Exit::InvalidInstruction)),
            Op::Svc => return Flow::Stop(Box::new(Exit::SystemCall)),
            Op::Unsupported { word } => {
                return Flow::Stop(Box::new(Exit::Unsupported(format!(
                    "the word {word:#010x} at {pc:#x} is outside the interpreter's subset"
                ))))
            }
            other => {
                return Flow::Stop(Box::new(Exit::Unsupported(format!(
                    "internal: {other:?} at {pc:#x} reached the data path"
                ))))
            }
        }
        Flow::Next
    }

    fn add(&mut self, rd: u8, a: u64, b: u64, sub: bool, flags: bool) {
        let (result, nzcv) = if sub {
            add_with_carry(a, !b, true)
        } else {
            add_with_carry(a, b, false)
        };
        if flags {
            self.nzcv = nzcv;
        }
        self.set(rd, result);
    }

    fn logic(&mut self, op: Logic, rd: u8, a: u64, m: (u8, Shift, u8), invert: bool, flags: bool) {
        let b = shift(self.get(m.0), m.1, m.2);
        let b = if invert { !b } else { b };
        let result = match op {
            Logic::And => a & b,
            Logic::Orr => a | b,
            Logic::Eor => a ^ b,
        };
        if flags {
            self.nzcv = nz(result);
        }
        self.set(rd, result);
    }

    fn load(&mut self, rt: u8, rt2: Option<u8>, addr: u64, mem: &Memory) -> Result<(), Fault> {
        match rt2 {
            None => self.set(rt, mem.load(addr)?),
            Some(r) => {
                let (first, second) = mem.load_pair(addr)?;
                self.set(rt, first);
                self.set(r, second);
            }
        }
        Ok(())
    }

    fn store(&self, rt: u8, rt2: Option<u8>, addr: u64, mem: &mut Memory) -> Result<(), Fault> {
        match rt2 {
            None => mem.store(addr, self.get(rt)),
            Some(r) => mem.store_pair(addr, self.get(rt), self.get(r)),
        }
    }
}
