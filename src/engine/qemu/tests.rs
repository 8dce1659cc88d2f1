//! Tests of the parent module: how the runner's records become outcomes, including the two
//! ends only a system call can reach, which `run_batch` never lets an image make (its images
//! are given to `run_allowed` here directly).

use super::{map_failure, ElfEngine};
use crate::asm::encode::Inst;
use crate::engine::{Access, Engine, Exit};
use crate::machine::runtime::{Image, Segment};

#[test]
fn a_map_failure_names_its_errno() {
    assert!(map_failure(-17i64 as u64).contains("errno 17 (EEXIST"));
    assert!(map_failure(-22i64 as u64).contains("errno 22 (EINVAL"));
    assert!(map_failure(-99i64 as u64).contains("errno 99 (see errno(3))"));
    assert!(map_failure(0x5000_0000).contains("returned 0x50000000"));
}

fn qemu() -> Option<ElfEngine> {
    ElfEngine::for_tests()
}

/// `code` alone at 0x2000_0000.
fn image(code: &[Inst]) -> Image {
    let bytes = code.iter().flat_map(|i| i.encode().unwrap().to_le_bytes());
    Image::code_only(0x2000_0000, bytes.collect())
}

fn movz(rd: u8, imm16: u16) -> Inst {
    Inst::Movz { rd, imm16, hw: 0 }
}

/// Sends itself SIGFPE (tgkill(getpid(), gettid(), 8)): a signal the runner attributes to no
/// fault, undefined instruction or breakpoint.
#[test]
fn an_unattributed_signal_is_exit_signal() {
    let Some(mut q) = qemu() else { return };
    let raise = image(&[
        movz(8, 172), // getpid
        Inst::Svc,
        Inst::MovReg { rd: 9, rm: 0 },
        movz(8, 178), // gettid
        Inst::Svc,
        Inst::MovReg { rd: 1, rm: 0 },
        Inst::MovReg { rd: 0, rm: 9 },
        movz(2, 8),   // SIGFPE
        movz(8, 131), // tgkill
        Inst::Svc,
        Inst::Ret,
    ]);
    let r = q.run_allowed(&[&raise]);
    assert_eq!(r[0].as_ref().unwrap().exit, Exit::Signal(8));
    // Given to the engine the ordinary way, the image is not run at all.
    let refused = q.run(&raise).unwrap().exit;
    assert!(
        matches!(&refused, Exit::Unsupported(why) if why.contains("svc word at 0x20000004")),
        "{refused:?}"
    );
}

/// exit_group(7) from inside the function: no record is written for it, and the images after
/// it run in a new process.
#[test]
fn a_process_that_dies_truncates_only_the_image_that_ended_it() {
    let Some(mut q) = qemu() else { return };
    let die = image(&[movz(0, 7), movz(8, 94), Inst::Svc]);
    let ok = image(&[movz(0, 3), Inst::Ret]);
    let r = q.run_allowed(&[&ok, &die, &ok, &die, &ok]);
    let exits: Vec<&Exit> = r.iter().map(|o| &o.as_ref().unwrap().exit).collect();
    for k in [0, 2, 4] {
        assert_eq!(exits[k], &Exit::Returned, "image {k}");
        assert_eq!(r[k].as_ref().unwrap().regs[0], 3, "image {k}");
    }
    for k in [1, 3] {
        match exits[k] {
            Exit::Truncated(why) => assert!(why.contains("exit status: 7"), "{why}"),
            other => panic!("image {k}: expected a truncated outcome, got {other:?}"),
        }
    }
}

/// `movz x0, #42; ret` at 0x3000_0000: a segment images share, as a window's helper banks are.
fn shared_routine() -> Segment {
    let bytes: Vec<u8> = [movz(0, 42), Inst::Ret]
        .iter()
        .flat_map(|i| i.encode().unwrap().to_le_bytes())
        .collect();
    Segment {
        addr: 0x3000_0000,
        bytes: bytes.into(),
    }
}

/// Code that jumps to 0x3000_0000 (which returns to the exit), with `extra` segments.
fn jumper(extra: &[&Segment]) -> Image {
    let mut img = image(&[
        Inst::Movz {
            rd: 16,
            imm16: 0x3000,
            hw: 1,
        },
        Inst::Br { rn: 16 },
    ]);
    img.segments.extend(extra.iter().map(|s| (*s).clone()));
    img
}

/// A segment kept mapped from one image to the next is there for the second (which neither
/// maps nor copies it), and gone for an image after them that does not have it.
#[test]
fn a_segment_shared_by_consecutive_images_is_kept_for_them_alone() {
    let Some(mut q) = qemu() else { return };
    let s = shared_routine();
    let (with, without) = (jumper(&[&s]), jumper(&[]));
    let r = q.run_allowed(&[&with, &with, &without, &with, &with]);
    for k in [0, 1, 3, 4] {
        let o = r[k].as_ref().unwrap();
        assert_eq!((&o.exit, o.regs[0]), (&Exit::Returned, 42), "image {k}");
    }
    let gone = Exit::Fault {
        access: Access::Fetch,
        addr: 0x3000_0000,
    };
    assert_eq!(r[2].as_ref().unwrap().exit, gone);
}

/// An image whose pages cannot be mapped (a segment on the runner's own stack: EEXIST) is an
/// engine error naming errno; the process ends there, so the images after it run in a new
/// process and a segment the failed image shared is mapped again for them.
#[test]
fn after_a_map_failure_the_next_images_run_in_a_fresh_process() {
    let Some(mut q) = qemu() else { return };
    let s = shared_routine();
    let on_stack = Segment {
        addr: crate::layout::STACK_BASE,
        bytes: vec![0u8; 8].into(),
    };
    let (with, broken, without) = (jumper(&[&s]), jumper(&[&s, &on_stack]), jumper(&[]));
    let r = q.run_allowed(&[&with, &broken, &with, &without]);
    let err = r[1].as_ref().unwrap_err().to_string();
    assert!(err.contains("errno 17 (EEXIST"), "{err}");
    for k in [0, 2] {
        let o = r[k].as_ref().unwrap();
        assert_eq!((&o.exit, o.regs[0]), (&Exit::Returned, 42), "image {k}");
    }
    assert!(matches!(
        r[3].as_ref().unwrap().exit,
        Exit::Fault {
            access: Access::Fetch,
            addr: 0x3000_0000
        }
    ));
}

/// A store into the runner's read-only tables (the next program's table entry, or an initial
/// register) is a write fault at that address, as on Unicorn, where nothing is mapped there; the
/// program after it runs from intact tables.
#[test]
fn a_stray_write_into_the_runners_tables_faults_and_spares_the_next_program() {
    use crate::engine::elf::{INITREGS, PROGTAB, TABLES_ADDR};
    use crate::engine::unicorn::UnicornEngine;
    let Some(mut q) = qemu() else { return };
    // Returns its initial x3 in x0.
    let after = image(&[Inst::MovReg { rd: 0, rm: 3 }, Inst::Ret]);
    for at in [PROGTAB + 32, INITREGS + 3 * 8] {
        let stray = image(&[
            Inst::Movz {
                rd: 9,
                imm16: (TABLES_ADDR >> 16) as u16,
                hw: 1,
            },
            Inst::StrImm {
                rt: 0,
                rn: 9,
                imm12: ((at - TABLES_ADDR) / 8) as u16,
            },
            Inst::Ret,
        ]);
        let r = q.run_allowed(&[&stray, &after]);
        let fault = Exit::Fault {
            access: Access::Write,
            addr: at,
        };
        assert_eq!(r[0].as_ref().unwrap().exit, fault, "{at:#x}");
        assert_eq!(r[1].as_ref().unwrap().exit, Exit::Returned, "{at:#x}");
        assert_eq!(
            r[1].as_ref().unwrap().regs[0],
            crate::layout::initial_reg(3)
        );
        let on_unicorn = UnicornEngine::new().unwrap().run(&stray).unwrap();
        assert_eq!(on_unicorn.exit, fault);
    }
}
