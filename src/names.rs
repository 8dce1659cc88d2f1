//! Closed sets of named identities: strategies, engines, planted bugs, fuzz targets, built-in
//! profiles, threshold metrics and comparisons, the text format's operators and the classifier's
//! call kinds. Each variant's name is written once, in its `#[strum(...)]` attribute (strum derives
//! the list, the name and the parser); [`Named`] gives every set the same lookup and the same error
//! for a name it does not know.

use std::str::FromStr;
use strum::VariantArray;

/// A closed set of identities, each with one name (`to_string` in its strum attribute) and
/// possibly aliases (`serialize`) that parse to it.
pub trait Named: Copy + VariantArray + Into<&'static str> + FromStr + 'static {
    /// What one of them is called in messages: "strategy", "engine", "planted bug".
    const WHAT: &'static str;

    /// Its name, as the command line, the files and the reports spell it.
    fn name(self) -> &'static str {
        self.into()
    }

    /// Every one, in declaration order (the order of reports and `--help`).
    fn all() -> &'static [Self] {
        Self::VARIANTS
    }

    /// Every name, comma separated, for help and error messages.
    fn known() -> String {
        let names: Vec<&str> = Self::VARIANTS.iter().map(|v| v.name()).collect();
        names.join(", ")
    }

    /// The one with this name or alias.
    fn from_name(name: &str) -> Option<Self> {
        name.parse().ok()
    }

    /// The one with this name or alias; an unknown name is an error naming the known ones.
    fn parse_name(name: &str) -> Result<Self, String> {
        Self::from_name(name)
            .ok_or_else(|| format!("unknown {} `{name}` (known: {})", Self::WHAT, Self::known()))
    }
}

#[cfg(test)]
mod tests {
    use super::Named;
    use crate::emit::strategy::StrategyId;
    use crate::engine::EngineKind;
    use crate::planted::PlantedBug;

    #[test]
    fn unknown_names_list_the_known_ones() {
        let e = StrategyId::parse_name("pool-bl").unwrap_err();
        assert_eq!(
            e,
            "unknown strategy `pool-bl` (known: movz-min, movz-fixed4, pool, stub, direct, adrp, \
             stub+bl, pool+bl)"
        );
        assert!(PlantedBug::parse_name("x")
            .unwrap_err()
            .starts_with("unknown planted bug `x`"));
    }

    #[test]
    fn an_alias_parses_to_its_variant_and_is_never_printed() {
        assert_eq!(EngineKind::from_name("elf"), Some(EngineKind::Qemu));
        assert_eq!(EngineKind::Qemu.name(), "qemu");
        assert_eq!(EngineKind::known(), "interp, unicorn, qemu, native");
    }
}
