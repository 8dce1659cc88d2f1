//! The engines the CLI, the gate and the tests select by name: names, aliases and parsing in one
//! place.

/// An engine that can be selected by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    /// [`crate::engine::UnicornEngine`], reused per thread.
    Unicorn,
    /// [`crate::engine::ElfEngine`] under qemu-aarch64 (x86 hosts; on aarch64 it runs directly).
    Qemu,
    /// Native execution: the ELF engine run directly on an aarch64 Linux host (it maps the pages,
    /// writes code and helpers, flushes the caches, remaps them read-execute and calls the
    /// function in the child process). Absent elsewhere.
    Native,
}

impl EngineKind {
    /// Every selectable engine, in the order `--help` lists them.
    pub const ALL: [EngineKind; 3] = [EngineKind::Unicorn, EngineKind::Qemu, EngineKind::Native];

    /// Command-line name.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Unicorn => "unicorn",
            EngineKind::Qemu => "qemu",
            EngineKind::Native => "native",
        }
    }

    /// Parse a command-line name (`elf` is an alias of `qemu`).
    pub fn from_name(name: &str) -> Option<EngineKind> {
        match name {
            "elf" => Some(EngineKind::Qemu),
            _ => EngineKind::ALL.into_iter().find(|k| k.name() == name),
        }
    }

    /// Parse a list of names; an unknown one is an error naming the known ones.
    pub fn parse_list(names: &[String]) -> Result<Vec<EngineKind>, String> {
        names
            .iter()
            .map(|n| {
                EngineKind::from_name(n).ok_or_else(|| {
                    let known: Vec<&str> = EngineKind::ALL.iter().map(|k| k.name()).collect();
                    format!("unknown engine `{n}` (known: {})", known.join(", "))
                })
            })
            .collect()
    }
}
