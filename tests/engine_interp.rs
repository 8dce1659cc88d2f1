//! The interpreter against Unicorn: every instruction form of its subset on edge values (the
//! whole outcome must be identical), every generated program of every profile, and what it does
//! outside its subset (stops with `Unsupported`; the differential judges that image on Unicorn).

use a64call::asm::encode::{mov_imm_minimal, Inst};
use a64call::differential::{run_on, run_programs, run_programs_timed, Config};
use a64call::engine::{
    Engine, EngineError, EngineKind, Exit, InterpEngine, Outcome, UnicornEngine,
};
use a64call::machine::runtime::Image;
use a64call::model::gen::from_seed;
use a64call::model::profile::BuiltIn;
use a64call::Named;

mod common;
use common::{
    image, image_of_words, undefined_instruction, unmapped_call, unmapped_read, unmapped_write,
};

/// Values every form is tried on (as x1 and x2, all pairs).
const EDGES: [u64; 11] = [
    0,
    1,
    2,
    63,
    64,
    0xFFFF_FFFF,
    0x1_0000_0000,
    0x5555_AAAA_5555_AAAA,
    i64::MAX as u64,
    i64::MIN as u64,
    u64::MAX,
];

/// NZCV states every form starts from (none, all, Z+C, N+V).
const FLAGS: [u64; 4] = [0, 0xF000_0000, 0x6000_0000, 0x9000_0000];

/// Forms of the subset, each as capstone prints it and the words that exercise it (x1 and x2
/// hold the edge values, x3 the flags; branches skip a `mov x6, #1`; link forms keep the return
/// address in x7 and leave through it).
const FORMS: &[(&str, &[u32])] = &[
    ("add x5, x1, x2", &[0x8B02_0025]),
    ("adds x5, x1, x2", &[0xAB02_0025]),
    ("subs x5, x1, x2", &[0xEB02_0025]),
    ("cmp x1, x2", &[0xEB02_003F]),
    ("ands x5, x1, x2", &[0xEA02_0025]),
    ("bic x5, x1, x2", &[0x8A22_0025]),
    ("bics x5, x1, x2", &[0xEA22_0025]),
    ("orn x5, x1, x2", &[0xAA22_0025]),
    ("eon x5, x1, x2", &[0xCA22_0025]),
    ("add x5, x1, x2, lsl #13", &[0x8B02_3425]),
    ("sub x5, x1, x2, lsr #7", &[0xCB42_1C25]),
    ("add x5, x1, x2, asr #63", &[0x8B82_FC25]),
    ("eor x5, x1, x2, ror #9", &[0xCAC2_2425]),
    ("adds x5, x1, #0xfff", &[0xB13F_FC25]),
    ("add x5, x1, #1, lsl #12", &[0x9140_0425]),
    ("subs x5, x1, #0xabc, lsl #12", &[0xF16A_F025]),
    ("madd x5, x1, x2, x3", &[0x9B02_0C25]),
    ("msub x5, x1, x2, x3", &[0x9B02_8C25]),
    ("mul x5, x1, x2", &[0x9B02_7C25]),
    ("ubfx x5, x1, #8, #0x10", &[0xD348_5C25]),
    ("asr x5, x1, #7", &[0x9347_FC25]),
    ("sxtb x5, w1", &[0x9340_1C25]),
    ("sbfiz x5, x1, #4, #8", &[0x937C_1C25]),
    ("lsl x5, x1, #1", &[0xD37F_F825]),
    ("lsr x5, x1, #0x3f", &[0xD37F_FC25]),
    ("ror x5, x1, #0x3f", &[0x93C1_FC25]),
    ("extr x5, x1, x2, #0x11", &[0x93C2_4425]),
    ("mov x5, #0x1000000000000", &[0xD2E0_0025]),
    ("mov x5, #-0x10001", &[0x92A0_0025]),
    ("movk x5, #1, lsl #32", &[0xF2C0_0025]),
    ("mov x5, x1", &[0xAA01_03E5]),
    ("adr x5, #8", &[0x1000_0045]),
    ("adrp x5, -1 page", &[0xF0FF_FFE5]),
    ("cbz x1, #8", &[0xB400_0041, 0xD280_0026]),
    ("cbnz x1, #8", &[0xB500_0041, 0xD280_0026]),
    ("tbz w1, #0, #8", &[0x3600_0041, 0xD280_0026]),
    ("tbz w1, #0x1f, #8", &[0x36F8_0041, 0xD280_0026]),
    ("tbz x1, #0x20, #8", &[0xB600_0041, 0xD280_0026]),
    ("tbnz x1, #0x3f, #8", &[0xB7F8_0041, 0xD280_0026]),
    ("b #8", &[0x1400_0002, 0xD280_0026]),
    (
        "bl #8",
        &[
            0xAA1E_03E7,
            0x9400_0002,
            0xD280_0026,
            0xD53B_4204,
            0xD61F_00E0,
        ],
    ),
    (
        "blr x8",
        &[
            0xAA1E_03E7,
            0x1000_0068,
            0xD63F_0100,
            0xD280_0026,
            0xD53B_4204,
            0xD61F_00E0,
        ],
    ),
    ("br x8", &[0x1000_0068, 0xD61F_0100, 0xD280_0026]),
    ("br x1", &[0xD61F_0020]),
    ("blr x1", &[0xD63F_0020]),
    ("ret x1", &[0xD65F_0020]),
    ("ldr x5, [x1]", &[0xF940_0025]),
    ("str x2, [x1]", &[0xF900_0022]),
    ("str x1, [x9] (code)", &[0x1000_0009, 0xF900_0121]),
    ("ldp x5, x6, [x0, #0x10]", &[0xA941_1805]),
    ("stp x1, x2, [x0, #-8]", &[0xA93F_8801]),
    (
        "stp x1, x2, [sp, #-0x10]! then ldp post-index",
        &[0xA9BF_0BE1, 0xA8C1_1BE5],
    ),
    ("ldr x5, [x0, #8]!", &[0xF840_8C05]),
    ("ldr x5, [x0], #8", &[0xF840_8405]),
    ("str x1, [x0, #0x18]!", &[0xF801_8C01]),
    ("str x1, [x0], #-8", &[0xF81F_8401]),
    ("ldur x5, [x0, #-8]", &[0xF85F_8005]),
    ("stur x1, [x0, #3]", &[0xF800_3001]),
    (
        "ldr x5, #8 (literal)",
        &[0x5800_0045, 0x1400_0003, 0x89AB_CDEF, 0x0123_4567],
    ),
    ("ldr x5, #-0x10000 (unmapped)", &[0x58F8_0005]),
    ("ldr x5, #0xff8 (page past the code)", &[0x5800_7FC5]),
    ("nop", &[0xD503_201F]),
    ("brk #0x123", &[0xD420_2460]),
    ("udf #0", &[0x0000_0000]),
];

/// The conditions, each a `b.<cond> #8` over a `mov x6, #1`.
fn conditional_forms() -> Vec<(String, Vec<u32>)> {
    (0..16u32)
        .map(|c| (format!("b.cond {c}"), vec![0x5400_0040 | c, 0xD280_0026]))
        .collect()
}

fn word(i: Inst) -> u32 {
    i.encode().unwrap()
}

/// x1 = a, x2 = b, NZCV = flags, then `body`, then `mrs x4, nzcv; ret`.
fn case_image(body: &[u32], a: u64, b: u64, flags: u64) -> Image {
    let mut words: Vec<u32> = Vec::new();
    for (r, v) in [(1, a), (2, b), (3, flags)] {
        words.extend(mov_imm_minimal(r, v).into_iter().map(word));
    }
    words.push(word(Inst::MsrNzcv { rt: 3 }));
    words.extend_from_slice(body);
    words.push(word(Inst::MrsNzcv { rt: 4 }));
    words.push(word(Inst::Ret));
    let mut image = image_of_words(&words);
    image.insn_limit = 10_000;
    image
}

/// The first observable difference between two outcomes of the same image (counts only when
/// both returned: Unicorn counts whole blocks, so a run cut short over-counts there).
fn difference(i: &Outcome, u: &Outcome) -> Option<String> {
    let fields = [
        ("exit", format!("{:?}", i.exit), format!("{:?}", u.exit)),
        ("pc", format!("{:#x}", i.pc), format!("{:#x}", u.pc)),
        ("regs", format!("{:x?}", i.regs), format!("{:x?}", u.regs)),
        ("sp", format!("{:#x}", i.sp), format!("{:#x}", u.sp)),
        ("nzcv", format!("{:#x}", i.nzcv), format!("{:#x}", u.nzcv)),
        (
            "calls",
            format!("{:x?}", i.calls),
            format!("{:x?}", u.calls),
        ),
    ];
    if let Some((what, a, b)) = fields.into_iter().find(|(_, a, b)| a != b) {
        return Some(format!("{what}: interp {a}\n   unicorn {b}"));
    }
    if i.scratch != u.scratch {
        return Some("scratch memory".into());
    }
    (i.exit == Exit::Returned && i.insns != u.insns)
        .then(|| format!("counts: interp {:?}, unicorn {:?}", i.insns, u.insns))
}

#[test]
fn the_forms_are_what_capstone_says() {
    use capstone::prelude::*;
    let cs = Capstone::new()
        .arm64()
        .mode(arch::arm64::ArchMode::Arm)
        .build()
        .unwrap();
    for (text, words) in FORMS {
        // The word the form is named after: not the set-up moves around it.
        let setup = [0xAA1E_03E7, 0x1000_0068, 0x1000_0009];
        let w = words.iter().find(|w| !setup.contains(*w)).unwrap();
        let insns = cs.disasm_count(&w.to_le_bytes(), 0, 1).unwrap();
        let got = insns.iter().next().map(|i| {
            format!(
                "{} {}",
                i.mnemonic().unwrap_or(""),
                i.op_str().unwrap_or("")
            )
        });
        let head = text.split(" (").next().unwrap();
        let mnemonic = head.split([' ', ',']).next().unwrap();
        let got = got.unwrap_or_default();
        assert!(
            got.starts_with(mnemonic) || text.starts_with("udf"),
            "{w:#010x}: capstone says {got:?}, the table says {text:?}"
        );
    }
}

#[test]
fn every_form_agrees_with_unicorn_on_edge_values() {
    let (mut interp, mut unicorn) = (InterpEngine::new(), UnicornEngine::new().unwrap());
    let mut forms: Vec<(String, Vec<u32>)> = FORMS
        .iter()
        .map(|(t, w)| (t.to_string(), w.to_vec()))
        .collect();
    forms.extend(conditional_forms());
    let (mut runs, mut unsupported) = (0, Vec::new());
    for (text, body) in &forms {
        for (&a, &b, &f) in EDGES.iter().flat_map(|a| {
            EDGES
                .iter()
                .flat_map(move |b| FLAGS.iter().map(move |f| (a, b, f)))
        }) {
            let image = case_image(body, a, b, f);
            let i = interp.run(&image).unwrap();
            if let Exit::Unsupported(why) = &i.exit {
                unsupported.push(format!("{text} x1={a:#x}: {why}"));
                continue;
            }
            let u = unicorn.run(&image).unwrap();
            if let Some(d) = difference(&i, &u) {
                panic!("{text} with x1={a:#x} x2={b:#x} nzcv={f:#x}: {d}");
            }
            runs += 1;
        }
    }
    eprintln!("{runs} runs agree");
    assert!(unsupported.is_empty(), "{unsupported:#?}");
}

/// Programs of every profile (the huge and big ones on a few seeds): no finding on interp beside
/// Unicorn, and nothing left to Unicorn alone.
#[test]
fn interp_agrees_with_unicorn_on_generated_programs() {
    for &b in BuiltIn::all() {
        let p = b.profile();
        let seeds = if matches!(b, BuiltIn::Huge | BuiltIn::Big) {
            1..=2
        } else {
            1..=60
        };
        for seed in seeds {
            let prog = from_seed(seed, &p);
            let r = run_on(
                &[&prog],
                &Config::default(),
                &[EngineKind::Interp, EngineKind::Unicorn],
            )
            .unwrap()
            .pop()
            .unwrap();
            assert!(
                r.finding.is_none(),
                "{} seed {seed}: {}",
                b.name(),
                r.finding.unwrap()
            );
            assert!(r.judged_on_unicorn.is_empty(), "{:?}", r.judged_on_unicorn);
        }
    }
}

#[test]
fn the_shared_fault_cases_agree_with_unicorn() {
    let (mut interp, mut unicorn) = (InterpEngine::new(), UnicornEngine::new().unwrap());
    for (what, image) in [
        ("unmapped read", unmapped_read()),
        ("unmapped write", unmapped_write()),
        ("unmapped call", unmapped_call()),
        ("undefined instruction", undefined_instruction()),
    ] {
        let (i, u) = (interp.run(&image).unwrap(), unicorn.run(&image).unwrap());
        assert!(!matches!(i.exit, Exit::Returned), "{what}: {:?}", i.exit);
        if let Some(d) = difference(&i, &u) {
            panic!("{what}: {d}");
        }
    }
}

#[test]
fn outside_the_subset_the_interpreter_stops_and_says_so() {
    let mut e = InterpEngine::new();
    for (w, what) in [
        (0xD503_203Fu32, "yield"),
        (0xD53B_4220, "mrs x0, daif"),
        (0x4EA0_1C00, "SIMD"),
    ] {
        let o = e.run(&case_image(&[w], 0, 0, 0)).unwrap();
        match o.exit {
            Exit::Unsupported(why) => assert!(why.contains(&format!("{w:#010x}")), "{why}"),
            other => panic!("{what}: {other:?}"),
        }
    }
}

/// Stands in for the interpreter meeting a word outside its subset on every image.
struct AlwaysUnsupported;

impl Engine for AlwaysUnsupported {
    fn kind(&self) -> EngineKind {
        EngineKind::Interp
    }
    fn run(&mut self, image: &Image) -> Result<Outcome, EngineError> {
        let mut o = InterpEngine::new().run(image)?;
        o.exit = Exit::Unsupported("stand-in".into());
        Ok(o)
    }
}

#[test]
fn an_unsupported_run_is_judged_on_unicorn_never_passed() {
    let p = from_seed(3, &BuiltIn::Default.profile());
    let cfg = Config::default();
    let (r, cpu) = run_programs_timed(&[&p], &cfg, &mut [&mut AlwaysUnsupported]).unwrap();
    let r = &r[0];
    assert!(r.finding.is_none(), "{}", r.finding.as_ref().unwrap());
    assert_eq!(r.judged_on_unicorn.len(), cfg.strategies.len());
    assert!(r.outcomes.iter().all(|o| o.1 == EngineKind::Unicorn));
    // Unicorn's CPU entry counts the program once and every image it reran.
    let u = cpu
        .iter()
        .find(|c| c.engine == EngineKind::Unicorn)
        .unwrap();
    assert_eq!((u.programs, u.runs), (1, cfg.strategies.len() as u64));
    // A planted bug on such images is still found, by Unicorn.
    let bug = a64call::planted::PlantedBug::StubWrongTarget;
    let cfg = Config {
        bug: Some(bug),
        static_check: false,
        ..Config::with_strategies(bug.hunted_with())
    };
    let prof = bug.profile().profile();
    let caught = (1..=40).any(|seed| {
        let p = from_seed(seed, &prof);
        run_programs(&[&p], &cfg, &mut [&mut AlwaysUnsupported]).unwrap()[0]
            .finding
            .is_some()
    });
    assert!(
        caught,
        "the planted bug passed because the interpreter could not run it"
    );
}

#[test]
fn rewritten_code_is_the_code_that_runs_and_runaway_stops_at_the_limit() {
    let mut e = InterpEngine::new();
    for v in 0..20u64 {
        let o = e.run(&case_image(&[], v, 0, 0)).unwrap();
        assert_eq!((o.exit, o.regs[1]), (Exit::Returned, v));
    }
    let mut spin = image(&[Inst::Nop, Inst::B { offset: -4 }]);
    spin.insn_limit = 10_000;
    let o = e.run(&spin).unwrap();
    assert_eq!(o.exit, Exit::Runaway);
    assert_eq!(o.insns.unwrap().total, 10_000);
}
