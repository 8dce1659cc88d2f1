//! The ELF engine (qemu-aarch64 here, direct execution on aarch64 hosts): same outcomes as
//! Unicorn, and crashes, timeouts, bad instructions and cut-short output as clear outcomes.
//!
//! These tests need qemu-aarch64 (`harness/setup` installs it), all but the Unicorn–interpreter
//! exit table. Without it they fail, naming
//! the problem, unless `A64CALL_SKIP_QEMU=1` is set (the README's documented opt-out).

use a64call::asm::encode::Inst;
use a64call::differential::{run_on, run_programs, Config};
use a64call::engine::EngineKind;
use a64call::engine::{Access, ElfEngine, Engine, Exit, Outcome, UnicornEngine};
use a64call::machine::runtime::Image;
use a64call::model::gen::from_seed;
use a64call::Named;

fn qemu() -> Option<ElfEngine> {
    ElfEngine::for_tests()
}

mod common;
use common::{
    image, image_of_words, undefined_instruction, unmapped_call, unmapped_read, unmapped_write,
};

#[test]
fn engines_agree_on_fixed_programs() {
    let Some(mut q) = qemu() else { return };
    let mut progs = Vec::new();
    for prof in [
        a64call::model::profile::BuiltIn::Default,
        a64call::model::profile::BuiltIn::Nested,
        a64call::model::profile::BuiltIn::Far64,
        a64call::model::profile::BuiltIn::Cinderx,
        a64call::model::profile::BuiltIn::Tiny,
    ] {
        for seed in 0..8 {
            progs.push(from_seed(seed, &prof.profile()));
        }
    }
    let refs: Vec<_> = progs.iter().collect();
    let mut u = UnicornEngine::new().unwrap();
    let reports = run_programs(&refs, &Config::default(), &mut [&mut u, &mut q]).unwrap();
    for (p, r) in progs.iter().zip(&reports) {
        assert!(
            r.finding.is_none(),
            "{}\n{}",
            r.finding.as_ref().unwrap(),
            a64call::model::text::print(p)
        );
        let engines: std::collections::BTreeSet<_> =
            r.outcomes.iter().map(|(_, e, _)| e.name()).collect();
        assert_eq!(engines.len(), 2);
        assert!(r.outcomes.iter().all(|(_, _, o)| o.exit == Exit::Returned));
    }
}

/// Code that writes `value` into the helpers' call-log cursor, then returns.
fn cursor_set_to(value: u64) -> Image {
    use a64call::layout::LOGCTL_ADDR;
    let halfword = |hw: u8| (value >> (16 * hw)) as u16;
    let mut code = vec![
        Inst::Movz {
            rd: 9,
            imm16: (LOGCTL_ADDR >> 16) as u16,
            hw: 1,
        },
        movz(10, halfword(0)),
    ];
    code.extend((1..4).map(|hw| Inst::Movk {
        rd: 10,
        imm16: halfword(hw),
        hw,
    }));
    code.extend([
        Inst::StrImm {
            rt: 10,
            rn: 9,
            imm12: 0,
        },
        Inst::Ret,
    ]);
    image(&code)
}

/// `x9 = value` by `movz` and `movk`s, then `last`.
fn with_x9(value: u64, last: Inst) -> Image {
    let halfword = |hw: u8| (value >> (16 * hw)) as u16;
    let mut code = vec![movz(9, halfword(0))];
    code.extend((1..4).map(|hw| Inst::Movk {
        rd: 9,
        imm16: halfword(hw),
        hw,
    }));
    code.extend([last, Inst::Ret]);
    image(&code)
}

/// One behaviour per case and the exit every engine must give for it.
fn exit_cases() -> Vec<(&'static str, Image, Exit)> {
    use a64call::layout::{EXIT_ADDR, LOG_ADDR, SCRATCH_ADDR, STACK_TOP};
    let fault = |access, addr| Exit::Fault { access, addr };
    let call_x9 = Inst::Blr { rn: 9 };
    let store_x9 = Inst::StrImm {
        rt: 0,
        rn: 9,
        imm12: 0,
    };
    vec![
        // The fixed regions have the ELF engine's permissions on every engine.
        (
            "call into the stack",
            with_x9(STACK_TOP - 0x80, call_x9),
            fault(Access::Fetch, STACK_TOP - 0x80),
        ),
        (
            "call into scratch",
            with_x9(SCRATCH_ADDR, call_x9),
            fault(Access::Fetch, SCRATCH_ADDR),
        ),
        (
            "call into the call log",
            with_x9(LOG_ADDR, call_x9),
            fault(Access::Fetch, LOG_ADDR),
        ),
        (
            "store into the exit page",
            with_x9(EXIT_ADDR + 8, store_x9),
            fault(Access::Write, EXIT_ADDR + 8),
        ),
        (
            "unmapped read",
            unmapped_read(),
            fault(Access::Read, 0x4000_0000_0000),
        ),
        (
            "unmapped write",
            unmapped_write(),
            fault(Access::Write, 0x4000_0000_0008),
        ),
        (
            "unmapped call",
            unmapped_call(),
            fault(Access::Fetch, 0x5000_0000_0000),
        ),
        (
            "undefined",
            undefined_instruction(),
            Exit::InvalidInstruction,
        ),
        (
            "brk",
            image(&[Inst::Brk { imm16: 0x77 }]),
            Exit::Breakpoint(Some(0x77)),
        ),
        ("returns 5", image(&[movz(0, 5), Inst::Ret]), Exit::Returned),
        ("cursor 0", cursor_set_to(0), Exit::CallLogCorrupt),
        (
            "cursor off a record",
            cursor_set_to(LOG_ADDR + 8),
            Exit::CallLogCorrupt,
        ),
        (
            "cursor at a record",
            cursor_set_to(LOG_ADDR),
            Exit::Returned,
        ),
        // adr x1, #6; br x1: a branch to a misaligned address
        (
            "misaligned branch",
            image_of_words(&[0x5000_0021, 0xD61F_0020, 0xD503_201F, 0xD503_201F]),
            fault(Access::Fetch, common::BASE + 6),
        ),
    ]
    .into_iter()
    .chain(across_edges())
    .collect()
}

/// Loads and stores of 8 bytes that cross an edge of a data region into unmapped memory: they
/// fault at the first unmapped byte (Unicorn's fault hook does not listen inside the data
/// regions, and the first of the faults Unicorn reports byte by byte is the run's).
fn across_edges() -> Vec<(&'static str, Image, Exit)> {
    use a64call::layout::{LOGCTL_ADDR, LOG_ADDR, LOG_BYTES, STACK_BASE};
    let edges = [
        (
            "the end of the call log's control block",
            LOGCTL_ADDR + 0x1000,
            4,
        ),
        ("the end of the call log", LOG_ADDR + LOG_BYTES, 4),
        ("the start of the stack", STACK_BASE, 0),
        ("the start of the call log", LOG_ADDR, 0),
    ];
    let (rt, rn, imm12) = (0, 9, 0);
    let mut cases = Vec::new();
    for (edge, addr, first_unmapped) in edges {
        for (verb, access, last) in [
            ("load", Access::Read, Inst::LdrImm { rt, rn, imm12 }),
            ("store", Access::Write, Inst::StrImm { rt, rn, imm12 }),
        ] {
            let name = format!("{verb} across {edge}").leak();
            let fault = Exit::Fault {
                access,
                addr: addr - 4 + first_unmapped,
            };
            cases.push((&*name, with_x9(addr - 4, last), fault));
        }
    }
    cases
}

/// Pc, registers, sp and flags: the machine state every engine must agree on.
fn state(o: &Outcome) -> (u64, [u64; 31], u64, u64) {
    (o.pc, o.regs, o.sp, o.nzcv)
}

/// Every case is the same `Exit` and machine state on Unicorn and the interpreter (no qemu
/// needed, so this holds even where the ELF engine's tests are opted out).
#[test]
fn every_exit_is_the_same_on_unicorn_and_the_interpreter() {
    let mut u = UnicornEngine::new().unwrap();
    let mut i = a64call::engine::InterpEngine::new();
    for (what, img, exit) in exit_cases() {
        let (on_u, on_i) = (u.run(&img).unwrap(), i.run(&img).unwrap());
        assert_eq!(on_u.exit, exit, "{what} on unicorn");
        assert_eq!(on_i.exit, exit, "{what} on interp");
        assert_eq!(
            state(&on_i),
            state(&on_u),
            "{what}: interp vs unicorn state"
        );
        assert_eq!(
            on_i.scratch, on_u.scratch,
            "{what}: interp vs unicorn scratch"
        );
    }
}

/// Every case is the same `Exit` and machine state on the ELF engine as on Unicorn (all cases
/// in one ELF batch: it goes on after each crash).
#[test]
fn every_exit_is_the_same_on_the_elf_engine() {
    let Some(mut q) = qemu() else { return };
    let mut u = UnicornEngine::new().unwrap();
    let cases = exit_cases();
    let refs: Vec<&Image> = cases.iter().map(|c| &c.1).collect();
    let on_q = q.run_batch(&refs);
    for ((what, img, exit), q) in cases.iter().zip(&on_q) {
        let q = q.as_ref().unwrap();
        let on_u = u.run(img).unwrap();
        assert_eq!(&q.exit, exit, "{what} on qemu");
        assert_eq!(state(q), state(&on_u), "{what}: qemu vs unicorn state");
        assert_eq!(q.scratch, on_u.scratch, "{what}: qemu vs unicorn scratch");
    }
    let returns_5 = cases.iter().position(|c| c.0 == "returns 5").unwrap();
    assert_eq!(
        on_q[returns_5].as_ref().unwrap().regs[0],
        5,
        "the batch goes on after crashes"
    );
}

/// Runaway code on the ELF engine ends at its CPU-time limit, which is no verdict
/// (`Exit::Unsupported`: the image is judged on Unicorn, where it is runaway by the instruction
/// limit), and the batch goes on.
#[test]
fn a_timed_out_run_is_no_verdict_and_the_batch_goes_on() {
    let Some(q) = qemu() else { return };
    let mut q = q.with_timeout(1);
    let spin = image(&[Inst::B { offset: 0 }]);
    let ok = image(&[
        Inst::Movz {
            rd: 0,
            imm16: 9,
            hw: 0,
        },
        Inst::Ret,
    ]);
    let r = q.run_batch(&[&spin, &ok]);
    assert!(
        matches!(&r[0].as_ref().unwrap().exit, Exit::Unsupported(why) if why.contains("time limit")),
        "{:?}",
        r[0]
    );
    assert_eq!(r[1].as_ref().unwrap().regs[0], 9);
    let mut u = UnicornEngine::new().unwrap();
    assert_eq!(
        u.run(&spin).unwrap().exit,
        Exit::Runaway,
        "Unicorn: the instruction limit"
    );
}

fn movz(rd: u8, imm16: u16) -> Inst {
    Inst::Movz { rd, imm16, hw: 0 }
}

/// An executed `svc` is `Exit::SystemCall` on Unicorn and the interpreter, with the same machine
/// state; the ELF engine, which would make the call for real, does not run an image holding an
/// `svc` word, executed or not, says where it is and goes on with the batch. (The runner's
/// records of a signal it does not attribute and of a process that dies are tested in
/// `src/engine/qemu/tests.rs`, which can still hand it such code.)
#[test]
fn a_system_call_is_one_exit_and_the_elf_engine_does_not_make_it() {
    let Some(mut q) = qemu() else { return };
    // exit_group(7), which would end the ELF process and every run after it
    let calls = image(&[movz(0, 7), movz(8, 94), Inst::Svc, Inst::Ret]);
    let dead = image(&[movz(0, 7), Inst::Ret, Inst::Svc]);
    let ok = image(&[Inst::Ret]);
    let mut u = UnicornEngine::new().unwrap();
    let mut i = a64call::engine::InterpEngine::new();
    let (on_u, on_i) = (u.run(&calls).unwrap(), i.run(&calls).unwrap());
    assert_eq!(on_u.exit, Exit::SystemCall);
    assert!(
        on_i == on_u,
        "interp vs unicorn: pc {:#x} vs {:#x}",
        on_i.pc,
        on_u.pc
    );
    assert_eq!(u.run(&dead).unwrap().exit, Exit::Returned);
    assert_eq!(i.run(&dead).unwrap().exit, Exit::Returned);
    let r = q.run_batch(&[&ok, &calls, &dead, &ok]);
    let exits: Vec<&Exit> = r.iter().map(|o| &o.as_ref().unwrap().exit).collect();
    assert_eq!((exits[0], exits[3]), (&Exit::Returned, &Exit::Returned));
    for (k, at) in [(1, "0x20000008"), (2, "0x20000008")] {
        assert!(
            matches!(exits[k], Exit::Unsupported(why) if why.contains(&format!("svc word at {at}"))),
            "{:?}",
            exits[k]
        );
    }
}

#[test]
fn default_engine_list_runs_both() {
    if qemu().is_none() {
        return;
    }
    let p = from_seed(3, &a64call::model::profile::BuiltIn::Default.profile());
    let r = run_on(
        &[&p],
        &Config::default(),
        &[EngineKind::Unicorn, EngineKind::Qemu],
    )
    .unwrap()
    .pop()
    .unwrap();
    assert!(r.finding.is_none());
    assert_eq!(r.outcomes.len(), 2 * a64call::emit::strategy::all().len());
}

/// The one way code without an `svc` word still reaches a system call under the ELF engine: a
/// branch into the ELF's own start routine (its page at `ENTRY_ADDR`, unmapped on Unicorn and the
/// interpreter, where it is a fetch fault). There the runner's own code runs with the guest's
/// registers (here x8 = 94, exit_group, x0 = 7, which ended the process); the image is reported
/// truncated and the images after it run in a new process.
#[test]
fn a_branch_into_the_elf_runner_is_the_known_difference() {
    use a64call::layout::ENTRY_ADDR;
    let Some(mut q) = qemu() else { return };
    let into_runner = image(&[
        movz(0, 7),
        movz(8, 94),
        movz(16, (ENTRY_ADDR + 0x10) as u16),
        Inst::Movk {
            rd: 16,
            imm16: (ENTRY_ADDR >> 16) as u16,
            hw: 1,
        },
        Inst::Br { rn: 16 },
    ]);
    let fetch = Exit::Fault {
        access: Access::Fetch,
        addr: ENTRY_ADDR + 0x10,
    };
    let mut u = UnicornEngine::new().unwrap();
    let mut i = a64call::engine::InterpEngine::new();
    assert_eq!(u.run(&into_runner).unwrap().exit, fetch);
    assert_eq!(i.run(&into_runner).unwrap().exit, fetch);
    let ok = image(&[movz(0, 3), Inst::Ret]);
    let r = q.run_batch(&[&into_runner, &ok]);
    assert_ne!(
        r[0].as_ref().unwrap().exit,
        fetch,
        "the runner's page is executable there"
    );
    assert_eq!(r[1].as_ref().unwrap().exit, Exit::Returned);
    assert_eq!(r[1].as_ref().unwrap().regs[0], 3);
}

/// A store that crosses from a data region into unmapped memory faults at the first unmapped
/// byte everywhere (an exit case above), but Unicorn has already stored the bytes inside the
/// region (it stores a page-crossing access byte by byte, forwards, and a fault does not stop
/// it), where the interpreter and the ELF engine store nothing. Those bytes lie in memory no
/// run resets, so only a later program that reads memory it never wrote sees them. A known
/// difference (README, "Engines").
#[test]
fn a_store_across_a_region_end_leaves_its_inside_bytes_on_unicorn_alone() {
    use a64call::layout::{LOG_ADDR, LOG_BYTES};
    let end = LOG_ADDR + LOG_BYTES;
    let across = with_x9(
        end - 4,
        Inst::StrImm {
            rt: 0,
            rn: 9,
            imm12: 0,
        },
    );
    let read_back = with_x9(
        end - 8,
        Inst::LdrImm {
            rt: 0,
            rn: 9,
            imm12: 0,
        },
    );
    let inside = (a64call::layout::initial_reg(0) & 0xffff_ffff) << 32;
    let fault = Exit::Fault {
        access: Access::Write,
        addr: end,
    };
    let mut u = UnicornEngine::new().unwrap();
    assert_eq!(u.run(&across).unwrap().exit, fault);
    assert_eq!(u.run(&read_back).unwrap().regs[0], inside);
    let mut i = a64call::engine::InterpEngine::new();
    assert_eq!(i.run(&across).unwrap().exit, fault);
    assert_eq!(i.run(&read_back).unwrap().regs[0], 0);
    if let Some(mut q) = qemu() {
        let r = q.run_batch(&[&across, &read_back]);
        assert_eq!(r[0].as_ref().unwrap().exit, fault);
        assert_eq!(r[1].as_ref().unwrap().regs[0], 0);
    }
}
