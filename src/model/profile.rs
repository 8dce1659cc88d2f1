//! Workload profiles: the knobs of the generator ([`Profile`]), read from `key = value` files;
//! the built-in ones ([`BuiltIn`]) are the files under `src/model/profiles`, compiled in.

use crate::layout;
use crate::Named;

/// The knobs of a workload. See [`Profile::named`] for the built-in ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Name used on the command line.
    pub name: &'static str,
    /// One line on what it is for.
    pub about: &'static str,
    /// Top-level operations (inclusive range).
    pub ops: (u32, u32),
    /// Percent of generated operations that are calls.
    pub call_pct: u8,
    /// Number of distinct helpers (inclusive range).
    pub helpers: (u8, u8),
    /// Argument counts of helpers (inclusive range, at most 8).
    pub args: (u8, u8),
    /// Percent of operations that open a loop (when nesting allows).
    pub loop_pct: u8,
    /// Percent of operations that open an if/else (when nesting allows).
    pub if_pct: u8,
    /// Deepest nesting of loops and ifs.
    pub max_depth: u8,
    /// Largest number of operations inside one nested block (1..=1,000,000).
    pub max_block: u32,
    /// Largest loop iteration count.
    pub max_loop_count: u8,
    /// Percent of loops whose body is aimed at the 32 KiB reach of the loop's backward `tbz`:
    /// one `alu` operation repeated so the `tbz` lands one word inside its reach, on it, or one
    /// word beyond (inverted over a `b`). Drawn only when non-zero, so a profile without it
    /// makes the programs it made before from the same bytes.
    pub edge_loop_pct: u8,
    /// Weights for helper distance classes: near, mid, far.
    pub distance: (u8, u8, u8),
    /// Weights for the program's [`crate::model::program::Program::anchor`] and library (the
    /// near-class helpers, moved within 8 MiB of the anchor): none; the library 4 to 20 MiB from
    /// the code (as CinderX's code lies about 12 MiB from `_cinderx.so`); 130 to 300 MiB from it
    /// (its calls guessed near and relaxed to stubs); near the code with one helper exactly at
    /// the 96 MiB guess edge (a word inside, on it or a word outside). See `model::gen`.
    pub anchor: [u8; 4],
    /// Bytes of randomness [`crate::model::gen::from_seed`] feeds the generator.
    pub seed_bytes: usize,
}

/// A built-in profile: one of the files under `src/model/profiles`, compiled in.
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
pub enum BuiltIn {
    /// `default.profile`.
    #[strum(to_string = "default")]
    Default,
    /// `tiny.profile`.
    #[strum(to_string = "tiny")]
    Tiny,
    /// `far64.profile`.
    #[strum(to_string = "far64")]
    Far64,
    /// `huge.profile`.
    #[strum(to_string = "huge")]
    Huge,
    /// `nested.profile`.
    #[strum(to_string = "nested")]
    Nested,
    /// `cinderx.profile`.
    #[strum(to_string = "cinderx")]
    Cinderx,
    /// `big.profile`.
    #[strum(to_string = "big")]
    Big,
}

impl crate::Named for BuiltIn {
    const WHAT: &'static str = "profile";
}

impl BuiltIn {
    fn text(self) -> &'static str {
        match self {
            BuiltIn::Default => include_str!("profiles/default.profile"),
            BuiltIn::Tiny => include_str!("profiles/tiny.profile"),
            BuiltIn::Far64 => include_str!("profiles/far64.profile"),
            BuiltIn::Huge => include_str!("profiles/huge.profile"),
            BuiltIn::Nested => include_str!("profiles/nested.profile"),
            BuiltIn::Cinderx => include_str!("profiles/cinderx.profile"),
            BuiltIn::Big => include_str!("profiles/big.profile"),
        }
    }

    /// The profile (the test `built_in_profiles_parse` shows every file parses).
    pub fn profile(self) -> Profile {
        Profile::parse(self.text()).expect("built-in profiles parse")
    }
}

fn range<T: std::str::FromStr>(key: &str, v: &str) -> Result<(T, T), String> {
    let (a, b) = v
        .split_once("..")
        .ok_or_else(|| format!("`{key}` must be a range like 1..8, found `{v}`"))?;
    let p = |x: &str| {
        x.trim()
            .parse::<T>()
            .map_err(|_| format!("`{key}`: `{x}` is not a number in range"))
    };
    Ok((p(a)?, p(b)?))
}

impl Profile {
    /// Every built-in profile.
    pub fn all() -> Vec<Profile> {
        BuiltIn::all().iter().map(|b| b.profile()).collect()
    }

    /// Look up a built-in profile by name.
    pub fn named(name: &str) -> Option<Profile> {
        BuiltIn::from_name(name).map(BuiltIn::profile)
    }

    /// Parse a profile file (`key = value` lines, `#` comments; every key required). Keys:
    /// name, about, ops, call_pct, helpers, args, loop_pct, if_pct, max_depth, max_block,
    /// max_loop_count, edge_loop_pct, distance (near,mid,far weights), anchor
    /// (none,code,helper,edge weights), seed_bytes.
    pub fn parse(text: &'static str) -> Result<Profile, String> {
        let mut kv = std::collections::HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| format!("line {}: expected `key = value`, found `{line}`", n + 1))?;
            kv.insert(k.trim(), v.trim());
        }
        let get = |k: &str| {
            kv.get(k)
                .copied()
                .ok_or_else(|| format!("missing key `{k}`"))
        };
        let num = |k: &str| -> Result<u8, String> {
            get(k)?
                .parse()
                .map_err(|_| format!("`{k}` must be a number 0..=255"))
        };
        let d: Vec<u8> = get("distance")?
            .split(',')
            .map(|x| x.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|_| "`distance` must be three weights like 1,1,3".to_string())?;
        let [near, mid, far] = d[..] else {
            return Err("`distance` must be three weights like 1,1,3".into());
        };
        let anchor = weights(get("anchor")?)
            .ok_or("`anchor` must be four weights like 1,0,0,0 (none, code, helper, edge)")?;
        let p = Profile {
            name: get("name")?,
            about: get("about")?,
            ops: range("ops", get("ops")?)?,
            call_pct: num("call_pct")?,
            helpers: range("helpers", get("helpers")?)?,
            args: range("args", get("args")?)?,
            loop_pct: num("loop_pct")?,
            if_pct: num("if_pct")?,
            max_depth: num("max_depth")?,
            max_block: get("max_block")?
                .parse()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or("`max_block` must be a number 1..=1000000")?,
            max_loop_count: num("max_loop_count")?,
            edge_loop_pct: num("edge_loop_pct")?,
            distance: (near, mid, far),
            anchor,
            seed_bytes: get("seed_bytes")?
                .parse()
                .map_err(|_| "`seed_bytes` must be a number".to_string())?,
        };
        if p.helpers.0 == 0
            || p.helpers.1 as usize > layout::MAX_HELPERS
            || p.helpers.0 > p.helpers.1
        {
            return Err(format!(
                "`helpers` must be within 1..{}",
                layout::MAX_HELPERS
            ));
        }
        if p.args.1 > 8 || p.args.0 > p.args.1 || p.ops.0 > p.ops.1 {
            return Err("`args` must be within 0..8 and ranges must be ordered".into());
        }
        if p.max_loop_count == 0
            || p.max_loop_count > crate::model::program::MAX_LOOP_COUNT
            || u32::from(near) + u32::from(mid) + u32::from(far) == 0
        {
            return Err("`max_loop_count` must be 1..=16 and some distance weight non-zero".into());
        }
        if p.edge_loop_pct > 100 {
            return Err("`edge_loop_pct` must be a percentage 0..=100".into());
        }
        if anchor.iter().all(|&w| w == 0) {
            return Err("some `anchor` weight must be non-zero".into());
        }
        Ok(p)
    }
}

/// Four comma-separated weights 0..=255.
fn weights(v: &str) -> Option<[u8; 4]> {
    let w: Vec<u8> = v
        .split(',')
        .map(|x| x.trim().parse::<u8>().ok())
        .collect::<Option<_>>()?;
    w.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in profile parses, under the name of its file.
    #[test]
    fn built_in_profiles_parse() {
        let names: Vec<&str> = BuiltIn::all().iter().map(|b| b.profile().name).collect();
        assert_eq!(
            names,
            ["default", "tiny", "far64", "huge", "nested", "cinderx", "big"]
        );
    }
}
