//! The regression files under corpus/regressions/edges/ sit exactly on the edge they name (the
//! corpus replay runs them; this keeps a change of the lowering from moving them off it).

use a64call::emit::strategy::AdrpAdd;
use a64call::emit::{emit, EmitOptions};
use a64call::model::text::parse;

#[test]
fn the_adrp_of_call_0_is_the_last_word_of_a_page() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/corpus/regressions/edges/adrp-last-word-of-page.a64"
    );
    let p = parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let e = emit(&p, &AdrpAdd, &EmitOptions::default()).unwrap();
    let site = &e.sites[0];
    assert_eq!(
        (e.code.base + u64::from(site.start)) % 4096,
        4092,
        "call #0 starts at {:#x}",
        site.start
    );
    assert_eq!(site.ret - site.start, 12, "adrp, add, blr");
}
