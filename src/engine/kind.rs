//! The engines the CLI, the gate and the tests select by name: names, aliases, parsing, the
//! default set and whether an engine can run on this host, in one place.

use crate::engine::qemu::find_qemu;
use crate::engine::EngineError;
use crate::Named;

/// Can this host run aarch64 code directly ([`EngineKind::Native`])?
pub const NATIVE_HOST: bool = cfg!(all(target_arch = "aarch64", target_os = "linux"));

/// How an ELF engine ([`crate::engine::ElfEngine`]) runs its program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfKind {
    /// Under qemu-aarch64 ([`EngineKind::Qemu`]).
    Qemu,
    /// Directly, on an aarch64 Linux host ([`EngineKind::Native`]).
    Native,
}

impl From<ElfKind> for EngineKind {
    fn from(k: ElfKind) -> EngineKind {
        match k {
            ElfKind::Qemu => EngineKind::Qemu,
            ElfKind::Native => EngineKind::Native,
        }
    }
}

/// An engine that can be selected by name.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
)]
pub enum EngineKind {
    /// [`crate::engine::InterpEngine`], a64call's own interpreter of the subset it emits,
    /// reused per thread; an image outside the subset is judged on Unicorn instead.
    #[strum(to_string = "interp")]
    Interp,
    /// [`crate::engine::UnicornEngine`], reused per thread.
    #[strum(to_string = "unicorn")]
    Unicorn,
    /// [`crate::engine::ElfEngine`] under qemu-aarch64 (any host with qemu-aarch64); `elf` is an
    /// alias.
    #[strum(to_string = "qemu", serialize = "elf")]
    Qemu,
    /// Native execution: the ELF engine run directly on an aarch64 Linux host (it maps the pages,
    /// writes code and helpers, flushes the caches, remaps them read-execute and calls the
    /// function in the child process). Absent elsewhere.
    #[strum(to_string = "native")]
    Native,
}

impl crate::Named for EngineKind {
    const WHAT: &'static str = "engine";
}

impl EngineKind {
    /// Parse a list of names; an unknown one is an error naming the known ones.
    pub fn parse_list(names: &[String]) -> Result<Vec<EngineKind>, String> {
        names.iter().map(|n| EngineKind::parse_name(n)).collect()
    }

    /// Is it an ELF engine ([`crate::engine::ElfEngine`]: qemu or native), which runs programs in
    /// batches in a child process?
    pub fn is_elf(self) -> bool {
        self.elf().is_some()
    }

    /// The ELF engine this is, if it is one.
    pub fn elf(self) -> Option<ElfKind> {
        match self {
            EngineKind::Interp | EngineKind::Unicorn => None,
            EngineKind::Qemu => Some(ElfKind::Qemu),
            EngineKind::Native => Some(ElfKind::Native),
        }
    }

    /// Can the engine run here? Native needs an aarch64 Linux host, qemu needs qemu-aarch64
    /// ([`find_qemu`]); the error says what is missing and what to do.
    pub fn available(self) -> Result<(), EngineError> {
        match self {
            EngineKind::Interp | EngineKind::Unicorn => Ok(()),
            EngineKind::Qemu => find_qemu().map(|_| ()),
            EngineKind::Native if NATIVE_HOST => Ok(()),
            EngineKind::Native => Err(EngineError::of(
                self,
                format!(
                    "runs only on aarch64 Linux hosts; this host is {} (use qemu)",
                    std::env::consts::ARCH
                ),
            )),
        }
    }

    /// The engines used when none are named: Unicorn, and qemu when it is available (else a
    /// note saying why it is left out). `check` runs its programs on the interpreter and confirms
    /// a sample on these; `planted` hunts on the interpreter and on these.
    pub fn default_set() -> (Vec<EngineKind>, Option<String>) {
        match EngineKind::Qemu.available() {
            Ok(()) => (vec![EngineKind::Unicorn, EngineKind::Qemu], None),
            Err(e) => (
                vec![EngineKind::Unicorn],
                Some(format!("{e}; qemu is left out")),
            ),
        }
    }

    /// Engines by name, each once, in the order first named, each available here; an unknown
    /// name or a missing engine is an error saying what is wrong and what to do.
    pub fn select(names: &[String]) -> Result<Vec<EngineKind>, String> {
        let list = EngineKind::distinct(&EngineKind::parse_list(names)?);
        for k in &list {
            k.available().map_err(|e| e.to_string())?;
        }
        Ok(list)
    }

    /// `kinds` with repeats left out, in the order first given.
    pub fn distinct(kinds: &[EngineKind]) -> Vec<EngineKind> {
        let mut list: Vec<EngineKind> = Vec::new();
        for k in kinds {
            if !list.contains(k) {
                list.push(*k);
            }
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::EngineKind;

    #[test]
    fn distinct_keeps_the_first_of_each_in_order() {
        use EngineKind::*;
        assert_eq!(
            EngineKind::distinct(&[Unicorn, Interp, Unicorn, Qemu, Interp]),
            [Unicorn, Interp, Qemu]
        );
    }

    #[test]
    fn select_names_each_engine_once_and_an_unknown_name_is_an_error() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            EngineKind::select(&names(&["unicorn", "interp", "unicorn"])).unwrap(),
            [EngineKind::Unicorn, EngineKind::Interp]
        );
        let e = EngineKind::select(&names(&["interp", "bochs"])).unwrap_err();
        assert!(e.contains("bochs") && e.contains("unicorn"), "{e}");
        if !super::NATIVE_HOST {
            let e = EngineKind::select(&names(&["native"])).unwrap_err();
            assert!(e.contains("aarch64"), "{e}");
        }
    }
}
