//! The fixed machine layout: code windows and their helper banks.
//!
//! A JIT-based emulator translates every block it has not seen at that address with those
//! bytes, and remaps its memory view whenever pages come and go. If every program put its code
//! and helpers at addresses of its own, an engine would map, write, unmap and translate them all
//! again for each program. So the generator places programs in one of [`WINDOWS`] windows:
//!
//! * the code at the window's [`Window::code_base`];
//! * each helper whose id is below [`BANK_IDS`] (unless the generator aims it at a range edge or
//!   moves it near the program's anchor) at its slot in one of the window's three **helper
//!   banks**, one per distance class ([`Distance`]): near (below the code, or above its 16 MiB
//!   clearance, by up to 84 MiB), mid (140 MiB to 3.8 GiB either way) and far (beyond 4 GiB, with addresses whose halfwords are 0x0000,
//!   0xffff or mixed, so `movz`/`movn`/`movk` sequences of every shape occur).
//!
//! A bank holds a routine for every (id, arity) below ([`BANK_IDS`], [`BANK_ARITIES`]), each in
//! its own [`SLOT_BYTES`] slot: [`Window::slot`]. Every image of a program whose code base is a
//! window's holds that window's three banks whole ([`Window::banks`], built once per window and
//! shared), on every engine, so the machine is the same whichever of its helpers a program
//! declares, and consecutive programs in one window load identical bytes at identical addresses:
//! an engine keeps them mapped and translated. Programs whose code base is not a window's (a
//! hand-written or older repro file) have no banks: their helpers are placed one per 64 KiB page
//! as before.
//!
//! Invariants, shown for every window by the tests below:
//! * each bank's slots are in the bank's distance class from the code base, inside the user
//!   range, and no two banks, and no bank and the code's [`CODE_CLEARANCE`] share a 64 KiB page;
//! * [`Window::of`] finds a window from its code base, and only from it.
//!
//! A call that enters the wrong routine of a bank (the same id, another arity or class) is seen:
//! each routine logs its own entry address ([`crate::machine::runtime::record::HELPER`]).
//!
//! Address variety: 4,096 windows spread over the user range, each with its own bank distances,
//! directions, halfword patterns and low bits (all from a hash of the window number);
//! [`crate::model::gen::from_seed`] moves to another window every [`SEEDS_PER_WINDOW`] seeds.

use super::runtime::{entry_words, helper_template, Segment};
use crate::layout::{self, HELPER_MAX_BYTES, HELPER_PAGE, MAX_CODE, USER_MAX, USER_MIN};
use crate::model::gen::{splitmix64, CODE_CLEARANCE};
use crate::model::program::{Distance, MAX_ARGS};
use std::cell::RefCell;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

/// Number of windows.
pub const WINDOWS: u32 = 4096;
/// Helper ids a bank holds (ids `0..BANK_IDS`; the largest profile declares 14 helpers).
pub const BANK_IDS: usize = 14;
/// Arities a bank holds (every arity a helper may have).
pub const BANK_ARITIES: usize = MAX_ARGS + 1;
/// Bytes per slot: one routine and zero padding.
pub const SLOT_BYTES: u64 = HELPER_MAX_BYTES;
/// Bytes of one bank (63 KiB: it fits the interpreter's kept-segment size).
pub const BANK_BYTES: u64 = (BANK_IDS * BANK_ARITIES) as u64 * SLOT_BYTES;
/// A bank and its low-bit offset (under 1 KiB) fit one 64 KiB page.
const _: () = assert!(BANK_BYTES + 1024 <= HELPER_PAGE);
/// Consecutive seeds that share a window under [`crate::model::gen::from_seed`].
pub const SEEDS_PER_WINDOW: u64 = 16;

/// The distance classes, in the order of a window's banks.
pub const CLASSES: [Distance; 3] = [Distance::Near, Distance::Mid, Distance::Far];

/// Address space per window: the user range below the top `2 * MAX_CODE`, split evenly, in
/// whole 64 KiB pages.
const STRIDE: u64 =
    (USER_MAX - 2 * MAX_CODE - USER_MIN) / WINDOWS as u64 / HELPER_PAGE * HELPER_PAGE;

/// One window of the fixed machine layout (its number is below [`WINDOWS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window(u32);

impl Window {
    /// Window number `n`, if there is one.
    pub fn new(n: u32) -> Option<Window> {
        (n < WINDOWS).then_some(Window(n))
    }

    /// The window seeds `seed` and its neighbours share ([`SEEDS_PER_WINDOW`] in a row).
    pub fn for_seed(seed: u64) -> Window {
        Window((splitmix64(seed / SEEDS_PER_WINDOW) % u64::from(WINDOWS)) as u32)
    }

    /// Its number.
    pub fn number(self) -> u32 {
        self.0
    }

    /// The `k`-th pseudo-random choice of this window.
    fn pick(self, k: u64) -> u64 {
        splitmix64(u64::from(self.0) << 8 | k)
    }

    /// Where its code starts: a 64 KiB page in the window's slice of the user range.
    pub fn code_base(self) -> u64 {
        USER_MIN + u64::from(self.0) * STRIDE + self.pick(0) % (STRIDE / HELPER_PAGE) * HELPER_PAGE
    }

    /// The window whose code base is `code_base`, if any.
    pub fn of(code_base: u64) -> Option<Window> {
        let n = code_base.checked_sub(USER_MIN)? / STRIDE;
        let w = Window::new(u32::try_from(n).ok()?)?;
        (w.code_base() == code_base).then_some(w)
    }

    /// The first address of the bank of `class`.
    pub fn bank_base(self, class: Distance) -> u64 {
        let code = self.code_base();
        let mib = 1u64 << 20;
        let page = HELPER_PAGE;
        // Low bits: a word offset in the first 1 KiB of the page, so slots' low bits vary
        // (and a bank, 63 KiB, stays inside its 64 KiB page).
        let low = self.pick(1) % 256 * 4;
        let up = |k: u64| self.pick(k) & 1 == 0;
        let pages = |k: u64, lo: u64, hi: u64| (lo + self.pick(k) % (hi - lo)) / page * page;
        let base = match class {
            Distance::Near => {
                // A bit length drawn first (16 to 27), then a distance of that length rounded
                // down to 64 KiB pages (so 16 bits gives 0 and 17 gives 64 KiB), so that short
                // and long distances below the code are equally common (above it the 16 MiB
                // clearance comes first): with one bank per window a uniform draw would rarely
                // be short.
                let bits = 16 + self.pick(6) % 12;
                let d = pages(2, 1 << (bits - 1), (1 << bits).min(84 * mib));
                if up(3) {
                    code + CODE_CLEARANCE + d
                } else {
                    code - d - page
                }
            }
            Distance::Mid => {
                let d = pages(4, 140 * mib, (4u64 << 30) - 200 * mib);
                // Either side, where the user range allows it.
                let fits_up = code + d + 2 * page <= USER_MAX;
                if fits_up && (up(5) || code < USER_MIN + d) {
                    code + d
                } else {
                    code - d
                }
            }
            Distance::Far => return self.far_base(low),
        };
        base + low
    }

    /// The far bank, the first of a few candidates that is far from the code and in the user
    /// range. Half the windows draw its halfwords 2 and 1, each 0x0000, all ones or mixed (as
    /// `movz`, `movn` and `movk` sequences need); the other half its distance from the code,
    /// whose bit length (33 to 45) is drawn first so near-4 GiB and TiB distances are equally
    /// common.
    fn far_base(self, low: u64) -> u64 {
        let code = self.code_base();
        let by_shape = self.pick(7) & 1 == 0;
        (0..16u64)
            .map(|k| {
                let r = self.pick(8 + k);
                if by_shape {
                    far_by_shape(r) + low
                } else {
                    let bits = 33 + r % 13;
                    let d = ((1 << (bits - 1)) + (r >> 8) % (1 << (bits - 1))) / HELPER_PAGE
                        * HELPER_PAGE;
                    let a = if r >> 4 & 1 == 0 {
                        code.wrapping_add(d)
                    } else {
                        code.wrapping_sub(d)
                    };
                    a.wrapping_add(low)
                }
            })
            .find(|&a| {
                a >= USER_MIN
                    && a / HELPER_PAGE * HELPER_PAGE + HELPER_PAGE <= USER_MAX
                    && Distance::between(code, a) == Distance::Far
                    && Distance::between(code, a + BANK_BYTES) == Distance::Far
            })
            .expect("a far candidate among 16 (the code lies in one 16 GiB slice of 64 TiB)")
    }

    /// The address of the routine for helper `id` of `arity` in the bank of `class`, when the
    /// bank holds one.
    pub fn slot(self, class: Distance, id: usize, arity: u8) -> Option<u64> {
        (id < BANK_IDS && usize::from(arity) < BANK_ARITIES).then(|| {
            self.bank_base(class) + (id * BANK_ARITIES + usize::from(arity)) as u64 * SLOT_BYTES
        })
    }

    /// The (class, id, arity) of the slot starting exactly at `addr`, if one does.
    pub fn slot_at(self, addr: u64) -> Option<(Distance, usize, u8)> {
        CLASSES.into_iter().find_map(|c| {
            let off = addr.checked_sub(self.bank_base(c))?;
            let k = (off % SLOT_BYTES == 0 && off < BANK_BYTES).then_some(off / SLOT_BYTES)?;
            let k = k as usize;
            Some((c, k / BANK_ARITIES, (k % BANK_ARITIES) as u8))
        })
    }

    /// The 64 KiB pages each bank covers (nothing else of a program may use them).
    pub fn bank_pages(self) -> [Range<u64>; 3] {
        CLASSES.map(|c| {
            let b = self.bank_base(c);
            b / HELPER_PAGE * HELPER_PAGE..layout::align_up(b + BANK_BYTES, HELPER_PAGE)
        })
    }

    /// Does a bank page of this window hold `addr`?
    pub fn in_bank_pages(self, addr: u64) -> bool {
        self.bank_pages().iter().any(|r| r.contains(&addr))
    }

    /// The three banks as segments, built once per window and thread (each thread keeps its
    /// few most recently used windows; engines are per thread too) and shared by every image
    /// in the window.
    pub fn banks(self) -> Arc<[Segment]> {
        thread_local! {
            static RECENT: RefCell<Vec<(Window, Arc<[Segment]>)>> = const { RefCell::new(Vec::new()) };
        }
        RECENT.with_borrow_mut(|recent| {
            if let Some(i) = recent.iter().position(|(w, _)| *w == self) {
                let hit = recent.remove(i);
                recent.push(hit.clone());
                return hit.1;
            }
            let built: Arc<[Segment]> = CLASSES.into_iter().map(|c| self.build_bank(c)).collect();
            if recent.len() >= 4 {
                recent.remove(0);
            }
            recent.push((self, built.clone()));
            built
        })
    }

    /// The bank of `class`: a copy of [`template_bank`] with each slot's entry words patched
    /// for its address (a routine differs by address in those words alone).
    fn build_bank(self, class: Distance) -> Segment {
        let (template, entries) = template_bank();
        let base = self.bank_base(class);
        let mut bytes: Arc<[u8]> = Arc::from(&template[..]);
        let b = Arc::get_mut(&mut bytes).expect("a new Arc has one owner");
        for (k, &entry_at) in entries.iter().enumerate() {
            let at = k * SLOT_BYTES as usize;
            let words = entry_words(base + at as u64);
            b[at + entry_at..at + entry_at + words.len()].copy_from_slice(&words);
        }
        Segment { addr: base, bytes }
    }
}

/// A bank's bytes with every slot's routine built for address 0 ([`helper_template`]), and
/// each slot's offset of its entry words; built once per process. Every window's bank is a copy
/// with the entry words patched, so a fuzz input in a new window costs one copy, not a build.
fn template_bank() -> &'static (Vec<u8>, Vec<usize>) {
    static TEMPLATE: OnceLock<(Vec<u8>, Vec<usize>)> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let mut bytes = vec![0u8; BANK_BYTES as usize];
        let mut entries = Vec::with_capacity(BANK_IDS * BANK_ARITIES);
        for k in 0..BANK_IDS * BANK_ARITIES {
            let (code, entry_at) = helper_template(k / BANK_ARITIES, (k % BANK_ARITIES) as u8);
            assert!(code.len() as u64 <= SLOT_BYTES, "a routine fits its slot");
            let at = k * SLOT_BYTES as usize;
            bytes[at..at + code.len()].copy_from_slice(&code);
            entries.push(entry_at);
        }
        (bytes, entries)
    })
}

/// An address (low halfword zero) whose halfwords 2 and 1 are each 0x0000, all ones or mixed,
/// from the random word `r`.
fn far_by_shape(r: u64) -> u64 {
    let top = (USER_MAX >> 32) - 1;
    let hw2 = match r % 4 {
        0 => 0,
        1 => top,
        _ => (r >> 8) % top,
    };
    let hw1 = match (r >> 2) % 4 {
        0 => 0,
        1 => 0xFFFF,
        _ => (r >> 32) % 0x1_0000,
    };
    hw2 << 32 | hw1 << 16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::runtime::{encode_all, helper_code};
    use crate::model::program::Helper;

    fn all() -> impl Iterator<Item = Window> {
        (0..WINDOWS).map(|n| Window::new(n).unwrap())
    }

    #[test]
    fn every_bank_is_in_its_class_in_range_and_clear_of_the_code_and_the_others() {
        for w in all() {
            let code = w.code_base();
            let code_pages = code..code + CODE_CLEARANCE;
            for (c, pages) in CLASSES.into_iter().zip(w.bank_pages()) {
                for a in [w.bank_base(c), w.bank_base(c) + BANK_BYTES - 4] {
                    assert_eq!(Distance::between(code, a), c, "window {} {c:?}", w.0);
                }
                assert!(pages.start >= USER_MIN && pages.end <= USER_MAX);
                assert!(pages.end <= code_pages.start || pages.start >= code_pages.end);
                for other in w.bank_pages() {
                    assert!(other == pages || other.end <= pages.start || other.start >= pages.end);
                }
            }
        }
    }

    #[test]
    fn a_window_is_found_from_its_code_base_alone() {
        for w in all() {
            assert_eq!(Window::of(w.code_base()), Some(w));
            assert_eq!(Window::of(w.code_base() + HELPER_PAGE), None);
            assert_eq!(Window::of(w.code_base() - HELPER_PAGE), None);
        }
        assert_eq!(Window::of(0), None);
        assert_eq!(Window::of(USER_MAX), None);
    }

    #[test]
    fn slots_are_found_from_their_address_and_hold_their_routine() {
        let w = Window::new(7).unwrap();
        let banks = w.banks();
        for (c, bank) in CLASSES.into_iter().zip(banks.iter()) {
            for (id, arity) in [(0, 0u8), (3, 8), (BANK_IDS - 1, 4)] {
                let a = w.slot(c, id, arity).unwrap();
                assert_eq!(w.slot_at(a), Some((c, id, arity)));
                assert_eq!(w.slot_at(a + 4), None);
                let code = encode_all(&helper_code(id, &Helper { addr: a, arity }));
                let off = (a - bank.addr) as usize;
                assert_eq!(&bank.bytes[off..off + code.len()], &code[..]);
                assert!(code.len() as u64 <= SLOT_BYTES);
            }
        }
        assert_eq!(w.slot(Distance::Near, BANK_IDS, 0), None);
        assert!(Arc::ptr_eq(&w.banks(), &banks), "built once");
    }
}
