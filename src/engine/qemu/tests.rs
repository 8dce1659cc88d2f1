//! Tests of the parent module: how the runner's records become outcomes, including the two
//! ends only a system call can reach, which `run_batch` never lets an image make (its images
//! are given to `run_allowed` here directly).

use super::{map_failure, ElfEngine};
use crate::asm::encode::Inst;
use crate::engine::{Engine, Exit};
use crate::machine::runtime::Image;

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
