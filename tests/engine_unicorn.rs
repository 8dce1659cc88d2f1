//! Unicorn engine behaviour: rewritten code always runs, and bad code gives clear outcomes.

use a64call::asm::encode::Inst;
use a64call::engine::{Access, Engine, Exit, UnicornEngine};
use a64call::layout::{self, EXIT_ADDR};
use a64call::machine::runtime::{Image, Segment};

mod common;
use common::{image, undefined_instruction, unmapped_call, unmapped_read, unmapped_write, BASE};

fn ret_const(v: u16) -> Vec<Inst> {
    vec![
        Inst::Movz {
            rd: 0,
            imm16: v,
            hw: 0,
        },
        Inst::Ret,
    ]
}

#[test]
fn rewritten_code_is_the_code_that_runs() {
    let mut e = UnicornEngine::new().unwrap();
    for round in 0..50u16 {
        let o = e.run(&image(&ret_const(round))).unwrap();
        assert_eq!(o.exit, Exit::Returned);
        assert_eq!(o.regs[0], u64::from(round), "round {round} ran stale code");
        assert_eq!(o.insns.unwrap().in_code, 2);
    }
}

#[test]
fn the_stale_code_test_can_fail() {
    // Without cache invalidation the same engine keeps running the first program: this is the
    // bug the test above guards against, shown to be real and detectable.
    let mut e = UnicornEngine::new().unwrap();
    e.disable_invalidation_for_test();
    let stale = (0..20u16)
        .filter(|&r| e.run(&image(&ret_const(r))).unwrap().regs[0] != u64::from(r))
        .count();
    assert!(
        stale > 0,
        "expected Unicorn to run stale translated code when not invalidated"
    );
}

#[test]
fn runaway_code_hits_the_instruction_limit() {
    let mut e = UnicornEngine::new().unwrap();
    let o = e.run(&image(&[Inst::Nop, Inst::B { offset: -4 }])).unwrap();
    assert!(
        o.exit == Exit::Runaway && o.insns.is_some_and(|n| n.total > 100_000),
        "{:?}",
        o.exit
    );
}

#[test]
fn faults_and_bad_instructions_are_outcomes() {
    let mut e = UnicornEngine::new().unwrap();
    // Read from an unmapped address.
    let o = e.run(&unmapped_read()).unwrap();
    assert_eq!(
        o.exit,
        Exit::Fault {
            access: Access::Read,
            addr: 0x4000_0000_0000
        }
    );
    // Write to an unmapped address.
    let o = e.run(&unmapped_write()).unwrap();
    assert_eq!(
        o.exit,
        Exit::Fault {
            access: Access::Write,
            addr: 0x4000_0000_0008
        }
    );
    // Jump to an unmapped address.
    let o = e.run(&unmapped_call()).unwrap();
    assert!(
        matches!(
            o.exit,
            Exit::Fault {
                access: Access::Fetch,
                addr: 0x5000_0000_0000
            }
        ),
        "{:?}",
        o.exit
    );
    // A zero word is a permanently undefined instruction.
    let o = e.run(&undefined_instruction()).unwrap();
    assert_eq!(o.exit, Exit::InvalidInstruction);
    let o = e.run(&image(&[Inst::Brk { imm16: 0x123 }])).unwrap();
    assert_eq!(o.exit, Exit::Breakpoint(Some(0x123)));
    // Writing into the code is a fault at the store's address and writes nothing: the same
    // image faults the same way again, and the next run still runs fresh code.
    let store_into_code = image(&[
        Inst::StrImm {
            rt: 0,
            rn: 9,
            imm12: 0,
        },
        Inst::Ret,
    ])
    .with_x9_code();
    for _ in 0..2 {
        let o = e.run(&store_into_code).unwrap();
        assert_eq!(
            (o.exit, o.pc),
            (
                Exit::Fault {
                    access: Access::Write,
                    addr: BASE
                },
                BASE + 4
            )
        );
    }
    let o = e.run(&image(&ret_const(7))).unwrap();
    assert_eq!((o.exit, o.regs[0]), (Exit::Returned, 7));
}

trait WithX9 {
    fn with_x9_code(self) -> Image;
}

impl WithX9 for Image {
    /// Prefix the code with `x9 = BASE` so a store through x9 hits the code page.
    fn with_x9_code(mut self) -> Image {
        let pre: Vec<u8> = [Inst::Movz {
            rd: 9,
            imm16: (BASE >> 16) as u16,
            hw: 1,
        }]
        .iter()
        .flat_map(|i| i.encode().unwrap().to_le_bytes())
        .collect();
        let mut b = pre;
        b.extend_from_slice(&self.segments[0].bytes);
        self.code = BASE..BASE + b.len() as u64;
        self.segments[0].bytes = b.into();
        self
    }
}

#[test]
fn initial_state_is_the_documented_one() {
    let mut e = UnicornEngine::new().unwrap();
    let o = e.run(&image(&[Inst::Ret])).unwrap();
    assert_eq!(o.exit, Exit::Returned);
    assert_eq!(o.pc, EXIT_ADDR);
    assert_eq!(o.sp, layout::STACK_TOP);
    for n in 0..31u8 {
        let want = if n == 16 {
            BASE
        } else {
            layout::initial_reg(n)
        };
        assert_eq!(o.regs[n as usize], want, "x{n}");
    }
    assert_eq!(o.scratch, layout::initial_scratch());
    assert!(o.calls.is_empty());
}

#[test]
fn rewritten_code_spanning_separately_mapped_pages_is_the_code_that_runs() {
    // Unicorn's cache removal translates only the first address of a range to a RAM address;
    // a range over pages mapped by different mem_map calls (different RAM blocks) is then
    // invalidated in the wrong place. The engine must invalidate page by page.
    let mut e = UnicornEngine::new().unwrap();
    let page = 0x1000usize;
    // A second segment elsewhere, mapped right after the first code page, so the RAM block of
    // the code's second page (mapped later) is not adjacent to its first.
    let other = Segment {
        addr: 0x3000_0000,
        bytes: Inst::Ret.encode().unwrap().to_le_bytes().to_vec().into(),
    };
    let with_other = |mut i: Image| {
        i.segments.push(other.clone());
        i
    };
    e.run(&with_other(image(&ret_const(1)))).unwrap();
    for round in 0..20u16 {
        let mut code = vec![Inst::B {
            offset: page as i32,
        }];
        code.resize(page / 4, Inst::Nop);
        code.extend(ret_const(100 + round));
        let o = e.run(&with_other(image(&code))).unwrap();
        assert_eq!(
            o.regs[0],
            u64::from(100 + round),
            "round {round} ran stale code in the second page"
        );
    }
}

#[test]
fn regression_nested_seeds_1_to_3_in_one_engine() {
    // The sequence that exposed Unicorn's multi-page cache-removal pitfall: with invalidation
    // of whole ranges, the adrp run of seed 3 executed a stale block left by an earlier program.
    use a64call::differential::{run_programs, Config};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus/regressions/unicorn-stale-tb");
    let mut e = UnicornEngine::new().unwrap();
    for seed in 1..=3 {
        let src = std::fs::read_to_string(dir.join(format!("nested-seed{seed}.a64"))).unwrap();
        let p = a64call::model::text::parse(&src).unwrap();
        let r = run_programs(&[&p], &Config::default(), &mut [&mut e])
            .unwrap()
            .pop()
            .unwrap();
        assert!(r.finding.is_none(), "seed {seed}: {}", r.finding.unwrap());
    }
}

/// A load that fails part-way (here a segment over the stack, which cannot be mapped) leaves
/// nothing of the program before it: the next program at the same address runs its own bytes,
/// and the zeros after them, not the earlier program's tail.
#[test]
fn a_failed_load_leaves_no_stale_code_behind() {
    let movz = |rd, imm16| Inst::Movz { rd, imm16, hw: 0 };
    let earlier = image(&[movz(0, 1), movz(2, 2), Inst::Ret]);
    let mut unloadable = earlier.clone();
    unloadable.segments.push(Segment {
        addr: layout::STACK_BASE,
        bytes: vec![0u8; 4].into(),
    });
    let later = image(&[movz(1, 9)]);
    let mut e = UnicornEngine::new().unwrap();
    assert_eq!(e.run(&earlier).unwrap().exit, Exit::Returned);
    assert!(e.run(&unloadable).is_err(), "a segment over the stack");
    let o = e.run(&later).unwrap();
    assert_eq!(o.exit, Exit::InvalidInstruction, "x2 = {}", o.regs[2]);
}
